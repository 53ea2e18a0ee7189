//! Rebuilding the credential store on reload: removed API keys and
//! issuers stop working, added ones work, and an unchanged JWKS issuer
//! keeps its cached keys (a reload fetches nothing for it).

mod auth_support;

use auth_support::{JwksServer, TestKey, claims};
use sallyport_relay::auth::{ApiKeyEntry, AuthConfig, AuthError, Authenticator, IdpConfig};

const PUBLIC_URL: &str = "https://relay.acme.com";
const RESOURCE: &str = "https://relay.acme.com/mcp/contracts";
const IDP: &str = "https://login.acme.com";
const OTHER: &str = "https://other.acme.com";

fn key_entry(key: &str, subject: &str) -> ApiKeyEntry {
    ApiKeyEntry {
        sha256: ring::digest::digest(&ring::digest::SHA256, key.as_bytes())
            .as_ref()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
        subject: subject.into(),
        groups: Vec::new(),
        agent: None,
    }
}

fn idps(list: &[(&str, &str)]) -> AuthConfig {
    AuthConfig {
        idp: list
            .iter()
            .map(|(issuer, url)| IdpConfig {
                issuer: (*issuer).into(),
                jwks_url: Some((*url).into()),
                ..IdpConfig::default()
            })
            .collect(),
        ..AuthConfig::default()
    }
}

async fn who(a: &Authenticator, token: &str) -> Result<String, AuthError> {
    let header = format!("Bearer {token}");
    a.authenticate(Some(&header), RESOURCE)
        .await
        .map(|p| p.subject)
}

#[tokio::test]
async fn api_keys_follow_the_reloaded_entries() {
    let a = Authenticator::new(
        &[key_entry("sp_old", "old-bot")],
        &AuthConfig::default(),
        None,
    )
    .expect("store")
    .with_public_url(PUBLIC_URL);
    assert_eq!(who(&a, "sp_old").await.expect("old key"), "old-bot");

    let b = a
        .reloaded(
            &[key_entry("sp_new", "new-bot")],
            &AuthConfig::default(),
            None,
        )
        .expect("reloaded");
    assert_eq!(b.api_key_count(), 1);
    assert!(matches!(who(&b, "sp_old").await, Err(AuthError::Invalid)));
    assert_eq!(who(&b, "sp_new").await.expect("new key"), "new-bot");

    // A refused entry fails the rebuild; the caller keeps the old store.
    let dup = [key_entry("sp_x", "a"), key_entry("sp_x", "b")];
    let err = b
        .reloaded(&dup, &AuthConfig::default(), None)
        .expect_err("duplicate key");
    assert!(err.to_string().contains("listed twice"), "{err}");
    assert_eq!(who(&b, "sp_new").await.expect("still"), "new-bot");
}

#[tokio::test]
async fn unchanged_issuer_keeps_its_cache_and_a_removed_one_is_refused() {
    let ed = TestKey::ed25519("ed-1");
    let jwks = JwksServer::start(&[&ed]).await;
    let other = JwksServer::start(&[&ed]).await;
    let a = Authenticator::load(&[], &idps(&[(IDP, &jwks.url())]), None)
        .await
        .expect("store")
        .with_public_url(PUBLIC_URL);
    assert_eq!(jwks.fetches(), 1);
    let token = ed.mint(&claims(IDP, PUBLIC_URL));
    assert_eq!(who(&a, &token).await.expect("token"), "alice@acme.com");

    // Same issuer and endpoint, one issuer added: the cache is kept, the
    // public URL too (the token's aud is the public URL).
    let b = a
        .reloaded(
            &[],
            &idps(&[(IDP, &jwks.url()), (OTHER, &other.url())]),
            None,
        )
        .expect("reloaded");
    b.prefetch().await;
    assert_eq!(jwks.fetches(), 1, "unchanged issuer fetched again");
    assert_eq!(b.jwks_fetches(IDP), Some(1));
    assert_eq!(other.fetches(), 1, "the new issuer's JWKS is fetched");
    assert_eq!(who(&b, &token).await.expect("kept"), "alice@acme.com");
    let token2 = ed.mint(&claims(OTHER, PUBLIC_URL));
    assert_eq!(who(&b, &token2).await.expect("added"), "alice@acme.com");
    assert_eq!(jwks.fetches() + other.fetches(), 2, "no fetch per token");

    // The first issuer removed: its tokens are refused at once.
    let c = b
        .reloaded(&[], &idps(&[(OTHER, &other.url())]), None)
        .expect("reloaded");
    assert!(
        who(&c, &token).await.is_err(),
        "removed issuer still accepted"
    );
    assert_eq!(who(&c, &token2).await.expect("other"), "alice@acme.com");

    // A moved endpoint is a new cache: fetched, not inherited.
    let moved = JwksServer::start(&[&ed]).await;
    let d = c
        .reloaded(&[], &idps(&[(OTHER, &moved.url())]), None)
        .expect("reloaded");
    assert_eq!(d.jwks_fetches(OTHER), Some(0));
    d.prefetch().await;
    assert_eq!(moved.fetches(), 1);
}
