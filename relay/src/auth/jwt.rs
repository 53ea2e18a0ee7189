//! Verifying a JWT (compact JWS): structure, header, issuer, key,
//! signature, then claims — in that order, so nothing the token says is
//! believed before its signature is checked, except `iss` and `kid`, which
//! only select the key.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::claims;
use super::config::parse_algorithm;
use super::issuer::Issuer;
use super::{AuthError, Principal};

/// The longest token accepted.
pub(crate) const MAX_TOKEN_LEN: usize = 16 * 1024;
/// The most keys one token's signature is tried against (tokens without
/// `kid` against an issuer with several keys).
const MAX_TRIES: usize = 4;

#[derive(Deserialize)]
struct Header {
    alg: String,
    kid: Option<String>,
    /// Extensions the verifier must understand (RFC 7515 §4.1.11): none is.
    crit: Option<Value>,
}

/// What one verification needs besides the token.
pub(crate) struct Context<'a> {
    pub issuers: &'a [Issuer],
    /// The relay's own audiences: the endpoint URL and `public_url`.
    pub audiences: [&'a str; 2],
    /// Now, in seconds since the epoch.
    pub now: u64,
    pub leeway: u64,
}

/// Whether `token` has the shape of a compact JWS: three parts.
pub(crate) fn looks_like_jws(token: &str) -> bool {
    token.split('.').count() == 3
}

/// Verifies `token` and maps it to a principal.
pub(crate) async fn verify(token: &str, cx: &Context<'_>) -> Result<Principal, AuthError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(AuthError::MalformedToken);
    }
    let mut parts = token.splitn(3, '.');
    let (Some(header_b64), Some(payload_b64), Some(signature_b64)) =
        (parts.next(), parts.next(), parts.next())
    else {
        return Err(AuthError::MalformedToken);
    };
    if signature_b64.contains('.') {
        return Err(AuthError::MalformedToken);
    }
    let header: Header = decode_json(header_b64)?;
    if header.crit.is_some() {
        return Err(AuthError::MalformedToken);
    }
    let claims: Map<String, Value> = decode_json(payload_b64)?;

    let iss = claims
        .get("iss")
        .and_then(Value::as_str)
        .ok_or(AuthError::BadClaim {
            claim: "iss",
            reason: "missing or not a string",
        })?;
    let Some(issuer) = cx.issuers.iter().find(|i| i.name == iss) else {
        tracing::debug!(iss = %truncate(iss), "token from an unknown issuer");
        return Err(AuthError::UnknownIssuer);
    };
    let alg = parse_algorithm(&header.alg).map_err(|_| AuthError::AlgorithmNotAllowed)?;
    if !issuer.allows(alg) {
        return Err(AuthError::AlgorithmNotAllowed);
    }
    let kid = header.kid.as_deref();
    let keys = issuer.keys_for(kid).await?;
    let mut candidates = keys.candidates(kid).peekable();
    if candidates.peek().is_none() {
        tracing::debug!(iss = %issuer.name, kid = ?kid.map(truncate), "no key with this kid");
        return Err(AuthError::UnknownKey);
    }
    let fitting: Vec<_> = candidates
        .filter(|k| k.algorithms.contains(&alg))
        .take(MAX_TRIES)
        .collect();
    if fitting.is_empty() {
        // The key exists but is of another type: algorithm confusion.
        return Err(AuthError::AlgorithmNotAllowed);
    }
    let signing_input = &token[..header_b64.len() + 1 + payload_b64.len()];
    let verified = fitting.iter().any(|k| {
        jsonwebtoken::crypto::verify(signature_b64, signing_input.as_bytes(), &k.key, alg)
            .unwrap_or(false)
    });
    if !verified {
        return Err(AuthError::BadSignature);
    }

    claims::check_times(&claims, cx.now, cx.leeway)?;
    claims::check_audience(
        &claims,
        cx.audiences
            .iter()
            .copied()
            .chain(issuer.extra_audiences.iter().map(String::as_str)),
    )?;
    claims::principal(&claims, issuer)
}

fn decode_json<T: DeserializeOwned>(part: &str) -> Result<T, AuthError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| AuthError::MalformedToken)?;
    serde_json::from_slice(&bytes).map_err(|_| AuthError::MalformedToken)
}

/// At most 64 characters of a value the caller sent, for logs.
fn truncate(s: &str) -> &str {
    match s.char_indices().nth(64) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}
