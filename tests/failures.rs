//! End-to-end failure handling: a crashed MCP server or a killed connector
//! ends the client's request with a clear error within seconds; the
//! connector never listens.

mod common;

use std::time::{Duration, Instant};

use common::raw::{RawSession, read_until, sse_messages};
use common::*;
use serde_json::json;

fn setup() -> (tempfile::TempDir, RelayProc, Proc, ApiKey) {
    let w = World::start("demo", &["demo"], &demo_stdio_server("demo"), "");
    (w.tmp, w.relay, w.connector, w.alice)
}

fn slow_call(id: i64) -> serde_json::Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {
        "name": "count", "arguments": {"to": 100, "delay_ms": 200},
        "_meta": {"progressToken": "p"}}})
}

fn children(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))
        .expect("proc tasks")
        .flatten()
    {
        if let Ok(list) = std::fs::read_to_string(task.path().join("children")) {
            out.extend(
                list.split_whitespace()
                    .filter_map(|p| p.parse::<u32>().ok()),
            );
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_stdio_server_mid_call_ends_the_call_with_an_error() {
    let (_tmp, relay, connector, alice) = setup();
    let s = RawSession::open(&relay.mcp_url("demo"), &alice.key).await;
    let kids = children(connector.pid());
    assert_eq!(kids.len(), 1, "one stdio child per session: {kids:?}");
    let mut resp = s.post(&slow_call(9)).await;
    assert_eq!(resp.status(), 200);
    let (first, _) = read_until(&mut resp, Duration::from_secs(10), |t| {
        t.contains("notifications/progress")
    })
    .await;
    assert!(first.contains("notifications/progress"));
    let _ = std::process::Command::new("kill")
        .args(["-KILL", &kids[0].to_string()])
        .status();
    let started = Instant::now();
    let (rest, ended) = read_until(&mut resp, Duration::from_secs(10), |t| {
        t.contains("\"error\"")
    })
    .await;
    let messages = sse_messages(&rest);
    let err = messages
        .iter()
        .find(|m| m.get("error").is_some())
        .unwrap_or_else(|| panic!("no error event in {rest}"));
    assert_eq!(err["id"], 9);
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("exited"),
        "{err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    let _ = ended;
    // The session is gone: the client is told to re-initialize.
    let resp = s
        .post(&json!({"jsonrpc": "2.0", "id": 10, "method": "tools/list"}))
        .await;
    assert_eq!(resp.status(), 404);
    connector.wait_event("request.failed", &[]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_connector_mid_call_ends_the_call_within_seconds() {
    let (_tmp, relay, connector, alice) = setup();
    let s = RawSession::open(&relay.mcp_url("demo"), &alice.key).await;
    let mut resp = s.post(&slow_call(5)).await;
    let _ = read_until(&mut resp, Duration::from_secs(10), |t| {
        t.contains("notifications/progress")
    })
    .await;
    let _ = std::process::Command::new("kill")
        .args(["-KILL", &connector.pid().to_string()])
        .status();
    let started = Instant::now();
    let (rest, ended) = read_until(&mut resp, Duration::from_secs(15), |t| {
        t.contains("\"error\"")
    })
    .await;
    assert!(ended || rest.contains("\"error\""), "{rest}");
    let took = started.elapsed();
    assert!(took < Duration::from_secs(8), "took {took:?}");
    if let Some(err) = sse_messages(&rest)
        .iter()
        .find(|m| m.get("error").is_some())
    {
        assert_eq!(err["id"], 5, "{err}");
    }
    drop(connector);
    // New requests find no connector: 404 for the session (its connector is
    // gone), 503 for a new one, once the relay noticed.
    relay.proc.wait_event("link.closed", &[]);
    let resp = s
        .post(&json!({"jsonrpc": "2.0", "id": 6, "method": "tools/list"}))
        .await;
    assert_eq!(resp.status(), 404);
}

#[test]
fn connector_opens_no_listening_socket() {
    let (_tmp, _relay, connector, _alice) = setup();
    let mut inodes = std::collections::HashSet::new();
    for fd in std::fs::read_dir(format!("/proc/{}/fd", connector.pid()))
        .expect("fds")
        .flatten()
    {
        if let Ok(target) = std::fs::read_link(fd.path()) {
            let t = target.to_string_lossy().into_owned();
            if let Some(inode) = t.strip_prefix("socket:[").and_then(|r| r.strip_suffix(']')) {
                inodes.insert(inode.to_owned());
            }
        }
    }
    assert!(!inodes.is_empty(), "the connector holds its QUIC socket");
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let text = std::fs::read_to_string(table).unwrap_or_default();
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            // st == 0A is LISTEN; column 9 is the inode.
            if cols.len() > 9 && cols[3] == "0A" {
                assert!(
                    !inodes.contains(cols[9]),
                    "connector listens on TCP: {line}"
                );
            }
        }
    }
    // Its one UDP socket belongs to a QUIC *client* endpoint: quinn has no
    // server configuration for it and refuses every incoming connection.
}
