//! End-to-end: every credential kind reloads with the policy. An API key,
//! the relay's token key (`[auth] token_public_key`) or an `[[auth.idp]]`
//! removed from relay.toml stops working at the next request after SIGHUP
//! (or after the file changes), an added one works, and a broken file
//! keeps everything in force with the reason in the log.

mod common;

use common::*;
use serde_json::json;

const DEMO: &str = "spiffe://acme.internal/connector/demo";
const IDP: &str = "https://idp.test";

/// The relay config: the start of `base` (quic, admin, connector, http)
/// plus the given API keys and `[auth]`, and one role for every caller.
fn config_text(base: &str, keys: &[&ApiKey], auth: &str) -> String {
    let mut text = base.to_owned();
    for k in keys {
        text.push('\n');
        text.push_str(&k.entry);
    }
    text.push('\n');
    text.push_str(auth);
    text.push_str(
        "\n[[role]]\nname = \"everything\"\nallow = [\"*/*\"]\n\n[[binding]]\nrole = \"everything\"\nusers = [\"alice\", \"bob\", \"carol\"]\n",
    );
    text
}

/// Replaces the file whole (write + rename), so the relay's watcher never
/// reads half of it.
fn replace(path: &std::path::Path, text: &str) {
    let tmp = path.with_extension("toml.new");
    std::fs::write(&tmp, text).expect("write");
    std::fs::rename(&tmp, path).expect("rename");
}

async fn status(url: &str, token: &str) -> u16 {
    let resp = reqwest::Client::new()
        .post(url)
        .bearer_auth(token)
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .body(
            json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "creds", "version": "0"}}})
            .to_string(),
        )
        .send()
        .await
        .expect("send");
    let code = resp.status().as_u16();
    let _ = resp.bytes().await;
    code
}

fn reloads(relay: &RelayProc, outcome: &str) -> u64 {
    let (code, text) = relay.admin_get("/metrics");
    assert_eq!(code, 200);
    let prefix = format!("sallyport_policy_reloads_total{{outcome=\"{outcome}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_keys_and_token_issuers_reload_and_a_broken_file_changes_nothing() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let tmp = tempfile::tempdir().expect("tempdir");
    let pki = TestPki::new(tmp.path(), "acme.internal");
    let cert = pki.connector("demo");
    let alice = api_key("alice", &[]);
    let bob = api_key("bob", &[]);
    let config = relay_config(tmp.path(), &pki, 0, &[(DEMO, &["demo"])]);
    let mut base = std::fs::read_to_string(&config).expect("read");
    base.push_str("\n[http]\nlisten = \"127.0.0.1:0\"\npublic_url = \"http://relay.test\"\ninsecure_plain_http = true\n");
    let token_pub = pki.path("token.pub").display().to_string();
    let with_issuers = format!(
        "[auth]\ntoken_public_key = {token_pub:?}\n\n[[auth.idp]]\nissuer = {IDP:?}\npublic_key_pem = {token_pub:?}\n"
    );
    replace(&config, &config_text(&base, &[&alice], ""));
    let relay = RelayProc::start(&config);
    let _connector = start_connector(tmp.path(), &pki, &cert, &relay, &demo_stdio_server("demo"));
    wait_served(&relay, "demo");
    let url = relay.mcp_url("demo");
    let mint = |iss: Option<&str>| {
        let mut args = vec![
            "pki",
            "token",
            "--dir",
            pki.d(),
            "--aud",
            "http://relay.test",
            "--sub",
            "carol",
            "--ttl",
            "1h",
        ];
        if let Some(iss) = iss {
            args.extend(["--iss", iss]);
        }
        sallyport(&args).trim().to_owned()
    };
    let own_token = mint(None);
    let idp_token = mint(Some(IDP));
    let check = |want: [(&'static str, u16); 4]| {
        let url = url.clone();
        let tokens = [
            alice.key.clone(),
            bob.key.clone(),
            own_token.clone(),
            idp_token.clone(),
        ];
        async move {
            for ((what, code), token) in want.iter().zip(&tokens) {
                assert_eq!(status(&url, token).await, *code, "{what}");
            }
        }
    };
    check([
        ("alice", 200),
        ("bob", 401),
        ("own token", 401),
        ("idp token", 401),
    ])
    .await;

    // alice's key removed, bob's added, both issuers trusted: SIGHUP.
    let n = relay.proc.line_count();
    replace(&config, &config_text(&base, &[&bob], &with_issuers));
    relay.proc.signal("HUP");
    relay.proc.wait_event_from(
        n,
        "credentials.reloaded",
        &[("api_keys", "1"), ("issuers", "2")],
    );
    check([
        ("alice", 401),
        ("bob", 200),
        ("own token", 200),
        ("idp token", 200),
    ])
    .await;

    // A broken relay.toml: everything stays in force, the log says why,
    // and the reload counts as failed.
    let failed_before = reloads(&relay, "error");
    let n = relay.proc.line_count();
    let broken = config_text(&base, &[&bob], &with_issuers).replace("sha256 = \"", "sha256 = \"zz");
    replace(&config, &broken);
    relay.proc.signal("HUP");
    relay.proc.wait_event_from(
        n,
        "credentials.reload_failed",
        &[("error", "sha256 must be 64 hex digits")],
    );
    check([
        ("alice", 401),
        ("bob", 200),
        ("own token", 200),
        ("idp token", 200),
    ])
    .await;
    assert!(
        reloads(&relay, "error") > failed_before,
        "failure not counted"
    );

    // A change of the file is enough (no SIGHUP): back to alice only.
    let n = relay.proc.line_count();
    replace(&config, &config_text(&base, &[&alice], ""));
    relay.proc.wait_event_from(
        n,
        "credentials.reloaded",
        &[("api_keys", "1"), ("issuers", "0")],
    );
    check([
        ("alice", 200),
        ("bob", 401),
        ("own token", 401),
        ("idp token", 401),
    ])
    .await;
    assert!(reloads(&relay, "ok") >= 2);
}

/// HTTPS client certificates follow the reloaded CRL: a certificate
/// revoked with `pki revoke` is refused after SIGHUP: at the next
/// handshake, and at the next request of a connection opened before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_client_certificate_is_refused_after_sighup() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let tmp = tempfile::tempdir().expect("tempdir");
    let pki = TestPki::new(tmp.path(), "acme.internal");
    let cert = pki.connector("demo");
    let config = relay_config(tmp.path(), &pki, 0, &[(DEMO, &["demo"])]);
    let mut text = std::fs::read_to_string(&config).expect("read");
    text.push_str(&format!(
        "\n[http]\nlisten = \"127.0.0.1:0\"\npublic_url = \"https://localhost\"\ntls_cert = \"{d}/relay.pem\"\ntls_key = \"{d}/relay.key\"\nclient_certs = true\n\n[[role]]\nname = \"everything\"\nallow = [\"*/*\"]\n\n[[binding]]\nrole = \"everything\"\nusers = [\"agent-7\", \"agent-8\"]\n",
        d = pki.d()
    ));
    replace(&config, &text);
    for name in ["agent-7", "agent-8"] {
        sallyport(&["pki", "issue", "client", name, "--dir", pki.d()]);
    }
    let relay = RelayProc::start(&config);
    let _connector = start_connector(tmp.path(), &pki, &cert, &relay, &demo_stdio_server("demo"));
    wait_served(&relay, "demo");
    let ca = std::fs::read(pki.path("ca.pem")).expect("ca");
    let identity = |name: &str| {
        let mut pem = std::fs::read(pki.path(&format!("client-{name}.pem"))).expect("cert");
        pem.extend(std::fs::read(pki.path(&format!("client-{name}.key"))).expect("key"));
        pem
    };
    let url = format!("https://localhost:{}/mcp/demo", relay.http().port());
    let client = |pem: Vec<u8>| {
        reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(&ca).expect("ca pem")])
            .identity(reqwest::Identity::from_pem(&pem).expect("identity"))
            .build()
            .expect("client")
    };
    // A new client (and connection) per request: the trust applies at the
    // handshake…
    let post = |pem: Vec<u8>| send(client(pem), url.clone());
    // …and to every request of a connection opened before the revocation.
    let kept = client(identity("agent-7"));
    assert_eq!(
        send(kept.clone(), url.clone()).await.expect("handshake"),
        200
    );

    for name in ["agent-7", "agent-8"] {
        assert_eq!(
            post(identity(name)).await.expect("handshake"),
            200,
            "{name}"
        );
    }

    sallyport(&[
        "pki",
        "revoke",
        "--dir",
        pki.d(),
        pki.path("client-agent-7.pem").to_str().expect("utf-8"),
    ]);
    let n = relay.proc.line_count();
    relay.proc.signal("HUP");
    relay.proc.wait_event_from(n, "https_trust.reloaded", &[]);
    // The TLS handshake refuses the revoked certificate; the other one
    // still gets in.
    if let Ok(code) = post(identity("agent-7")).await {
        panic!("a revoked client certificate got {code}");
    }
    assert_eq!(post(identity("agent-8")).await.expect("handshake"), 200);
    // The connection kept alive since before the revocation is refused at
    // its next request.
    assert_eq!(send(kept, url.clone()).await.expect("kept connection"), 401);
}

/// POSTs `initialize` with `client`; the HTTP status.
async fn send(client: reqwest::Client, url: String) -> reqwest::Result<u16> {
    client
        .post(&url)
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .body(
            json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                "protocolVersion": "2025-11-25", "capabilities": {},
                "clientInfo": {"name": "mtls", "version": "0"}}})
            .to_string(),
        )
        .send()
        .await
        .map(|r| r.status().as_u16())
}
