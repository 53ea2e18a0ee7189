//! `sallyport pki token`: what it prints verifies with token.pub, carries the
//! documented claims, and bad input is refused with a clear message.

use std::path::Path;

use clap::{CommandFactory, Parser, Subcommand};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use sallyport_pki::cli::{PkiArgs, execute};
use sallyport_pki::token::{self, TokenRequest, Ttl};
use sallyport_pki::{Pki, PkiError};
use serde_json::Value;

#[derive(Debug, Parser)]
struct Cli {
    #[command(subcommand)]
    cmd: Top,
}

#[derive(Debug, Subcommand)]
enum Top {
    Pki(PkiArgs),
}

fn parse(args: &[&str]) -> Result<PkiArgs, clap::Error> {
    let mut full = vec!["sallyport", "pki"];
    full.extend_from_slice(args);
    Cli::try_parse_from(full).map(|c| {
        let Top::Pki(p) = c.cmd;
        p
    })
}

fn run(args: &[&str]) -> (Result<(), PkiError>, String) {
    let pki = parse(args).unwrap_or_else(|e| panic!("{args:?}: {e}"));
    let mut out = Vec::new();
    let result = execute(pki, &mut out);
    (result, String::from_utf8(out).expect("utf-8 output"))
}

fn init(dir: &Path) -> Pki {
    Pki::init(dir, "acme.internal".parse().expect("td"), false).expect("init")
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// Verifies `token` with the public key in `token.pub`, the way a relay
/// holding only that file would.
fn verify(pki: &Pki, token: &str, aud: &[&str]) -> Value {
    let pem = std::fs::read(pki.token_pub_path()).expect("token.pub");
    let key = DecodingKey::from_ed_pem(&pem).expect("Ed25519 SPKI PEM");
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.set_audience(aud);
    validation.set_issuer(&["sallyport:acme.internal"]);
    validation.set_required_spec_claims(&["exp", "nbf", "iss", "sub", "aud"]);
    decode::<Value>(token, &key, &validation)
        .expect("token verifies with token.pub")
        .claims
}

#[test]
fn cli_token_verifies_with_token_pub() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("pki");
    let pki = init(&dir);
    let (result, out) = run(&[
        "token",
        "--dir",
        s(&dir),
        "--aud",
        "https://relay.acme.com",
        "--sub",
        "alice@acme.com",
        "--groups",
        "legal",
        "--groups",
        "finance,sre",
        "--agent",
        "claude",
        "--ttl",
        "1h",
    ]);
    result.expect("token minted");
    // The token alone on one line, so `$(...)` captures exactly it.
    assert_eq!(out.lines().count(), 1, "{out}");
    let jwt = out.trim();
    assert_eq!(jwt.split('.').count(), 3);

    let header = decode_header(jwt).expect("header");
    assert_eq!(header.alg, Algorithm::EdDSA);
    assert_eq!(header.typ.as_deref(), Some("JWT"));
    let raw = token::read_public_keys(&pki.token_pub_path()).expect("token.pub");
    assert_eq!(header.kid, Some(token::key_id(&raw[0])));

    let claims = verify(&pki, jwt, &["https://relay.acme.com"]);
    assert_eq!(claims["iss"], "sallyport:acme.internal");
    assert_eq!(claims["sub"], "alice@acme.com");
    assert_eq!(claims["aud"], "https://relay.acme.com");
    assert_eq!(
        claims["groups"],
        serde_json::json!(["legal", "finance", "sre"])
    );
    assert_eq!(claims["agent"], "claude");
    let (iat, nbf, exp) = (
        claims["iat"].as_i64().expect("iat"),
        claims["nbf"].as_i64().expect("nbf"),
        claims["exp"].as_i64().expect("exp"),
    );
    assert_eq!((nbf, exp - iat), (iat, 3_600));
    assert_eq!(claims["jti"].as_str().map(str::len), Some(32));

    // A second token has another jti.
    let (_, again) = run(&[
        "token",
        "--dir",
        s(&dir),
        "--aud",
        "https://relay.acme.com",
        "--sub",
        "alice@acme.com",
    ]);
    let again = verify(&pki, again.trim(), &["https://relay.acme.com"]);
    assert_ne!(again["jti"], claims["jti"]);
    assert_eq!(again["groups"], serde_json::json!([]));
    assert!(again.get("agent").is_none());
    // Default lifetime: one hour.
    assert_eq!(
        again["exp"].as_i64().expect("exp") - again["iat"].as_i64().expect("iat"),
        3_600
    );
}

#[test]
fn several_audiences_and_issuer_override() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let pki = init(&tmp.path().join("pki"));
    let minted = pki
        .mint_token_at(
            &TokenRequest {
                audiences: vec![
                    "https://relay.acme.com".into(),
                    "https://relay.acme.com/mcp/contracts".into(),
                ],
                subject: "ci-bot".into(),
                groups: vec!["sre".into()],
                agent: None,
                ttl: "15m".parse().expect("ttl"),
                issuer: Some("https://tokens.acme.com".into()),
            },
            time::OffsetDateTime::now_utc(),
        )
        .expect("minted");
    assert!(!format!("{minted:?}").contains(&minted.token));
    assert_eq!(minted.issuer, "https://tokens.acme.com");
    let pem = std::fs::read(pki.token_pub_path()).expect("token.pub");
    let key = DecodingKey::from_ed_pem(&pem).expect("key");
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.set_audience(&["https://relay.acme.com/mcp/contracts"]);
    validation.set_issuer(&["https://tokens.acme.com"]);
    let claims = decode::<Value>(&minted.token, &key, &validation)
        .expect("verifies")
        .claims;
    assert_eq!(
        claims["aud"],
        serde_json::json!([
            "https://relay.acme.com",
            "https://relay.acme.com/mcp/contracts"
        ])
    );
    assert_eq!(
        claims["exp"].as_i64(),
        Some(claims["iat"].as_i64().expect("iat") + 900)
    );
}

#[test]
fn ttl_errors_are_clear() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("pki");
    init(&dir);
    for (ttl, hint) in [
        ("91d", "90d maximum"),
        ("1w", "s, m, h or d"),
        ("0s", "at least 1s"),
        ("soon", "s, m, h or d"),
    ] {
        let err = parse(&[
            "token",
            "--dir",
            s(&dir),
            "--aud",
            "https://r",
            "--sub",
            "a",
            "--ttl",
            ttl,
        ])
        .expect_err(ttl)
        .to_string();
        assert!(err.contains(hint), "{ttl}: {err}");
    }
    assert_eq!(Ttl::from_secs(7 * 86_400).expect("7d").to_string(), "7d");
}

#[test]
fn bad_requests_are_refused() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("pki");
    let pki = init(&dir);
    // --aud and --sub are required.
    assert!(parse(&["token", "--dir", s(&dir), "--sub", "a"]).is_err());
    assert!(parse(&["token", "--dir", s(&dir), "--aud", "https://r"]).is_err());

    let request = |sub: &str, aud: &str| TokenRequest {
        audiences: vec![aud.into()],
        subject: sub.into(),
        groups: vec![],
        agent: None,
        ttl: "1h".parse().expect("ttl"),
        issuer: None,
    };
    for (req, field) in [
        (request("", "https://r"), "subject"),
        (request("a\nb", "https://r"), "subject"),
        (request("a", ""), "audience"),
        (request("a", "https://r x"), "audience"),
    ] {
        match pki.mint_token(&req) {
            Err(PkiError::BadToken { field: f, .. }) => assert_eq!(f, field),
            other => panic!("{req:?}: {other:?}"),
        }
    }
    let mut no_aud = request("a", "https://r");
    no_aud.audiences.clear();
    assert!(matches!(
        pki.mint_token(&no_aud),
        Err(PkiError::BadToken {
            field: "audience",
            ..
        })
    ));

    // A token.key that does not match token.pub would mint tokens the relay
    // refuses: refused here instead.
    let other = init(&tmp.path().join("other"));
    std::fs::copy(other.token_pub_path(), pki.token_pub_path()).expect("copy");
    assert!(matches!(
        pki.mint_token(&request("a", "https://r")),
        Err(PkiError::KeyMismatch { .. })
    ));
    // No PKI directory: a clear missing-file error.
    let (missing, _) = run(&[
        "token",
        "--dir",
        s(&tmp.path().join("nope")),
        "--aud",
        "https://r",
        "--sub",
        "a",
    ]);
    assert!(
        matches!(missing, Err(PkiError::MissingFile { .. })),
        "{missing:?}"
    );
}

#[test]
fn help_says_who_holds_which_key() {
    let mut cli = Cli::command();
    let help = cli
        .find_subcommand_mut("pki")
        .and_then(|p| p.find_subcommand_mut("token"))
        .expect("pki token")
        .render_long_help()
        .to_string();
    for needle in [
        "token.key",
        "token.pub",
        "token_public_key",
        "--ttl",
        "90d",
        "--aud",
    ] {
        assert!(help.contains(needle), "{needle} missing from:\n{help}");
    }
}
