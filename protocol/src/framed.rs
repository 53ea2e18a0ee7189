//! `tokio_util::codec` adapters, so a [`FrameCodec`] can wrap any async
//! byte stream with `FramedRead`/`FramedWrite`.

use bytes::BytesMut;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::codec::{DecodeError, EncodeError, FrameCodec};

/// An error while reading or writing frames on a byte stream.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FramedError {
    /// The underlying stream failed.
    #[error("stream I/O failed: {0}")]
    Io(#[from] std::io::Error),
    /// A received frame was invalid.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// A frame could not be encoded.
    #[error(transparent)]
    Encode(#[from] EncodeError),
}

impl<T: DeserializeOwned> tokio_util::codec::Decoder for FrameCodec<T> {
    type Item = T;
    type Error = FramedError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<T>, FramedError> {
        Ok(FrameCodec::decode(self, src)?)
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<T>, FramedError> {
        match FrameCodec::decode(self, src)? {
            Some(frame) => Ok(Some(frame)),
            None if src.is_empty() => Ok(None),
            None => Err(FramedError::Io(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("stream ended inside a frame ({} bytes buffered)", src.len()),
            ))),
        }
    }
}

impl<T: Serialize> tokio_util::codec::Encoder<T> for FrameCodec<T> {
    type Error = FramedError;

    fn encode(&mut self, item: T, dst: &mut BytesMut) -> Result<(), FramedError> {
        Ok(FrameCodec::encode(self, &item, dst)?)
    }
}
