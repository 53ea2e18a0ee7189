//! JWT authentication end to end: keys served by a local JWKS endpoint,
//! tokens minted here, and every way a token must be refused.

mod auth_support;

use std::sync::atomic::Ordering;

use auth_support::{JwksServer, TestKey, claims, now};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures_util::future::join_all;
use sallyport_relay::auth::{
    AgentClaim, ApiKeyEntry, AuthConfig, AuthError, AuthMethod, Authenticator, IdpConfig,
};
use serde_json::{Value, json};

const PUBLIC_URL: &str = "https://relay.acme.com";
const RESOURCE: &str = "https://relay.acme.com/mcp/contracts";
const IDP: &str = "https://login.acme.com";

fn idp(issuer: &str, url: &str) -> IdpConfig {
    IdpConfig {
        issuer: issuer.into(),
        jwks_url: Some(url.into()),
        ..IdpConfig::default()
    }
}

fn api_key() -> ApiKeyEntry {
    ApiKeyEntry {
        // sha256("sp_0123")
        sha256: ring::digest::digest(&ring::digest::SHA256, b"sp_0123")
            .as_ref()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
        subject: "ci-bot".into(),
        groups: vec!["sre".into()],
        agent: None,
    }
}

async fn authenticator(idps: Vec<IdpConfig>) -> Authenticator {
    let auth = AuthConfig {
        idp: idps,
        ..AuthConfig::default()
    };
    Authenticator::load(&[api_key()], &auth, None)
        .await
        .expect("authenticator")
        .with_public_url(PUBLIC_URL)
}

async fn check(
    a: &Authenticator,
    token: &str,
) -> Result<sallyport_relay::auth::Principal, AuthError> {
    let header = format!("Bearer {token}");
    let result = a.authenticate(Some(&header), RESOURCE).await;
    if let Err(e) = &result {
        // The token, or any part of it, never appears in an error.
        for text in [e.to_string(), format!("{e:?}")] {
            for part in token.split('.').filter(|p| p.len() > 8) {
                assert!(!text.contains(part), "token leaked into {text}");
            }
        }
    }
    result
}

#[tokio::test]
async fn every_key_type_and_agent_claim() {
    let (ed, es, rs) = (
        TestKey::ed25519("ed-1"),
        TestKey::es256("es-1"),
        TestKey::rs256("rs-1"),
    );
    let jwks = JwksServer::start(&[&ed, &es, &rs]).await;
    let with_agent = |iss: &str, claim: Option<AgentClaim>| IdpConfig {
        agent_claim: claim,
        ..idp(iss, &jwks.url())
    };
    let a = authenticator(vec![
        with_agent(IDP, None),
        with_agent("https://azp", Some(AgentClaim::Azp)),
        with_agent("https://client-id", Some(AgentClaim::ClientId)),
        with_agent("https://act", Some(AgentClaim::ActSub)),
        with_agent("https://agent", Some(AgentClaim::Agent)),
    ])
    .await;
    // One fetch per issuer at start.
    assert_eq!(jwks.fetches(), 5);

    let mut c = claims(IDP, PUBLIC_URL);
    c["act"] = json!({"sub": "claude"});
    c["azp"] = json!("web-app");
    c["client_id"] = json!("cli-app");
    c["agent"] = json!("bot");
    for key in [&ed, &es, &rs] {
        let p = check(&a, &key.mint(&c)).await.expect("valid token");
        assert_eq!(p.subject, "alice@acme.com");
        assert_eq!(p.groups, ["legal", "sre"]);
        // Default order: act.sub first.
        assert_eq!(p.agent.as_deref(), Some("claude"), "{:?}", key.alg);
        assert_eq!(p.method, AuthMethod::Jwt { issuer: IDP.into() });
    }
    for (iss, agent) in [
        ("https://azp", "web-app"),
        ("https://client-id", "cli-app"),
        ("https://act", "claude"),
        ("https://agent", "bot"),
    ] {
        c["iss"] = json!(iss);
        let p = check(&a, &ed.mint(&c)).await.expect(iss);
        assert_eq!(p.agent.as_deref(), Some(agent), "{iss}");
    }
    // Default order falls through to azp, then client_id; none at all is fine.
    c["iss"] = json!(IDP);
    c.as_object_mut().expect("object").remove("act");
    assert_eq!(
        check(&a, &es.mint(&c)).await.expect("azp").agent.as_deref(),
        Some("web-app")
    );
    c.as_object_mut().expect("object").remove("azp");
    assert_eq!(
        check(&a, &es.mint(&c)).await.expect("cid").agent.as_deref(),
        Some("cli-app")
    );
    c.as_object_mut().expect("object").remove("client_id");
    assert_eq!(check(&a, &es.mint(&c)).await.expect("none").agent, None);
    // Groups as a space/comma-separated string.
    c["groups"] = json!("legal, finance");
    assert_eq!(
        check(&a, &rs.mint(&c)).await.expect("groups").groups,
        ["legal", "finance"]
    );
    // Nothing was fetched again.
    assert_eq!(jwks.fetches(), 5);
}

#[tokio::test]
async fn time_issuer_and_audience_refusals() {
    let ed = TestKey::ed25519("ed-1");
    let jwks = JwksServer::start(&[&ed]).await;
    let a = authenticator(vec![IdpConfig {
        audience: vec!["api://sallyport".into()],
        ..idp(IDP, &jwks.url())
    }])
    .await;
    let t = now();
    let with = |patch: Value| {
        let mut c = claims(IDP, PUBLIC_URL);
        for (k, v) in patch.as_object().expect("object") {
            c[k] = v.clone();
        }
        ed.mint(&c)
    };
    // Audience: the exact resource URL, the public URL, an extra audience.
    for aud in [
        json!(RESOURCE),
        json!(PUBLIC_URL),
        json!(["x", "api://sallyport"]),
    ] {
        check(&a, &with(json!({ "aud": aud })))
            .await
            .expect("accepted audience");
    }
    for (patch, expected) in [
        (json!({"exp": t - 120}), AuthError::Expired),
        (json!({"nbf": t + 600}), AuthError::NotYetValid),
        (json!({"iat": t + 600}), AuthError::NotYetValid),
        (
            json!({"iss": "https://evil.example"}),
            AuthError::UnknownIssuer,
        ),
        (
            json!({"aud": "https://relay.acme.com/mcp/other"}),
            AuthError::WrongAudience,
        ),
        (
            json!({"aud": "https://evil.example"}),
            AuthError::WrongAudience,
        ),
    ] {
        assert_eq!(
            check(&a, &with(patch.clone())).await,
            Err(expected),
            "{patch}"
        );
    }
    // Within the default 60 s leeway.
    check(&a, &with(json!({"exp": t - 30})))
        .await
        .expect("leeway");
    check(&a, &with(json!({"nbf": t + 30})))
        .await
        .expect("leeway");
    // Required claims.
    let mut c = claims(IDP, PUBLIC_URL);
    c.as_object_mut().expect("object").remove("exp");
    assert!(matches!(
        check(&a, &ed.mint(&c)).await,
        Err(AuthError::BadClaim { claim: "exp", .. })
    ));
    let mut c = claims(IDP, PUBLIC_URL);
    c.as_object_mut().expect("object").remove("sub");
    assert!(matches!(
        check(&a, &ed.mint(&c)).await,
        Err(AuthError::BadClaim { claim: "sub", .. })
    ));
}

#[tokio::test]
async fn forged_and_confused_tokens_are_refused() {
    let (ed, rs) = (TestKey::ed25519("ed-1"), TestKey::rs256("rs-1"));
    let jwks = JwksServer::start(&[&ed, &rs]).await;
    let a = authenticator(vec![idp(IDP, &jwks.url())]).await;
    let c = claims(IDP, PUBLIC_URL);
    let b64 = |v: &Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).expect("json"));
    let payload = b64(&c);

    // alg none, with and without a signature.
    for alg in ["none", "None"] {
        let header = b64(&json!({"alg": alg, "kid": "ed-1"}));
        for sig in ["", "c2ln"] {
            let token = format!("{header}.{payload}.{sig}");
            assert_eq!(check(&a, &token).await, Err(AuthError::AlgorithmNotAllowed));
        }
    }
    // HS256 keyed with the public key (the classic confusion attack), for
    // the Ed25519 key's raw bytes and the RSA key's PEM.
    for (key, kid) in [(&ed, "ed-1"), (&rs, "rs-1")] {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
        header.kid = Some(kid.into());
        let secret = jsonwebtoken::EncodingKey::from_secret(&key.public_bytes);
        let token = jsonwebtoken::encode(&header, &c, &secret).expect("hs256");
        assert_eq!(check(&a, &token).await, Err(AuthError::AlgorithmNotAllowed));
    }
    // A valid ES256 signature by a key the issuer does not have, under the
    // Ed25519 key's kid: the alg does not fit that key.
    let stranger = TestKey::es256("ed-1");
    assert_eq!(
        check(&a, &stranger.mint(&c)).await,
        Err(AuthError::AlgorithmNotAllowed)
    );
    // Signed by another Ed25519 key under a known kid.
    let impostor = TestKey::ed25519("ed-1");
    assert_eq!(
        check(&a, &impostor.mint(&c)).await,
        Err(AuthError::BadSignature)
    );
    // Tampered payload: groups raised, signature kept.
    let token = ed.mint(&c);
    let mut parts: Vec<&str> = token.split('.').collect();
    let mut raised = c.clone();
    raised["groups"] = json!(["admin"]);
    let forged_payload = b64(&raised);
    parts[1] = &forged_payload;
    assert_eq!(
        check(&a, &parts.join(".")).await,
        Err(AuthError::BadSignature)
    );
    // Garbage in each part.
    let good = ed.mint(&c);
    let p: Vec<&str> = good.split('.').collect();
    for bad in [
        format!("!!.{}.{}", p[1], p[2]),
        format!("{}.!!.{}", p[0], p[2]),
        format!("{}.{}.!!", p[0], p[1]),
        format!("{}.{}", p[0], p[1]),
    ] {
        assert!(check(&a, &bad).await.is_err(), "{bad}");
    }
    let crit = b64(&json!({"alg": "EdDSA", "kid": "ed-1", "crit": ["exp"]}));
    assert_eq!(
        check(&a, &format!("{crit}.{}.{}", p[1], p[2])).await,
        Err(AuthError::MalformedToken)
    );
    // The genuine token still passes, and API keys still work.
    check(&a, &good).await.expect("genuine");
    let p = a
        .authenticate(Some("Bearer sp_0123"), RESOURCE)
        .await
        .expect("API key");
    assert_eq!(
        (p.subject.as_str(), p.method),
        ("ci-bot", AuthMethod::ApiKey)
    );
    assert_eq!(
        a.authenticate(Some("Bearer sp_0124"), RESOURCE).await,
        Err(AuthError::Invalid)
    );
}

#[tokio::test]
async fn unknown_kid_refreshes_once_then_refuses_without_a_storm() {
    let (old, new, never) = (
        TestKey::ed25519("old"),
        TestKey::es256("new"),
        TestKey::ed25519("never"),
    );
    let jwks = JwksServer::start(&[&old]).await;
    let a = authenticator(vec![idp(IDP, &jwks.url())]).await;
    assert_eq!(jwks.fetches(), 1);
    let c = claims(IDP, PUBLIC_URL);
    check(&a, &old.mint(&c)).await.expect("old key");

    // The IdP rotates: a token with the new kid makes the relay refetch once.
    jwks.set_keys(&[&old, &new]);
    let rotated = new.mint(&c);
    let results = join_all((0..16).map(|_| check(&a, &rotated))).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(jwks.fetches(), 2, "concurrent callers share one fetch");
    assert_eq!(a.jwks_fetches(IDP), Some(2));

    // A kid the IdP does not have: refused, and no refetch within 30 s,
    // however many tokens arrive.
    let bogus = never.mint(&c);
    let results = join_all((0..16).map(|_| check(&a, &bogus))).await;
    assert!(
        results.iter().all(|r| *r == Err(AuthError::UnknownKey)),
        "{results:?}"
    );
    assert_eq!(jwks.fetches(), 2);
    check(&a, &old.mint(&c))
        .await
        .expect("cached keys still work");
}

#[tokio::test]
async fn jwks_down_at_start_does_not_stop_the_relay() {
    let ed = TestKey::ed25519("ed-1");
    let jwks = JwksServer::start(&[&ed]).await;
    jwks.down.store(true, Ordering::SeqCst);
    // Also an issuer whose endpoint does not listen at all.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let dead_url = format!("http://{}/jwks.json", closed.local_addr().expect("addr"));
    drop(closed);
    let a = authenticator(vec![idp(IDP, &jwks.url()), idp("https://dead", &dead_url)]).await;
    assert_eq!(jwks.fetches(), 1);

    // The first token after the outage retries on demand and succeeds.
    jwks.down.store(false, Ordering::SeqCst);
    check(&a, &ed.mint(&claims(IDP, PUBLIC_URL)))
        .await
        .expect("recovered");
    assert_eq!(jwks.fetches(), 2);

    let dead = ed.mint(&claims("https://dead", PUBLIC_URL));
    assert_eq!(check(&a, &dead).await, Err(AuthError::JwksUnavailable));
    assert_eq!(check(&a, &dead).await, Err(AuthError::JwksUnavailable));
    assert_eq!(a.jwks_fetches("https://dead"), Some(2), "start + one retry");
    assert_eq!(AuthError::JwksUnavailable.status(), 503);
}
