//! End-to-end: HTTPS (HTTP/1.1 and HTTP/2) on the client endpoint, and new
//! sessions spread over several connectors serving the same server.

mod common;

use common::raw::RawSession;
use common::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_endpoint_speaks_http1_and_http2() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let tmp = tempfile::tempdir().expect("tempdir");
    let pki = TestPki::new(tmp.path(), "acme.internal");
    let cert = pki.connector("demo");
    let alice = api_key("alice@acme.com", &[]);
    let relay_cfg = relay_config(
        tmp.path(),
        &pki,
        0,
        &[("spiffe://acme.internal/connector/demo", &["demo"])],
    );
    let mut text = std::fs::read_to_string(&relay_cfg).expect("read");
    text.push_str(&format!(
        "\n[http]\nlisten = \"127.0.0.1:0\"\npublic_url = \"https://localhost\"\ntls_cert = \"{d}/relay.pem\"\ntls_key = \"{d}/relay.key\"\nclient_certs = true\n\n{}{}\n[[binding]]\nrole = \"everything\"\nusers = [\"agent-7\"]\n",
        alice.entry,
        allow_all_policy(&[&alice]),
        d = pki.d()
    ));
    sallyport(&["pki", "issue", "client", "agent-7", "--dir", pki.d()]);
    std::fs::write(&relay_cfg, text).expect("write");
    let relay = RelayProc::start(&relay_cfg);
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

    let ca = std::fs::read(pki.path("ca.pem")).expect("ca");
    let url = format!("https://localhost:{}/mcp/demo", relay.http().port());
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "tls", "version": "0"}}});
    for (h2, want) in [
        (true, reqwest::Version::HTTP_2),
        (false, reqwest::Version::HTTP_11),
    ] {
        let mut b = reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(&ca).expect("ca pem")]);
        if !h2 {
            b = b.http1_only();
        }
        let http = b.build().expect("client");
        let resp = http
            .post(&url)
            .bearer_auth(&alice.key)
            .header("accept", "application/json, text/event-stream")
            .header("content-type", "application/json")
            .body(init.to_string())
            .send()
            .await
            .expect("HTTPS request");
        assert_eq!(resp.version(), want);
        assert_eq!(resp.status(), 200);
        assert!(resp.headers().contains_key("mcp-session-id"));
        let body = resp.text().await.expect("body");
        assert!(body.contains("serverInfo"), "{body}");
    }
    // An agent with a client certificate from `pki issue client` needs no
    // token; without either, 401.
    let mut pem = std::fs::read(pki.path("client-agent-7.pem")).expect("cert");
    pem.extend(std::fs::read(pki.path("client-agent-7.key")).expect("key"));
    for (identity, want) in [(Some(pem), 200), (None, 401)] {
        let mut b = reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(&ca).expect("ca pem")]);
        if let Some(pem) = identity {
            b = b.identity(reqwest::Identity::from_pem(&pem).expect("identity"));
        }
        let resp = b
            .build()
            .expect("client")
            .post(&url)
            .header("accept", "application/json, text/event-stream")
            .header("content-type", "application/json")
            .body(init.to_string())
            .send()
            .await
            .expect("HTTPS request");
        assert_eq!(resp.status(), want);
    }

    // A client that does not trust the relay's CA is refused by TLS.
    let untrusting = reqwest::Client::builder()
        .tls_certs_only(Vec::<reqwest::Certificate>::new())
        .build()
        .expect("client");
    assert!(untrusting.post(&url).body("{}").send().await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_sessions_spread_over_connectors_serving_one_server() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let pki = TestPki::new(tmp.path(), "acme.internal");
    let alice = api_key("alice@acme.com", &[]);
    let grants: &[(&str, &[&str])] = &[
        ("spiffe://acme.internal/connector/a", &["demo"]),
        ("spiffe://acme.internal/connector/b", &["demo"]),
    ];
    let relay = RelayProc::start(&relay_config_http(tmp.path(), &pki, grants, &[&alice], ""));
    let mut connectors = Vec::new();
    for name in ["a", "b"] {
        let cert = pki.connector(name);
        let cfg = connector_config_toml(
            tmp.path(),
            &pki,
            &cert,
            relay.quic,
            &demo_stdio_server("demo"),
        );
        connectors.push(Proc::start(
            name,
            &["connector", "--config", cfg.to_str().expect("utf-8")],
        ));
        relay.proc.wait_event(
            "link.registered",
            &[("connector.id", &format!("connector/{name}"))],
        );
    }
    let url = relay.mcp_url("demo");
    let mut sessions = Vec::new();
    for _ in 0..4 {
        sessions.push(RawSession::open(&url, &alice.key).await);
    }
    for c in &connectors {
        let (first, _) = c.wait_event_from(0, "session.started", &[]);
        let (second, _) = c.wait_event_from(first + 1, "session.started", &[]);
        assert!(second > first);
    }
    // Each session keeps going to the connector that holds it.
    for (i, s) in sessions.iter().enumerate() {
        let resp = s
            .post(
                &json!({"jsonrpc": "2.0", "id": 10 + i, "method": "tools/call",
                "params": {"name": "echo", "arguments": {"message": format!("s{i}")}}}),
            )
            .await;
        assert_eq!(resp.status(), 200);
        let body = resp.text().await.expect("body");
        assert!(body.contains(&format!("s{i}")), "{body}");
    }
}
