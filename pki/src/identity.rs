//! Identity newtypes: [`TrustDomain`], [`SpiffeId`] and [`WorkloadName`].
//!
//! Every identity that crosses a crate boundary is one of these types, parsed
//! once at the edge (`FromStr`, serde) and never re-validated downstream.
//! SPIFFE IDs follow the SPIFFE ID specification, restricted to what
//! Sallyport issues: a lowercase DNS-like trust domain and a non-empty path.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::PkiError;

const SCHEME: &str = "spiffe://";
const CONNECTOR_PREFIX: &str = "/connector/";
const CLIENT_PREFIX: &str = "/client/";
const RELAY_PATH: &str = "/relay";

/// A SPIFFE trust domain, e.g. `acme.internal`.
///
/// Lowercase DNS-like: dot-separated labels of `a-z`, `0-9` and `-`, each 1–63
/// characters, not starting or ending with `-`; 253 characters at most.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TrustDomain(String);

impl TrustDomain {
    /// The trust domain as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn trust_domain_error(input: &str) -> Option<&'static str> {
    if input.is_empty() {
        return Some("empty");
    }
    if input.len() > 253 {
        return Some("longer than 253 characters");
    }
    for label in input.split('.') {
        if label.is_empty() {
            return Some("empty label (leading, trailing or double dot)");
        }
        if label.len() > 63 {
            return Some("a label is longer than 63 characters");
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Some("only lowercase a-z, 0-9, '-' and '.' are allowed");
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Some("a label starts or ends with '-'");
        }
    }
    None
}

impl FromStr for TrustDomain {
    type Err = PkiError;

    fn from_str(input: &str) -> Result<Self, PkiError> {
        match trust_domain_error(input) {
            Some(reason) => Err(PkiError::BadTrustDomain {
                input: input.to_owned(),
                reason,
            }),
            None => Ok(Self(input.to_owned())),
        }
    }
}

/// A connector or client name, e.g. `legal-dc1` or `agent-7`.
///
/// 1–63 characters of `a-z`, `0-9`, `-`, `_`, `.`, starting with `a-z` or
/// `0-9`. It becomes one SPIFFE path segment and part of a file name, so `/`,
/// `..` and uppercase are impossible by construction.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct WorkloadName(String);

impl WorkloadName {
    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn name_error(input: &str) -> Option<&'static str> {
    let Some(first) = input.bytes().next() else {
        return Some("empty");
    };
    if input.len() > 63 {
        return Some("longer than 63 characters");
    }
    if !(first.is_ascii_lowercase() || first.is_ascii_digit()) {
        return Some("must start with a-z or 0-9");
    }
    if !input
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.'))
    {
        return Some("only lowercase a-z, 0-9, '-', '_' and '.' are allowed");
    }
    None
}

impl FromStr for WorkloadName {
    type Err = PkiError;

    fn from_str(input: &str) -> Result<Self, PkiError> {
        match name_error(input) {
            Some(reason) => Err(PkiError::BadName {
                input: input.to_owned(),
                reason,
            }),
            None => Ok(Self(input.to_owned())),
        }
    }
}

/// A SPIFFE ID `spiffe://<trust-domain>/<path>` with a non-empty path.
///
/// Path segments use `A-Z a-z 0-9 - _ .`; empty, `.` and `..` segments,
/// a trailing `/`, percent-encoding, queries and fragments are rejected.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SpiffeId {
    trust_domain: TrustDomain,
    /// Starts with `/`.
    path: String,
}

impl SpiffeId {
    /// `spiffe://<td>/relay`: the relay's identity.
    pub fn relay(trust_domain: &TrustDomain) -> Self {
        Self {
            trust_domain: trust_domain.clone(),
            path: RELAY_PATH.to_owned(),
        }
    }

    /// `spiffe://<td>/connector/<name>`.
    pub fn connector(trust_domain: &TrustDomain, name: &WorkloadName) -> Self {
        Self {
            trust_domain: trust_domain.clone(),
            path: format!("{CONNECTOR_PREFIX}{name}"),
        }
    }

    /// `spiffe://<td>/client/<name>`.
    pub fn client(trust_domain: &TrustDomain, name: &WorkloadName) -> Self {
        Self {
            trust_domain: trust_domain.clone(),
            path: format!("{CLIENT_PREFIX}{name}"),
        }
    }

    /// The trust domain.
    pub fn trust_domain(&self) -> &TrustDomain {
        &self.trust_domain
    }

    /// The path, starting with `/`, e.g. `/connector/legal-dc1`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// `Some(name)` when the path is exactly `/connector/<name>`.
    pub fn connector_name(&self) -> Option<&str> {
        self.named(CONNECTOR_PREFIX)
    }

    /// `Some(name)` when the path is exactly `/client/<name>`.
    pub fn client_name(&self) -> Option<&str> {
        self.named(CLIENT_PREFIX)
    }

    /// Whether the path is exactly `/relay`.
    pub fn is_relay(&self) -> bool {
        self.path == RELAY_PATH
    }

    fn named(&self, prefix: &str) -> Option<&str> {
        let name = self.path.strip_prefix(prefix)?;
        name_error(name).is_none().then_some(name)
    }
}

fn bad_spiffe(input: &str, reason: impl Into<String>) -> PkiError {
    PkiError::BadSpiffeId {
        input: input.to_owned(),
        reason: reason.into(),
    }
}

impl FromStr for SpiffeId {
    type Err = PkiError;

    fn from_str(input: &str) -> Result<Self, PkiError> {
        let rest = input
            .strip_prefix(SCHEME)
            .ok_or_else(|| bad_spiffe(input, "must start with spiffe://"))?;
        let (domain, path) = match rest.find('/') {
            Some(slash) => rest.split_at(slash),
            None => (rest, ""),
        };
        if domain.contains(['@', ':']) {
            return Err(bad_spiffe(input, "user info and ports are not allowed"));
        }
        let trust_domain = domain
            .parse::<TrustDomain>()
            .map_err(|e| bad_spiffe(input, format!("trust domain: {e}")))?;
        if path.is_empty() || path == "/" {
            return Err(bad_spiffe(input, "the path is empty"));
        }
        for segment in path[1..].split('/') {
            if segment.is_empty() {
                return Err(bad_spiffe(input, "empty path segment or trailing '/'"));
            }
            if segment == "." || segment == ".." {
                return Err(bad_spiffe(
                    input,
                    "'.' and '..' path segments are not allowed",
                ));
            }
            if !segment
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
            {
                return Err(bad_spiffe(
                    input,
                    "path segments may only hold A-Z a-z 0-9 - _ .",
                ));
            }
        }
        Ok(Self {
            trust_domain,
            path: path.to_owned(),
        })
    }
}

macro_rules! string_newtype_impls {
    ($ty:ty) => {
        impl TryFrom<String> for $ty {
            type Error = PkiError;
            fn try_from(value: String) -> Result<Self, PkiError> {
                value.parse()
            }
        }
        impl From<$ty> for String {
            fn from(value: $ty) -> String {
                value.to_string()
            }
        }
    };
}

string_newtype_impls!(TrustDomain);
string_newtype_impls!(WorkloadName);
string_newtype_impls!(SpiffeId);

impl fmt::Display for TrustDomain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for WorkloadName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for SpiffeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SCHEME}{}{}", self.trust_domain, self.path)
    }
}

#[cfg(test)]
mod tests;
