//! End-to-end: what the relay's client endpoint answers to bad requests —
//! each a clear status with a JSON-RPC error body, never a hang.

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

const DEMO: &str = "spiffe://acme.internal/connector/demo";

fn init_body() -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "raw", "version": "0"}}})
}

fn post(
    http: &reqwest::Client,
    url: &str,
    key: Option<&str>,
    body: &Value,
) -> reqwest::RequestBuilder {
    let mut r = http
        .post(url)
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(k) = key {
        r = r.bearer_auth(k);
    }
    r
}

async fn error_of(resp: reqwest::Response) -> (StatusCode, Value) {
    let status = resp.status();
    let body: Value = resp.json().await.expect("JSON-RPC error body");
    assert!(body["error"]["message"].is_string(), "{body}");
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_clear_errors() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let tmp = tempfile::tempdir().expect("tempdir");
    let pki = TestPki::new(tmp.path(), "acme.internal");
    let cert = pki.connector("demo");
    let alice = api_key("alice@acme.com", &["legal"]);
    let mallory = api_key("mallory@acme.com", &["legal"]);
    let grants: &[(&str, &[&str])] = &[(DEMO, &["demo", "offline"])];
    let relay = RelayProc::start(&relay_config_http(
        tmp.path(),
        &pki,
        grants,
        &[&alice, &mallory],
        "max_body_bytes = 65536\nallowed_origins = [\"https://app.acme.com\"]",
    ));
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
    let http = reqwest::Client::new();
    let url = relay.mcp_url("demo");

    // No token, and a wrong one: 401 with a challenge naming the metadata.
    let resp = post(&http, &url, None, &init_body())
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let challenge = resp.headers()["www-authenticate"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(
        challenge.contains(
            "resource_metadata=\"http://relay.test/.well-known/oauth-protected-resource/mcp/demo\""
        ),
        "{challenge}"
    );
    let (status, _) = error_of(
        post(&http, &url, Some("sp_wrong"), &init_body())
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Unknown server: 404. Known but no connector: 503 with Retry-After.
    let (status, _) = error_of(
        post(
            &http,
            &relay.mcp_url("nope"),
            Some(&alice.key),
            &init_body(),
        )
        .send()
        .await
        .expect("send"),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let resp = post(
        &http,
        &relay.mcp_url("offline"),
        Some(&alice.key),
        &init_body(),
    )
    .send()
    .await
    .expect("send");
    assert_eq!(resp.headers()["retry-after"], "5");
    let (status, body) = error_of(resp).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("offline"),
        "{body}"
    );

    // Oversized body: 413. Not JSON: 400 parse error. Bad Origin: 403.
    let big = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "echo", "arguments": {"message": "x".repeat(70_000)}}});
    let (status, _) = error_of(
        post(&http, &url, Some(&alice.key), &big)
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let resp = http
        .post(&url)
        .bearer_auth(&alice.key)
        .body("{not json")
        .send()
        .await
        .expect("send");
    let (status, body) = error_of(resp).await;
    assert_eq!(
        (status, body["error"]["code"].as_i64()),
        (StatusCode::BAD_REQUEST, Some(-32700))
    );
    let resp = post(&http, &url, Some(&alice.key), &init_body())
        .header("origin", "https://evil.example")
        .send()
        .await
        .expect("send");
    assert_eq!(error_of(resp).await.0, StatusCode::FORBIDDEN);
    let resp = post(&http, &url, Some(&alice.key), &init_body())
        .header("origin", "https://app.acme.com")
        .send()
        .await
        .expect("send");
    assert!(
        resp.status().is_success(),
        "allowed origin refused: {}",
        resp.status()
    );
    let resp = post(&http, &url, Some(&alice.key), &init_body())
        .header("host", "evil.example")
        .send()
        .await
        .expect("send");
    assert_eq!(error_of(resp).await.0, StatusCode::FORBIDDEN);

    // A session: Alice's id works for Alice, is 404 for Mallory (hijack),
    // and a forged id is 404; a request without one is 400.
    let resp = post(&http, &url, Some(&alice.key), &init_body())
        .send()
        .await
        .expect("send");
    assert!(resp.status().is_success());
    let session = resp.headers()["mcp-session-id"]
        .to_str()
        .expect("ascii")
        .to_owned();
    let _ = resp.bytes().await;
    let list = json!({"jsonrpc": "2.0", "id": 3, "method": "tools/list"});
    let with_session = |key: &str, sid: &str| {
        post(&http, &url, Some(key), &list)
            .header("mcp-session-id", sid)
            .header("mcp-protocol-version", "2025-11-25")
    };
    let ok = with_session(&alice.key, &session)
        .send()
        .await
        .expect("send");
    assert_eq!(ok.status(), StatusCode::OK);
    let ok_body = ok.text().await.expect("body");
    assert!(ok_body.contains("echo"), "{ok_body}");
    let (status, _) = error_of(
        with_session(&mallory.key, &session)
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "another principal must not use Alice's session"
    );
    let mut forged = session.clone().into_bytes();
    let last = forged.len() - 2;
    forged[last] = if forged[last] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).expect("ascii");
    assert_eq!(
        error_of(
            with_session(&alice.key, &forged)
                .send()
                .await
                .expect("send")
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
    let (status, _) = error_of(
        post(&http, &url, Some(&alice.key), &list)
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // DELETE ends the session upstream; the id is then unknown (404).
    let resp = http
        .delete(&url)
        .bearer_auth(&alice.key)
        .header("mcp-session-id", &session)
        .header("mcp-protocol-version", "2025-11-25")
        .send()
        .await
        .expect("send");
    assert!(resp.status().is_success(), "DELETE: {}", resp.status());
    let (status, _) = error_of(
        with_session(&alice.key, &session)
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Stateless era: a routing header that disagrees with the body is a 400
    // HeaderMismatch, never forwarded.
    let call = json!({"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": {
        "name": "echo", "arguments": {"message": "x"},
        "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                  "io.modelcontextprotocol/clientCapabilities": {},
                  "io.modelcontextprotocol/clientInfo": {"name": "raw", "version": "0"}}}});
    let stateless = |method: &str, name: &str| {
        post(&http, &url, Some(&alice.key), &call)
            .header("mcp-protocol-version", "2026-07-28")
            .header("mcp-method", method)
            .header("mcp-name", name)
    };
    for (method, name) in [
        ("tools/list", "echo"),
        ("tools/call", "add"),
        ("tools/call", "=?base64?YWRk?="),
    ] {
        let (status, body) = error_of(stateless(method, name).send().await.expect("send")).await;
        assert_eq!(
            (status, body["error"]["code"].as_i64()),
            (StatusCode::BAD_REQUEST, Some(-32020)),
            "{method} {name}: {body}"
        );
        assert_eq!(body["id"], 4);
    }
    let resp = stateless("tools/call", "=?base64?ZWNobw==?=")
        .send()
        .await
        .expect("send");
    let status = resp.status();
    let text = resp.text().await.expect("body");
    assert!(
        status.is_success(),
        "base64 header value equal to the body is accepted: {status} {text}"
    );
    assert!(text.contains("\"x\""), "{text}");

    // The key never appears in the relay's log.
    let log = relay.proc.all_lines();
    assert!(!log.contains(&alice.key), "the API key leaked into the log");
}
