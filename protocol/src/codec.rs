//! The frame codec: a big-endian `u32` length prefix followed by a bincode 2
//! (serde mode, standard config) payload.
//!
//! Decoding is a pure function over a buffer: `Ok(None)` means "need more
//! bytes", `Err` means the input is invalid and the stream must be closed.
//! The length is checked against the limit *before* anything is allocated,
//! and a payload that decodes without consuming every byte is refused.

use std::marker::PhantomData;

use bytes::{Buf, BufMut, BytesMut};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::close::CloseCode;

/// The largest frame any configuration may allow (64 MiB).
pub const HARD_MAX_FRAME_LEN: usize = 64 * 1024 * 1024;
/// The default frame limit (32 MiB + 64 KiB of framing headroom): one SSE
/// event or body chunk travels in one frame, and MCP results of 16 MiB and
/// more (base64 resources, large tool outputs) must fit with their JSON.
pub const DEFAULT_MAX_FRAME_LEN: usize = 32 * 1024 * 1024 + 64 * 1024;
pub(crate) const PREFIX_LEN: usize = 4;

/// The bincode configuration; the limit bounds every allocation a hostile
/// payload could request.
pub(crate) type Config = bincode::config::Configuration<
    bincode::config::LittleEndian,
    bincode::config::Varint,
    bincode::config::Limit<HARD_MAX_FRAME_LEN>,
>;

pub(crate) fn config() -> Config {
    bincode::config::standard().with_limit::<HARD_MAX_FRAME_LEN>()
}

/// A frame that could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The length prefix exceeds the limit.
    #[error("frame of {len} bytes exceeds the limit of {max} bytes")]
    FrameTooLarge {
        /// The announced length.
        len: usize,
        /// The limit in force.
        max: usize,
    },
    /// The payload is not a valid frame.
    #[error("malformed frame: {detail}")]
    Malformed {
        /// What bincode or validation said.
        detail: String,
    },
    /// The payload decoded but left bytes over.
    #[error("frame has {extra} trailing bytes after a complete value")]
    TrailingBytes {
        /// How many bytes were left.
        extra: usize,
    },
}

impl DecodeError {
    /// The close code a peer should see for this error.
    pub fn close_code(&self) -> CloseCode {
        match self {
            DecodeError::FrameTooLarge { .. } => CloseCode::FrameTooLarge,
            DecodeError::Malformed { .. } | DecodeError::TrailingBytes { .. } => {
                CloseCode::ProtocolError
            }
        }
    }
}

/// A frame that could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The encoded frame would exceed the limit.
    #[error("frame of {len} bytes exceeds the limit of {max} bytes")]
    FrameTooLarge {
        /// The encoded length.
        len: usize,
        /// The limit in force.
        max: usize,
    },
    /// The value could not be serialized.
    #[error("cannot encode frame: {detail}")]
    Serialize {
        /// What bincode said.
        detail: String,
    },
}

/// Encodes and decodes frames of type `T` with a length limit.
#[derive(Debug)]
pub struct FrameCodec<T> {
    max_len: usize,
    _frame: PhantomData<fn() -> T>,
}

impl<T> Clone for FrameCodec<T> {
    fn clone(&self) -> Self {
        Self::new(self.max_len)
    }
}

impl<T> Default for FrameCodec<T> {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_FRAME_LEN)
    }
}

impl<T> FrameCodec<T> {
    /// A codec that refuses frames longer than `max_len` payload bytes
    /// (clamped to [`HARD_MAX_FRAME_LEN`]).
    pub fn new(max_len: usize) -> Self {
        Self {
            max_len: max_len.min(HARD_MAX_FRAME_LEN),
            _frame: PhantomData,
        }
    }

    /// The payload limit in force.
    pub fn max_len(&self) -> usize {
        self.max_len
    }
}

impl<T: Serialize> FrameCodec<T> {
    /// Appends one encoded frame to `dst`. On error `dst` is unchanged.
    pub fn encode(&self, frame: &T, dst: &mut BytesMut) -> Result<(), EncodeError> {
        let start = dst.len();
        dst.put_u32(0);
        let written = bincode::serde::encode_into_std_write(frame, &mut dst.writer(), config())
            .map_err(|e| EncodeError::Serialize {
                detail: e.to_string(),
            });
        let len = match written {
            Ok(len) if len <= self.max_len => len,
            Ok(len) => {
                dst.truncate(start);
                return Err(EncodeError::FrameTooLarge {
                    len,
                    max: self.max_len,
                });
            }
            Err(e) => {
                dst.truncate(start);
                return Err(e);
            }
        };
        // `len <= max_len <= HARD_MAX_FRAME_LEN < u32::MAX`, checked above.
        let prefix = u32::try_from(len).map_err(|_| EncodeError::FrameTooLarge {
            len,
            max: self.max_len,
        })?;
        dst[start..start + PREFIX_LEN].copy_from_slice(&prefix.to_be_bytes());
        Ok(())
    }

    /// Encodes one frame into a fresh buffer.
    pub fn encode_to_bytes(&self, frame: &T) -> Result<bytes::Bytes, EncodeError> {
        let mut buf = BytesMut::new();
        self.encode(frame, &mut buf)?;
        Ok(buf.freeze())
    }
}

impl<T: DeserializeOwned> FrameCodec<T> {
    /// Takes one frame off the front of `src`.
    ///
    /// Returns `Ok(None)` when `src` does not yet hold a whole frame (and
    /// reserves room for it, never more than the limit).
    pub fn decode(&self, src: &mut BytesMut) -> Result<Option<T>, DecodeError> {
        if src.len() < PREFIX_LEN {
            return Ok(None);
        }
        let len = u32::from_be_bytes([src[0], src[1], src[2], src[3]]) as usize;
        if len > self.max_len {
            return Err(DecodeError::FrameTooLarge {
                len,
                max: self.max_len,
            });
        }
        if src.len() < PREFIX_LEN + len {
            src.reserve(PREFIX_LEN + len - src.len());
            return Ok(None);
        }
        src.advance(PREFIX_LEN);
        let payload = src.split_to(len);
        decode_payload(&payload).map(Some)
    }
}

/// Decodes one frame payload (without its length prefix).
pub fn decode_payload<T: DeserializeOwned>(payload: &[u8]) -> Result<T, DecodeError> {
    let (value, used) =
        bincode::serde::decode_from_slice::<T, _>(payload, config()).map_err(|e| {
            DecodeError::Malformed {
                detail: e.to_string(),
            }
        })?;
    if used != payload.len() {
        return Err(DecodeError::TrailingBytes {
            extra: payload.len() - used,
        });
    }
    Ok(value)
}

#[cfg(test)]
mod tests;
