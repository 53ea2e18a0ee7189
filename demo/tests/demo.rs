//! `sallyport demo`'s plumbing: the PKI, the relay, the connector link and
//! the demo HTTP server come up, the relay routes both demo servers, and
//! everything stops and cleans up. (Calls through the tunnel are covered by
//! the workspace's end-to-end tests.)

use std::time::Duration;

use sallyport_demo::{DemoError, DemoOptions, HTTP_SERVER, STDIO_SERVER, start};
use tokio_util::sync::CancellationToken;

fn options(http_port: u16, keep: Option<std::path::PathBuf>) -> DemoOptions {
    DemoOptions {
        http_port,
        keep,
        // Never started here: a child is spawned only when a client
        // initializes a session on `demo`.
        stdio_command: vec!["true".to_owned()],
    }
}

#[tokio::test]
async fn starts_routes_both_servers_and_cleans_up() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let shutdown = CancellationToken::new();
    let demo = start(options(0, None), shutdown.clone())
        .await
        .expect("demo starts");
    let dir = demo.dir().to_owned();
    assert!(dir.join("relay.toml").exists() && dir.join("connector.toml").exists());
    assert!(demo.api_key().starts_with("sp_"));
    assert!(demo.base_url().starts_with("http://127.0.0.1:"));
    let banner = demo.banner();
    assert!(banner.contains(&format!("Authorization: Bearer {}", demo.api_key())));
    assert!(banner.contains(&demo.server_url(HTTP_SERVER)));

    let http = reqwest::Client::new();
    let links: serde_json::Value = http
        .get(format!("http://{}/admin/connectors", demo.admin_addr()))
        .send()
        .await
        .expect("admin")
        .json()
        .await
        .expect("JSON");
    let text = links.to_string();
    for needle in [
        "spiffe://demo.sallyport.local/connector/demo",
        &format!("\"{STDIO_SERVER}\""),
        &format!("\"{HTTP_SERVER}\""),
    ] {
        assert!(text.contains(needle), "{needle} not in {text}");
    }

    let anonymous = http
        .post(demo.server_url(STDIO_SERVER))
        .header("Accept", "application/json, text/event-stream")
        .header("Content-Type", "application/json")
        .body(sallyport_demo::CURL_INITIALIZE)
        .send()
        .await
        .expect("POST");
    assert_eq!(anonymous.status(), 401, "no key, no entry");

    let waiting = tokio::spawn(demo.wait());
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(15), waiting)
        .await
        .expect("stops in time")
        .expect("no panic")
        .expect("clean stop");
    assert!(!dir.exists(), "temporary directory removed");
}

#[tokio::test]
async fn taken_port_is_named() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let err = start(options(port, None), CancellationToken::new())
        .await
        .expect_err("port is taken");
    assert!(
        matches!(err, DemoError::PortInUse { port: p } if p == port),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains(&port.to_string()) && msg.contains("--http-port"),
        "{msg}"
    );
}

#[tokio::test]
async fn keep_leaves_runnable_files() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let keep = tempfile::tempdir().expect("tempdir");
    let dir = keep.path().join("demo");
    for _ in 0..2 {
        // The second run replaces the first run's files.
        let demo = start(options(0, Some(dir.clone())), CancellationToken::new())
            .await
            .expect("demo starts");
        assert_eq!(demo.dir(), dir);
        demo.stop().await.expect("stops");
    }
    for file in [
        "relay.toml",
        "connector.toml",
        "pki/ca.pem",
        "pki/connector-demo.pem",
    ] {
        assert!(dir.join(file).exists(), "{file} kept");
    }
    let relay = sallyport_relay::Config::load(&dir.join("relay.toml")).expect("relay.toml loads");
    assert_ne!(
        relay.quic.listen.port(),
        0,
        "kept relay.toml names the bound port"
    );
    sallyport_connector::Config::load(&dir.join("connector.toml")).expect("connector.toml loads");
}
