//! Static API keys (`[[api_key]]`): the SHA-256 of the key, a subject and
//! groups. The presented key is hashed and compared in constant time with
//! every entry; the key itself is never stored.

use ring::digest;
use serde::Deserialize;

use super::{AuthError, AuthMethod, AuthSetupError, Principal};

/// The prefix of every key `sallyport pki apikey` prints.
pub const API_KEY_PREFIX: &str = "sp_";

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

/// The hashed keys and whom they authenticate.
#[derive(Debug, Clone, Default)]
pub(crate) struct ApiKeys {
    keys: Vec<([u8; 32], Principal)>,
}

impl ApiKeys {
    /// Builds the store; refuses malformed hashes, empty subjects and
    /// duplicates.
    pub(crate) fn new(entries: &[ApiKeyEntry]) -> Result<Self, AuthSetupError> {
        let mut keys: Vec<([u8; 32], Principal)> = Vec::new();
        for e in entries {
            if e.subject.trim().is_empty() {
                return Err(AuthSetupError::invalid(
                    "[[api_key]]: subject must not be empty",
                ));
            }
            let hash = decode_hex32(&e.sha256).ok_or_else(|| {
                AuthSetupError::invalid(format!(
                    "[[api_key]] for {}: sha256 must be 64 hex digits",
                    e.subject
                ))
            })?;
            if keys.iter().any(|(h, _)| *h == hash) {
                return Err(AuthSetupError::invalid(format!(
                    "[[api_key]] for {}: the same key is listed twice",
                    e.subject
                )));
            }
            keys.push((
                hash,
                Principal {
                    subject: e.subject.clone(),
                    groups: e.groups.clone(),
                    agent: e.agent.clone(),
                    method: AuthMethod::ApiKey,
                },
            ));
        }
        Ok(Self { keys })
    }

    /// How many keys are accepted.
    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }

    /// The principal of `key`, or [`AuthError::Invalid`].
    pub(crate) fn authenticate(&self, key: &str) -> Result<Principal, AuthError> {
        let presented = digest::digest(&digest::SHA256, key.as_bytes());
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
