//! Real TLS 1.3 handshakes in memory between configurations built by
//! `tls::quic_server_config` / `tls::quic_client_config`: rustls
//! `ServerConnection` and `ClientConnection` pumping bytes, no sockets.

mod common;

use std::sync::Arc;

use common::TestPki;
use rustls::{CertificateError, ClientConnection, ServerConnection};
use rustls_pki_types::ServerName;
use sallyport_pki::tls::{quic_client_config, quic_server_config, spiffe_id_of};
use sallyport_pki::{Issued, PkiError, RevocationReason, RevokeTarget};

const ALPN: &[u8] = b"sallyport/1";

struct Outcome {
    server: Result<(), rustls::Error>,
    client: Result<(), rustls::Error>,
    server_conn: ServerConnection,
}

fn transfer(from: &mut dyn FnMut(&mut Vec<u8>), to: &mut dyn FnMut(&[u8])) -> bool {
    let mut buf = Vec::new();
    from(&mut buf);
    if !buf.is_empty() {
        to(&buf);
    }
    !buf.is_empty()
}

/// Handshake between `relay`'s server config (trusting `server_pki`'s
/// bundle and CRL) and `connector`'s client config (trusting `client_pki`'s
/// bundle), the client dialing `server_name`.
fn handshake(
    server_pki: &TestPki,
    relay: &Issued,
    client_pki: &TestPki,
    connector: &Issued,
    server_name: &str,
) -> Outcome {
    let crl = server_pki.crl();
    let server_cfg = quic_server_config(
        &relay.cert_path,
        &relay.key_path,
        &server_pki.bundle(),
        Some(crl.as_path()),
        ALPN,
    )
    .expect("server config");
    let client_cfg = quic_client_config(
        &connector.cert_path,
        &connector.key_path,
        &client_pki.bundle(),
        ALPN,
    )
    .expect("client config");
    let name = ServerName::try_from(server_name.to_owned()).expect("server name");
    let mut client = ClientConnection::new(Arc::new(client_cfg), name).expect("client");
    let mut server = ServerConnection::new(Arc::new(server_cfg)).expect("server");
    let mut server_result = Ok(());
    let mut client_result = Ok(());
    for _ in 0..32 {
        let c2s = transfer(
            &mut |buf| {
                while client.wants_write() {
                    client.write_tls(buf).expect("write_tls");
                }
            },
            &mut |mut bytes| {
                while !bytes.is_empty() {
                    server.read_tls(&mut bytes).expect("read_tls");
                }
                if let Err(e) = server.process_new_packets() {
                    server_result = server_result.clone().and(Err(e));
                }
            },
        );
        let s2c = transfer(
            &mut |buf| {
                while server.wants_write() {
                    server.write_tls(buf).expect("write_tls");
                }
            },
            &mut |mut bytes| {
                while !bytes.is_empty() {
                    client.read_tls(&mut bytes).expect("read_tls");
                }
                if let Err(e) = client.process_new_packets() {
                    client_result = client_result.clone().and(Err(e));
                }
            },
        );
        if !c2s && !s2c {
            break;
        }
    }
    if server_result.is_ok() && client_result.is_ok() {
        assert!(
            !server.is_handshaking() && !client.is_handshaking(),
            "handshake stalled"
        );
    }
    Outcome {
        server: server_result,
        client: client_result,
        server_conn: server,
    }
}

fn server_error(outcome: &Outcome) -> CertificateError {
    match &outcome.server {
        Err(rustls::Error::InvalidCertificate(e)) => e.clone(),
        other => panic!("expected a server-side certificate error, got {other:?}"),
    }
}

#[test]
fn valid_connector_handshakes_and_is_identified() {
    let t = TestPki::new("acme.internal");
    let relay = t.relay();
    let connector = t.connector("legal-dc1");
    let outcome = handshake(&t, &relay, &t, &connector, "relay.acme.internal");
    assert!(outcome.server.is_ok(), "{:?}", outcome.server);
    assert!(outcome.client.is_ok(), "{:?}", outcome.client);
    let server = &outcome.server_conn;
    assert_eq!(server.alpn_protocol(), Some(ALPN));
    assert_eq!(
        server.protocol_version(),
        Some(rustls::ProtocolVersion::TLSv1_3)
    );
    let peer = server.peer_certificates().expect("client certificate");
    let id = spiffe_id_of(&peer[0]).expect("SPIFFE ID");
    assert_eq!(id.connector_name(), Some("legal-dc1"));
    assert_eq!(id.trust_domain().as_str(), "acme.internal");
}

#[test]
fn ip_server_name_handshakes() {
    let t = TestPki::new("acme.internal");
    let outcome = handshake(&t, &t.relay(), &t, &t.connector("c"), "127.0.0.1");
    assert!(outcome.server.is_ok() && outcome.client.is_ok());
}

#[test]
fn revoked_connector_is_rejected_by_the_relay() {
    let t = TestPki::new("acme.internal");
    let relay = t.relay();
    let connector = t.connector("legal-dc1");
    t.pki
        .revoke(
            &RevokeTarget::Cert(connector.cert_path.clone()),
            RevocationReason::KeyCompromise,
        )
        .expect("revoke");
    let outcome = handshake(&t, &relay, &t, &connector, "relay.acme.internal");
    assert_eq!(server_error(&outcome), CertificateError::Revoked);

    // A sibling that is not revoked still gets in with the same CRL.
    let other = t.connector("finance-dc1");
    let outcome = handshake(&t, &relay, &t, &other, "relay.acme.internal");
    assert!(outcome.server.is_ok(), "{:?}", outcome.server);
}

#[test]
fn expired_connector_is_rejected_by_the_relay() {
    let t = TestPki::new("acme.internal");
    let relay = t.relay();
    let connector = t.expired_connector("old");
    let outcome = handshake(&t, &relay, &t, &connector, "relay.acme.internal");
    let err = server_error(&outcome);
    assert!(
        matches!(
            err,
            CertificateError::Expired | CertificateError::ExpiredContext { .. }
        ),
        "{err:?}"
    );
}

#[test]
fn connector_from_another_ca_is_rejected_by_the_relay() {
    let ours = TestPki::new("acme.internal");
    let theirs = TestPki::new("acme.internal");
    let relay = ours.relay();
    let foreign = theirs.connector("legal-dc1");
    // The foreign connector trusts our bundle, so only the relay can object.
    let outcome = handshake(&ours, &relay, &ours, &foreign, "relay.acme.internal");
    assert_eq!(server_error(&outcome), CertificateError::UnknownIssuer);
}

#[test]
fn relay_certificate_is_not_a_client_certificate() {
    let t = TestPki::new("acme.internal");
    let relay = t.relay();
    let outcome = handshake(&t, &relay, &t, &relay, "relay.acme.internal");
    let err = server_error(&outcome);
    assert!(
        matches!(
            err,
            CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. }
        ),
        "{err:?}"
    );
}

#[test]
fn wrong_server_name_fails_on_the_client() {
    let t = TestPki::new("acme.internal");
    let outcome = handshake(&t, &t.relay(), &t, &t.connector("c"), "other.acme.internal");
    match &outcome.client {
        Err(rustls::Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
        )) => {}
        other => panic!("expected NotValidForName on the client, got {other:?}"),
    }
}

#[test]
fn relay_from_another_ca_fails_on_the_client() {
    let ours = TestPki::new("acme.internal");
    let theirs = TestPki::new("acme.internal");
    let connector = ours.connector("c");
    // The impostor relay trusts our connectors, but our connector does not trust it.
    let outcome = handshake(
        &theirs,
        &theirs.relay(),
        &ours,
        &connector,
        "relay.acme.internal",
    );
    match &outcome.client {
        Err(rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer)) => {}
        other => panic!("expected UnknownIssuer on the client, got {other:?}"),
    }
}

#[test]
fn certificates_from_both_cas_handshake_after_rotation() {
    let t = TestPki::new("acme.internal");
    let old_relay = t.relay();
    let before = t.connector("before");
    t.pki.rotate_ca().expect("rotate");
    let after = t.connector("after");
    for connector in [&before, &after] {
        let outcome = handshake(&t, &old_relay, &t, connector, "relay.acme.internal");
        assert!(outcome.server.is_ok(), "{:?}", outcome.server);
        assert!(outcome.client.is_ok(), "{:?}", outcome.client);
    }
}

#[test]
fn wrong_pem_types_give_typed_errors() {
    let t = TestPki::new("acme.internal");
    let relay = t.relay();
    // Key given as certificate.
    let err = quic_server_config(&relay.key_path, &relay.key_path, &t.bundle(), None, ALPN)
        .expect_err("a key is not a certificate");
    match &err {
        PkiError::WrongPemType { path, found, .. } => {
            assert_eq!(path, &relay.key_path);
            assert_eq!(found, "PRIVATE KEY");
        }
        other => panic!("{other:?}"),
    }
    // Certificate given as key.
    let err = quic_client_config(&relay.cert_path, &relay.cert_path, &t.bundle(), ALPN)
        .expect_err("a certificate is not a key");
    assert!(
        matches!(&err, PkiError::WrongPemType { found, .. } if found == "CERTIFICATE"),
        "{err:?}"
    );
    // Certificate given as CRL.
    let err = quic_server_config(
        &relay.cert_path,
        &relay.key_path,
        &t.bundle(),
        Some(relay.cert_path.as_path()),
        ALPN,
    )
    .expect_err("a certificate is not a CRL");
    assert!(matches!(err, PkiError::WrongPemType { .. }), "{err:?}");
    // Key of another certificate.
    let other = t.connector("c");
    let err = quic_server_config(&relay.cert_path, &other.key_path, &t.bundle(), None, ALPN)
        .expect_err("mismatched key");
    assert!(matches!(err, PkiError::KeyMismatch { .. }), "{err:?}");
    // Empty CRL file would silently disable revocation.
    let empty = t.dir().join("empty-crl.pem");
    std::fs::write(&empty, "").expect("write");
    let err = quic_server_config(
        &relay.cert_path,
        &relay.key_path,
        &t.bundle(),
        Some(empty.as_path()),
        ALPN,
    )
    .expect_err("empty CRL file");
    assert!(matches!(err, PkiError::NotACrl { .. }), "{err:?}");
    // Missing bundle.
    let err = quic_client_config(
        &other.cert_path,
        &other.key_path,
        &t.dir().join("nope.pem"),
        ALPN,
    )
    .expect_err("missing bundle");
    assert!(matches!(err, PkiError::MissingFile { .. }), "{err:?}");
    assert!(
        sallyport_pki::tls::load_crls(&empty)
            .expect("empty is fine")
            .is_empty()
    );
}

#[test]
fn issuer_without_a_crl_is_rejected_fail_closed() {
    let t = TestPki::new("acme.internal");
    let relay = t.relay();
    let before = t.connector("before");
    let rotation = t.pki.rotate_ca().expect("rotate");
    // Lose the old CA key: the next CRL refresh cannot sign for the old CA.
    std::fs::remove_file(&rotation.archived_key).expect("rm old key");
    let report = t.pki.refresh_crl().expect("refresh");
    assert_eq!(report.skipped, std::slice::from_ref(&rotation.old_ca_id));
    let outcome = handshake(&t, &relay, &t, &before, "relay.acme.internal");
    assert_eq!(
        server_error(&outcome),
        CertificateError::UnknownRevocationStatus
    );
    assert_eq!(
        t.pki.verify(&before.cert_path).expect("verify").status,
        sallyport_pki::VerifyStatus::RevocationStatusUnknown
    );
}
