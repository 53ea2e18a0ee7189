//! Session-era stdio: the per-caller share of a server's session slots,
//! and requests naming an unknown protocol version, which start nothing.

#[path = "fixtures/harness.rs"]
mod harness;

use std::time::Duration;

use harness::*;
use sallyport_connector::bridge::Bridge;
use sallyport_connector::bridge::stdio::StdioBridge;
use sallyport_connector::config::Limits;
use sallyport_protocol::data::{Method, StreamErrorKind};
use serde_json::json;
use tokio_util::sync::CancellationToken;

fn shared(per_caller: usize) -> Limits {
    Limits {
        max_sessions: 4,
        max_sessions_per_caller: per_caller,
        ..limits()
    }
}

/// Waits (boundedly) until the bridge has `n` sessions.
async fn wait_sessions(bridge: &StdioBridge, n: usize) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while bridge.sessions() != n {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} sessions, wanted {n}",
            bridge.sessions()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn one_caller_cannot_take_every_slot_of_a_server() {
    let bridge = bridge(shared(2));
    let alice = || caller("alice", None);
    initialize_as(&bridge, 1, alice()).await;
    initialize_as(&bridge, 1, alice()).await;
    let refused = try_initialize_as(&bridge, 1, alice()).await;
    let Err(e) = refused else {
        panic!("a third session for alice: {refused:?}");
    };
    assert_eq!(e.kind, StreamErrorKind::Overloaded);
    assert!(e.message.contains("per-caller share is 2"), "{}", e.message);
    assert!(!e.message.contains("alice"), "{}", e.message);
    assert_eq!(
        bridge.sessions(),
        2,
        "the refused initialize started nothing"
    );

    // Others still get in: another subject, and alice through another agent.
    initialize_as(&bridge, 1, caller("bob", None)).await;
    initialize_as(&bridge, 1, caller("alice", Some("agent-2"))).await;
    // The server's own limit still holds.
    let full = try_initialize_as(&bridge, 1, caller("carol", None)).await;
    assert_eq!(error_kind(full), StreamErrorKind::Overloaded);
}

#[tokio::test]
async fn a_callers_slot_frees_when_its_session_ends() {
    let bridge = bridge(shared(1));
    let alice = || caller("alice", Some("a"));
    let refused = || async { error_kind(try_initialize_as(&bridge, 1, alice()).await) };

    // DELETE.
    let (session, _) = initialize_as(&bridge, 1, alice()).await;
    assert_eq!(refused().await, StreamErrorKind::Overloaded);
    let delete = send(
        &bridge,
        1,
        Method::Delete,
        Some(&session),
        None,
        "",
        CancellationToken::new(),
    );
    assert_eq!(empty_status(delete.await), 200);

    // The loss of its link.
    initialize_as(&bridge, 2, alice()).await;
    assert_eq!(refused().await, StreamErrorKind::Overloaded);
    bridge.link_closed(2);

    // The child's exit.
    let (session, _) = initialize_as(&bridge, 1, alice()).await;
    assert_eq!(refused().await, StreamErrorKind::Overloaded);
    let mut events = stream(post(&bridge, &session, &call(json!(1), "crash", json!({}))).await);
    assert_eq!(next(&mut events).await["error"]["code"], -32603);
    wait_sessions(&bridge, 0).await;

    initialize_as(&bridge, 1, alice()).await;
    assert_eq!(bridge.sessions(), 1);
}

#[tokio::test]
async fn an_idle_session_frees_its_callers_slot() {
    let bridge = bridge(Limits {
        session_idle: Duration::from_millis(200),
        ..shared(1)
    });
    initialize_as(&bridge, 1, caller("alice", None)).await;
    wait_sessions(&bridge, 0).await;
    initialize_as(&bridge, 1, caller("alice", None)).await;
}

#[tokio::test]
async fn an_unknown_protocol_version_is_refused_and_starts_nothing() {
    let bridge = bridge(limits());
    let (session, _) = initialize(&bridge, 1).await;
    let echo = call(json!(1), "echo", json!({"message": "x"}));
    let meta = |v: &str| {
        request(
            json!(2),
            "tools/call",
            json!({"name": "echo", "_meta": {"io.modelcontextprotocol/protocolVersion": v}}),
        )
    };
    let cases = [
        (Method::Post, None, Some("9999"), initialize_body()),
        (Method::Post, None, Some("2027-01-01"), initialize_body()),
        (Method::Post, None, Some("9999"), echo.clone()),
        (
            Method::Post,
            Some(session.as_str()),
            Some("9999"),
            echo.clone(),
        ),
        (
            Method::Get,
            Some(session.as_str()),
            Some("9999"),
            String::new(),
        ),
        (
            Method::Delete,
            Some(session.as_str()),
            Some("9999"),
            String::new(),
        ),
        (Method::Get, None, Some("DRAFT-2026-v1"), String::new()),
        // The body's _meta names an unknown version, or another one.
        (Method::Post, None, None, meta("9999")),
        (Method::Post, None, Some("2025-11-25"), meta("2026-07-28")),
    ];
    for (method, on, version, body) in cases {
        let reply = send(
            &bridge,
            1,
            method,
            on,
            version,
            &body,
            CancellationToken::new(),
        )
        .await;
        let Err(e) = reply else {
            panic!("{method:?} {version:?} {body}: {reply:?}");
        };
        assert_eq!(
            e.kind,
            StreamErrorKind::BadRequest,
            "{method:?} {version:?}"
        );
        assert!(e.message.contains("protocol version"), "{}", e.message);
        assert_eq!(
            (bridge.sessions(), bridge.pooled()),
            (1, 0),
            "nothing started"
        );
    }
    // The session is untouched.
    let mut events = stream(post(&bridge, &session, &echo).await);
    assert_eq!(text(&next(&mut events).await), "x");
}
