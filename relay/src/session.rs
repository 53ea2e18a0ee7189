//! Session ids the relay hands to clients: AEAD-sealed (ChaCha20-Poly1305,
//! ring) tokens holding the server, the connector instance, the upstream
//! session id and a hash of the principal. Any relay holding the key can
//! route them; nothing is stored.
//!
//! Token layout (then base64url, no padding — visible ASCII as MCP
//! requires): `version (1) | key id (4) | nonce (12) | ciphertext+tag`.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, Nonce, UnboundKey};
use ring::digest;
use ring::rand::{SecureRandom, SystemRandom};
use sallyport_protocol::ServerName;
use serde::{Deserialize, Serialize};

const VERSION: u8 = 1;
const AAD: &[u8] = b"sallyport-session-v1";
/// Longest token accepted (bounds the work an attacker can cause).
const MAX_TOKEN_LEN: usize = 2048;

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

/// Why a session id was not accepted. Every variant answers 404, as an
/// unknown session does: a caller learns nothing from the difference.
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
}

/// A session key could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The system random generator failed to make an ephemeral key.
    #[error("the system random generator failed")]
    Random,
    /// A key file cannot be read.
    #[error("cannot read session key {}", path.display())]
    Read {
        /// The file.
        path: std::path::PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A key file does not hold 64 hex digits.
    #[error("session key {}: expected 64 hex digits (32 random bytes)", .0.display())]
    NotHex(std::path::PathBuf),
    /// `[sessions] keys` lists no file.
    #[error("[sessions] keys: list at least one key file")]
    NoKeys,
}

struct Key {
    id: [u8; 4],
    key: LessSafeKey,
}

/// The keys that seal and open session ids: the first seals, all open.
pub struct SessionKeys {
    keys: Vec<Key>,
    rng: SystemRandom,
}

impl std::fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionKeys")
            .field("keys", &self.keys.len())
            .finish()
    }
}

impl SessionKeys {
    /// One fresh random key (a single relay; sessions end with the process).
    pub fn ephemeral() -> Result<Self, KeyError> {
        let rng = SystemRandom::new();
        let mut raw = [0u8; 32];
        rng.fill(&mut raw).map_err(|_| KeyError::Random)?;
        Ok(Self {
            keys: vec![make_key(&raw)],
            rng,
        })
    }

    /// Loads key files: each holds 64 hex digits (32 bytes), e.g. from
    /// `openssl rand -hex 32`. The first seals new ids; all open.
    pub fn load(paths: &[impl AsRef<Path>]) -> Result<Self, KeyError> {
        let mut keys = Vec::new();
        for p in paths {
            let p = p.as_ref();
            let text = std::fs::read_to_string(p).map_err(|source| KeyError::Read {
                path: p.to_owned(),
                source,
            })?;
            let raw = crate::auth::decode_hex32(text.trim())
                .ok_or_else(|| KeyError::NotHex(p.to_owned()))?;
            keys.push(make_key(&raw));
        }
        if keys.is_empty() {
            return Err(KeyError::NoKeys);
        }
        Ok(Self {
            keys,
            rng: SystemRandom::new(),
        })
    }

    /// Seals `claims` into a session id.
    pub fn seal(&self, claims: &SessionClaims) -> Result<String, SessionError> {
        let key = &self.keys[0];
        let mut nonce = [0u8; 12];
        self.rng
            .fill(&mut nonce)
            .map_err(|_| SessionError::Malformed)?;
        let mut data = bincode::serde::encode_to_vec(claims, bincode::config::standard())
            .map_err(|_| SessionError::Malformed)?;
        key.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(AAD),
                &mut data,
            )
            .map_err(|_| SessionError::Malformed)?;
        let mut token = Vec::with_capacity(1 + 4 + 12 + data.len());
        token.push(VERSION);
        token.extend_from_slice(&key.id);
        token.extend_from_slice(&nonce);
        token.extend_from_slice(&data);
        Ok(URL_SAFE_NO_PAD.encode(token))
    }

    /// Opens a session id and checks its expiry against `now` (Unix
    /// seconds).
    pub fn open(&self, token: &str, now: u64) -> Result<SessionClaims, SessionError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(SessionError::Malformed);
        }
        let raw = URL_SAFE_NO_PAD
            .decode(token)
            .map_err(|_| SessionError::Malformed)?;
        if raw.len() < 1 + 4 + 12 + CHACHA20_POLY1305.tag_len() || raw[0] != VERSION {
            return Err(SessionError::Malformed);
        }
        let id = &raw[1..5];
        let key = self
            .keys
            .iter()
            .find(|k| k.id == id)
            .ok_or(SessionError::UnknownKey)?;
        let mut nonce = [0u8; 12];
        nonce.copy_from_slice(&raw[5..17]);
        let mut data = raw[17..].to_vec();
        let plain = key
            .key
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(AAD),
                &mut data,
            )
            .map_err(|_| SessionError::Forged)?;
        let (claims, used): (SessionClaims, usize) =
            bincode::serde::decode_from_slice(plain, bincode::config::standard())
                .map_err(|_| SessionError::Forged)?;
        if used != plain.len() {
            return Err(SessionError::Forged);
        }
        if claims.expires <= now {
            return Err(SessionError::Expired);
        }
        Ok(claims)
    }
}

fn make_key(raw: &[u8; 32]) -> Key {
    let fingerprint = digest::digest(&digest::SHA256, raw);
    let mut id = [0u8; 4];
    id.copy_from_slice(&fingerprint.as_ref()[..4]);
    // A 32-byte slice is exactly CHACHA20_POLY1305's key length.
    let unbound = UnboundKey::new(&CHACHA20_POLY1305, raw).expect("32-byte ChaCha20 key");
    Key {
        id,
        key: LessSafeKey::new(unbound),
    }
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

#[cfg(test)]
mod tests;
