//! Shared by the `auth_*` tests: test signing keys, a local JWKS server
//! that counts its fetches, and token minting.

#![allow(dead_code, reason = "each test binary uses a different part")]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _};
use serde_json::{Value, json};

/// A throwaway RSA-2048 key for RS256 test tokens, generated once with
/// `openssl genrsa -traditional 2048`: nothing in this workspace generates
/// RSA keys quickly in a debug build. It protects nothing.
const TEST_RSA_PEM: &str = "-----BEGIN RSA PRIVATE KEY-----\n\
MIIEowIBAAKCAQEAqgOwpZemdeG/SqRDmJCE3IvRB8ioQ1uQaZJVP9UzODWqLORR\n\
96Q+oVB1or9cjz/R3/TTybsdZmr9+n3+WnpX3cE60z7/INWyHy5mgXWIVHRVo3D/\n\
OpvTORNe+96/DYsbtEoxsON2Jr6Pz1kVDM2rn4dyV+z8U9RberPey7enQyM0TgKI\n\
UZJB/pQqvKJLkCmVZ5J657HGgltPu4JwyVAWtGt/8BVG1W7MHl2//rorr8/nFxYD\n\
ItspUz+F/CPqwY2k3+oTikK2CuTwJU2BYXX33ogKCBLl15GkAk5ySec3sC+G9VqS\n\
3KNUHdKjdzdA0IHBOxj9MNZrv/5Cx4snY1L08wIDAQABAoIBAAyF/A+elZzuVZRu\n\
eCo3Twod5HZh0f8wMfmM1Wm/zyePUGtBIEaRGynvztJ/rRZCObf5BVbBST+flvjK\n\
Kh/JDkrf7nDcHZfyFc5VMSjNGw85iItjCfHrw4nbQu5jsIgTXKWRp4pjnvLoq5g2\n\
9CV+yusT45jVdJrKNDjcIge4jgIUaXUxNj3rY60offGRAY/edd2rZQQINYrIrrfP\n\
ioFbHZw3q8tzEbQy4QxOhqMGvxfMgGUuQeglUfCpDbFBFRo6EWY2R0mtOXCCNeZ7\n\
d3XibaiPWFRtc6K6thWnXEdNTCUNDW7zCef66rwsz2733RNpcx/cIQkSJErkGuO4\n\
3orpB+kCgYEA4TVcC5X/6gwF35m/kTSlSDcwz/F14gw26D8E9FLBGNne7cKtYACP\n\
E9OCfTnyEiR5DzTvCXu71BQ8eKFa5PtXslehPP1MrKgUNiSPmJzc+yYNWB7nLuCo\n\
VjHLwL5DBFWcakRtMDKPGoYwc8Kr3HrrTIavvFhK1ye51gH1sc/9ScsCgYEAwUJ0\n\
gqpAJIhoh/VBpNxTBk7i3Upu0sbJxtVu90IosxB94ZUqU4cg07mvK3WdYNBFyLUR\n\
reD3L2JUddU+Ci+SQ91jMZrNF3rADbntjy63L2re0g8LoOUFobAV/JLZce/KDS4N\n\
SlKkiIxjjX/saDemtR6CgDtozOJGgTKE7TH+vHkCgYAI2T7fmaoveP92FKVpQCdK\n\
WhjJ4tPd6Nrzbx5ztxitMEpJD0AeqIb2oXXcE73GJra2+T53Iex0XcMufjCDFLkS\n\
Yc0NB2rO0d/RbMhTl747A/i8QKKWve7/S/+UeCVL800tA7lCjon+4czfj4OPKyk5\n\
nYUkIlf2cjIkDXmo3eI21wKBgQCFxm+KBzmRUE8zVYTUDqL16eNGFQDzrCD+Hr3K\n\
MCSmFtNcNHnxCceiZ5UmuypuWp0DmrsbJm9UgHdAfZSNTnKrwXKpYqN3DkQk/D/B\n\
7i9lhk+pDjsZa47jZlVB2ZDlOnwddXRDr0MvNiavSw6k8WjXVMA27WjU8gil5Ad5\n\
fTL82QKBgGFWz/6DVEcMN0TOzM9Pps7tdz37hxBRcUvbxiWjsuXNAYqJiloBX1px\n\
Z72j0upREJDCjgshDKFz1ZCZjh8lyU7RzdINO5eydQFnv0ZYBi3//7RE4ifWEqZs\n\
ptJXdYlv38sjw2li8H41dgBx2JHrLfTxgxEMxii01YQghO+HpMp4\n\
-----END RSA PRIVATE KEY-----";

/// A signing key, its public JWK and its `kid`.
pub struct TestKey {
    pub alg: Algorithm,
    pub kid: String,
    pub encoding: EncodingKey,
    pub jwk: Value,
    /// The raw public key bytes (what an HMAC confusion attack would use).
    pub public_bytes: Vec<u8>,
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

impl TestKey {
    pub fn ed25519(kid: &str) -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).expect("keygen");
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).expect("key");
        let public = pair.public_key().as_ref().to_vec();
        Self {
            alg: Algorithm::EdDSA,
            kid: kid.into(),
            encoding: EncodingKey::from_ed_der(pkcs8.as_ref()),
            jwk: json!({"kty": "OKP", "crv": "Ed25519", "x": b64(&public), "kid": kid, "use": "sig"}),
            public_bytes: public,
        }
    }

    pub fn es256(kid: &str) -> Self {
        let rng = SystemRandom::new();
        let alg = &signature::ECDSA_P256_SHA256_FIXED_SIGNING;
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(alg, &rng).expect("keygen");
        let pair = EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng).expect("key");
        let public = pair.public_key().as_ref().to_vec();
        Self {
            alg: Algorithm::ES256,
            kid: kid.into(),
            encoding: EncodingKey::from_ec_der(pkcs8.as_ref()),
            jwk: json!({
                "kty": "EC", "crv": "P-256", "kid": kid, "alg": "ES256",
                "x": b64(&public[1..33]), "y": b64(&public[33..]),
            }),
            public_bytes: public,
        }
    }

    pub fn rs256(kid: &str) -> Self {
        let encoding = EncodingKey::from_rsa_pem(TEST_RSA_PEM.as_bytes()).expect("rsa key");
        let jwk = Jwk::from_encoding_key(&encoding, Algorithm::RS256).expect("jwk");
        let AlgorithmParameters::RSA(rsa) = jwk.algorithm else {
            unreachable!("an RSA key gives RSA parameters")
        };
        Self {
            alg: Algorithm::RS256,
            kid: kid.into(),
            encoding,
            jwk: json!({"kty": "RSA", "kid": kid, "n": rsa.n, "e": rsa.e}),
            public_bytes: TEST_RSA_PEM.as_bytes().to_vec(),
        }
    }

    /// A compact JWS of `claims` signed with this key, `kid` in the header.
    pub fn mint(&self, claims: &Value) -> String {
        let mut header = Header::new(self.alg);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).expect("sign")
    }
}

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Claims valid for an hour.
pub fn claims(iss: &str, aud: &str) -> Value {
    let t = now();
    json!({"iss": iss, "sub": "alice@acme.com", "aud": aud, "iat": t, "nbf": t, "exp": t + 3600,
           "groups": ["legal", "sre"]})
}

/// A JWKS endpoint on 127.0.0.1 serving `doc`, counting fetches, and
/// answering 503 while `down` is set.
#[derive(Clone)]
pub struct JwksServer {
    pub addr: SocketAddr,
    pub doc: Arc<Mutex<Value>>,
    pub fetches: Arc<AtomicUsize>,
    pub down: Arc<AtomicBool>,
}

async fn serve_jwks(State(s): State<JwksServer>) -> Response {
    s.fetches.fetch_add(1, Ordering::SeqCst);
    if s.down.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let doc = s.doc.lock().expect("lock").clone();
    axum::Json(doc).into_response()
}

impl JwksServer {
    pub async fn start(keys: &[&TestKey]) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let server = Self {
            addr: listener.local_addr().expect("addr"),
            doc: Arc::new(Mutex::new(json!({ "keys": [] }))),
            fetches: Arc::new(AtomicUsize::new(0)),
            down: Arc::new(AtomicBool::new(false)),
        };
        server.set_keys(keys);
        let app = Router::new()
            .route("/jwks.json", get(serve_jwks))
            .with_state(server.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        server
    }

    pub fn router(&self) -> Router {
        Router::new()
            .route("/jwks.json", get(serve_jwks))
            .with_state(self.clone())
    }

    pub fn url(&self) -> String {
        format!("http://{}/jwks.json", self.addr)
    }

    pub fn set_keys(&self, keys: &[&TestKey]) {
        let jwks: Vec<Value> = keys.iter().map(|k| k.jwk.clone()).collect();
        *self.doc.lock().expect("lock") = json!({ "keys": jwks });
    }

    pub fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}
