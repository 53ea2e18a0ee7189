use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::*;
use crate::auth::AuthMethod;

fn claims() -> SessionClaims {
    SessionClaims {
        server: ServerName::new("contracts").expect("name"),
        instance: 7,
        upstream: Some("up-1".into()),
        principal: principal_hash("alice", Some("claude")),
        expires: 2_000,
    }
}

fn key_file(dir: &Path, name: &str, hex: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, hex).expect("write key");
    p
}

#[test]
fn seal_open_round_trip_and_visible_ascii() {
    let keys = SessionKeys::ephemeral().expect("keys");
    let token = keys.seal(&claims()).expect("seal");
    assert!(token.bytes().all(|b| (0x21..=0x7e).contains(&b)), "{token}");
    assert_eq!(keys.open(&token, 1_000), Ok(claims()));
    // Nonces differ: two seals of the same claims differ.
    assert_ne!(token, keys.seal(&claims()).expect("seal"));
}

#[test]
fn expired_forged_foreign_and_garbage_refused() {
    let keys = SessionKeys::ephemeral().expect("keys");
    let other = SessionKeys::ephemeral().expect("keys");
    let token = keys.seal(&claims()).expect("seal");
    assert_eq!(keys.open(&token, 2_000), Err(SessionError::Expired));
    assert_eq!(other.open(&token, 0), Err(SessionError::UnknownKey));
    let mut raw = URL_SAFE_NO_PAD.decode(&token).expect("b64");
    let last = raw.len() - 1;
    raw[last] ^= 1;
    assert_eq!(
        keys.open(&URL_SAFE_NO_PAD.encode(&raw), 0),
        Err(SessionError::Forged)
    );
    for junk in ["", "x", "!!!!", &"A".repeat(4096)] {
        assert_eq!(keys.open(junk, 0), Err(SessionError::Malformed), "{junk:?}");
    }
}

#[test]
fn rotation_old_key_still_opens() {
    let dir = tempfile::tempdir().expect("tempdir");
    let a = key_file(dir.path(), "a.key", &"ab".repeat(32));
    let b = key_file(dir.path(), "b.key", &"cd".repeat(32));
    let old = SessionKeys::load(&[&a]).expect("old");
    let rotated = SessionKeys::load(&[&b, &a]).expect("rotated");
    let token = old.seal(&claims()).expect("seal");
    assert_eq!(rotated.open(&token, 0), Ok(claims()));
    let fresh = rotated.seal(&claims()).expect("seal");
    assert_eq!(old.open(&fresh, 0), Err(SessionError::UnknownKey));
}

#[test]
fn bad_key_files_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let short = key_file(dir.path(), "short.key", "abcd");
    let err = SessionKeys::load(&[&short]).expect_err("short").to_string();
    assert!(err.contains("64 hex digits"), "{err}");
    assert!(SessionKeys::load(&[dir.path().join("missing")]).is_err());
}

#[test]
fn principal_hash_separates_subject_and_agent() {
    assert_ne!(principal_hash("ab", None), principal_hash("a", Some("b")));
    assert_ne!(
        principal_hash("alice", Some("x")),
        principal_hash("alice", Some("y"))
    );
}

fn principal(subject: &str, agent: Option<&str>) -> Principal {
    Principal {
        subject: subject.into(),
        groups: Vec::new(),
        agent: agent.map(str::to_owned),
        method: AuthMethod::ApiKey,
    }
}

fn sessions(ttl_secs: u64) -> Sessions {
    Sessions::new(
        SessionKeys::ephemeral().expect("keys"),
        Duration::from_secs(ttl_secs),
    )
}

fn new_session() -> NewSession {
    NewSession {
        server: ServerName::new("contracts").expect("name"),
        instance: 7,
        upstream: Some("up-1".into()),
    }
}

#[test]
fn a_minted_session_resumes_for_its_principal_until_it_expires() {
    let s = sessions(600);
    let alice = principal("alice", Some("claude"));
    let server = new_session().server;
    let token = s.mint(new_session(), &alice, 1_000).expect("mint");
    let claims = s.resume(&token, &server, &alice, 1_000).expect("resume");
    assert_eq!(claims.instance, 7);
    assert_eq!(claims.upstream.as_deref(), Some("up-1"));
    assert_eq!(claims.expires, 1_600);
    assert!(s.resume(&token, &server, &alice, 1_599).is_ok());
    assert_eq!(
        s.resume(&token, &server, &alice, 1_600),
        Err(SessionError::Expired)
    );
}

#[test]
fn a_session_is_bound_to_its_principal_agent_and_server() {
    let s = sessions(600);
    let alice = principal("alice", Some("claude"));
    let server = new_session().server;
    let token = s.mint(new_session(), &alice, 0).expect("mint");
    for other in [
        principal("bob", Some("claude")),
        principal("alice", Some("other-agent")),
        principal("alice", None),
    ] {
        assert_eq!(
            s.resume(&token, &server, &other, 0),
            Err(SessionError::Mismatch),
            "{other:?}"
        );
    }
    let elsewhere = ServerName::new("wiki").expect("name");
    assert_eq!(
        s.resume(&token, &elsewhere, &alice, 0),
        Err(SessionError::Mismatch)
    );
    // Another relay's keys do not open it.
    assert_eq!(
        sessions(600).resume(&token, &server, &alice, 0),
        Err(SessionError::UnknownKey)
    );
}
