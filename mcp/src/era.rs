//! The protocol era of a request: decided once, from the version the client
//! names, and refused when that version is unknown.
//!
//! * **Session era** (2024-11-05 … 2025-11-25): `initialize`,
//!   `Mcp-Session-Id`, GET streams and DELETE.
//! * **Stateless era** (2026-07-28): every request is a POST that stands on
//!   its own; the version travels in `MCP-Protocol-Version` and in
//!   `params._meta["io.modelcontextprotocol/protocolVersion"]`.
//!
//! A request naming no version at all is session era (the spec: assume
//! 2025-03-26). A version that is not in [`KNOWN_VERSIONS`] is an error,
//! never a guess: the relay answers 400, and a connector refuses a request
//! head that names one.

/// The first protocol version of the stateless era.
pub const STATELESS_ERA: &str = "2026-07-28";

/// Every protocol version this build serves, oldest first.
pub const KNOWN_VERSIONS: [&str; 5] = [
    "2024-11-05",
    "2025-03-26",
    "2025-06-18",
    "2025-11-25",
    STATELESS_ERA,
];

/// The `_meta` key that carries the protocol version in the stateless era.
pub const META_PROTOCOL_VERSION: &str = "io.modelcontextprotocol/protocolVersion";

/// JSON-RPC code of a stateless-era header that disagrees with the body
/// (`HeaderMismatch`).
pub const HEADER_MISMATCH: i64 = -32020;
/// JSON-RPC code of an unsupported protocol version.
pub const UNSUPPORTED_VERSION: i64 = -32022;

/// How a request is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Era {
    /// Sessions: `initialize`, `Mcp-Session-Id`, GET and DELETE.
    Session,
    /// Every request a self-contained POST.
    Stateless,
}

/// Why no era could be decided.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EraError {
    /// The version is not one this build serves.
    #[error("unsupported MCP protocol version {0:?} (supported: {list})", list = KNOWN_VERSIONS.join(", "))]
    Unsupported(String),
    /// `MCP-Protocol-Version` and the body's `_meta` name different
    /// versions.
    #[error("MCP-Protocol-Version {header:?} does not match the body's protocol version {body:?}")]
    Mismatch {
        /// The header's version.
        header: String,
        /// The body's version.
        body: String,
    },
}

impl EraError {
    /// The JSON-RPC error code the client gets (with HTTP 400).
    pub fn code(&self) -> i64 {
        match self {
            EraError::Unsupported(_) => UNSUPPORTED_VERSION,
            EraError::Mismatch { .. } => HEADER_MISMATCH,
        }
    }
}

impl Era {
    /// The era of one known `version`.
    pub fn of_version(version: &str) -> Result<Era, EraError> {
        if !KNOWN_VERSIONS.contains(&version) {
            return Err(EraError::Unsupported(version.to_owned()));
        }
        Ok(if version >= STATELESS_ERA {
            Era::Stateless
        } else {
            Era::Session
        })
    }

    /// The era of a request whose `MCP-Protocol-Version` header is
    /// `header` and whose body's `_meta` names `meta`. When both are
    /// present they must be equal; the one present decides; neither means
    /// the session era.
    pub fn decide(header: Option<&str>, meta: Option<&str>) -> Result<Era, EraError> {
        match (header, meta) {
            (Some(h), Some(m)) if h != m => Err(EraError::Mismatch {
                header: h.to_owned(),
                body: m.to_owned(),
            }),
            (Some(v), _) | (None, Some(v)) => Era::of_version(v),
            (None, None) => Ok(Era::Session),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_versions_and_eras() {
        assert_eq!(Era::decide(None, None), Ok(Era::Session));
        for v in &KNOWN_VERSIONS[..4] {
            assert_eq!(Era::decide(Some(v), None), Ok(Era::Session), "{v}");
        }
        assert_eq!(Era::decide(Some(STATELESS_ERA), None), Ok(Era::Stateless));
        assert_eq!(Era::decide(None, Some(STATELESS_ERA)), Ok(Era::Stateless));
        assert_eq!(
            Era::decide(Some(STATELESS_ERA), Some(STATELESS_ERA)),
            Ok(Era::Stateless)
        );
    }

    #[test]
    fn unknown_versions_are_refused_not_guessed() {
        for v in [
            "9999",
            "2027-01-01",
            "2026-07-28 ",
            "",
            "DRAFT-2026-v1",
            "2025-3-26",
        ] {
            let e = Era::decide(Some(v), None).expect_err(v);
            assert_eq!(e.code(), UNSUPPORTED_VERSION, "{v}");
            assert!(Era::decide(None, Some(v)).is_err(), "{v}");
        }
        let e = Era::decide(Some("2025-06-18"), Some(STATELESS_ERA)).expect_err("mismatch");
        assert_eq!(e.code(), HEADER_MISMATCH);
    }
}
