//! Who is calling: authentication of remote clients.
//!
//! API keys (`[[api_key]]`: the SHA-256 of the key, a subject and groups)
//! are compared in constant time. The bearer token itself is never stored,
//! logged or passed upstream.

use ring::digest;
use serde::Deserialize;

/// An authenticated caller: the user (or service) and the agent acting for
/// it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The user or service subject.
    pub subject: String,
    /// Groups, for policy bindings.
    pub groups: Vec<String>,
    /// The acting agent, when known.
    pub agent: Option<String>,
}

/// Why a request is not authenticated. Each answers 401.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// No `Authorization` header.
    #[error("missing bearer token")]
    Missing,
    /// `Authorization` is not `Bearer <token>`.
    #[error("malformed Authorization header (expected: Bearer <token>)")]
    Malformed,
    /// The token matches no credential.
    #[error("invalid token")]
    Invalid,
}

/// One `[[api_key]]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyEntry {
    /// Hex SHA-256 of the key string.
    pub sha256: String,
    /// The subject the key authenticates as.
    pub subject: String,
    /// The subject's groups.
    #[serde(default)]
    pub groups: Vec<String>,
    /// The agent the key is issued to, if any.
    #[serde(default)]
    pub agent: Option<String>,
}

/// The relay's credential store.
#[derive(Debug, Clone, Default)]
pub struct Authenticator {
    keys: Vec<([u8; 32], Principal)>,
}

impl Authenticator {
    /// Builds the store; refuses malformed hashes and duplicates.
    pub fn new(entries: &[ApiKeyEntry]) -> Result<Self, String> {
        let mut keys: Vec<([u8; 32], Principal)> = Vec::new();
        for e in entries {
            let hash = decode_hex32(&e.sha256).ok_or_else(|| {
                format!(
                    "[[api_key]] for {}: sha256 must be 64 hex digits",
                    e.subject
                )
            })?;
            if keys.iter().any(|(h, _)| *h == hash) {
                return Err(format!(
                    "[[api_key]] for {}: the same key is listed twice",
                    e.subject
                ));
            }
            if e.subject.is_empty() {
                return Err("[[api_key]]: subject must not be empty".into());
            }
            keys.push((
                hash,
                Principal {
                    subject: e.subject.clone(),
                    groups: e.groups.clone(),
                    agent: e.agent.clone(),
                },
            ));
        }
        Ok(Self { keys })
    }

    /// Authenticates the value of an `Authorization` header.
    pub fn authenticate(&self, authorization: Option<&str>) -> Result<Principal, AuthError> {
        let header = authorization.ok_or(AuthError::Missing)?;
        let (scheme, token) = header.split_once(' ').ok_or(AuthError::Malformed)?;
        if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
            return Err(AuthError::Malformed);
        }
        let presented = digest::digest(&digest::SHA256, token.trim().as_bytes());
        // Compare against every entry without stopping early, so timing
        // does not tell how many keys exist or which one nearly matched.
        let mut found = None;
        for (hash, principal) in &self.keys {
            if constant_time_eq(hash, presented.as_ref()) {
                found = Some(principal);
            }
        }
        found.cloned().ok_or(AuthError::Invalid)
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Decodes 64 hex digits into 32 bytes.
pub(crate) fn decode_hex32(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> Authenticator {
        Authenticator::new(&[ApiKeyEntry {
            // sha256("test")
            sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into(),
            subject: "ci-bot".into(),
            groups: vec!["sre".into()],
            agent: None,
        }])
        .expect("valid")
    }

    #[test]
    fn key_authenticates() {
        let p = store()
            .authenticate(Some("Bearer test"))
            .expect("valid key");
        assert_eq!(p.subject, "ci-bot");
        assert_eq!(p.groups, vec!["sre"]);
        assert!(store().authenticate(Some("bearer test")).is_ok());
    }

    #[test]
    fn refusals() {
        let s = store();
        assert_eq!(s.authenticate(None), Err(AuthError::Missing));
        assert_eq!(
            s.authenticate(Some("Basic dGVzdA==")),
            Err(AuthError::Malformed)
        );
        assert_eq!(s.authenticate(Some("Bearer")), Err(AuthError::Malformed));
        assert_eq!(s.authenticate(Some("Bearer tesT")), Err(AuthError::Invalid));
    }

    #[test]
    fn bad_entries() {
        let entry = |sha: &str| ApiKeyEntry {
            sha256: sha.into(),
            subject: "x".into(),
            groups: vec![],
            agent: None,
        };
        assert!(Authenticator::new(&[entry("abc")]).is_err());
        let ok = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
        assert!(Authenticator::new(&[entry(ok), entry(ok)]).is_err());
    }
}
