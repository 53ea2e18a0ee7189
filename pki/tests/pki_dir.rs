//! PKI directory operations end to end: init, issue, inspect, verify,
//! revoke, CRL and CA rotation.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;

use common::{TestPki, crl_serials, name_of};
use sallyport_pki::{
    Expiry, INIT_FILES, Pki, PkiError, RevocationReason, RevokeTarget, Validity, VerifyStatus,
    inspect,
};
use time::{Duration, OffsetDateTime};

fn mode(path: &std::path::Path) -> u32 {
    fs::metadata(path).expect("exists").permissions().mode() & 0o777
}

#[test]
fn init_writes_layout_with_private_keys_0600() {
    let t = TestPki::new("acme.internal");
    for name in INIT_FILES {
        let path = t.pki.path(name);
        let expected = if name.ends_with(".key") { 0o600 } else { 0o644 };
        assert_eq!(mode(&path), expected, "{name}");
    }
    assert_eq!(mode(t.dir()), 0o700);
    let token_key = fs::read_to_string(t.pki.token_key_path()).expect("token.key");
    assert!(token_key.starts_with("-----BEGIN PRIVATE KEY-----"));
    let token_pub = fs::read_to_string(t.pki.token_pub_path()).expect("token.pub");
    assert!(token_pub.starts_with("-----BEGIN PUBLIC KEY-----"));
    // Ed25519 SPKI: 12-byte prefix + 32-byte key.
    use rustls_pki_types::pem::PemObject;
    let spki = rustls_pki_types::SubjectPublicKeyInfoDer::from_pem_slice(token_pub.as_bytes())
        .expect("SPKI PEM");
    assert_eq!(spki.len(), 44);
    // The token task signs with ring, which needs a PKCS#8 v2 document.
    let pkcs8 = rustls_pki_types::PrivatePkcs8KeyDer::from_pem_slice(token_key.as_bytes())
        .expect("PKCS#8 PEM");
    let pair = ring::signature::Ed25519KeyPair::from_pkcs8(pkcs8.secret_pkcs8_der())
        .expect("ring accepts token.key");
    use ring::signature::KeyPair as _;
    assert_eq!(pair.public_key().as_ref(), &spki.as_ref()[12..]);

    let ca = inspect(&t.pki.ca_cert_path()).expect("inspect CA");
    assert!(ca.is_ca);
    assert!(
        ca.subject.contains("CN=Sallyport CA acme.internal"),
        "{}",
        ca.subject
    );
    assert_eq!(ca.key_usage, ["keyCertSign", "cRLSign"]);
    assert!(ca.days_left >= 3649, "{}", ca.days_left);
    assert_eq!(crl_serials(&t.crl()), vec![Vec::<String>::new()]);

    let reopened = Pki::open(t.dir()).expect("open");
    assert_eq!(reopened.trust_domain().as_str(), "acme.internal");
}

#[test]
fn init_refuses_to_overwrite_without_force() {
    let t = TestPki::new("acme.internal");
    let ca_before = fs::read(t.pki.ca_cert_path()).expect("ca.pem");
    let err = Pki::init(t.dir(), "acme.internal".parse().expect("td"), false)
        .expect_err("second init must refuse");
    assert!(matches!(err, PkiError::AlreadyExists { .. }), "{err:?}");
    assert!(err.to_string().contains("--force"), "{err}");
    assert_eq!(fs::read(t.pki.ca_cert_path()).expect("ca.pem"), ca_before);

    // Even a single existing file blocks init, and nothing else is written.
    let dir = tempfile::tempdir().expect("tempdir");
    fs::write(dir.path().join("token.pub"), "keep me").expect("write");
    let err = Pki::init(dir.path(), "acme.internal".parse().expect("td"), false)
        .expect_err("must refuse");
    assert!(err.to_string().contains("token.pub"), "{err}");
    assert!(!dir.path().join("ca.key").exists());

    Pki::init(t.dir(), "acme.internal".parse().expect("td"), true).expect("force");
    assert_ne!(fs::read(t.pki.ca_cert_path()).expect("ca.pem"), ca_before);
    assert_eq!(mode(&t.pki.path("ca.key")), 0o600);
}

#[test]
fn issue_refuses_to_overwrite_without_force() {
    let t = TestPki::new("acme.internal");
    let first = t.connector("legal-dc1");
    let err = t
        .pki
        .issue_connector(
            &name_of("legal-dc1"),
            Validity::days(7).expect("days"),
            false,
        )
        .expect_err("must refuse");
    assert!(matches!(err, PkiError::AlreadyExists { .. }));
    let second = t
        .pki
        .issue_connector(
            &name_of("legal-dc1"),
            Validity::days(7).expect("days"),
            true,
        )
        .expect("force");
    assert_ne!(first.serial, second.serial);
    assert_eq!(mode(&second.key_path), 0o600);
}

#[test]
fn issue_then_inspect_shows_identity() {
    let t = TestPki::new("acme.internal");
    let issued = t.connector("legal-dc1");
    assert!(issued.cert_path.ends_with("connector-legal-dc1.pem"));
    assert!(issued.key_path.ends_with("connector-legal-dc1.key"));
    assert_eq!(mode(&issued.key_path), 0o600);
    let info = inspect(&issued.cert_path).expect("inspect");
    assert_eq!(
        info.spiffe_id.as_ref().map(ToString::to_string).as_deref(),
        Some("spiffe://acme.internal/connector/legal-dc1")
    );
    assert_eq!(info.serial, issued.serial);
    assert_eq!(info.serial.to_hex().len(), 32);
    assert_eq!(info.extended_key_usage, ["clientAuth"]);
    assert!(!info.is_ca);
    assert_eq!(info.expiry, Expiry::Valid);
    assert!((6..=7).contains(&info.days_left), "{}", info.days_left);
    let report = info.to_string();
    assert!(
        report.contains("spiffe://acme.internal/connector/legal-dc1"),
        "{report}"
    );
    assert!(report.contains(&issued.serial.to_hex()), "{report}");
    assert!(
        !report.contains("WARNING") && !report.contains("EXPIRED"),
        "{report}"
    );

    let relay = t.relay();
    let info = inspect(&relay.cert_path).expect("inspect relay");
    assert_eq!(info.dns_names, ["relay.acme.internal"]);
    assert_eq!(
        info.ip_addrs,
        ["127.0.0.1".parse::<std::net::IpAddr>().expect("ip")]
    );
    assert_eq!(info.uris, ["spiffe://acme.internal/relay"]);
    assert_eq!(info.extended_key_usage, ["serverAuth"]);
    assert!((29..=30).contains(&info.days_left));

    let client = t
        .pki
        .issue_client(&name_of("agent-7"), Validity::days(7).expect("days"), false)
        .expect("client");
    assert!(client.cert_path.ends_with("client-agent-7.pem"));
    assert_eq!(client.spiffe_id.client_name(), Some("agent-7"));
}

#[test]
fn inspect_warns_and_flags_expired() {
    let t = TestPki::new("acme.internal");
    let expired = t.expired_connector("old");
    let report = inspect(&expired.cert_path).expect("inspect").to_string();
    assert!(report.contains("EXPIRED"), "{report}");

    let now = OffsetDateTime::now_utc();
    let soon =
        Validity::between(now - Duration::days(29), now + Duration::days(1)).expect("window");
    let issued = t
        .pki
        .issue_connector(&name_of("soon"), soon, false)
        .expect("issue");
    let info = inspect(&issued.cert_path).expect("inspect");
    assert_eq!(info.expiry, Expiry::ExpiringSoon);
    assert!(info.to_string().contains("WARNING"), "{info}");
}

#[test]
fn verify_accepts_fresh_certificates() {
    let t = TestPki::new("acme.internal");
    for issued in [t.connector("legal-dc1"), t.relay()] {
        let v = t.pki.verify(&issued.cert_path).expect("verify");
        assert_eq!(v.status, VerifyStatus::Valid, "{v}");
        assert_eq!(v.spiffe_id.as_ref(), Some(&issued.spiffe_id));
    }
}

#[test]
fn verify_reports_expired() {
    let t = TestPki::new("acme.internal");
    let issued = t.expired_connector("old");
    let v = t.pki.verify(&issued.cert_path).expect("verify");
    assert!(matches!(v.status, VerifyStatus::Expired { .. }), "{v}");
    assert!(v.to_string().contains("expired"), "{v}");
}

#[test]
fn verify_rejects_certificate_from_another_ca() {
    let ours = TestPki::new("acme.internal");
    let theirs = TestPki::new("acme.internal");
    let foreign = theirs.connector("legal-dc1");
    let v = ours.pki.verify(&foreign.cert_path).expect("verify");
    assert_eq!(v.status, VerifyStatus::UnknownIssuer, "{v}");

    let other_domain = TestPki::new("evil.internal");
    let v = ours
        .pki
        .verify(&other_domain.connector("x").cert_path)
        .expect("verify");
    assert!(
        matches!(v.status, VerifyStatus::ForeignTrustDomain { .. }),
        "{v}"
    );
}

#[test]
fn revoke_lists_serial_in_crl_and_verify_says_revoked() {
    let t = TestPki::new("acme.internal");
    let bad = t.connector("legal-dc1");
    let good = t.connector("finance-dc1");
    let outcome = t
        .pki
        .revoke(
            &RevokeTarget::Cert(bad.cert_path.clone()),
            RevocationReason::KeyCompromise,
        )
        .expect("revoke");
    assert!(!outcome.already_revoked);
    assert_eq!(outcome.crl.crl_number, 2);
    assert_eq!(crl_serials(&t.crl()), vec![vec![bad.serial.to_hex()]]);

    let v = t.pki.verify(&bad.cert_path).expect("verify");
    assert_eq!(v.status, VerifyStatus::Revoked, "{v}");
    assert_eq!(
        t.pki.verify(&good.cert_path).expect("verify").status,
        VerifyStatus::Valid
    );

    let record = t.pki.revocations().expect("record");
    assert_eq!(record.len(), 1);
    assert_eq!(record[0].reason, RevocationReason::KeyCompromise);
    assert_eq!(
        record[0].subject.as_deref(),
        Some("spiffe://acme.internal/connector/legal-dc1")
    );

    // Idempotent, and refresh_crl keeps the list while bumping the number.
    let again = t
        .pki
        .revoke(
            &RevokeTarget::Cert(bad.cert_path.clone()),
            RevocationReason::Superseded,
        )
        .expect("revoke again");
    assert!(again.already_revoked);
    assert_eq!(again.revocation.reason, RevocationReason::KeyCompromise);
    let refreshed = t.pki.refresh_crl().expect("refresh");
    assert_eq!(refreshed.crl_number, 4);
    assert_eq!(crl_serials(&t.crl()), vec![vec![bad.serial.to_hex()]]);
    assert_eq!(t.pki.revocations().expect("record").len(), 1);
}

#[test]
fn revoke_by_serial_and_foreign_cert() {
    let t = TestPki::new("acme.internal");
    let issued = t.connector("legal-dc1");
    t.pki
        .revoke(
            &RevokeTarget::Serial(issued.serial.clone()),
            RevocationReason::Unspecified,
        )
        .expect("revoke by serial");
    assert_eq!(
        t.pki.verify(&issued.cert_path).expect("verify").status,
        VerifyStatus::Revoked
    );

    let other = TestPki::new("acme.internal");
    let foreign = other.connector("x");
    let err = t
        .pki
        .revoke(
            &RevokeTarget::Cert(foreign.cert_path),
            RevocationReason::Unspecified,
        )
        .expect_err("not ours");
    assert!(matches!(err, PkiError::NotIssuedHere { .. }), "{err:?}");
}

#[test]
fn rotation_keeps_old_and_new_certificates_valid() {
    let t = TestPki::new("acme.internal");
    let before = t.connector("before");
    let revoked_before = t.connector("revoked-before");
    let old_ca = inspect(&t.pki.ca_cert_path()).expect("old CA");

    let rotation = t.pki.rotate_ca().expect("rotate");
    assert_eq!(rotation.bundle_ids.len(), 2);
    assert_eq!(mode(&rotation.archived_key), 0o600);
    assert_eq!(
        sallyport_pki::tls::load_certs(&t.bundle())
            .expect("bundle")
            .len(),
        2
    );
    assert_eq!(rotation.crl.signed_by.len(), 2);

    let after = t.connector("after");
    let new_ca = inspect(&t.pki.ca_cert_path()).expect("new CA");
    assert_ne!(old_ca.subject, new_ca.subject, "CAs need distinct subjects");
    assert_eq!(
        inspect(&before.cert_path).expect("before").issuer,
        old_ca.subject
    );
    assert_eq!(
        inspect(&after.cert_path).expect("after").issuer,
        new_ca.subject
    );

    for issued in [&before, &after] {
        let v = t.pki.verify(&issued.cert_path).expect("verify");
        assert_eq!(v.status, VerifyStatus::Valid, "{v}");
    }

    // The old CA still signs its CRL: revoking a pre-rotation cert works.
    t.pki
        .revoke(
            &RevokeTarget::Cert(revoked_before.cert_path.clone()),
            RevocationReason::Superseded,
        )
        .expect("revoke");
    assert_eq!(
        t.pki
            .verify(&revoked_before.cert_path)
            .expect("verify")
            .status,
        VerifyStatus::Revoked
    );
    let serials = crl_serials(&t.crl());
    assert_eq!(serials, vec![vec![], vec![revoked_before.serial.to_hex()]]);

    // Retiring the old CA drops trust in its certificates.
    let err = t
        .pki
        .retire_ca(&rotation.new_ca_id)
        .expect_err("current CA");
    assert!(matches!(err, PkiError::CannotRetireCurrentCa { .. }));
    t.pki.retire_ca(&rotation.old_ca_id).expect("retire");
    assert_eq!(
        t.pki.verify(&before.cert_path).expect("verify").status,
        VerifyStatus::UnknownIssuer
    );
    assert_eq!(
        t.pki.verify(&after.cert_path).expect("verify").status,
        VerifyStatus::Valid
    );
}

#[test]
fn missing_ca_key_is_reported_with_path() {
    let t = TestPki::new("acme.internal");
    fs::remove_file(t.pki.path("ca.key")).expect("rm");
    let err = t
        .pki
        .issue_connector(&name_of("x"), Validity::days(7).expect("days"), false)
        .expect_err("no CA key");
    match &err {
        PkiError::MissingFile { path, .. } => assert!(path.ends_with("ca.key")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn validity_cannot_outlive_the_ca() {
    let t = TestPki::new("acme.internal");
    let now = OffsetDateTime::now_utc();
    let too_long = Validity::between(now, now + Duration::days(4000)).expect("window");
    let err = t
        .pki
        .issue_connector(&name_of("x"), too_long, false)
        .expect_err("outlives CA");
    assert!(matches!(err, PkiError::BadValidity { .. }), "{err:?}");
}
