//! The other ways keys and identities reach the relay: tokens from
//! `sallyport pki token` (token.pub), PEM and JWKS files, a JWKS endpoint
//! over HTTPS, and mTLS client certificates — all made with the pki crate.

mod auth_support;

use std::path::Path;
use std::sync::Arc;

use auth_support::{JwksServer, TestKey, claims};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sallyport_pki::{Pki, TokenRequest, Validity};
use sallyport_relay::auth::{
    AuthConfig, AuthError, AuthMethod, AuthSetupError, Authenticator, IdpConfig,
    principal_from_client_cert,
};
use serde_json::json;

const PUBLIC_URL: &str = "https://relay.acme.com";
const RESOURCE: &str = "https://relay.acme.com/mcp/contracts";

fn pki(dir: &Path, td: &str) -> Pki {
    Pki::init(dir, td.parse().expect("trust domain"), false).expect("pki init")
}

fn request(aud: &str) -> TokenRequest {
    TokenRequest {
        audiences: vec![aud.into()],
        subject: "alice@acme.com".into(),
        groups: vec!["legal".into()],
        agent: Some("claude".into()),
        ttl: "1h".parse().expect("ttl"),
        issuer: None,
    }
}

fn idp(issuer: &str) -> IdpConfig {
    IdpConfig {
        issuer: issuer.into(),
        ..IdpConfig::default()
    }
}

async fn auth(
    a: &Authenticator,
    token: &str,
) -> Result<sallyport_relay::auth::Principal, AuthError> {
    a.authenticate(Some(&format!("Bearer {token}")), RESOURCE)
        .await
}

#[tokio::test]
async fn pki_tokens_verify_with_token_pub() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let ours = pki(&tmp.path().join("pki"), "acme.internal");
    let config = AuthConfig {
        token_public_key: Some("pki/token.pub".into()),
        ..AuthConfig::default()
    }
    .resolve(tmp.path());
    let a = Authenticator::new(&[], &config, Some("acme.internal"))
        .expect("authenticator")
        .with_public_url(PUBLIC_URL);

    for aud in [PUBLIC_URL, RESOURCE] {
        let p = auth(&a, &ours.mint_token(&request(aud)).expect("mint"))
            .await
            .expect("valid pki token");
        assert_eq!(
            (p.subject.as_str(), p.groups.as_slice(), p.agent.as_deref()),
            ("alice@acme.com", &["legal".to_owned()][..], Some("claude"))
        );
        assert_eq!(
            p.method,
            AuthMethod::Jwt {
                issuer: "sallyport:acme.internal".into()
            }
        );
    }
    assert_eq!(
        auth(
            &a,
            &ours
                .mint_token(&request("https://other.example"))
                .expect("mint")
        )
        .await,
        Err(AuthError::WrongAudience)
    );
    // Another PKI of the same trust domain: its kid is unknown here.
    let theirs = pki(&tmp.path().join("theirs"), "acme.internal");
    let foreign = theirs.mint_token(&request(PUBLIC_URL)).expect("mint");
    assert_eq!(auth(&a, &foreign).await, Err(AuthError::UnknownKey));
    // Another trust domain: another issuer.
    let other_td = pki(&tmp.path().join("other"), "beta.internal");
    let other = other_td.mint_token(&request(PUBLIC_URL)).expect("mint");
    assert_eq!(auth(&a, &other).await, Err(AuthError::UnknownIssuer));

    // Rotation: token.pub listing the old and the new key accepts both.
    let both = format!(
        "{}{}",
        std::fs::read_to_string(ours.token_pub_path()).expect("pub"),
        std::fs::read_to_string(theirs.token_pub_path()).expect("pub")
    );
    let rotating = tmp.path().join("rotating.pub");
    std::fs::write(&rotating, both).expect("write");
    let a = Authenticator::new(
        &[],
        &AuthConfig {
            token_public_key: Some(rotating),
            token_issuer: Some("sallyport:acme.internal".into()),
            ..AuthConfig::default()
        },
        None,
    )
    .expect("authenticator")
    .with_public_url(PUBLIC_URL);
    auth(&a, &foreign).await.expect("new key");
    auth(&a, &ours.mint_token(&request(PUBLIC_URL)).expect("mint"))
        .await
        .expect("old key");
}

#[tokio::test]
async fn pem_and_jwks_files() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let other = pki(&tmp.path().join("pki"), "acme.internal");
    let es = TestKey::es256("es-1");
    let jwks_file = tmp.path().join("jwks.json");
    std::fs::write(&jwks_file, json!({ "keys": [es.jwk] }).to_string()).expect("write");
    let config = AuthConfig {
        idp: vec![
            IdpConfig {
                public_key_pem: Some(other.token_pub_path()),
                ..idp("https://pem")
            },
            IdpConfig {
                jwks_file: Some(jwks_file.clone()),
                audience: vec!["api://sallyport".into()],
                ..idp("https://file")
            },
        ],
        ..AuthConfig::default()
    };
    let a = Authenticator::new(&[], &config, None)
        .expect("authenticator")
        .with_public_url(PUBLIC_URL);
    let mut req = request(PUBLIC_URL);
    req.issuer = Some("https://pem".into());
    let p = auth(&a, &other.mint_token(&req).expect("mint"))
        .await
        .expect("pem key");
    // An IdP's tokens carry the agent in act.sub/azp/client_id, not `agent`.
    assert_eq!((p.subject.as_str(), p.agent), ("alice@acme.com", None));
    auth(&a, &es.mint(&claims("https://file", "api://sallyport")))
        .await
        .expect("jwks file key");

    // Algorithms narrow what the keys may verify: ES256 keys under an
    // RS256-only issuer are refused at start, with the file named.
    let err = Authenticator::new(
        &[],
        &AuthConfig {
            idp: vec![IdpConfig {
                jwks_file: Some(jwks_file.clone()),
                algorithms: Some(vec!["RS256".into()]),
                ..idp("https://file")
            }],
            ..AuthConfig::default()
        },
        None,
    )
    .expect_err("no key fits");
    assert!(
        err.to_string().contains("jwks.json") && err.to_string().contains("algorithms"),
        "{err}"
    );
    // A missing file is named too.
    let err = Authenticator::new(
        &[],
        &AuthConfig {
            idp: vec![IdpConfig {
                public_key_pem: Some(tmp.path().join("missing.pem")),
                ..idp("https://pem")
            }],
            ..AuthConfig::default()
        },
        None,
    )
    .expect_err("missing");
    assert!(matches!(err, AuthSetupError::File { .. }) && err.to_string().contains("missing.pem"));
}

/// Serves the JWKS of `jwks` over HTTPS with a certificate from `pki`.
async fn https_jwks(pki: &Pki, jwks: &JwksServer) -> String {
    let issued = pki
        .issue_relay(
            &[],
            &["127.0.0.1".parse().expect("ip")],
            Validity::days(1).expect("days"),
            false,
        )
        .expect("server cert");
    let certs = CertificateDer::pem_file_iter(&issued.cert_path)
        .expect("pem")
        .collect::<Result<Vec<_>, _>>()
        .expect("certs");
    let key = PrivateKeyDer::from_pem_file(&issued.key_path).expect("key");
    let tls = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .expect("server config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = jwks.router();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, app) = (acceptor.clone(), app.clone());
            tokio::spawn(async move {
                if let Ok(stream) = acceptor.accept(tcp).await {
                    let service = hyper_util::service::TowerToHyperService::new(app);
                    let _ = hyper_util::server::conn::auto::Builder::new(
                        hyper_util::rt::TokioExecutor::new(),
                    )
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
                }
            });
        }
    });
    format!("https://{addr}/jwks.json")
}

#[tokio::test]
async fn jwks_over_https_trusts_only_known_roots() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let ca = pki(&tmp.path().join("pki"), "acme.internal");
    let ed = TestKey::ed25519("ed-1");
    let jwks = JwksServer::start(&[&ed]).await;
    let url = https_jwks(&ca, &jwks).await;
    let token = ed.mint(&claims("https://idp", PUBLIC_URL));

    let trusted = IdpConfig {
        jwks_url: Some(url.clone()),
        jwks_ca: Some(ca.bundle_path()),
        ..idp("https://idp")
    };
    let a = Authenticator::load(
        &[],
        &AuthConfig {
            idp: vec![trusted],
            ..AuthConfig::default()
        },
        None,
    )
    .await
    .expect("authenticator")
    .with_public_url(PUBLIC_URL);
    auth(&a, &token).await.expect("fetched over https");
    assert_eq!(jwks.fetches(), 1);

    // Only the system roots: the private CA is not trusted, nothing is
    // fetched and the token cannot be checked.
    let untrusted = IdpConfig {
        jwks_url: Some(url),
        ..idp("https://idp")
    };
    match Authenticator::load(
        &[],
        &AuthConfig {
            idp: vec![untrusted],
            ..AuthConfig::default()
        },
        None,
    )
    .await
    {
        Ok(a) => {
            let a = a.with_public_url(PUBLIC_URL);
            assert_eq!(auth(&a, &token).await, Err(AuthError::JwksUnavailable));
            assert_eq!(
                jwks.fetches(),
                1,
                "the TLS handshake failed before any request"
            );
        }
        // A machine without system CA certificates refuses to start instead.
        Err(e) => assert!(e.to_string().contains("ca-certificates"), "{e}"),
    }

    // Plain http:// to a non-loopback host is refused at start.
    let err = Authenticator::new(
        &[],
        &AuthConfig {
            idp: vec![IdpConfig {
                jwks_url: Some("http://login.acme.com/jwks.json".into()),
                ..idp("https://idp")
            }],
            ..AuthConfig::default()
        },
        None,
    )
    .expect_err("http");
    assert!(err.to_string().contains("must use https://"), "{err}");
}

#[test]
fn client_certificates() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let ca = pki(&tmp.path().join("pki"), "acme.internal");
    let der = |path: &Path| CertificateDer::from_pem_file(path).expect("cert").to_vec();
    let client = ca
        .issue_client(
            &"agent-7".parse().expect("name"),
            Validity::days(1).expect("days"),
            false,
        )
        .expect("client cert");
    let p = principal_from_client_cert(&der(&client.cert_path)).expect("client identity");
    assert_eq!(
        (p.subject.as_str(), p.groups.len(), p.agent),
        ("agent-7", 0, None)
    );
    assert_eq!(
        p.method,
        AuthMethod::ClientCert {
            spiffe_id: "spiffe://acme.internal/client/agent-7".into()
        }
    );
    let connector = ca
        .issue_connector(
            &"dc1".parse().expect("name"),
            Validity::days(1).expect("days"),
            false,
        )
        .expect("connector cert");
    assert!(matches!(
        principal_from_client_cert(&der(&connector.cert_path)),
        Err(AuthError::BadClientCert { .. })
    ));
    assert!(principal_from_client_cert(b"not a certificate").is_err());

    let same = Authenticator::new(&[], &AuthConfig::default(), Some("acme.internal")).expect("a");
    assert!(
        same.authenticate_client_cert(&der(&client.cert_path))
            .is_ok()
    );
    let other = Authenticator::new(&[], &AuthConfig::default(), Some("beta.internal")).expect("a");
    assert!(matches!(
        other.authenticate_client_cert(&der(&client.cert_path)),
        Err(AuthError::BadClientCert { .. })
    ));
}
