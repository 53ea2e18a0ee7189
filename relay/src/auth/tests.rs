//! Unit tests: API keys and configuration checks (claims and keys are
//! tested beside their code; JWTs end to end in `relay/tests/auth_*.rs`).

use std::path::Path;

use super::config::{AgentClaim, check_jwks_url, parse_algorithm};
use super::*;

fn sha256_hex(s: &str) -> String {
    ring::digest::digest(&ring::digest::SHA256, s.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn entry(sha: &str) -> ApiKeyEntry {
    ApiKeyEntry {
        sha256: sha.into(),
        subject: "ci-bot".into(),
        groups: vec!["sre".into()],
        agent: None,
    }
}

fn store() -> Authenticator {
    Authenticator::new(
        &[entry(&sha256_hex("sp_test"))],
        &AuthConfig::default(),
        None,
    )
    .expect("valid")
}

fn run<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}

const RES: &str = "https://relay.acme.com/mcp/contracts";

#[test]
fn key_authenticates() {
    let s = store();
    let p = run(s.authenticate(Some("Bearer sp_test"), RES)).expect("valid key");
    assert_eq!(
        (p.subject.as_str(), p.groups.as_slice(), &p.method),
        ("ci-bot", &["sre".to_owned()][..], &AuthMethod::ApiKey)
    );
    assert!(run(s.authenticate(Some("bearer  sp_test "), RES)).is_ok());
}

#[test]
fn refusals() {
    let s = store();
    let auth = |h: Option<&str>| run(s.authenticate(h, RES));
    assert_eq!(auth(None), Err(AuthError::Missing));
    assert_eq!(auth(Some("Basic dGVzdA==")), Err(AuthError::Malformed));
    assert_eq!(auth(Some("Bearer")), Err(AuthError::Malformed));
    assert_eq!(auth(Some("Bearer  ")), Err(AuthError::Malformed));
    assert_eq!(auth(Some("Bearer sp_tesT")), Err(AuthError::Invalid));
    // Neither an API key nor a JWT.
    assert_eq!(auth(Some("Bearer test")), Err(AuthError::Invalid));
    // A JWT when no issuer is configured.
    let jwt = "eyJhbGciOiJFZERTQSJ9.eyJpc3MiOiJ4In0.c2ln";
    assert_eq!(
        auth(Some(&format!("Bearer {jwt}"))),
        Err(AuthError::UnknownIssuer)
    );
    assert_eq!(auth(Some("Bearer a.b.c")), Err(AuthError::MalformedToken));
}

#[test]
fn bad_entries() {
    let none = AuthConfig::default();
    assert!(Authenticator::new(&[entry("abc")], &none, None).is_err());
    let ok = sha256_hex("sp_x");
    let err = Authenticator::new(&[entry(&ok), entry(&ok)], &none, None)
        .expect_err("duplicate")
        .to_string();
    assert!(err.contains("listed twice"), "{err}");
    let mut empty = entry(&ok);
    empty.subject = " ".into();
    assert!(Authenticator::new(&[empty], &none, None).is_err());
}

#[test]
fn challenge_codes_and_status() {
    assert_eq!(AuthError::Missing.challenge_error(), None);
    assert_eq!(
        AuthError::Malformed.challenge_error(),
        Some("invalid_request")
    );
    for e in [
        AuthError::Expired,
        AuthError::WrongAudience,
        AuthError::BadSignature,
        AuthError::AlgorithmNotAllowed,
    ] {
        assert_eq!(e.challenge_error(), Some("invalid_token"));
        assert_eq!(e.status(), 401);
    }
    assert_eq!(AuthError::JwksUnavailable.status(), 503);
}

#[test]
fn anonymous_principal() {
    let p = Principal::anonymous();
    assert!(p.is_anonymous() && p.groups.is_empty() && p.agent.is_none());
    assert!(
        !run(store().authenticate(Some("Bearer sp_test"), RES))
            .expect("key")
            .is_anonymous()
    );
}

fn parse(text: &str) -> AuthConfig {
    #[derive(serde::Deserialize)]
    struct Doc {
        auth: AuthConfig,
    }
    toml::from_str::<Doc>(text).expect("parses").auth
}

#[test]
fn config_parses_and_resolves() {
    let auth = parse(
        r#"
        [auth]
        token_public_key = "pki/token.pub"
        leeway_secs = 30

        [[auth.idp]]
        issuer = "https://login.acme.com"
        jwks_url = "https://login.acme.com/.well-known/jwks.json"
        audience = "api://sallyport"
        groups_claim = "roles"
        agent_claim = "act.sub"
        algorithms = ["RS256", "ES256"]

        [[auth.idp]]
        issuer = "https://other"
        public_key_pem = "/etc/other.pem"
        "#,
    )
    .resolve(Path::new("/etc/sallyport"));
    auth.validate().expect("valid");
    assert_eq!(
        auth.token_public_key.as_deref(),
        Some(Path::new("/etc/sallyport/pki/token.pub"))
    );
    assert_eq!(auth.idp[0].audience, vec!["api://sallyport"]);
    assert_eq!(auth.idp[0].agent_claim, Some(AgentClaim::ActSub));
    assert_eq!(
        auth.idp[1].public_key_pem.as_deref(),
        Some(Path::new("/etc/other.pem"))
    );
    assert_eq!(auth.leeway(), 30);
    assert_eq!(AuthConfig::default().leeway(), DEFAULT_LEEWAY_SECS);

    #[derive(serde::Deserialize)]
    #[allow(dead_code, reason = "only parsed")]
    struct Doc {
        auth: AuthConfig,
    }
    for bad in [
        "[auth]\ntoken_key = \"x\"",
        "[[auth.idp]]\nissuer = \"i\"\njwks_url = \"https://x\"\nagent_claim = \"sub\"",
        "[[auth.idp]]\nissuer = \"i\"\njwks_url = \"https://x\"\nscope = \"x\"",
    ] {
        assert!(toml::from_str::<Doc>(bad).is_err(), "{bad}");
    }
}

#[test]
fn config_validation_messages() {
    let idp = |extra: &str| format!("[[auth.idp]]\nissuer = \"https://i\"\n{extra}");
    for (text, expected) in [
        ("[auth]\nleeway_secs = 301".to_owned(), "leeway_secs"),
        (
            "[auth]\ntoken_issuer = \"x\"".to_owned(),
            "token_public_key",
        ),
        (
            idp(""),
            "exactly one of jwks_url, jwks_file or public_key_pem",
        ),
        (
            idp("jwks_url = \"https://i/j\"\njwks_file = \"j.json\""),
            "exactly one",
        ),
        (
            idp("jwks_url = \"http://login.acme.com/j\""),
            "must use https://",
        ),
        (idp("jwks_url = \"ftp://i/j\""), "unsupported scheme"),
        (idp("jwks_url = \"https://u:p@i/j\""), "credentials"),
        (
            idp("jwks_file = \"j\"\njwks_ca = \"ca.pem\""),
            "jwks_ca applies only",
        ),
        (
            idp("jwks_file = \"j\"\nalgorithms = [\"none\"]"),
            "never allowed",
        ),
        (idp("jwks_file = \"j\"\nalgorithms = [\"HS256\"]"), "HMAC"),
        (
            idp("jwks_file = \"j\"\nalgorithms = [\"ES512\"]"),
            "unknown algorithm",
        ),
        (
            idp("jwks_file = \"j\"\nalgorithms = []"),
            "must not be empty",
        ),
        (
            idp("jwks_file = \"j\"\ngroups_claim = \"\""),
            "groups_claim",
        ),
        (
            format!("{}\n{}", idp("jwks_file = \"j\""), idp("jwks_file = \"k\"")),
            "listed twice",
        ),
    ] {
        let err = parse(&text).validate().expect_err(&text).to_string();
        assert!(err.contains(expected), "{text}\n=> {err}");
    }
    for ok in [
        "http://127.0.0.1:8080/j",
        "http://[::1]/j",
        "http://localhost/j",
        "https://i/j",
    ] {
        check_jwks_url(ok).expect(ok);
    }
}

#[test]
fn own_issuer_needs_a_trust_domain() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let pki = sallyport_pki::Pki::init(tmp.path(), "acme.internal".parse().expect("td"), false)
        .expect("pki");
    let auth = AuthConfig {
        token_public_key: Some(pki.token_pub_path()),
        ..AuthConfig::default()
    };
    let err = Authenticator::new(&[], &auth, None)
        .expect_err("no issuer")
        .to_string();
    assert!(err.contains("token_issuer"), "{err}");
    let a = Authenticator::new(&[], &auth, Some("acme.internal")).expect("hint");
    assert_eq!(a.issuers().collect::<Vec<_>>(), ["sallyport:acme.internal"]);
    let missing = AuthConfig {
        token_public_key: Some(tmp.path().join("nope.pub")),
        ..AuthConfig::default()
    };
    let err = Authenticator::new(&[], &missing, Some("acme.internal"))
        .expect_err("missing")
        .to_string();
    assert!(
        err.contains("token_public_key") && err.contains("nope.pub"),
        "{err}"
    );
}

#[test]
fn algorithms_parse() {
    assert!(parse_algorithm("EdDSA").is_ok() && parse_algorithm("PS512").is_ok());
    for bad in ["none", "NONE", "HS256", "HS512", "ES512", ""] {
        assert!(parse_algorithm(bad).is_err(), "{bad}");
    }
}
