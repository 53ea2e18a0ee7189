//! End-to-end against the official reference server
//! `@modelcontextprotocol/server-everything` (npm, over stdio behind the
//! connector), driven by the official Rust SDK as the client.

mod common;

use std::time::Duration;

use common::client::{self, call, text};
use common::raw::{RawSession, read_until, sse_messages};
use common::*;
use rmcp::ClientLifecycleMode;
use rmcp::model::ProtocolVersion;
use serde_json::json;

fn setup() -> (tempfile::TempDir, RelayProc, Proc, ApiKey) {
    let w = World::start("dc1", &["everything"], &everything_server("everything"), "");
    (w.tmp, w.relay, w.connector, w.alice)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reference_server_through_the_tunnel() {
    let (_tmp, relay, _connector, alice) = setup();
    let url = relay.mcp_url("everything");
    let (c, seen) = client::connect(&url, &alice.key).await;
    let tools = c.list_all_tools().await.expect("tools/list");
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    for want in [
        "echo",
        "get-sum",
        "trigger-long-running-operation",
        "trigger-sampling-request",
    ] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
    let r = c
        .call_tool(call("echo", json!({"message": "hello"}), None))
        .await
        .expect("echo");
    assert!(text(&r).contains("hello"), "{}", text(&r));
    let r = c
        .call_tool(call("get-sum", json!({"a": 40, "b": 2}), None))
        .await
        .expect("get-sum");
    assert!(text(&r).contains("42"), "{}", text(&r));

    let r = c
        .call_tool(call(
            "trigger-long-running-operation",
            json!({"duration": 1, "steps": 3}),
            Some(11),
        ))
        .await
        .expect("long running operation");
    assert!(!text(&r).is_empty());
    assert_eq!(seen.progress(3).await, 3, "three progress notifications");

    let r = c
        .call_tool(call(
            "trigger-sampling-request",
            json!({"prompt": "2+2?", "maxTokens": 10}),
            None,
        ))
        .await
        .expect("sampling round trip");
    assert!(
        text(&r).contains("sampled by the e2e client"),
        "{}",
        text(&r)
    );
    assert_eq!(seen.lock().expect("lock").sampling.len(), 1);

    let res = c
        .read_resource(rmcp::model::ReadResourceRequestParams::new(
            "demo://resource/dynamic/text/1",
        ))
        .await
        .expect("resources/read");
    assert!(!res.contents.is_empty());
    let prompts = c.list_all_prompts().await.expect("prompts/list");
    assert!(prompts.iter().any(|p| p.name == "simple-prompt"));
    c.cancel().await.expect("close");
    relay
        .proc
        .wait_event("request.relayed", &[("method", "DELETE")]);
}

/// Server-initiated notifications unrelated to any request arrive on the
/// session's GET stream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_stream_carries_server_notifications() {
    let (_tmp, relay, _connector, alice) = setup();
    let s = RawSession::open(&relay.mcp_url("everything"), &alice.key).await;
    let toggle = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {"name": "toggle-simulated-logging", "arguments": {}}});
    let mut resp = s.post(&toggle).await;
    let (body, _) = read_until(&mut resp, Duration::from_secs(10), |t| {
        t.contains("\"result\"")
    })
    .await;
    assert!(body.contains("\"result\""), "{body}");
    let mut get = s
        .http
        .get(&s.url)
        .bearer_auth(&s.key)
        .header("accept", "text/event-stream")
        .header("mcp-session-id", &s.session)
        .header("mcp-protocol-version", "2025-11-25")
        .send()
        .await
        .expect("GET");
    assert_eq!(get.status(), 200);
    assert_eq!(get.headers()["content-type"], "text/event-stream");
    let (events, _) = read_until(&mut get, Duration::from_secs(15), |t| {
        t.contains("notifications/message")
    })
    .await;
    let msgs = sse_messages(&events);
    assert!(
        msgs.iter().any(|m| m["method"] == "notifications/message"),
        "{events}"
    );
}

/// A client that tries the stateless era first falls back to `initialize`
/// against this session-era-only server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stateless_probe_falls_back_to_initialize() {
    let (_tmp, relay, _connector, alice) = setup();
    let url = relay.mcp_url("everything");
    let (c, _) = client::connect_with(
        &url,
        &alice.key,
        ClientLifecycleMode::Auto {
            preferred_versions: vec![ProtocolVersion::V_2026_07_28],
            legacy_version: Some(ProtocolVersion::V_2025_11_25),
        },
    )
    .await;
    assert_eq!(
        c.peer_info().expect("info").protocol_version,
        ProtocolVersion::V_2025_11_25
    );
    let r = c
        .call_tool(call("echo", json!({"message": "fell back"}), None))
        .await
        .expect("echo");
    assert!(text(&r).contains("fell back"));
    c.cancel().await.expect("close");
}
