//! The stdio bridge in the session era, driven through the `Bridge` trait
//! against the scripted fake MCP server (`fixtures/fake_mcp_server.py`).

#[path = "fixtures/harness.rs"]
mod harness;

use std::time::Duration;

use harness::*;
use sallyport_connector::config::Limits;
use sallyport_protocol::data::{Method, StreamErrorKind};
use serde_json::json;
use tokio_util::sync::CancellationToken;

#[tokio::test]
async fn initialize_mints_a_session_and_passes_the_response_through() {
    let bridge = bridge(limits());
    let body = request(
        json!(0),
        "initialize",
        json!({"protocolVersion": "2025-06-18", "capabilities": {}}),
    );
    let reply = send(
        &bridge,
        1,
        Method::Post,
        None,
        None,
        &body,
        CancellationToken::new(),
    )
    .await;
    let (session, bytes) = match reply.expect("initialize succeeds") {
        sallyport_connector::bridge::BridgeReply::Json {
            status: 200,
            session: Some(s),
            body,
        } => (s, body),
        other => panic!("unexpected reply {other:?}"),
    };
    assert!(session.len() >= 32 && session.bytes().all(|b| (0x21..=0x7e).contains(&b)));
    // Python's json.dumps spacing survives: the bytes were not re-encoded.
    let text = std::str::from_utf8(&bytes).expect("utf-8");
    assert!(text.contains(r#""serverInfo": {"name": "fake""#), "{text}");
    assert_eq!(parse(&bytes)["result"]["protocolVersion"], "2025-06-18");
    assert_eq!(bridge.sessions(), 1);
    let (other, _) = initialize(&bridge, 1).await;
    assert_ne!(session, other);

    let note = json!({"jsonrpc": "2.0", "method": "notifications/initialized"}).to_string();
    assert_eq!(empty_status(post(&bridge, &session, &note).await), 202);
}

#[tokio::test]
async fn a_request_streams_its_progress_then_its_response() {
    let bridge = bridge(limits());
    let (session, _) = initialize(&bridge, 1).await;
    let body = request(
        json!("r1"),
        "tools/call",
        json!({"name": "slow", "_meta": {"progressToken": "p1"}}),
    );
    let mut events = stream(post(&bridge, &session, &body).await);
    for step in [1, 2] {
        let progress = next(&mut events).await;
        assert_eq!(progress["method"], "notifications/progress");
        assert_eq!(progress["params"]["progressToken"], "p1");
        assert_eq!(progress["params"]["progress"], step);
    }
    let response = next(&mut events).await;
    assert_eq!(
        (response["id"].clone(), text(&response)),
        (json!("r1"), "done")
    );
    assert_ended(&mut events).await;
}

#[tokio::test]
async fn a_server_request_rides_the_request_stream_and_the_answer_unblocks_it() {
    let bridge = bridge(limits());
    let (session, _) = initialize(&bridge, 1).await;
    let mut events = stream(
        post(
            &bridge,
            &session,
            &call(json!(5), "sample", json!({"prompt": "hi?"})),
        )
        .await,
    );
    let sampling = next(&mut events).await;
    assert_eq!(sampling["method"], "sampling/createMessage");
    let answer = json!({"jsonrpc": "2.0", "id": sampling["id"], "result": {
        "role": "assistant", "content": {"type": "text", "text": "hello"}, "model": "m"}});
    assert_eq!(
        empty_status(post(&bridge, &session, &answer.to_string()).await),
        202
    );
    let response = next(&mut events).await;
    assert_eq!(
        (response["id"].clone(), text(&response)),
        (json!(5), "sampled: hello")
    );
    assert_ended(&mut events).await;
}

#[tokio::test]
async fn progress_follows_its_token_and_other_messages_the_newest_request() {
    let bridge = bridge(limits());
    let (session, _) = initialize(&bridge, 1).await;
    let older = request(
        json!("older"),
        "tools/call",
        json!({"name": "sample", "_meta": {"progressToken": "po"}}),
    );
    let mut older = stream(post(&bridge, &session, &older).await);
    let sampling = next(&mut older).await;
    let mut newer =
        stream(post(&bridge, &session, &call(json!("newer"), "block", json!({}))).await);

    // The answer unblocks the older request: its progress goes to it by
    // token although a newer request is in flight.
    let answer = json!({"jsonrpc": "2.0", "id": sampling["id"], "result": {"content": {"type": "text", "text": "x"}}});
    assert_eq!(
        empty_status(post(&bridge, &session, &answer.to_string()).await),
        202
    );
    let progress = next(&mut older).await;
    assert_eq!(progress["params"]["progressToken"], "po");
    assert_eq!(next(&mut older).await["id"], "older");
    assert_ended(&mut older).await;

    // An unsolicited notification goes to the newest request still open.
    let mut third = stream(post(&bridge, &session, &call(json!(3), "later", json!({}))).await);
    assert_eq!(text(&next(&mut third).await), "ok");
    assert_eq!(
        next(&mut newer).await["method"],
        "notifications/resources/list_changed"
    );
}

#[tokio::test]
async fn the_get_stream_gets_unsolicited_messages_and_the_backlog() {
    let bridge = bridge(limits());
    let (session, _) = initialize(&bridge, 1).await;
    // No stream open: the notification sent after the answer is kept.
    let mut events = stream(post(&bridge, &session, &call(json!(1), "later", json!({}))).await);
    assert_eq!(text(&next(&mut events).await), "ok");
    assert_ended(&mut events).await;

    let get = || {
        send(
            &bridge,
            1,
            Method::Get,
            Some(&session),
            Some("2025-11-25"),
            "",
            CancellationToken::new(),
        )
    };
    let mut unsolicited = stream(get().await);
    assert_eq!(
        next(&mut unsolicited).await["method"],
        "notifications/resources/list_changed"
    );
    assert_eq!(empty_status(get().await), 409, "one GET stream per session");

    let mut events = stream(post(&bridge, &session, &call(json!(2), "later", json!({}))).await);
    assert_eq!(text(&next(&mut events).await), "ok");
    assert_eq!(
        next(&mut unsolicited).await["method"],
        "notifications/resources/list_changed"
    );

    drop(unsolicited);
    let mut again = stream(get().await);
    let delete = send(
        &bridge,
        1,
        Method::Delete,
        Some(&session),
        None,
        "",
        CancellationToken::new(),
    )
    .await;
    assert_eq!(empty_status(delete), 200);
    assert_ended(&mut again).await;
}

#[tokio::test]
async fn a_client_going_away_detaches_its_stream_but_keeps_the_session() {
    let bridge = bridge(limits());
    let (session, _) = initialize(&bridge, 1).await;
    let cancel = CancellationToken::new();
    let body = call(json!(1), "block", json!({}));
    let reply = send(
        &bridge,
        1,
        Method::Post,
        Some(&session),
        None,
        &body,
        cancel.clone(),
    )
    .await;
    let mut events = stream(reply);
    cancel.cancel();
    assert_ended(&mut events).await;
    let mut events = stream(
        post(
            &bridge,
            &session,
            &call(json!(2), "echo", json!({"message": "alive"})),
        )
        .await,
    );
    assert_eq!(text(&next(&mut events).await), "alive");
}

#[tokio::test]
async fn a_request_that_times_out_is_cancelled_upstream() {
    let bridge = bridge(Limits {
        upstream_timeout: Duration::from_secs(2),
        ..limits()
    });
    let (session, _) = initialize(&bridge, 1).await;
    let mut events = stream(
        post(
            &bridge,
            &session,
            &call(json!("slowpoke"), "block", json!({})),
        )
        .await,
    );
    let response = next(&mut events).await;
    assert_eq!(
        (response["id"].clone(), response["error"]["code"].clone()),
        (json!("slowpoke"), json!(-32001))
    );
    assert_public(&response);
    assert_ended(&mut events).await;
    let mut events = stream(
        post(
            &bridge,
            &session,
            &call(json!(2), "await_cancel", json!({})),
        )
        .await,
    );
    // The child is told with the id it was given: the connector's own.
    let ids: serde_json::Value =
        serde_json::from_str(text(&next(&mut events).await)).expect("list of ids");
    assert!(
        ids.as_array()
            .is_some_and(|a| a.len() == 1 && a[0].is_u64()),
        "the upstream id, not the client's: {ids}"
    );
}

#[tokio::test]
async fn requests_without_a_session_are_refused() {
    let bridge = bridge(limits());
    let echo = call(json!(1), "echo", json!({"message": "x"}));
    let reply = send(
        &bridge,
        1,
        Method::Post,
        None,
        Some("2025-11-25"),
        &echo,
        CancellationToken::new(),
    )
    .await;
    assert_eq!(error_kind(reply), StreamErrorKind::BadRequest);
    let get = send(
        &bridge,
        1,
        Method::Get,
        Some("nope"),
        None,
        "",
        CancellationToken::new(),
    )
    .await;
    assert_eq!(error_kind(get), StreamErrorKind::UnknownSession);
    assert_eq!(bridge.sessions(), 0);
}
