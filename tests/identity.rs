//! End-to-end identity: tokens minted by `sallyport pki token` are verified
//! by the relay with the public key only; wrong audience or a tampered
//! token is a 401; an opt-in anonymous binding; the registry lists only
//! what the caller may use.

mod common;

use common::client::{self, call, text};
use common::*;
use serde_json::{Value, json};

const DEMO: &str = "spiffe://acme.internal/connector/demo";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pki_tokens_anonymous_binding_and_registry() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let tmp = tempfile::tempdir().expect("tempdir");
    let pki = TestPki::new(tmp.path(), "acme.internal");
    let cert = pki.connector("demo");
    let config = relay_config(tmp.path(), &pki, 0, &[(DEMO, &["demo", "docs"])]);
    let mut toml = std::fs::read_to_string(&config).expect("read");
    toml.push_str(&format!(
        r#"
[http]
listen = "127.0.0.1:0"
public_url = "http://relay.test"
insecure_plain_http = true

[auth]
token_public_key = "{dir}/token.pub"

[[role]]
name = "legal"
allow = ["demo/echo"]

[[role]]
name = "public"
allow = ["docs/*"]

[[binding]]
role = "legal"
groups = ["legal"]
agents = ["claude"]

[[binding]]
role = "public"
anonymous = true
"#,
        dir = pki.d()
    ));
    std::fs::write(&config, toml).expect("write");
    let relay = RelayProc::start(&config);
    let cfg = connector_config_toml(
        tmp.path(),
        &pki,
        &cert,
        relay.quic,
        &demo_stdio_server("demo"),
    );
    let _connector = Proc::start(
        "connector",
        &["connector", "--config", cfg.to_str().expect("utf-8")],
    );
    wait_served(&relay, "demo");

    let token = |aud: &str, agent: &str| {
        sallyport(&[
            "pki",
            "token",
            "--dir",
            pki.d(),
            "--aud",
            aud,
            "--sub",
            "alice@acme.com",
            "--groups",
            "legal",
            "--agent",
            agent,
            "--ttl",
            "1h",
        ])
        .trim()
        .to_owned()
    };
    let good = token("http://relay.test", "claude");
    assert_eq!(good.split('.').count(), 3, "a compact JWS: {good}");

    // The token works through the whole tunnel.
    let url = relay.mcp_url("demo");
    let (c, _) = client::connect(&url, &good).await;
    let r = c
        .call_tool(call("echo", json!({"message": "jwt"}), None))
        .await
        .expect("echo");
    assert_eq!(text(&r), "jwt");
    c.cancel().await.expect("close");

    let http = reqwest::Client::new();
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}});
    let post = |auth: Option<String>| {
        let mut r = http
            .post(&url)
            .header("accept", "application/json, text/event-stream")
            .header("content-type", "application/json")
            .body(init.to_string());
        if let Some(a) = auth {
            r = r.bearer_auth(a);
        }
        r.send()
    };
    // Another audience, a tampered payload, another agent (binding requires claude).
    let wrong_aud = token("https://elsewhere.example", "claude");
    let resp = post(Some(wrong_aud)).await.expect("send");
    assert_eq!(resp.status(), 401);
    assert!(
        resp.headers()["www-authenticate"]
            .to_str()
            .expect("ascii")
            .contains("invalid_token")
    );
    let mut parts: Vec<String> = good.split('.').map(str::to_owned).collect();
    parts[1] = parts[1].chars().rev().collect();
    assert_eq!(
        post(Some(parts.join("."))).await.expect("send").status(),
        401
    );
    let other_agent = token("http://relay.test", "rogue-agent");
    assert_eq!(post(Some(other_agent)).await.expect("send").status(), 403);
    // Anonymous callers get only what the anonymous binding grants.
    assert_eq!(post(None).await.expect("send").status(), 401);

    let registry = |auth: Option<&str>| {
        let mut r = http.get(format!("http://{}/registry/v0/servers", relay.http()));
        if let Some(a) = auth {
            r = r.bearer_auth(a);
        }
        r.send()
    };
    let alice: Value = registry(Some(&good))
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    let names: Vec<&str> = alice["servers"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(names, vec!["demo"]);
    assert_eq!(alice["servers"][0]["live"], true);
    assert_eq!(alice["servers"][0]["url"], "http://relay.test/mcp/demo");
    assert_eq!(alice["servers"][0]["allow"], json!(["demo/echo"]));
    let anon: Value = registry(None)
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(anon["servers"][0]["name"], "docs");
    assert_eq!(anon["servers"][0]["live"], false);
    assert_eq!(anon["servers"].as_array().map(Vec::len), Some(1));

    // No token ever reaches the relay's log.
    let log = relay.proc.all_lines();
    let signature = good.rsplit('.').next().expect("signature");
    assert!(
        !log.contains(signature),
        "a token signature reached the relay log"
    );
}
