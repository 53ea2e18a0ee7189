//! Session-era lifecycle of the stdio bridge: DELETE, crashes, protocol
//! errors, the session limit, idle reaping, lost links, shutdown; driven
//! through the `Bridge` trait against `fixtures/fake_mcp_server.py`.

#[path = "fixtures/harness.rs"]
mod harness;

use std::collections::BTreeMap;
use std::time::Duration;

use harness::*;
use sallyport_connector::bridge::Bridge;
use sallyport_connector::config::Limits;
use sallyport_protocol::data::{Method, StreamErrorKind};
use serde_json::json;
use tokio_util::sync::CancellationToken;

#[tokio::test]
async fn delete_kills_the_child_and_forgets_the_session() {
    let bridge = bridge(limits());
    let (session, init) = initialize(&bridge, 1).await;
    let pid = pid(&init);
    assert!(alive(pid) || !cfg!(target_os = "linux"));
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
    assert!(!alive(pid), "DELETE returns once the child is reaped");
    let echo = call(json!(1), "echo", json!({"message": "x"}));
    assert_eq!(
        error_kind(post(&bridge, &session, &echo).await),
        StreamErrorKind::UnknownSession
    );
    let again = send(
        &bridge,
        1,
        Method::Delete,
        Some(&session),
        None,
        "",
        CancellationToken::new(),
    )
    .await;
    assert_eq!(error_kind(again), StreamErrorKind::UnknownSession);
    assert_eq!(bridge.sessions(), 0);
}

#[tokio::test]
async fn a_crash_mid_call_answers_with_an_error_and_ends_the_session() {
    let bridge = bridge(limits());
    let (session, _) = initialize(&bridge, 1).await;
    let mut events = stream(post(&bridge, &session, &call(json!("c"), "crash", json!({}))).await);
    let response = next(&mut events).await;
    assert_eq!(response["id"], "c");
    assert_eq!(response["error"]["code"], -32603);
    let message = response["error"]["message"].as_str().expect("message");
    assert!(
        message.starts_with("MCP server fake exited (") && message.contains('3'),
        "{message}"
    );
    assert_public(&response);
    assert_ended(&mut events).await;
    let echo = call(json!(1), "echo", json!({"message": "x"}));
    assert_eq!(
        error_kind(post(&bridge, &session, &echo).await),
        StreamErrorKind::UnknownSession
    );
    assert_eq!(bridge.sessions(), 0);
}

#[tokio::test]
async fn bad_lines_are_skipped_and_over_long_lines_end_the_session() {
    let bridge = bridge(limits());
    let (session, _) = initialize(&bridge, 1).await;
    for tool in ["garbage", "stderr"] {
        let mut events = stream(post(&bridge, &session, &call(json!(tool), tool, json!({}))).await);
        let response = next(&mut events).await;
        assert_eq!(response["id"], tool, "only the response reaches the stream");
        assert_ended(&mut events).await;
    }
    // Lines are capped at max(max_body, 64 KiB); this one is over 1 MiB.
    let mut events = stream(
        post(
            &bridge,
            &session,
            &call(json!(9), "huge", json!({"size": 1_100_000})),
        )
        .await,
    );
    let response = next(&mut events).await;
    assert_eq!(
        (response["id"].clone(), response["error"]["code"].clone()),
        (json!(9), json!(-32603))
    );
    assert_public(&response);
    assert_ended(&mut events).await;
    let echo = call(json!(1), "echo", json!({"message": "x"}));
    assert_eq!(
        error_kind(post(&bridge, &session, &echo).await),
        StreamErrorKind::UnknownSession
    );
}

#[tokio::test]
async fn the_session_limit_is_enforced() {
    let bridge = bridge(Limits {
        max_sessions: 2,
        ..limits()
    });
    let (first, _) = initialize(&bridge, 1).await;
    initialize(&bridge, 1).await;
    let body = request(
        json!(0),
        "initialize",
        json!({"protocolVersion": "2025-11-25"}),
    );
    let third = send(
        &bridge,
        1,
        Method::Post,
        None,
        None,
        &body,
        CancellationToken::new(),
    )
    .await;
    assert_eq!(error_kind(third), StreamErrorKind::Overloaded);
    let delete = send(
        &bridge,
        1,
        Method::Delete,
        Some(&first),
        None,
        "",
        CancellationToken::new(),
    )
    .await;
    assert_eq!(empty_status(delete), 200);
    initialize(&bridge, 1).await;
    assert_eq!(bridge.sessions(), 2);
}

#[tokio::test]
async fn idle_sessions_are_reaped_but_not_while_a_request_is_in_flight() {
    let idle = Duration::from_millis(250);
    let bridge = bridge(Limits {
        session_idle: idle,
        ..limits()
    });
    let (session, init) = initialize(&bridge, 1).await;
    let mut events = stream(post(&bridge, &session, &call(json!(1), "sample", json!({}))).await);
    let sampling = next(&mut events).await;
    tokio::time::sleep(idle * 3).await;
    let answer = json!({"jsonrpc": "2.0", "id": sampling["id"], "result": {"content": {"type": "text", "text": "late"}}});
    assert_eq!(
        empty_status(post(&bridge, &session, &answer.to_string()).await),
        202
    );
    assert_eq!(text(&next(&mut events).await), "sampled: late");

    wait_gone(pid(&init)).await;
    let echo = call(json!(2), "echo", json!({"message": "x"}));
    assert_eq!(
        error_kind(post(&bridge, &session, &echo).await),
        StreamErrorKind::UnknownSession
    );
}

#[tokio::test]
async fn a_lost_link_ends_only_its_own_sessions() {
    let bridge = bridge(limits());
    let (a, init_a) = initialize(&bridge, 1).await;
    let (b, _) = initialize(&bridge, 1).await;
    let (c, _) = initialize(&bridge, 2).await;
    bridge.link_closed(1);
    for gone in [&a, &b] {
        let echo = call(json!(1), "echo", json!({"message": "x"}));
        assert_eq!(
            error_kind(post(&bridge, gone, &echo).await),
            StreamErrorKind::UnknownSession
        );
    }
    wait_gone(pid(&init_a)).await;
    let mut events = stream(
        post(
            &bridge,
            &c,
            &call(json!(1), "echo", json!({"message": "still here"})),
        )
        .await,
    );
    assert_eq!(text(&next(&mut events).await), "still here");
    assert_eq!(bridge.sessions(), 1);
}

#[tokio::test]
async fn env_and_cwd_reach_the_child_and_shutdown_ends_everything() {
    let dir = tempfile::tempdir().expect("temp dir");
    let env = BTreeMap::from([("FAKE_VALUE".to_owned(), "42".to_owned())]);
    let bridge = bridge_with(limits(), env, Some(dir.path().to_owned()));
    let (session, init) = initialize(&bridge, 1).await;
    let mut events = stream(
        post(
            &bridge,
            &session,
            &call(json!(1), "env", json!({"name": "FAKE_VALUE"})),
        )
        .await,
    );
    let seen = parse(text(&next(&mut events).await).as_bytes());
    assert_eq!(seen["value"], "42");
    let cwd = std::fs::canonicalize(dir.path()).expect("canonical");
    assert_eq!(
        std::fs::canonicalize(seen["cwd"].as_str().expect("cwd")).expect("canonical"),
        cwd
    );

    bridge.shutdown();
    wait_gone(pid(&init)).await;
    let echo = call(json!(2), "echo", json!({"message": "x"}));
    assert!(post(&bridge, &session, &echo).await.is_err());
}
