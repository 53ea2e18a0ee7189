//! The stdio bridge in the stateless era (2026-07-28): pooled children,
//! id remapping, status mapping and cancellation, against the scripted
//! fake MCP server (`fixtures/fake_mcp_server.py`).

#[path = "fixtures/harness.rs"]
mod harness;

use harness::*;
use sallyport_connector::config::Limits;
use sallyport_protocol::data::{Method, StreamErrorKind};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

/// One pooled child, so that concurrent requests share it.
fn one_child() -> Limits {
    Limits {
        max_sessions: 1,
        ..limits()
    }
}

#[tokio::test]
async fn concurrent_callers_with_the_same_id_get_their_own_answers() {
    let bridge = bridge(one_child());
    // The fake answers `hold` only once both calls wait, newest first.
    let a = call(json!(1), "hold", json!({"count": 2, "message": "for a"}));
    let b = call(json!(1), "hold", json!({"count": 2, "message": "for b"}));
    let (ra, rb) = tokio::join!(
        post_modern(&bridge, &a, CancellationToken::new()),
        post_modern(&bridge, &b, CancellationToken::new()),
    );
    let ((sa, va), (sb, vb)) = (json_reply(ra), json_reply(rb));
    assert_eq!((sa, sb), (200, 200));
    assert_eq!((va["id"].clone(), text(&va)), (json!(1), "for a"));
    assert_eq!((vb["id"].clone(), text(&vb)), (json!(1), "for b"));
    assert_eq!(bridge.pooled(), 1);
    assert_eq!(bridge.sessions(), 0, "no session is minted in this era");
}

#[tokio::test]
async fn a_failed_discover_is_400_so_clients_fall_back_to_initialize() {
    let bridge = bridge(limits());
    let discover = request(
        json!("discover-1"),
        "server/discover",
        json!({"_meta": {"io.modelcontextprotocol/protocolVersion": MODERN}}),
    );
    let (status, body) =
        json_reply(post_modern(&bridge, &discover, CancellationToken::new()).await);
    assert_eq!(status, 400);
    assert_eq!(body["id"], "discover-1", "the client's id is restored");
    assert_eq!(body["error"]["code"], -32601);

    let unknown = request(json!(2), "no/such-method", json!({}));
    let (status, body) = json_reply(post_modern(&bridge, &unknown, CancellationToken::new()).await);
    assert_eq!((status, body["id"].clone()), (404, json!(2)));
}

#[tokio::test]
async fn progress_is_streamed_with_the_clients_token() {
    let bridge = bridge(limits());
    let body = request(
        json!("x"),
        "tools/call",
        json!({"name": "slow", "_meta": {"progressToken": "tok"}}),
    );
    let mut events = stream(post_modern(&bridge, &body, CancellationToken::new()).await);
    for step in [1, 2] {
        let progress = next(&mut events).await;
        assert_eq!(
            (
                progress["params"]["progressToken"].clone(),
                progress["params"]["progress"].clone()
            ),
            (json!("tok"), json!(step))
        );
    }
    let response = next(&mut events).await;
    assert_eq!(
        (response["id"].clone(), text(&response)),
        (json!("x"), "done")
    );
    assert_ended(&mut events).await;
}

#[tokio::test]
async fn closing_the_stream_sends_notifications_cancelled_upstream() {
    let bridge = bridge(one_child());
    let cancel = CancellationToken::new();
    let body = call(json!(7), "block", json!({}));
    let waiter = call(json!(8), "await_cancel", json!({}));
    let (blocked, seen) = tokio::join!(post_modern(&bridge, &body, cancel.clone()), async {
        let waiting = post_modern(&bridge, &waiter, CancellationToken::new());
        let cancel_soon = async {
            tokio::task::yield_now().await;
            cancel.cancel();
        };
        tokio::join!(waiting, cancel_soon).0
    });
    assert!(blocked.is_err(), "the cancelled request gets no reply");
    let (status, body) = json_reply(seen);
    assert_eq!((status, body["id"].clone()), (200, json!(8)));
    let ids: Value = serde_json::from_str(text(&body)).expect("list of ids");
    let ids = ids.as_array().expect("array");
    assert_eq!(ids.len(), 1);
    assert!(
        ids[0].is_u64(),
        "the upstream id, not the client's: {ids:?}"
    );
}

#[tokio::test]
async fn a_listen_stream_carries_the_clients_subscription_id() {
    let bridge = bridge(limits());
    let listen = request(
        json!("L"),
        "subscriptions/listen",
        json!({"notifications": {"toolsListChanged": true}}),
    );
    let cancel = CancellationToken::new();
    let mut events = stream(post_modern(&bridge, &listen, cancel.clone()).await);
    let ack = next(&mut events).await;
    assert_eq!(ack["method"], "notifications/subscriptions/acknowledged");
    assert_eq!(
        ack["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"],
        "L"
    );
    cancel.cancel();
    assert_ended(&mut events).await;
}

#[tokio::test]
async fn a_dead_pool_child_fails_its_requests_and_is_replaced() {
    let bridge = bridge(one_child());
    let blocked = call(json!("other-client"), "block", json!({}));
    let crash = call(json!("crasher"), "crash", json!({}));
    let (blocked, crashed) = tokio::join!(
        post_modern(&bridge, &blocked, CancellationToken::new()),
        async {
            tokio::task::yield_now().await;
            post_modern(&bridge, &crash, CancellationToken::new()).await
        }
    );
    for (reply, id) in [(blocked, "other-client"), (crashed, "crasher")] {
        let (status, body) = json_reply(reply);
        assert_eq!(
            (status, body["id"].clone(), body["error"]["code"].clone()),
            (200, json!(id), json!(-32603))
        );
        assert_public(&body);
    }
    let echo = call(json!(1), "echo", json!({"message": "back"}));
    let (status, body) = json_reply(post_modern(&bridge, &echo, CancellationToken::new()).await);
    assert_eq!((status, text(&body)), (200, "back"));
}

#[tokio::test]
async fn get_and_delete_are_405_and_notifications_202() {
    let bridge = bridge(limits());
    for method in [Method::Get, Method::Delete] {
        let reply = send(
            &bridge,
            1,
            method,
            None,
            Some(MODERN),
            "",
            CancellationToken::new(),
        )
        .await;
        assert_eq!(empty_status(reply), 405);
    }
    let note = json!({"jsonrpc": "2.0", "method": "notifications/initialized"}).to_string();
    assert_eq!(
        empty_status(post_modern(&bridge, &note, CancellationToken::new()).await),
        202
    );
    let response = json!({"jsonrpc": "2.0", "id": 1, "result": {}}).to_string();
    assert_eq!(
        error_kind(post_modern(&bridge, &response, CancellationToken::new()).await),
        StreamErrorKind::BadRequest
    );
}

#[tokio::test]
async fn a_client_that_does_not_read_cannot_hold_the_shared_child() {
    let bridge = bridge(one_child());
    let flood = request(
        json!("f"),
        "tools/call",
        json!({"name": "flood", "arguments": {"count": 500}, "_meta": {"progressToken": "p"}}),
    );
    // The flooding client never reads its stream…
    let unread = stream(post_modern(&bridge, &flood, CancellationToken::new()).await);
    // …and another caller on the same child is still answered.
    let echo = call(json!(2), "echo", json!({"message": "still served"}));
    let answered =
        tokio::time::timeout(WAIT, post_modern(&bridge, &echo, CancellationToken::new()))
            .await
            .expect("the shared child was held by a client that does not read");
    let (status, body) = json_reply(answered);
    assert_eq!((status, text(&body)), (200, "still served"));
    drop(unread);
}
