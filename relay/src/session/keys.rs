//! The keys that seal and open session ids, and the token layout:
//! `version (1) | key id (4) | nonce (12) | ciphertext+tag`, then
//! base64url without padding (visible ASCII, as MCP requires).

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, Nonce, UnboundKey};
use ring::digest;
use ring::rand::{SecureRandom, SystemRandom};

use super::{SessionClaims, SessionError};

const VERSION: u8 = 1;
const AAD: &[u8] = b"sallyport-session-v1";
/// Longest token accepted (bounds the work an attacker can cause).
const MAX_TOKEN_LEN: usize = 2048;

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
        self.rng.fill(&mut nonce).map_err(|_| SessionError::Seal)?;
        let mut data = bincode::serde::encode_to_vec(claims, bincode::config::standard())
            .map_err(|_| SessionError::Seal)?;
        key.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(AAD),
                &mut data,
            )
            .map_err(|_| SessionError::Seal)?;
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
