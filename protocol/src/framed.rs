//! `tokio_util::codec` adapters, so a [`FrameCodec`] can wrap any async
//! byte stream with `FramedRead`/`FramedWrite`.

use bytes::BytesMut;

use crate::body::decode_data_frame;
use crate::data::DataFrame;
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
        let frame = FrameCodec::decode(self, src)?;
        at_eof(frame, src)
    }
}

impl<T: Serialize> tokio_util::codec::Encoder<T> for FrameCodec<T> {
    type Error = FramedError;

    fn encode(&mut self, item: T, dst: &mut BytesMut) -> Result<(), FramedError> {
        Ok(FrameCodec::encode(self, &item, dst)?)
    }
}

/// The codec of data streams: [`FrameCodec<DataFrame>`] whose decoder
/// hands `Body` payloads out as slices of the read buffer (see
/// [`crate::body`]).
#[derive(Debug, Clone, Default)]
pub struct DataCodec(pub FrameCodec<DataFrame>);

impl DataCodec {
    /// A codec refusing frames above `max_len` bytes.
    pub fn new(max_len: usize) -> Self {
        Self(FrameCodec::new(max_len))
    }
}

impl tokio_util::codec::Decoder for DataCodec {
    type Item = DataFrame;
    type Error = FramedError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<DataFrame>, FramedError> {
        Ok(decode_data_frame(&self.0, src)?)
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<DataFrame>, FramedError> {
        let frame = decode_data_frame(&self.0, src)?;
        at_eof(frame, src)
    }
}

impl tokio_util::codec::Encoder<DataFrame> for DataCodec {
    type Error = FramedError;

    fn encode(&mut self, item: DataFrame, dst: &mut BytesMut) -> Result<(), FramedError> {
        Ok(self.0.encode(&item, dst)?)
    }
}

/// At the end of the stream, bytes left over are half a frame.
fn at_eof<T>(frame: Option<T>, src: &BytesMut) -> Result<Option<T>, FramedError> {
    match frame {
        Some(frame) => Ok(Some(frame)),
        None if src.is_empty() => Ok(None),
        None => Err(FramedError::Io(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            format!("stream ended inside a frame ({} bytes buffered)", src.len()),
        ))),
    }
}
