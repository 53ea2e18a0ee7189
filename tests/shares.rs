//! End-to-end: `[limits] max_streams_per_principal`. A caller holding its
//! whole share of open streams (long calls) gets 429 with `Retry-After`
//! and a JSON-RPC error, audited as rate-limited, while another caller is
//! served; a stream that ends gives its share back.

mod common;

use std::time::Duration;

use common::raw::{RawSession, read_until};
use common::*;
use serde_json::json;

const DEMO: &str = "spiffe://acme.internal/connector/demo";

/// A `count` call streaming `to` progress notifications, `delay_ms` apart.
fn counting(id: i64, to: u64, delay_ms: u64) -> serde_json::Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {
        "name": "count", "arguments": {"to": to, "delay_ms": delay_ms},
        "_meta": {"progressToken": format!("p{id}")}}})
}

fn echo(id: i64) -> serde_json::Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
        "params": {"name": "echo", "arguments": {"message": "hi"}}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_over_its_stream_share_gets_429_and_others_are_served() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let pki = TestPki::new(tmp.path(), "acme.internal");
    let cert = pki.connector("demo");
    let alice = api_key("alice", &[]);
    let bob = api_key("bob", &[]);
    let audit = tmp.path().join("audit.jsonl");
    let config = relay_config_http(
        tmp.path(),
        &pki,
        &[(DEMO, &["demo"])],
        &[&alice, &bob],
        &format!(
            "\n[limits]\nmax_streams_per_principal = 2\n\n[audit]\npath = {:?}\n",
            audit.display().to_string()
        ),
    );
    let mut relay = RelayProc::start(&config);
    let _connector = start_connector(tmp.path(), &pki, &cert, &relay, &demo_stdio_server("demo"));
    wait_served(&relay, "demo");
    let url = relay.mcp_url("demo");

    // Two sessions of alice, each with a call in progress: her share.
    // The long one takes 20 s; the short one ends about 6 s after it
    // starts, long after the checks below.
    let s1 = RawSession::open(&url, &alice.key).await;
    let s2 = RawSession::open(&url, &alice.key).await;
    let mut long = s2.post(&counting(1, 100, 200)).await;
    assert_eq!(long.status(), 200);
    read_until(&mut long, Duration::from_secs(10), |t| {
        t.contains("notifications/progress")
    })
    .await;
    let mut short = s1.post(&counting(2, 30, 200)).await;
    assert_eq!(short.status(), 200);
    read_until(&mut short, Duration::from_secs(10), |t| {
        t.contains("notifications/progress")
    })
    .await;

    // A third request of hers is refused, in either session.
    for s in [&s1, &s2] {
        let resp = s.post(&echo(3)).await;
        assert_eq!(resp.status(), 429);
        let retry: u64 = resp.headers()["retry-after"]
            .to_str()
            .expect("ascii")
            .parse()
            .expect("seconds");
        assert!(retry >= 1, "{retry}");
        let body: serde_json::Value = resp.json().await.expect("JSON-RPC error body");
        assert_eq!(body["jsonrpc"], "2.0");
        assert_eq!(body["error"]["code"], -32029, "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap_or("")
                .contains("share of one caller is 2"),
            "{body}"
        );
    }
    relay
        .proc
        .wait_event("share.exhausted", &[("user", "alice"), ("max", "2")]);

    // Bob has his own share.
    let b = RawSession::open(&url, &bob.key).await;
    let mut resp = b.post(&echo(4)).await;
    assert_eq!(resp.status(), 200);
    let (body, _) = read_until(&mut resp, Duration::from_secs(10), |t| {
        t.contains("\"result\"")
    })
    .await;
    assert!(body.contains("hi"), "{body}");

    // The short call ends: its share is free again (the relay drops the
    // response, and with it the share, before the client sees the end).
    let (rest, ended) = read_until(&mut short, Duration::from_secs(30), |t| {
        t.contains("\"result\"")
    })
    .await;
    assert!(rest.contains("\"result\""), "{rest}");
    if !ended {
        let (_, ended) = read_until(&mut short, Duration::from_secs(10), |_| false).await;
        assert!(ended);
    }
    let mut resp = s1.post(&echo(5)).await;
    assert_eq!(resp.status(), 200, "share not given back");
    let (body, _) = read_until(&mut resp, Duration::from_secs(10), |t| {
        t.contains("\"result\"")
    })
    .await;
    assert!(body.contains("hi"), "{body}");
    drop(long);

    // The refusals are audited as rate-limited, with the principal.
    assert!(relay.proc.terminate(), "relay drains and exits 0");
    let log = std::fs::read_to_string(&audit).expect("audit log");
    let limited: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .filter(|r: &serde_json::Value| r["event"] == "rate_limited")
        .collect();
    assert_eq!(limited.len(), 2, "{log}");
    for r in &limited {
        assert_eq!(r["user"], "alice", "{r}");
        assert_eq!(r["status"], 429, "{r}");
        assert_eq!(r["decision"], "deny", "{r}");
    }
}
