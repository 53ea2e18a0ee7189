//! The trusted token issuers, built from `[auth]`: the relay's own
//! (`token.pub`) and each `[[auth.idp]]`, with its keys and claim mapping.

use std::path::Path;
use std::sync::Arc;

use jsonwebtoken::Algorithm;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use super::config::{AgentClaim, AuthConfig, DEFAULT_GROUPS_CLAIM, IdpConfig, check_jwks_url};
use super::jwks::{RemoteJwks, http_client};
use super::keys::{self, KeySet, VerifyKey};
use super::{AuthError, AuthSetupError};

/// One trusted issuer.
#[derive(Debug)]
pub(crate) struct Issuer {
    pub name: String,
    /// Audiences accepted besides the relay's own URLs.
    pub extra_audiences: Vec<String>,
    /// The `alg` values accepted from this issuer (each key narrows this
    /// further to what its type supports); `None`: whatever the keys allow.
    pub allowed: Option<Vec<Algorithm>>,
    pub groups_claim: String,
    /// The agent is the first of these claims present.
    pub agent_claims: Vec<AgentClaim>,
    pub keys: KeySource,
}

/// An issuer's keys.
#[derive(Debug)]
pub(crate) enum KeySource {
    /// Read from files at start.
    Static(Arc<KeySet>),
    /// Fetched from a JWKS endpoint.
    Remote(Arc<RemoteJwks>),
}

impl Issuer {
    /// The keys to try for a token with `kid`.
    pub(crate) async fn keys_for(&self, kid: Option<&str>) -> Result<Arc<KeySet>, AuthError> {
        match &self.keys {
            KeySource::Static(set) => Ok(Arc::clone(set)),
            KeySource::Remote(remote) => remote.keys_for(kid).await,
        }
    }

    /// Whether `alg` is accepted from this issuer at all.
    pub(crate) fn allows(&self, alg: Algorithm) -> bool {
        self.allowed.as_ref().is_none_or(|a| a.contains(&alg))
    }
}

/// Builds every issuer of `auth` (already validated). `own_issuer` is the
/// `iss` of tokens signed by `token.key`.
pub(crate) fn build(
    auth: &AuthConfig,
    own_issuer: Option<String>,
) -> Result<Vec<Issuer>, AuthSetupError> {
    let mut issuers = Vec::new();
    if let (Some(path), Some(name)) = (&auth.token_public_key, own_issuer) {
        if auth.idp.iter().any(|i| i.issuer == name) {
            return Err(AuthSetupError::invalid(format!(
                "[[auth.idp]] issuer {name:?} is the issuer of the relay's own tokens (token_public_key)"
            )));
        }
        issuers.push(own(path, name)?);
    }
    for idp in &auth.idp {
        issuers.push(external(idp)?);
    }
    Ok(issuers)
}

fn own(path: &Path, name: String) -> Result<Issuer, AuthSetupError> {
    let raw = sallyport_pki::token::read_public_keys(path).map_err(|e| AuthSetupError::File {
        what: "[auth] token_public_key".into(),
        path: path.to_owned(),
        detail: e.to_string(),
    })?;
    let keys = raw
        .iter()
        .map(|k| {
            let mut key =
                keys::from_spki(&ed25519_spki(k)).map_err(|detail| AuthSetupError::File {
                    what: "[auth] token_public_key".into(),
                    path: path.to_owned(),
                    detail,
                })?;
            key.kid = Some(sallyport_pki::token::key_id(k));
            Ok(key)
        })
        .collect::<Result<Vec<VerifyKey>, AuthSetupError>>()?;
    Ok(Issuer {
        name,
        extra_audiences: Vec::new(),
        allowed: Some(vec![Algorithm::EdDSA]),
        groups_claim: DEFAULT_GROUPS_CLAIM.into(),
        agent_claims: vec![AgentClaim::Agent],
        keys: KeySource::Static(Arc::new(KeySet::new(keys))),
    })
}

fn ed25519_spki(raw: &[u8; 32]) -> Vec<u8> {
    let mut der = vec![
        0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
    ];
    der.extend_from_slice(raw);
    der
}

fn external(idp: &IdpConfig) -> Result<Issuer, AuthSetupError> {
    let at = format!("[[auth.idp]] {}", idp.issuer);
    let allowed = idp.allowed_algorithms();
    let file_error = |what: &str, path: &Path, detail: String| AuthSetupError::File {
        what: format!("{at}: {what}"),
        path: path.to_owned(),
        detail,
    };
    let read = |what: &str, path: &Path| {
        std::fs::read(path).map_err(|e| file_error(what, path, e.to_string()))
    };
    let restrict = |what: &str, path: &Path, keys: Vec<VerifyKey>| {
        let kept: Vec<VerifyKey> = keys
            .into_iter()
            .filter_map(|k| k.restrict(allowed.as_deref()))
            .collect();
        if kept.is_empty() {
            return Err(file_error(
                what,
                path,
                "no key fits the configured algorithms".into(),
            ));
        }
        Ok(KeySource::Static(Arc::new(KeySet::new(kept))))
    };
    let keys = if let Some(path) = &idp.public_key_pem {
        let found = keys::from_pem(&read("public_key_pem", path)?)
            .map_err(|e| file_error("public_key_pem", path, e))?;
        restrict("public_key_pem", path, found)?
    } else if let Some(path) = &idp.jwks_file {
        let (found, skipped) = keys::from_jwks(&read("jwks_file", path)?)
            .map_err(|e| file_error("jwks_file", path, e))?;
        for note in skipped {
            tracing::warn!(issuer = %idp.issuer, note, "JWKS key ignored");
        }
        restrict("jwks_file", path, found)?
    } else if let Some(url) = &idp.jwks_url {
        let url = check_jwks_url(url).map_err(|e| AuthSetupError::invalid(format!("{at}: {e}")))?;
        let roots = match &idp.jwks_ca {
            Some(path) => {
                let pem = read("jwks_ca", path)?;
                let roots = CertificateDer::pem_slice_iter(&pem)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| file_error("jwks_ca", path, format!("malformed PEM: {e}")))?;
                if roots.is_empty() {
                    return Err(file_error(
                        "jwks_ca",
                        path,
                        "no PEM CERTIFICATE section".into(),
                    ));
                }
                roots
            }
            None => Vec::new(),
        };
        let client = http_client(&url, roots).map_err(|detail| AuthSetupError::Client {
            what: at.clone(),
            detail,
        })?;
        KeySource::Remote(Arc::new(RemoteJwks::new(
            idp.issuer.clone(),
            url,
            client,
            allowed.clone(),
        )))
    } else {
        return Err(AuthSetupError::invalid(format!(
            "{at}: set exactly one of jwks_url, jwks_file or public_key_pem"
        )));
    };
    Ok(Issuer {
        name: idp.issuer.clone(),
        extra_audiences: idp.audience.clone(),
        allowed,
        groups_claim: idp
            .groups_claim
            .clone()
            .unwrap_or_else(|| DEFAULT_GROUPS_CLAIM.into()),
        agent_claims: match idp.agent_claim {
            Some(claim) => vec![claim],
            None => AgentClaim::DEFAULT_ORDER.to_vec(),
        },
        keys,
    })
}
