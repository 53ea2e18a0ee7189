//! Static API keys for remote clients (`[[api_key]]` in `relay.toml`).
//!
//! A key is `sp_` followed by 64 lowercase hex digits (32 bytes from the
//! system CSPRNG). The relay stores only the SHA-256 of the whole key
//! string, in hex; the key itself is shown once and never written to disk.

use std::fmt;

use ring::digest;
use serde::Serialize;

use crate::error::{PkiError, Result};
use crate::serial::{hex, random_bytes};

/// Prefix of every key, so leaked keys are easy to grep for.
pub const API_KEY_PREFIX: &str = "sp_";

/// A freshly generated API key and its relay configuration entry.
#[derive(Clone)]
pub struct ApiKey {
    key: String,
    sha256: String,
    subject: String,
    groups: Vec<String>,
}

impl ApiKey {
    /// Generates a key for `subject`, member of `groups`.
    pub fn generate(subject: &str, groups: &[String]) -> Result<Self> {
        check("subject", subject)?;
        for group in groups {
            check("group", group)?;
        }
        let mut bytes = [0u8; 32];
        random_bytes(&mut bytes, "an API key")?;
        let key = format!("{API_KEY_PREFIX}{}", hex(&bytes));
        Ok(Self {
            sha256: sha256_hex(&key),
            key,
            subject: subject.to_owned(),
            groups: groups.to_vec(),
        })
    }

    /// The secret key (show once, never log).
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Hex SHA-256 of [`Self::key`], as stored in `relay.toml`.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// The `[[api_key]]` TOML entry for `relay.toml` (no secret in it).
    pub fn toml_entry(&self) -> String {
        #[derive(Serialize)]
        struct Entry<'a> {
            sha256: &'a str,
            subject: &'a str,
            groups: &'a [String],
        }
        #[derive(Serialize)]
        struct Doc<'a> {
            api_key: [Entry<'a>; 1],
        }
        let doc = Doc {
            api_key: [Entry {
                sha256: &self.sha256,
                subject: &self.subject,
                groups: &self.groups,
            }],
        };
        // Serializing plain strings and arrays of strings cannot fail.
        toml::to_string(&doc).unwrap_or_default()
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKey")
            .field("key", &"[redacted]")
            .field("sha256", &self.sha256)
            .field("subject", &self.subject)
            .field("groups", &self.groups)
            .finish()
    }
}

/// Hex SHA-256 of a key string, as the relay computes it.
pub fn sha256_hex(key: &str) -> String {
    hex(digest::digest(&digest::SHA256, key.as_bytes()).as_ref())
}

fn check(field: &'static str, value: &str) -> Result<()> {
    let reason = if value.trim().is_empty() {
        Some("empty")
    } else if value.chars().any(char::is_control) {
        Some("control characters are not allowed")
    } else if value.len() > 256 {
        Some("longer than 256 bytes")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(PkiError::BadApiKeyField {
            field,
            input: value.to_owned(),
            reason,
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_format_and_entry() {
        let groups = vec!["sre".to_owned(), "on-call".to_owned()];
        let k = ApiKey::generate("ci-bot", &groups).expect("rng");
        assert!(k.key().starts_with("sp_"));
        assert_eq!(k.key().len(), 3 + 64);
        assert_eq!(k.sha256(), sha256_hex(k.key()));
        assert_ne!(
            k.key(),
            ApiKey::generate("ci-bot", &groups).expect("rng").key()
        );
        let entry = k.toml_entry();
        assert!(entry.starts_with("[[api_key]]\n"), "{entry}");
        assert!(!entry.contains(k.key()));
        let parsed: toml::Value = toml::from_str(&entry).expect("valid TOML");
        let e = &parsed["api_key"][0];
        assert_eq!(e["sha256"].as_str(), Some(k.sha256()));
        assert_eq!(e["subject"].as_str(), Some("ci-bot"));
        assert_eq!(e["groups"][1].as_str(), Some("on-call"));
        assert!(!format!("{k:?}").contains(k.key()));
    }

    #[test]
    fn known_digest() {
        // DESIGN §10 example: sha256("test").
        assert_eq!(
            sha256_hex("test"),
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
        );
    }

    #[test]
    fn rejects_bad_fields() {
        assert!(ApiKey::generate("", &[]).is_err());
        assert!(ApiKey::generate("a\nb", &[]).is_err());
        assert!(ApiKey::generate("a", &[" ".to_owned()]).is_err());
    }
}
