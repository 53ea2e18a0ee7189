//! Why a caller is refused ([`AuthError`]) and why the credential store could
//! not be built ([`AuthSetupError`]).
//!
//! No variant carries the token or any other value the caller sent: an
//! error's `Display` is safe to log and to return in a response body.

use std::path::PathBuf;

/// Why a request is not authenticated.
///
/// Each maps to what leaves the process with [`AuthError::status`] and
/// [`AuthError::challenge_error`]; `Display` is a short, fixed message that
/// never contains the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// No `Authorization` header.
    #[error("missing bearer token")]
    Missing,
    /// `Authorization` is not `Bearer <token>`.
    #[error("malformed Authorization header (expected: Bearer <token>)")]
    Malformed,
    /// The token looks like a JWT but does not decode (base64url, JSON,
    /// size, unsupported `crit` header).
    #[error("malformed token")]
    MalformedToken,
    /// The token matches no credential (unknown API key, or neither an API
    /// key nor a JWT).
    #[error("invalid token")]
    Invalid,
    /// `exp` is in the past (beyond the leeway).
    #[error("token expired")]
    Expired,
    /// `nbf` or `iat` is in the future (beyond the leeway).
    #[error("token not yet valid")]
    NotYetValid,
    /// `aud` names neither this endpoint nor the relay.
    #[error("token was issued for another audience")]
    WrongAudience,
    /// `iss` is not a configured issuer.
    #[error("token issuer is not trusted")]
    UnknownIssuer,
    /// No key of the issuer matches the token's `kid`, even after
    /// refreshing the issuer's JWKS.
    #[error("token signing key is unknown")]
    UnknownKey,
    /// The signature does not verify.
    #[error("token signature is invalid")]
    BadSignature,
    /// `alg` is `none`, an HMAC algorithm, unknown, not allowed for the
    /// issuer, or does not fit the key's type.
    #[error("token algorithm is not allowed")]
    AlgorithmNotAllowed,
    /// The issuer's JWKS could not be fetched and no keys are cached.
    #[error("the token issuer's keys are unavailable; try again later")]
    JwksUnavailable,
    /// A required claim is missing or has the wrong type.
    #[error("token claim {claim}: {reason}")]
    BadClaim {
        /// The claim's role: `iss`, `sub`, `exp`, `nbf`, `iat`, `aud`,
        /// `groups` or `agent` (the configured claim name may differ).
        claim: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A client certificate does not carry a usable client identity.
    #[error("client certificate refused: {reason}")]
    BadClientCert {
        /// Why (names the certificate's subject, never a secret).
        reason: String,
    },
}

impl AuthError {
    /// The `error` attribute of the `WWW-Authenticate: Bearer` challenge
    /// (RFC 6750 §3.1), or `None` when the request carried no credential
    /// at all: then the challenge has no `error` attribute.
    pub fn challenge_error(&self) -> Option<&'static str> {
        match self {
            AuthError::Missing => None,
            AuthError::Malformed => Some("invalid_request"),
            _ => Some("invalid_token"),
        }
    }

    /// The HTTP status: 401, except 503 when the issuer's keys cannot be
    /// fetched (the client cannot fix that by re-authenticating).
    pub fn status(&self) -> u16 {
        match self {
            AuthError::JwksUnavailable => 503,
            _ => 401,
        }
    }
}

/// Why the credential store cannot be built from the configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthSetupError {
    /// A configuration value is wrong; the message names the key.
    #[error("{0}")]
    Invalid(String),
    /// A key or certificate file cannot be read or parsed.
    #[error("{what} {}: {detail}", path.display())]
    File {
        /// The config key that names the file, e.g. `[auth] token_public_key`.
        what: String,
        /// The file.
        path: PathBuf,
        /// What went wrong.
        detail: String,
    },
    /// The HTTPS client for JWKS endpoints cannot be built.
    #[error("cannot build the HTTPS client for {what}: {detail}")]
    Client {
        /// Which IdP it was for.
        what: String,
        /// What went wrong.
        detail: String,
    },
}

impl AuthSetupError {
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        AuthSetupError::Invalid(message.into())
    }
}
