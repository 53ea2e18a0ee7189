//! Session-era stdio: every client request reaches the child with an
//! upstream id of the connector's own, and answers, progress and
//! cancellations are mapped by it exactly. The child here reads numbers as
//! JavaScript does (`fixtures/fake_mcp_server.py` with `FAKE_NORMALIZE=1`),
//! so ids that differ only in spelling would be answered alike.

#[path = "fixtures/harness.rs"]
mod harness;

use harness::*;
use sallyport_connector::bridge::BridgeReply;
use sallyport_protocol::data::{Caller, Method, StreamErrorKind};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// A `hold` call (answered once two are waiting, newest first, each after
/// its progress) with client id `id` and progress token `token`, both raw
/// JSON so that their spelling is the test's.
fn hold(id: &str, token: &str, message: &str) -> String {
    format!(
        r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"hold","arguments":{{"count":2,"message":"{message}"}},"_meta":{{"progressToken":{token}}}}}}}"#
    )
}

#[tokio::test]
async fn ids_and_tokens_that_differ_only_in_spelling_reach_their_own_streams() {
    let bridge = normalizing_bridge(limits());
    let (session, _) = initialize(&bridge, 1).await;
    let mut five = stream(post(&bridge, &session, &hold("5", "7", "for 5")).await);
    let mut five_oh = stream(post(&bridge, &session, &hold("5.0", "7.0", "for 5.0")).await);

    // The child answers the newer one first; each event carries the
    // client's own spelling of its id and token.
    let progress = next_raw(&mut five_oh).await;
    assert!(progress.contains(r#""progressToken": 7.0,"#), "{progress}");
    let answer = next_raw(&mut five_oh).await;
    assert!(answer.contains(r#""id": 5.0,"#), "{answer}");
    assert_eq!(text(&parse(answer.as_bytes())), "for 5.0");
    assert_ended(&mut five_oh).await;

    let progress = next_raw(&mut five).await;
    assert!(progress.contains(r#""progressToken": 7,"#), "{progress}");
    let answer = next_raw(&mut five).await;
    assert!(answer.contains(r#""id": 5,"#), "{answer}");
    assert_eq!(text(&parse(answer.as_bytes())), "for 5");
    assert_ended(&mut five).await;
}

#[tokio::test]
async fn initialize_is_remapped_and_answered_with_the_clients_spelling() {
    let bridge = normalizing_bridge(limits());
    // An escaped "init-1": the answer must carry these very bytes.
    let body = request(json!("init-1"), "initialize", json!({})).replace("init-1", r"init\u002d1");
    let reply = send_head(
        &bridge,
        1,
        head(Method::Post, None, None, Caller::default()),
        &body,
        CancellationToken::new(),
    )
    .await;
    let BridgeReply::Json {
        body,
        session: Some(_),
        ..
    } = reply.expect("initialized")
    else {
        panic!("expected a JSON reply with a session");
    };
    let text = std::str::from_utf8(&body).expect("UTF-8");
    assert!(text.contains(r#""id": "init\u002d1""#), "{text}");
    let seen = &parse(&body)["result"]["_meta"]["id"];
    assert!(seen.is_u64(), "the child got the connector's id: {seen}");
}

#[tokio::test]
async fn an_answer_carrying_a_clients_id_reaches_no_stream() {
    let bridge = normalizing_bridge(limits());
    let (session, _) = initialize(&bridge, 1).await;
    let mut blocked = stream(post(&bridge, &session, &call(json!("x"), "block", json!({}))).await);
    // The child answers with id "x", the id the client gave the blocked
    // call: not an id the connector gave the child, so it is dropped.
    let mut spoofer = stream(
        post(
            &bridge,
            &session,
            &call(json!("y"), "answer_as", json!({"id": "x"})),
        )
        .await,
    );
    let answer = next(&mut spoofer).await;
    assert_eq!((answer["id"].clone(), text(&answer)), (json!("y"), "ok"));
    // The router handles the child's lines in order: the stray answer was
    // routed before "ok" was delivered.
    assert!(
        matches!(blocked.try_recv(), Err(mpsc::error::TryRecvError::Empty)),
        "nothing reached the blocked call's stream"
    );
}

#[tokio::test]
async fn a_cancellation_reaches_the_child_with_the_upstream_id() {
    let bridge = normalizing_bridge(limits());
    let (session, _) = initialize(&bridge, 1).await;
    let block = r#"{"jsonrpc":"2.0","id":5.0,"method":"tools/call","params":{"name":"block"}}"#;
    let mut blocked = stream(post(&bridge, &session, block).await);
    let cancel = |id: &str| {
        format!(
            r#"{{"jsonrpc":"2.0","method":"notifications/cancelled","params":{{"requestId":{id},"reason":"x"}}}}"#
        )
    };
    // Naming nothing in flight (5 is not 5.0): dropped, never forwarded.
    assert_eq!(
        empty_status(post(&bridge, &session, &cancel("5")).await),
        202
    );
    assert_eq!(
        empty_status(post(&bridge, &session, &cancel("5.0")).await),
        202
    );
    assert_ended(&mut blocked).await;

    let mut events = stream(
        post(
            &bridge,
            &session,
            &call(json!("w"), "await_cancel", json!({})),
        )
        .await,
    );
    let cancelled: Value = serde_json::from_str(text(&next(&mut events).await)).expect("ids");
    let mut events = stream(post(&bridge, &session, &call(json!("b"), "blocked", json!({}))).await);
    let blocked_ids: Value = serde_json::from_str(text(&next(&mut events).await)).expect("ids");
    assert_eq!(
        cancelled, blocked_ids,
        "the cancellation names the call the child got"
    );
    let ids = cancelled.as_array().expect("list");
    assert!(
        ids.len() == 1 && ids[0].is_u64(),
        "one upstream id: {cancelled}"
    );
}

#[tokio::test]
async fn a_duplicate_id_in_flight_and_unreadable_params_are_refused() {
    let bridge = bridge(limits());
    let (session, _) = initialize(&bridge, 1).await;
    let _blocked = stream(post(&bridge, &session, &call(json!(5), "block", json!({}))).await);
    let again = post(
        &bridge,
        &session,
        &call(json!(5), "echo", json!({"message": "m"})),
    )
    .await;
    assert_eq!(error_kind(again), StreamErrorKind::BadRequest);
    let twice = r#"{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"echo","_meta":{"progressToken":1,"progressToken":2}}}"#;
    assert_eq!(
        error_kind(post(&bridge, &session, twice).await),
        StreamErrorKind::BadRequest
    );
    // Spelled differently, 5.0 is another id: accepted, answered as 5.0.
    let mut events = stream(
        post(
            &bridge,
            &session,
            &call(json!(5.0), "echo", json!({"message": "m"})),
        )
        .await,
    );
    assert!(next_raw(&mut events).await.contains(r#""id": 5.0,"#));
}
