//! End-to-end authorization: roles and bindings decide per tool; denied
//! tools vanish from lists (SSE and JSON) and look unknown when called;
//! quotas answer 429; a policy edit takes effect without a restart.

mod common;

use std::time::Duration;

use common::client::{self, call, text};
use common::raw::{RawSession, read_until, sse_messages};
use common::*;
use rmcp::ClientLifecycleMode;
use rmcp::model::ProtocolVersion;
use serde_json::json;

const DEMO: &str = "spiffe://acme.internal/connector/demo";

const POLICY: &str = r#"
[[role]]
name = "legal-reader"
allow = ["demo/echo", "demo/count", "demo/demo://*"]
deny = ["demo/add"]

[[role]]
name = "limited"
allow = ["demo/echo"]
rate = "3/min"

[[binding]]
role = "legal-reader"
groups = ["legal"]

[[binding]]
role = "limited"
users = ["carol"]
"#;

struct World {
    audit: std::path::PathBuf,
    _tmp: tempfile::TempDir,
    relay: RelayProc,
    _connector: Proc,
    config: std::path::PathBuf,
    alice: ApiKey,
    bob: ApiKey,
    carol: ApiKey,
}

fn world() -> World {
    let tmp = tempfile::tempdir().expect("tempdir");
    let pki = TestPki::new(tmp.path(), "acme.internal");
    let cert = pki.connector("demo");
    let alice = api_key("alice", &["legal"]);
    let bob = api_key("bob", &["sales"]);
    let carol = api_key("carol", &[]);
    let config = relay_config(tmp.path(), &pki, 0, &[(DEMO, &["demo"])]);
    let mut text = std::fs::read_to_string(&config).expect("read");
    text.push_str("\n[http]\nlisten = \"127.0.0.1:0\"\npublic_url = \"http://relay.test\"\ninsecure_plain_http = true\n");
    for k in [&alice, &bob, &carol] {
        text.push('\n');
        text.push_str(&k.entry);
    }
    text.push_str(&format!(
        "\n[audit]\npath = {:?}\n",
        tmp.path().join("audit.jsonl").display().to_string()
    ));
    text.push_str(POLICY);
    std::fs::write(&config, text).expect("write");
    let relay = RelayProc::start(&config);
    let cfg = connector_config_toml(
        tmp.path(),
        &pki,
        &cert,
        relay.quic,
        &demo_stdio_server("demo"),
    );
    let connector = Proc::start(
        "connector",
        &["connector", "--config", cfg.to_str().expect("utf-8")],
    );
    wait_served(&relay, "demo");
    World {
        audit: tmp.path().join("audit.jsonl"),
        _tmp: tmp,
        relay,
        _connector: connector,
        config,
        alice,
        bob,
        carol,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_decide_per_tool_and_lists_are_filtered() {
    let w = world();
    let url = w.relay.mcp_url("demo");

    // Session era (SSE answers): only the allowed tools are listed.
    let (c, _) = client::connect(&url, &w.alice.key).await;
    let tools = c.list_all_tools().await.expect("tools/list");
    let mut names: Vec<String> = tools.iter().map(|t| t.name.to_string()).collect();
    names.sort();
    assert_eq!(names, vec!["count", "echo"]);
    let r = c
        .call_tool(call("echo", json!({"message": "allowed"}), None))
        .await
        .expect("echo");
    assert_eq!(text(&r), "allowed");
    let err = c
        .call_tool(call("add", json!({"a": 1, "b": 2}), None))
        .await
        .expect_err("add is denied");
    assert!(format!("{err}").contains("Unknown tool: add"), "{err}");
    let err = c
        .call_tool(call("ask_llm", json!({"question": "?"}), None))
        .await
        .expect_err("not allowed");
    assert!(format!("{err}").contains("Unknown tool: ask_llm"), "{err}");
    c.cancel().await.expect("close");
    w.relay.proc.wait_event(
        "request.denied",
        &[("decision", "DENY demo/add by role legal-reader")],
    );

    // Stateless era (JSON answers): the same filter.
    let (c, _) = client::connect_with(
        &url,
        &w.alice.key,
        ClientLifecycleMode::Discover {
            preferred_versions: vec![ProtocolVersion::V_2026_07_28],
        },
    )
    .await;
    let tools = c.list_all_tools().await.expect("tools/list");
    let mut names: Vec<String> = tools.iter().map(|t| t.name.to_string()).collect();
    names.sort();
    assert_eq!(names, vec!["count", "echo"]);
    c.cancel().await.expect("close");

    // Bob has no role for this server at all: 403 insufficient_scope.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();
    let resp = http
        .post(&url)
        .bearer_auth(&w.bob.key)
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .body(json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "b", "version": "0"}}}).to_string())
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 403);
    let challenge = resp.headers()["www-authenticate"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(challenge.contains("insufficient_scope"), "{challenge}");

    // Every request and denial is in the audit log, without any secret.
    let mut w = w;
    assert!(w.relay.proc.terminate(), "relay drains and exits 0");
    let log = std::fs::read_to_string(&w.audit).expect("audit log");
    let records: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    let find =
        |pred: &dyn Fn(&serde_json::Value) -> bool| records.iter().find(|r| pred(r)).cloned();
    let echo =
        find(&|r| r["target"] == "echo" && r["decision"] == "allow").expect("allowed echo audited");
    assert_eq!(echo["user"], "alice");
    assert_eq!(echo["groups"], json!(["legal"]));
    assert_eq!(echo["server"], "demo");
    assert_eq!(echo["method"], "tools/call");
    assert_eq!(echo["connector"], DEMO);
    assert!(echo["bytes_out"].as_u64().unwrap_or(0) > 0, "{echo}");
    assert!(echo["session"].is_string(), "{echo}");
    let add = find(&|r| r["target"] == "add").expect("denied add audited");
    assert_eq!(add["decision"], "deny");
    assert!(
        add["rule"].as_str().unwrap_or("").contains("legal-reader"),
        "{add}"
    );
    let bob = find(&|r| r["user"] == "bob").expect("bob's refusal audited");
    assert_eq!(
        (bob["decision"].as_str(), bob["status"].as_u64()),
        (Some("deny"), Some(403))
    );
    for key in [&w.alice.key, &w.bob.key, &w.carol.key] {
        assert!(
            !log.contains(key.as_str()),
            "an API key reached the audit log"
        );
        assert!(
            !w.relay.proc.all_lines().contains(key.as_str()),
            "an API key reached the relay log"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quota_answers_429_with_retry_after() {
    let w = world();
    let s = RawSession::open(&w.relay.mcp_url("demo"), &w.carol.key).await;
    let echo = |id: i64| {
        json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
        "params": {"name": "echo", "arguments": {"message": "q"}}})
    };
    for id in 1..=3 {
        let mut resp = s.post(&echo(id)).await;
        assert_eq!(resp.status(), 200, "call {id}");
        let (body, _) = read_until(&mut resp, Duration::from_secs(10), |t| {
            t.contains("\"result\"")
        })
        .await;
        assert!(sse_messages(&body).iter().any(|m| m["id"] == id), "{body}");
    }
    let resp = s.post(&echo(4)).await;
    assert_eq!(resp.status(), 429);
    let retry: u64 = resp.headers()["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!((1..=60).contains(&retry), "{retry}");
    let body: serde_json::Value = resp.json().await.expect("json");
    assert_eq!(body["id"], 4);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("rate limit"),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_edit_takes_effect_without_restart_and_bad_edit_is_refused() {
    let w = world();
    let s = RawSession::open(&w.relay.mcp_url("demo"), &w.alice.key).await;
    let add = json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call",
        "params": {"name": "add", "arguments": {"a": 2, "b": 2}}});
    let denied = s.post(&add).await.text().await.expect("body");
    assert!(denied.contains("Unknown tool: add"), "{denied}");

    // A broken edit is refused and the old policy stays.
    let original = std::fs::read_to_string(&w.config).expect("read");
    std::fs::write(
        &w.config,
        original.replace("groups = [\"legal\"]", "groups = [\"legal\"]\nbogus = 1"),
    )
    .expect("write");
    let (n, _) = w
        .relay
        .proc
        .wait_event_from(0, "policy.reload_failed", &[("error", "bogus")]);
    let still = s.post(&add).await.text().await.expect("body");
    assert!(still.contains("Unknown tool: add"), "{still}");

    // Requests keep flowing while the policy changes: none is dropped.
    let load_session = RawSession::open(&w.relay.mcp_url("demo"), &w.alice.key).await;
    let load = tokio::spawn(async move {
        let mut answered = 0;
        for id in 100..140 {
            let mut resp = load_session
                .post(&json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
                    "params": {"name": "echo", "arguments": {"message": "load"}}}))
                .await;
            assert_eq!(resp.status(), 200, "request {id} during reload");
            let (body, _) = read_until(&mut resp, Duration::from_secs(10), |t| {
                t.contains("\"result\"")
            })
            .await;
            assert!(body.contains("load"), "{body}");
            answered += 1;
        }
        answered
    });

    // A good edit (allow add, drop the deny) applies to the open session.
    let edited = original.replace(
        "allow = [\"demo/echo\", \"demo/count\", \"demo/demo://*\"]\ndeny = [\"demo/add\"]",
        "allow = [\"demo/echo\", \"demo/count\", \"demo/add\", \"demo/demo://*\"]",
    );
    assert_ne!(edited, original);
    std::fs::write(&w.config, edited).expect("write");
    w.relay.proc.wait_event_from(n, "policy.reloaded", &[]);
    let mut resp = s.post(&add).await;
    let (allowed, _) = read_until(&mut resp, Duration::from_secs(10), |t| {
        t.contains("\"result\"")
    })
    .await;
    assert!(allowed.contains('4'), "{allowed}");
    assert_eq!(
        load.await.expect("load task"),
        40,
        "every request during the reload was answered"
    );
}

#[test]
fn explain_prints_the_deciding_rule() {
    let w = world();
    let cfg = w.config.to_str().expect("utf-8");
    let out = std::process::Command::new(bin())
        .args([
            "relay", "explain", "--config", cfg, "--user", "alice", "--group", "legal", "demo/add",
        ])
        .output()
        .expect("run explain");
    assert_eq!(out.status.code(), Some(1));
    let line = String::from_utf8_lossy(&out.stdout);
    assert!(
        line.contains("DENY demo/add by role legal-reader (deny \"demo/add\")"),
        "{line}"
    );
    let out = std::process::Command::new(bin())
        .args([
            "relay",
            "explain",
            "--config",
            cfg,
            "--user",
            "alice",
            "--group",
            "legal",
            "demo/echo",
        ])
        .output()
        .expect("run explain");
    assert_eq!(out.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("ALLOW demo/echo by role legal-reader")
    );
}
