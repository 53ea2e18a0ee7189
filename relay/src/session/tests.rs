use super::*;

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
