//! Bearer tokens signed by the PKI's token key (`sallyport pki token`).
//!
//! A token is a compact JWS (RFC 7515) signed with `token.key` (Ed25519,
//! `alg: EdDSA`). The relay trusts it through `token.pub` (`[auth]
//! token_public_key`). Header: `alg`, `typ: JWT` and `kid`, the first 16
//! characters of the key's RFC 7638 JWK thumbprint ([`key_id`]), so the relay
//! can tell keys apart during a rotation. Claims: `iss`
//! (`sallyport:<trust-domain>` unless overridden), `sub`, `aud` (a string, or
//! an array when several audiences are given), `exp`, `iat`, `nbf`, `jti`
//! (128 random bits), `groups` and, when known, `agent`.
//!
//! Signing uses ring directly; the relay verifies with an independent JOSE
//! implementation, which the tests use to check each other.

use std::fmt;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::digest;
use ring::signature::{Ed25519KeyPair, KeyPair as _};
use rustls_pki_types::pem::{PemObject, SectionKind};
use rustls_pki_types::{PrivateKeyDer, SubjectPublicKeyInfoDer};
use serde::Serialize;
use time::OffsetDateTime;

use crate::dir::Pki;
use crate::error::{PkiError, Result};
use crate::files;
use crate::identity::TrustDomain;
use crate::serial::{hex, random_bytes};

mod ttl;
pub use ttl::Ttl;

/// Prefix of the default issuer: `sallyport:<trust-domain>`.
pub const ISSUER_PREFIX: &str = "sallyport:";
/// The longest lifetime a token may have: 90 days.
pub const MAX_TTL_SECS: u64 = 90 * 86_400;
/// The lifetime used when none is given.
pub const DEFAULT_TTL: &str = "1h";

/// What `token.key` must hold.
const EXPECT_KEY: &str = "Ed25519 token signing key (PEM PRIVATE KEY, PKCS#8)";
/// What `token.pub` must hold.
const EXPECT_PUB: &str = "Ed25519 token public key (PEM PUBLIC KEY)";
/// DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410), before the 32
/// key bytes.
const ED25519_SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];
/// Longest subject, group, agent, issuer or audience accepted.
const MAX_FIELD: usize = 256;

/// What to put in a token.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    /// Audiences (`aud`): the relay's `public_url` or an exact endpoint URL
    /// such as `https://relay.acme.com/mcp/contracts`. At least one.
    pub audiences: Vec<String>,
    /// The subject (`sub`): the user or service policy and audit see.
    pub subject: String,
    /// Groups (`groups`), for policy bindings.
    pub groups: Vec<String>,
    /// The agent acting for the subject (`agent`), if any.
    pub agent: Option<String>,
    /// Lifetime.
    pub ttl: Ttl,
    /// Issuer (`iss`); `None`: `sallyport:<trust-domain>`.
    pub issuer: Option<String>,
}

/// A freshly signed token and what it says. `Debug` hides the token.
#[derive(Clone)]
pub struct MintedToken {
    /// The compact JWS: a bearer credential, to be handled as a secret.
    pub token: String,
    /// The `kid` header.
    pub key_id: String,
    /// The `iss` claim.
    pub issuer: String,
    /// The `jti` claim.
    pub jti: String,
    /// When it expires (`exp`).
    pub expires_at: OffsetDateTime,
}

impl fmt::Debug for MintedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MintedToken")
            .field("token", &"<redacted>")
            .field("key_id", &self.key_id)
            .field("issuer", &self.issuer)
            .field("jti", &self.jti)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// The default issuer of tokens minted in `trust_domain`'s PKI.
pub fn default_issuer(trust_domain: &TrustDomain) -> String {
    format!("{ISSUER_PREFIX}{trust_domain}")
}

/// The `kid` of an Ed25519 public key (its 32 raw bytes): the first 16
/// characters of its RFC 7638 JWK SHA-256 thumbprint, base64url.
pub fn key_id(ed25519_public_key: &[u8]) -> String {
    let x = URL_SAFE_NO_PAD.encode(ed25519_public_key);
    // RFC 7638: the required members in lexicographic order, no whitespace.
    let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
    let hash = digest::digest(&digest::SHA256, canonical.as_bytes());
    let mut thumbprint = URL_SAFE_NO_PAD.encode(hash.as_ref());
    thumbprint.truncate(16);
    thumbprint
}

/// Every Ed25519 public key in a `token.pub` file (one or more `PUBLIC KEY`
/// sections: list the old and the new key while rotating), as raw 32-byte
/// keys.
pub fn read_public_keys(path: &Path) -> Result<Vec<[u8; 32]>> {
    let text = files::read(path, EXPECT_PUB)?;
    let mut keys = Vec::new();
    let mut labels = Vec::new();
    for section in <(SectionKind, Vec<u8>)>::pem_slice_iter(&text) {
        let (kind, der) = section.map_err(|e| PkiError::BadPem {
            path: path.to_owned(),
            expected: EXPECT_PUB,
            detail: e.to_string(),
        })?;
        match SubjectPublicKeyInfoDer::from_pem(kind, der) {
            Some(spki) => {
                keys.push(
                    ed25519_from_spki(spki.as_ref()).ok_or_else(|| PkiError::NotAKey {
                        path: path.to_owned(),
                        detail: "a PUBLIC KEY section is not an Ed25519 key".into(),
                    })?,
                )
            }
            None => labels.push(format!("{kind:?}")),
        }
    }
    if keys.is_empty() {
        return Err(if labels.is_empty() {
            PkiError::NotPem {
                path: path.to_owned(),
                expected: EXPECT_PUB,
            }
        } else {
            PkiError::WrongPemType {
                path: path.to_owned(),
                expected: EXPECT_PUB,
                found: labels.join(", "),
            }
        });
    }
    Ok(keys)
}

fn ed25519_from_spki(der: &[u8]) -> Option<[u8; 32]> {
    der.strip_prefix(&ED25519_SPKI_PREFIX[..])?.try_into().ok()
}

#[derive(Serialize)]
struct Header<'a> {
    alg: &'static str,
    typ: &'static str,
    kid: &'a str,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Audience<'a> {
    One(&'a str),
    Many(&'a [String]),
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: Audience<'a>,
    exp: i64,
    iat: i64,
    nbf: i64,
    jti: &'a str,
    groups: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    agent: Option<&'a str>,
}

impl Pki {
    /// Signs a token with `token.key`; see [`Pki::mint_token_at`].
    pub fn mint_token(&self, request: &TokenRequest) -> Result<String> {
        Ok(self
            .mint_token_at(request, OffsetDateTime::now_utc())?
            .token)
    }

    /// Signs a token with `token.key`, issued at `now`. Checks every field,
    /// and that `token.key` matches `token.pub` when `token.pub` is present
    /// (a mismatch would mint tokens the relay refuses).
    pub fn mint_token_at(
        &self,
        request: &TokenRequest,
        now: OffsetDateTime,
    ) -> Result<MintedToken> {
        let issuer = match &request.issuer {
            Some(iss) => iss.clone(),
            None => default_issuer(self.trust_domain()),
        };
        check_field("issuer", &issuer)?;
        check_field("subject", &request.subject)?;
        if request.audiences.is_empty() {
            return Err(PkiError::BadToken {
                field: "audience",
                input: String::new(),
                reason: "give at least one --aud: the relay's public_url (e.g. https://relay.acme.com) or an endpoint URL".into(),
            });
        }
        for aud in &request.audiences {
            check_field("audience", aud)?;
            if aud.chars().any(char::is_whitespace) {
                return Err(PkiError::BadToken {
                    field: "audience",
                    input: aud.clone(),
                    reason: "whitespace is not allowed".into(),
                });
            }
        }
        for group in &request.groups {
            check_field("group", group)?;
        }
        if let Some(agent) = &request.agent {
            check_field("agent", agent)?;
        }

        let key_path = self.token_key_path();
        let key = load_signing_key(&key_path)?;
        let public = key.public_key().as_ref();
        let pub_path = self.token_pub_path();
        if pub_path.exists() && !read_public_keys(&pub_path)?.iter().any(|k| k == public) {
            return Err(PkiError::KeyMismatch {
                cert: pub_path,
                key: key_path,
            });
        }
        let kid = key_id(public);

        let mut jti_bytes = [0u8; 16];
        random_bytes(&mut jti_bytes, "a token id")?;
        let jti = hex(&jti_bytes);
        let iat = now.unix_timestamp();
        // Ttl is at most 90 days, far from overflowing i64.
        let exp = iat + i64::try_from(request.ttl.as_secs()).unwrap_or(i64::MAX / 2);
        let aud = match request.audiences.as_slice() {
            [one] => Audience::One(one),
            many => Audience::Many(many),
        };
        let claims = Claims {
            iss: &issuer,
            sub: &request.subject,
            aud,
            exp,
            iat,
            nbf: iat,
            jti: &jti,
            groups: &request.groups,
            agent: request.agent.as_deref(),
        };
        let header = Header {
            alg: "EdDSA",
            typ: "JWT",
            kid: &kid,
        };
        let signing_input = format!("{}.{}", b64_json(&header), b64_json(&claims));
        let signature = key.sign(signing_input.as_bytes());
        let token = format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature.as_ref())
        );
        Ok(MintedToken {
            token,
            key_id: kid,
            issuer,
            jti,
            expires_at: OffsetDateTime::from_unix_timestamp(exp).unwrap_or(now),
        })
    }
}

fn b64_json(value: &impl Serialize) -> String {
    // Serializing these plain structs of strings and integers cannot fail.
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap_or_default())
}

fn load_signing_key(path: &Path) -> Result<Ed25519KeyPair> {
    let text = files::read(path, EXPECT_KEY)?;
    let not_a_key = |detail: &str| PkiError::NotAKey {
        path: path.to_owned(),
        detail: detail.to_owned(),
    };
    let key = PrivateKeyDer::from_pem_slice(&text).map_err(|_| {
        not_a_key("no PKCS#8 PRIVATE KEY section (token.key is written by `sallyport pki init`)")
    })?;
    match key {
        PrivateKeyDer::Pkcs8(der) => {
            Ed25519KeyPair::from_pkcs8_maybe_unchecked(der.secret_pkcs8_der())
                .map_err(|e| not_a_key(&format!("not an Ed25519 PKCS#8 key: {e}")))
        }
        _ => Err(not_a_key("expected an Ed25519 PKCS#8 \"PRIVATE KEY\"")),
    }
}

fn check_field(field: &'static str, value: &str) -> Result<()> {
    let reason = if value.trim().is_empty() {
        "empty"
    } else if value.chars().any(char::is_control) {
        "control characters are not allowed"
    } else if value.len() > MAX_FIELD {
        "longer than 256 bytes"
    } else {
        return Ok(());
    };
    Err(PkiError::BadToken {
        field,
        input: value.to_owned(),
        reason: reason.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_id_is_the_rfc7638_thumbprint_prefix() {
        // RFC 8037 appendix A.3: the thumbprint of its example Ed25519 key.
        let x = URL_SAFE_NO_PAD
            .decode("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
            .expect("b64");
        assert_eq!(key_id(&x), "kPrK_qmxVWaYVA9w"); // of kPrK_qmxVWaYVA9wwqDbp9TFR3Yq-CNL45I_xSjqhwk
    }
}
