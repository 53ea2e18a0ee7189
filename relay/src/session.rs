//! Sessions the relay hands to clients, in one place: minting a session
//! id for a new session, sealing it, resuming it from the id a client
//! presents, and its expiry. Session ids are AEAD-sealed (ChaCha20-Poly1305,
//! ring) tokens holding the server, the connector instance, the upstream
//! session id and a hash of the principal; any relay holding the key can
//! route them, nothing is stored.
//!
//! [`Sessions`] is the API the request path uses; [`SessionKeys`] seals and
//! opens the tokens (`keys.rs` holds their layout).

mod keys;

use std::time::Duration;

use ring::digest;
use sallyport_protocol::ServerName;
use serde::{Deserialize, Serialize};

use crate::auth::Principal;

pub use keys::{KeyError, SessionKeys};

/// Minting, resuming and expiry of sessions, with the keys and the
/// lifetime in force.
#[derive(Debug)]
pub struct Sessions {
    keys: SessionKeys,
    ttl: Duration,
}

/// What the relay knows of a new session when it mints its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSession {
    /// The MCP server of the session.
    pub server: ServerName,
    /// The connector instance that answered `initialize`.
    pub instance: u64,
    /// The upstream server's own session id, if it issued one.
    pub upstream: Option<String>,
}

impl Sessions {
    /// Sessions sealed with `keys` that last `ttl` from their minting.
    pub fn new(keys: SessionKeys, ttl: Duration) -> Self {
        Self { keys, ttl }
    }

    /// Mints the id of `principal`'s new session at `now` (Unix seconds):
    /// bound to the principal, expiring `ttl` later.
    pub fn mint(
        &self,
        session: NewSession,
        principal: &Principal,
        now: u64,
    ) -> Result<String, SessionError> {
        let claims = SessionClaims {
            server: session.server,
            instance: session.instance,
            upstream: session.upstream,
            principal: binding(principal),
            expires: now.saturating_add(self.ttl.as_secs()),
        };
        self.keys.seal(&claims)
    }

    /// Opens the id `principal` presents for `server` at `now` (Unix
    /// seconds): refused when it is malformed, forged, sealed with an
    /// unknown key, expired, or minted for another principal or server.
    pub fn resume(
        &self,
        token: &str,
        server: &ServerName,
        principal: &Principal,
        now: u64,
    ) -> Result<SessionClaims, SessionError> {
        let claims = self.keys.open(token, now)?;
        if &claims.server != server || claims.principal != binding(principal) {
            return Err(SessionError::Mismatch);
        }
        Ok(claims)
    }
}

/// The clock sessions expire by: seconds since the Unix epoch (0 for a
/// clock set before it). The only clock read of this module: [`Sessions`]
/// takes `now` as a parameter, so tests choose the time.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// What a session id holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionClaims {
    /// The MCP server of the session.
    pub server: ServerName,
    /// The connector instance that holds the upstream session.
    pub instance: u64,
    /// The upstream server's own session id, if it issued one.
    pub upstream: Option<String>,
    /// Hash of the principal the session is bound to.
    pub principal: [u8; 16],
    /// Expiry, seconds since the Unix epoch.
    pub expires: u64,
}

/// Why a session id was not minted or not accepted. Every refusal of an
/// id answers 404, as an unknown session does: a caller learns nothing
/// from the difference.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// Not base64url, too long or too short, or an unknown version.
    #[error("malformed session id")]
    Malformed,
    /// Sealed with a key this relay does not hold.
    #[error("session id sealed with an unknown key")]
    UnknownKey,
    /// Forged or corrupted.
    #[error("session id failed authentication")]
    Forged,
    /// Past its expiry.
    #[error("session expired")]
    Expired,
    /// The id could not be sealed (the random generator or the encoding
    /// failed): a relay failure, not the caller's.
    #[error("cannot seal the session id")]
    Seal,
    /// Minted for another principal or another server.
    #[error("session id presented by another principal or for another server")]
    Mismatch,
}

/// A 16-byte hash binding a session to a principal.
pub fn principal_hash(subject: &str, agent: Option<&str>) -> [u8; 16] {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(b"sallyport-principal-v1\0");
    ctx.update(subject.as_bytes());
    ctx.update(b"\0");
    ctx.update(agent.unwrap_or("").as_bytes());
    let d = ctx.finish();
    let mut out = [0u8; 16];
    out.copy_from_slice(&d.as_ref()[..16]);
    out
}

/// The hash a session of `principal` is bound to.
fn binding(principal: &Principal) -> [u8; 16] {
    principal_hash(&principal.subject, principal.agent.as_deref())
}

#[cfg(test)]
mod tests;
