//! End-to-end tests of the relay<->connector link: real processes, real
//! certificates from `sallyport pki`, UDP on loopback.

mod common;

use common::*;

const LEGAL: &str = "spiffe://acme.internal/connector/legal";

#[test]
fn valid_connector_registers_and_refused_server_is_reported() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let pki = TestPki::new(tmp.path(), "acme.internal");
    let cert = pki.connector("legal");
    let relay = RelayProc::start(&relay_config(
        tmp.path(),
        &pki,
        0,
        &[(LEGAL, &["contracts", "wiki"])],
    ));
    let conn_cfg = connector_config(
        tmp.path(),
        &pki,
        &cert,
        relay.quic,
        &["contracts", "wiki", "hr"],
    );
    let connector = Proc::start(
        "connector",
        &["connector", "--config", conn_cfg.to_str().expect("utf-8")],
    );

    relay
        .proc
        .wait_event("link.registered", &[("connector.id", LEGAL)]);
    relay.proc.wait_event(
        "server.refused",
        &[("server", "hr"), ("reason", "may not serve hr")],
    );
    connector.wait_event("link.established", &[("accepted", "contracts")]);
    connector.wait_event(
        "server.refused",
        &[("server", "hr"), ("reason", "contracts, wiki")],
    );

    let links = relay.connectors();
    assert_eq!(links.len(), 1, "{links:?}");
    assert_eq!(links[0]["identity"], LEGAL);
    assert_eq!(links[0]["label"], "test-connector");
    assert_eq!(
        links[0]["servers"],
        serde_json::json!(["contracts", "wiki"])
    );
    assert_eq!(
        links[0]["transports"],
        serde_json::json!({ "contracts": "stdio", "wiki": "stdio" })
    );
    assert_eq!(links[0]["refused"][0]["server"], "hr");

    let (status, metrics) = relay.admin_get("/metrics");
    assert_eq!(status, 200);
    assert!(
        metrics.contains("sallyport_connectors_connected 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("sallyport_link_handshakes_total{outcome=\"ok\"} 1"),
        "{metrics}"
    );
    assert_eq!(relay.admin_get("/healthz").0, 200);
    assert_eq!(relay.admin_get("/readyz").0, 200);
    assert_eq!(relay.admin_get("/nope").0, 404);
}

#[test]
fn unknown_identity_is_rejected_with_reason() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let pki = TestPki::new(tmp.path(), "acme.internal");
    let cert = pki.connector("finance");
    let relay = RelayProc::start(&relay_config(
        tmp.path(),
        &pki,
        0,
        &[(LEGAL, &["contracts"])],
    ));
    let cfg = connector_config(tmp.path(), &pki, &cert, relay.quic, &["contracts"]);
    let connector = Proc::start(
        "connector",
        &["connector", "--config", cfg.to_str().expect("utf-8")],
    );
    relay.proc.wait_event(
        "link.refused",
        &[
            ("reason", "not listed in any [[connector]] entry"),
            ("code", "unauthorized"),
        ],
    );
    connector.wait_event(
        "link.attempt_failed",
        &[
            ("error", "rejected the link"),
            ("error", "connector/finance"),
        ],
    );
    assert!(relay.connectors().is_empty());
}

/// Each bad connector certificate is refused during the TLS handshake, and
/// the relay's log names why.
#[test]
fn bad_connector_certificates_are_refused() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let pki = TestPki::new(tmp.path(), "acme.internal");
    let other = TestPki::new(tmp.path(), "evil.example");
    let foreign = other.connector("legal");
    let revoked = pki.connector("revoked");
    sallyport(&[
        "pki",
        "revoke",
        "--dir",
        pki.d(),
        revoked.to_str().expect("utf-8"),
    ]);
    let expired = pki.path("connector-expired.pem");
    sallyport_pki_issue_expired(&pki, "expired");

    let grants: Vec<(String, Vec<&str>)> = ["legal", "revoked", "expired"]
        .iter()
        .map(|n| {
            (
                format!("spiffe://acme.internal/connector/{n}"),
                vec!["contracts"],
            )
        })
        .collect();
    let grants: Vec<(&str, &[&str])> = grants
        .iter()
        .map(|(i, s)| (i.as_str(), s.as_slice()))
        .collect();
    let relay = RelayProc::start(&relay_config(tmp.path(), &pki, 0, &grants));

    for (cert, why) in [
        (&foreign, "UnknownIssuer"),
        (&revoked, "Revoked"),
        (&expired, "certificate expired"),
    ] {
        let from = relay.proc.line_count();
        let cfg = connector_config(tmp.path(), &pki, cert, relay.quic, &["contracts"]);
        let connector = Proc::start(
            "connector",
            &["connector", "--config", cfg.to_str().expect("utf-8")],
        );
        relay
            .proc
            .wait_event_from(from, "link.refused", &[("error", why)]);
        connector.wait_event("link.attempt_failed", &[]);
        drop(connector);
    }
    assert!(relay.connectors().is_empty());
    let (_, metrics) = relay.admin_get("/metrics");
    assert!(
        metrics.contains("sallyport_link_handshakes_total{outcome=\"tls_error\"}"),
        "{metrics}"
    );
}

fn sallyport_pki_issue_expired(pki: &TestPki, name: &str) {
    let now = time::OffsetDateTime::now_utc();
    sallyport_pki::Pki::open(&pki.dir)
        .expect("open pki")
        .issue_connector(
            &name.parse().expect("name"),
            sallyport_pki::Validity::between(
                now - time::Duration::days(10),
                now - time::Duration::days(1),
            )
            .expect("validity"),
            false,
        )
        .expect("issue expired");
}

#[test]
fn relay_presenting_a_cert_for_another_host_is_refused_by_the_connector() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let pki = TestPki::new(tmp.path(), "acme.internal");
    // Replace the relay certificate with one for another host only.
    sallyport(&[
        "pki",
        "issue",
        "relay",
        "--dir",
        pki.d(),
        "--dns",
        "other.example",
        "--force",
    ]);
    let cert = pki.connector("legal");
    let relay = RelayProc::start(&relay_config(
        tmp.path(),
        &pki,
        0,
        &[(LEGAL, &["contracts"])],
    ));
    let cfg = connector_config(tmp.path(), &pki, &cert, relay.quic, &["contracts"]);
    let connector = Proc::start(
        "connector",
        &["connector", "--config", cfg.to_str().expect("utf-8")],
    );
    connector.wait_event("link.attempt_failed", &[("error", "not valid for name")]);
    assert!(relay.connectors().is_empty());
}

#[test]
fn connector_comes_back_after_relay_restart() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let pki = TestPki::new(tmp.path(), "acme.internal");
    let cert = pki.connector("legal");
    let grants: &[(&str, &[&str])] = &[(LEGAL, &["contracts"])];
    let mut relay = RelayProc::start(&relay_config(tmp.path(), &pki, 0, grants));
    let port = relay.quic.port();
    let cfg = connector_config(tmp.path(), &pki, &cert, relay.quic, &["contracts"]);
    let mut connector = Proc::start(
        "connector",
        &["connector", "--config", cfg.to_str().expect("utf-8")],
    );
    relay.proc.wait_event("link.registered", &[]);
    let (established, _) = connector.wait_event_from(0, "link.established", &[]);

    assert!(relay.proc.terminate(), "relay exits 0 after draining");
    relay.proc.wait_event("relay.stopped", &[]);
    connector.wait_event("link.goaway", &[]);

    let started = std::time::Instant::now();
    let relay = RelayProc::start(&relay_config(tmp.path(), &pki, port, grants));
    relay
        .proc
        .wait_event("link.registered", &[("connector.id", LEGAL)]);
    connector.wait_event_from(established + 1, "link.established", &[]);
    let took = started.elapsed();
    assert!(
        took < std::time::Duration::from_secs(5),
        "reconnect took {took:?}"
    );
    assert!(connector.running(), "the connector was not restarted");
    assert_eq!(relay.connectors().len(), 1);
}

#[test]
fn connector_exits_cleanly_on_sigterm() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let pki = TestPki::new(tmp.path(), "acme.internal");
    let cert = pki.connector("legal");
    let relay = RelayProc::start(&relay_config(
        tmp.path(),
        &pki,
        0,
        &[(LEGAL, &["contracts"])],
    ));
    let cfg = connector_config(tmp.path(), &pki, &cert, relay.quic, &["contracts"]);
    let mut connector = Proc::start(
        "connector",
        &["connector", "--config", cfg.to_str().expect("utf-8")],
    );
    relay.proc.wait_event("link.registered", &[]);
    assert!(connector.terminate(), "connector exits 0");
    relay
        .proc
        .wait_event("link.closed", &[("reason", "connector shutting down")]);
    assert!(relay.connectors().is_empty());
}

/// After `pki ca rotate`, the relay (with the new bundle and a certificate
/// from the new CA) accepts connectors certified by the old CA and by the
/// new one, and connectors with the new bundle trust the relay.
#[test]
fn ca_rotation_keeps_old_and_new_connectors() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let pki = TestPki::new(tmp.path(), "acme.internal");
    let old_cert = pki.connector("old");
    let out = sallyport(&["pki", "ca", "rotate", "--dir", pki.d()]);
    assert!(!out.is_empty());
    let bundle = std::fs::read_to_string(pki.path("bundle.pem")).expect("bundle");
    assert_eq!(bundle.matches("BEGIN CERTIFICATE").count(), 2, "{bundle}");
    sallyport(&[
        "pki",
        "issue",
        "relay",
        "--dir",
        pki.d(),
        "--ip",
        "127.0.0.1",
        "--force",
    ]);
    let new_cert = pki.connector("new");
    let grants: &[(&str, &[&str])] = &[
        ("spiffe://acme.internal/connector/old", &["a"]),
        ("spiffe://acme.internal/connector/new", &["b"]),
    ];
    let relay = RelayProc::start(&relay_config(tmp.path(), &pki, 0, grants));
    let c1 = connector_config(tmp.path(), &pki, &old_cert, relay.quic, &["a"]);
    let c2 = connector_config(tmp.path(), &pki, &new_cert, relay.quic, &["b"]);
    let _old = Proc::start(
        "old",
        &["connector", "--config", c1.to_str().expect("utf-8")],
    );
    let _new = Proc::start(
        "new",
        &["connector", "--config", c2.to_str().expect("utf-8")],
    );
    relay
        .proc
        .wait_event("link.registered", &[("connector.id", "connector/old")]);
    relay
        .proc
        .wait_event("link.registered", &[("connector.id", "connector/new")]);
    assert_eq!(relay.connectors().len(), 2);
}

/// Revoking a connected connector and sending SIGHUP to the relay cuts the
/// live link, and the connector cannot come back.
#[test]
fn revocation_on_reload_cuts_the_live_link() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let pki = TestPki::new(tmp.path(), "acme.internal");
    let cert = pki.connector("legal");
    let relay = RelayProc::start(&relay_config(
        tmp.path(),
        &pki,
        0,
        &[(LEGAL, &["contracts"])],
    ));
    let cfg = connector_config(tmp.path(), &pki, &cert, relay.quic, &["contracts"]);
    let connector = Proc::start(
        "connector",
        &["connector", "--config", cfg.to_str().expect("utf-8")],
    );
    relay.proc.wait_event("link.registered", &[]);

    sallyport(&[
        "pki",
        "revoke",
        "--dir",
        pki.d(),
        cert.to_str().expect("utf-8"),
    ]);
    relay.proc.signal("HUP");
    relay.proc.wait_event("tls.reloaded", &[]);
    relay
        .proc
        .wait_event("link.revoked", &[("reason", "Revoked")]);
    connector.wait_event("link.lost", &[("reason", "certificate no longer valid")]);
    let (n, _) = relay
        .proc
        .wait_event_from(0, "link.refused", &[("error", "Revoked")]);
    assert!(n > 0);
    assert!(relay.connectors().is_empty());
}

/// A relay killed without draining and restarted: its stateless-reset key
/// is derived from its private key, so the new process resets the old
/// link and the connector reconnects without waiting out its idle timeout.
#[test]
fn killed_relay_resets_the_old_link_when_it_restarts() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let pki = TestPki::new(tmp.path(), "acme.internal");
    let cert = pki.connector("legal");
    let grants: &[(&str, &[&str])] = &[(LEGAL, &["contracts"])];
    let relay = RelayProc::start(&relay_config(tmp.path(), &pki, 0, grants));
    let port = relay.quic.port();
    let cfg = connector_config(tmp.path(), &pki, &cert, relay.quic, &["contracts"]);
    let connector = Proc::start(
        "connector",
        &["connector", "--config", cfg.to_str().expect("utf-8")],
    );
    relay.proc.wait_event("link.registered", &[]);
    let (established, _) = connector.wait_event_from(0, "link.established", &[]);
    relay.proc.signal("KILL");
    drop(relay);
    let relay = RelayProc::start(&relay_config(tmp.path(), &pki, port, grants));
    connector.wait_event_from(established, "link.lost", &[("reason", "reset")]);
    connector.wait_event_from(established + 1, "link.established", &[]);
    relay
        .proc
        .wait_event("link.registered", &[("connector.id", LEGAL)]);
}

#[test]
fn workers_flag_sizes_the_runtime_and_zero_is_refused() {
    let err = sallyport_fails(&["--workers", "0", "connector", "--config", "x.toml"]);
    assert!(err.contains("0 is not in 1..=1024"), "{err}");

    let tmp = tempfile::tempdir().expect("tempdir");
    let pki = TestPki::new(tmp.path(), "acme.internal");
    let cert = pki.connector("legal");
    let relay = RelayProc::start(&relay_config(tmp.path(), &pki, 0, &[(LEGAL, &["wiki"])]));
    let conn_cfg = connector_config(tmp.path(), &pki, &cert, relay.quic, &["wiki"]);
    let connector = Proc::start(
        "connector",
        &[
            "--workers",
            "1",
            "connector",
            "--config",
            conn_cfg.to_str().expect("utf-8"),
        ],
    );
    connector.wait_event("runtime.started", &[("workers", "1")]);
    connector.wait_event("link.established", &[("accepted", "wiki")]);
}
