//! Validated names that cross the wire: MCP server names and connector
//! instance labels.
//!
//! A [`ServerName`] appears in URLs (`/mcp/<server>`, the relay's only MCP
//! endpoint: one per server) and in policy globs (`<server>/<tool>`), so
//! its alphabet is deliberately small. `__` is refused inside a name and
//! kept free as a separator: a name accepted today can never be read two
//! ways should server and tool names ever be joined (`<server>__<tool>`).
//! Nothing joins them yet.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize};

/// Why a name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NameError {
    /// The name is empty.
    #[error("{kind} is empty")]
    Empty {
        /// What kind of name it was.
        kind: &'static str,
    },
    /// The name is longer than allowed.
    #[error("{kind} {name:?} is longer than {max} bytes")]
    TooLong {
        /// What kind of name it was.
        kind: &'static str,
        /// The offending name.
        name: String,
        /// The maximum length.
        max: usize,
    },
    /// The name holds a character outside its alphabet.
    #[error("{kind} {name:?} may only hold {allowed}")]
    BadCharacter {
        /// What kind of name it was.
        kind: &'static str,
        /// The offending name.
        name: String,
        /// A description of the allowed alphabet.
        allowed: &'static str,
    },
}

/// The name of an MCP server as the relay exposes it: `[a-z0-9][a-z0-9_-]*`,
/// at most 64 bytes, without `__` (reserved as a separator, see the module
/// docs).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ServerName(String);

impl ServerName {
    /// Maximum length in bytes.
    pub const MAX_LEN: usize = 64;
    const ALLOWED: &'static str =
        "lowercase letters, digits, '-' and '_' (starting with a letter or digit, no \"__\")";

    /// Validates `name`.
    pub fn new(name: impl Into<String>) -> Result<Self, NameError> {
        let name = name.into();
        let kind = "server name";
        if name.is_empty() {
            return Err(NameError::Empty { kind });
        }
        if name.len() > Self::MAX_LEN {
            return Err(NameError::TooLong {
                kind,
                name,
                max: Self::MAX_LEN,
            });
        }
        let bytes = name.as_bytes();
        let first_ok = bytes[0].is_ascii_lowercase() || bytes[0].is_ascii_digit();
        let rest_ok = bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-' || *b == b'_');
        if !first_ok || !rest_ok || name.contains("__") {
            return Err(NameError::BadCharacter {
                kind,
                name,
                allowed: Self::ALLOWED,
            });
        }
        Ok(Self(name))
    }

    /// The name as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A connector instance's self-chosen label (usually its host name), shown
/// in logs and `/admin/connectors`. It is *not* an identity: the identity is
/// the SPIFFE id in the connector's certificate. Printable ASCII, at most 128
/// bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct ConnectorLabel(String);

impl ConnectorLabel {
    /// Maximum length in bytes.
    pub const MAX_LEN: usize = 128;

    /// Validates `label`.
    pub fn new(label: impl Into<String>) -> Result<Self, NameError> {
        let label = label.into();
        let kind = "connector label";
        if label.is_empty() {
            return Err(NameError::Empty { kind });
        }
        if label.len() > Self::MAX_LEN {
            return Err(NameError::TooLong {
                kind,
                name: label,
                max: Self::MAX_LEN,
            });
        }
        if !label.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(NameError::BadCharacter {
                kind,
                name: label,
                allowed: "printable ASCII without spaces",
            });
        }
        Ok(Self(label))
    }

    /// The label as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

macro_rules! string_newtype_impls {
    ($ty:ident) => {
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl FromStr for $ty {
            type Err = NameError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::new(s)
            }
        }

        impl AsRef<str> for $ty {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::new(s).map_err(serde::de::Error::custom)
            }
        }
    };
}

string_newtype_impls!(ServerName);
string_newtype_impls!(ConnectorLabel);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_names() {
        for ok in ["contracts", "a", "wiki-2", "my_srv", "0day"] {
            assert!(ServerName::new(ok).is_ok(), "{ok} should be valid");
        }
        for bad in [
            "",
            "Contracts",
            "-x",
            "_x",
            "a__b",
            "a/b",
            "a b",
            "ü",
            &"x".repeat(65),
        ] {
            assert!(ServerName::new(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn labels() {
        assert!(ConnectorLabel::new("host-1.dc1").is_ok());
        assert!(ConnectorLabel::new("has space").is_err());
        assert!(ConnectorLabel::new("").is_err());
        assert!(ConnectorLabel::new("x".repeat(129)).is_err());
    }
}
