//! Verification keys read from PEM (`PUBLIC KEY`, SPKI) and from JWK sets,
//! each with the algorithms it may verify.
//!
//! Every key is checked when it is loaded — RSA at least 2048 bits, EC
//! points of the curve's size, Ed25519 keys of 32 bytes — so a hostile JWKS
//! cannot make verification fail in surprising ways later. Symmetric (`oct`)
//! keys and encryption keys are never loaded: an HMAC algorithm can never be
//! matched with a public key.

use std::fmt;

use base64::Engine as _;
use base64::alphabet::URL_SAFE;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use jsonwebtoken::{Algorithm, DecodingKey};
use rustls::pki_types::pem::{PemObject, SectionKind};
use serde::Deserialize;
use x509_parser::prelude::FromDer;
use x509_parser::public_key::PublicKey;
use x509_parser::x509::SubjectPublicKeyInfo;

use super::config::parse_algorithm;

/// base64url, with or without padding (JWKs in the wild have both).
const B64URL: GeneralPurpose = GeneralPurpose::new(
    &URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);
/// The most keys kept from one JWKS or PEM file.
pub(crate) const MAX_KEYS: usize = 64;
const MIN_RSA_BITS: usize = 2048;
/// The verifier's own limit.
const MAX_RSA_BITS: usize = 4096;

const RSA: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
];

/// A public key and the algorithms it may verify (never empty).
#[derive(Clone)]
pub(crate) struct VerifyKey {
    pub kid: Option<String>,
    pub algorithms: Vec<Algorithm>,
    pub key: DecodingKey,
}

impl fmt::Debug for VerifyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyKey")
            .field("kid", &self.kid)
            .field("algorithms", &self.algorithms)
            .finish_non_exhaustive()
    }
}

impl VerifyKey {
    fn new(
        key: DecodingKey,
        type_algs: &[Algorithm],
        jwk_alg: Option<&str>,
    ) -> Result<Self, String> {
        let algorithms = match jwk_alg {
            None => type_algs.to_vec(),
            Some(name) => {
                let alg = parse_algorithm(name)?;
                if !type_algs.contains(&alg) {
                    return Err(format!("alg {name:?} does not fit the key type"));
                }
                vec![alg]
            }
        };
        Ok(Self {
            kid: None,
            algorithms,
            key,
        })
    }

    /// Keeps only the `allowed` algorithms; `None` when none is left.
    pub(crate) fn restrict(mut self, allowed: Option<&[Algorithm]>) -> Option<Self> {
        if let Some(allowed) = allowed {
            self.algorithms.retain(|a| allowed.contains(a));
        }
        (!self.algorithms.is_empty()).then_some(self)
    }
}

/// The keys of one issuer.
#[derive(Debug, Clone, Default)]
pub(crate) struct KeySet {
    keys: Vec<VerifyKey>,
}

impl KeySet {
    pub(crate) fn new(mut keys: Vec<VerifyKey>) -> Self {
        keys.truncate(MAX_KEYS);
        Self { keys }
    }

    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }

    /// The keys a token with this `kid` may be signed with: those with the
    /// same `kid`, and those without one. A token without `kid` may be
    /// signed by any key.
    pub(crate) fn candidates<'a>(
        &'a self,
        kid: Option<&'a str>,
    ) -> impl Iterator<Item = &'a VerifyKey> + 'a {
        self.keys.iter().filter(move |k| match (kid, &k.kid) {
            (Some(want), Some(have)) => want == have,
            _ => true,
        })
    }
}

/// Every `PUBLIC KEY` section of a PEM file.
pub(crate) fn from_pem(text: &[u8]) -> Result<Vec<VerifyKey>, String> {
    let mut keys = Vec::new();
    for section in <(SectionKind, Vec<u8>)>::pem_slice_iter(text) {
        let (kind, der) = section.map_err(|e| format!("malformed PEM: {e}"))?;
        if kind == SectionKind::PublicKey {
            keys.push(from_spki(&der)?);
        }
    }
    if keys.is_empty() {
        return Err("no PEM PUBLIC KEY section (expected RSA, EC P-256/P-384 or Ed25519 SubjectPublicKeyInfo)".into());
    }
    if keys.len() > MAX_KEYS {
        return Err(format!("more than {MAX_KEYS} keys"));
    }
    Ok(keys)
}

/// One DER SubjectPublicKeyInfo.
pub(crate) fn from_spki(der: &[u8]) -> Result<VerifyKey, String> {
    use x509_parser::oid_registry::{
        OID_EC_P256, OID_KEY_TYPE_EC_PUBLIC_KEY, OID_NIST_EC_P384, OID_PKCS1_RSAENCRYPTION,
        OID_SIG_ED25519,
    };
    let (_, spki) = SubjectPublicKeyInfo::from_der(der)
        .map_err(|e| format!("not a SubjectPublicKeyInfo: {e}"))?;
    let oid = &spki.algorithm.algorithm;
    if *oid == OID_SIG_ED25519 {
        return ed25519(&spki.subject_public_key.data);
    }
    if *oid == OID_KEY_TYPE_EC_PUBLIC_KEY {
        let curve = spki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.as_oid().ok());
        let point: &[u8] = &spki.subject_public_key.data;
        return match curve {
            Some(c) if c == OID_EC_P256 => ec(point, 32, Algorithm::ES256, None),
            Some(c) if c == OID_NIST_EC_P384 => ec(point, 48, Algorithm::ES384, None),
            _ => Err("EC key on an unsupported curve (expected P-256 or P-384)".into()),
        };
    }
    if *oid == OID_PKCS1_RSAENCRYPTION {
        return match spki.parsed() {
            Ok(PublicKey::RSA(rsa)) => rsa_key(rsa.modulus, rsa.exponent, None),
            _ => Err("malformed RSA public key".into()),
        };
    }
    Err(format!(
        "unsupported key type {oid} (expected RSA, EC P-256/P-384 or Ed25519)"
    ))
}

fn ed25519(raw: &[u8]) -> Result<VerifyKey, String> {
    if raw.len() != 32 {
        return Err(format!("Ed25519 key of {} bytes (expected 32)", raw.len()));
    }
    VerifyKey::new(DecodingKey::from_ed_der(raw), &[Algorithm::EdDSA], None)
}

fn ec(
    point: &[u8],
    size: usize,
    alg: Algorithm,
    jwk_alg: Option<&str>,
) -> Result<VerifyKey, String> {
    if point.len() != 1 + 2 * size || point.first() != Some(&0x04) {
        return Err(format!(
            "EC point is not an uncompressed point of {} bytes",
            1 + 2 * size
        ));
    }
    VerifyKey::new(DecodingKey::from_ec_der(point), &[alg], jwk_alg)
}

fn rsa_key(modulus: &[u8], exponent: &[u8], jwk_alg: Option<&str>) -> Result<VerifyKey, String> {
    let n = strip_zeros(modulus);
    let e = strip_zeros(exponent);
    let bits = n
        .first()
        .map_or(0, |b| n.len() * 8 - b.leading_zeros() as usize);
    if !(MIN_RSA_BITS..=MAX_RSA_BITS).contains(&bits) {
        return Err(format!(
            "RSA key of {bits} bits (expected {MIN_RSA_BITS} to {MAX_RSA_BITS})"
        ));
    }
    if e.is_empty() || e.len() > 4 || e.last().is_some_and(|b| b & 1 == 0) {
        return Err("RSA public exponent is not a small odd number".into());
    }
    VerifyKey::new(DecodingKey::from_rsa_raw_components(n, e), RSA, jwk_alg)
}

fn strip_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    &bytes[start..]
}

#[derive(Deserialize)]
struct RawJwks {
    keys: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct RawJwk {
    kty: String,
    kid: Option<String>,
    #[serde(rename = "use")]
    use_: Option<String>,
    key_ops: Option<Vec<String>>,
    alg: Option<String>,
    crv: Option<String>,
    x: Option<String>,
    y: Option<String>,
    n: Option<String>,
    e: Option<String>,
}

/// The signature keys of a JWKS document (RFC 7517), and a note per key
/// left out (encryption keys, symmetric keys, unsupported or malformed
/// keys). Fails when the document is not a JWKS or has no usable key.
pub(crate) fn from_jwks(json: &[u8]) -> Result<(Vec<VerifyKey>, Vec<String>), String> {
    let doc: RawJwks =
        serde_json::from_slice(json).map_err(|e| format!("not a JWKS document: {e}"))?;
    let mut keys = Vec::new();
    let mut skipped = Vec::new();
    for (i, value) in doc.keys.into_iter().enumerate() {
        if keys.len() == MAX_KEYS {
            skipped.push(format!("keys after the first {MAX_KEYS} ignored"));
            break;
        }
        match serde_json::from_value::<RawJwk>(value)
            .map_err(|e| format!("malformed: {e}"))
            .and_then(from_jwk)
        {
            Ok(Some(key)) => keys.push(key),
            Ok(None) => {}
            Err(reason) => skipped.push(format!("key #{i}: {reason}")),
        }
    }
    if keys.is_empty() {
        return Err(format!(
            "no usable signature key in the JWKS ({})",
            if skipped.is_empty() {
                "it is empty".to_owned()
            } else {
                skipped.join("; ")
            }
        ));
    }
    Ok((keys, skipped))
}

/// One JWK; `Ok(None)` for keys meant for encryption.
fn from_jwk(jwk: RawJwk) -> Result<Option<VerifyKey>, String> {
    if jwk.use_.as_deref().is_some_and(|u| u != "sig")
        || jwk
            .key_ops
            .as_ref()
            .is_some_and(|ops| !ops.iter().any(|o| o == "verify"))
    {
        return Ok(None);
    }
    let b64 = |field: &Option<String>, name: &str| -> Result<Vec<u8>, String> {
        let text = field
            .as_deref()
            .ok_or_else(|| format!("{} key without {name}", jwk.kty))?;
        B64URL
            .decode(text)
            .map_err(|_| format!("{name} is not base64url"))
    };
    let alg = jwk.alg.as_deref();
    let mut key = match (jwk.kty.as_str(), jwk.crv.as_deref()) {
        ("RSA", _) => rsa_key(&b64(&jwk.n, "n")?, &b64(&jwk.e, "e")?, alg)?,
        ("EC", Some("P-256")) => ec(
            &point(b64(&jwk.x, "x")?, b64(&jwk.y, "y")?),
            32,
            Algorithm::ES256,
            alg,
        )?,
        ("EC", Some("P-384")) => ec(
            &point(b64(&jwk.x, "x")?, b64(&jwk.y, "y")?),
            48,
            Algorithm::ES384,
            alg,
        )?,
        ("OKP", Some("Ed25519")) => {
            let mut key = ed25519(&b64(&jwk.x, "x")?)?;
            if let Some(name) = alg {
                key = VerifyKey::new(key.key, &[Algorithm::EdDSA], Some(name))?;
            }
            key
        }
        ("oct", _) => return Err("symmetric (oct) keys are never used".into()),
        (kty, crv) => return Err(format!("unsupported key type {kty:?} curve {crv:?}")),
    };
    key.kid = jwk.kid;
    Ok(Some(key))
}

fn point(x: Vec<u8>, y: Vec<u8>) -> Vec<u8> {
    let mut p = Vec::with_capacity(1 + x.len() + y.len());
    p.push(0x04);
    p.extend_from_slice(&x);
    p.extend_from_slice(&y);
    p
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    #[test]
    fn hostile_keys_are_refused_at_load() {
        use base64::Engine as _;
        let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
        let jwks = |key: Value| serde_json::to_vec(&json!({ "keys": [key] })).expect("json");
        for (key, why) in [
            (json!({"kty": "oct", "k": b64(b"secret")}), "oct"),
            (
                json!({"kty": "OKP", "crv": "Ed25519", "x": b64(&[1; 16])}),
                "16 bytes",
            ),
            (
                json!({"kty": "OKP", "crv": "X25519", "x": b64(&[1; 32])}),
                "unsupported",
            ),
            (
                json!({"kty": "EC", "crv": "P-256", "x": b64(&[1; 31]), "y": b64(&[1; 32])}),
                "uncompressed",
            ),
            (
                json!({"kty": "RSA", "n": b64(&[0xc1; 128]), "e": "AQAB"}),
                "1024 bits",
            ),
            (
                json!({"kty": "RSA", "n": b64(&[0xc1; 256]), "e": "AQAC"}),
                "exponent",
            ),
            (
                json!({"kty": "OKP", "crv": "Ed25519", "x": b64(&[1; 32]), "alg": "ES256"}),
                "does not fit",
            ),
            (
                json!({"kty": "OKP", "crv": "Ed25519", "x": b64(&[1; 32]), "alg": "HS256"}),
                "HMAC",
            ),
        ] {
            let err = from_jwks(&jwks(key)).expect_err(why);
            assert!(err.contains(why), "{why}: {err}");
        }
        // Encryption keys are skipped silently; a set of only those is unusable.
        let enc = json!({"kty": "OKP", "crv": "Ed25519", "x": b64(&[1; 32]), "use": "enc"});
        assert!(from_jwks(&jwks(enc)).is_err());
        let good = json!({"kty": "OKP", "crv": "Ed25519", "x": b64(&[1; 32]), "kid": "a"});
        let (found, skipped) = from_jwks(&jwks(good)).expect("good");
        assert_eq!((found.len(), skipped.len()), (1, 0));
        assert!(from_jwks(b"{\"not\": 1}").is_err());
        assert!(
            from_pem(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n").is_err()
        );
    }
}
