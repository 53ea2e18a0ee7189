//! `Body` frames without copying their payload.
//!
//! A JSON response body crosses the link as [`DataFrame::Body`] chunks of
//! up to 64 KiB. Encoding one through serde copies the chunk into the frame
//! buffer, and decoding copies it out again. These two functions produce
//! and consume the very same bytes while leaving the payload where it is:
//! [`body_frame_head`] gives the prefix and bincode head to send before the
//! payload, and [`decode_data_frame`] hands back a `Body` as a slice of the
//! receive buffer. Any other frame goes through the generic codec.

use std::sync::OnceLock;

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::codec::{DecodeError, EncodeError, FrameCodec, PREFIX_LEN, config};
use crate::data::DataFrame;

/// Longest bincode varint (a tag byte and a u64).
const MAX_VARINT: usize = 9;

/// The encoded variant tag of `DataFrame::Body`.
fn body_tag() -> &'static [u8] {
    static TAG: OnceLock<Vec<u8>> = OnceLock::new();
    TAG.get_or_init(|| {
        let mut whole = bincode::serde::encode_to_vec(DataFrame::Body(Bytes::new()), config())
            .expect("an empty body frame encodes");
        // The frame is the tag followed by the length 0 (one byte).
        whole.pop();
        whole
    })
}

/// The length prefix and bincode head of a `Body` frame whose payload is
/// `len` bytes: sending these and then the payload gives exactly what
/// [`FrameCodec::encode`] gives for `DataFrame::Body(payload)`.
pub fn body_frame_head(codec: &FrameCodec<DataFrame>, len: usize) -> Result<Bytes, EncodeError> {
    let tag = body_tag();
    let mut varint = [0u8; MAX_VARINT];
    let used =
        bincode::serde::encode_into_slice(len as u64, &mut varint, config()).map_err(|e| {
            EncodeError::Serialize {
                detail: e.to_string(),
            }
        })?;
    let frame_len = tag.len() + used + len;
    if frame_len > codec.max_len() {
        return Err(EncodeError::FrameTooLarge {
            len: frame_len,
            max: codec.max_len(),
        });
    }
    let prefix = u32::try_from(frame_len).map_err(|_| EncodeError::FrameTooLarge {
        len: frame_len,
        max: codec.max_len(),
    })?;
    let mut head = BytesMut::with_capacity(PREFIX_LEN + tag.len() + used);
    head.put_u32(prefix);
    head.put_slice(tag);
    head.put_slice(&varint[..used]);
    Ok(head.freeze())
}

/// Like [`FrameCodec::decode`], but a `Body` frame's payload is a slice of
/// `src`'s buffer rather than a copy.
pub fn decode_data_frame(
    codec: &FrameCodec<DataFrame>,
    src: &mut BytesMut,
) -> Result<Option<DataFrame>, DecodeError> {
    if let Some(head) = body_head_len(codec, src) {
        let frame_len = u32::from_be_bytes([src[0], src[1], src[2], src[3]]) as usize;
        src.advance(PREFIX_LEN);
        let frame = src.split_to(frame_len).freeze();
        return Ok(Some(DataFrame::Body(frame.slice(head..))));
    }
    codec.decode(src)
}

/// When `src` starts with a whole, well-formed `Body` frame: the length of
/// its head (tag and length varint) after the prefix.
fn body_head_len(codec: &FrameCodec<DataFrame>, src: &[u8]) -> Option<usize> {
    let prefix = src.get(..PREFIX_LEN)?;
    let frame_len = u32::from_be_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]) as usize;
    if frame_len > codec.max_len() {
        return None;
    }
    let frame = src.get(PREFIX_LEN..PREFIX_LEN + frame_len)?;
    let tag = body_tag();
    let rest = frame.strip_prefix(tag)?;
    let (len, used) = bincode::serde::decode_from_slice::<u64, _>(rest, config()).ok()?;
    let head = tag.len() + used;
    (usize::try_from(len).ok()? == frame_len - head).then_some(head)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::StreamError;

    fn codec() -> FrameCodec<DataFrame> {
        FrameCodec::default()
    }

    #[test]
    fn head_plus_payload_is_the_generic_encoding() {
        for len in [0, 1, 250, 251, 252, 4096, 65_535, 65_536, 70_000, 1 << 20] {
            let payload = Bytes::from((0..len).map(|i| i as u8).collect::<Vec<_>>());
            let generic = codec()
                .encode_to_bytes(&DataFrame::Body(payload.clone()))
                .expect("encode");
            let head = body_frame_head(&codec(), len).expect("head");
            let mut ours = head.to_vec();
            ours.extend_from_slice(&payload);
            assert_eq!(ours, generic.to_vec(), "length {len}");
        }
    }

    #[test]
    fn a_body_decodes_as_a_slice_of_the_buffer() {
        let payload = Bytes::from(vec![7u8; 100_000]);
        let wire = codec()
            .encode_to_bytes(&DataFrame::Body(payload.clone()))
            .expect("encode");
        let mut src = BytesMut::from(&wire[..]);
        src.extend_from_slice(&codec().encode_to_bytes(&DataFrame::End).expect("end"));
        let base = src.as_ptr() as usize;
        let Some(DataFrame::Body(got)) = decode_data_frame(&codec(), &mut src).expect("decode")
        else {
            panic!("not a body");
        };
        assert_eq!(got, payload);
        let offset = got.as_ptr() as usize - base;
        assert!(offset < 16, "the payload is the receive buffer, not a copy");
        assert_eq!(
            decode_data_frame(&codec(), &mut src).expect("decode"),
            Some(DataFrame::End)
        );
        assert!(src.is_empty());
    }

    #[test]
    fn other_frames_partial_frames_and_bad_bodies_take_the_generic_path() {
        let error = DataFrame::Error(StreamError {
            kind: crate::data::StreamErrorKind::Upstream,
            message: "x".into(),
        });
        let wire = codec().encode_to_bytes(&error).expect("encode");
        let mut src = BytesMut::from(&wire[..]);
        assert_eq!(
            decode_data_frame(&codec(), &mut src).expect("decode"),
            Some(error)
        );

        let body = codec()
            .encode_to_bytes(&DataFrame::Body(Bytes::from_static(b"hello")))
            .expect("encode");
        let mut partial = BytesMut::from(&body[..body.len() - 1]);
        assert_eq!(
            decode_data_frame(&codec(), &mut partial).expect("decode"),
            None
        );

        // A body whose declared length disagrees with the frame: the
        // generic decoder reports it.
        let mut bad = body.to_vec();
        bad.push(0);
        let n = bad.len() as u32 - 4;
        bad[..4].copy_from_slice(&n.to_be_bytes());
        let mut src = BytesMut::from(&bad[..]);
        assert!(decode_data_frame(&codec(), &mut src).is_err());
    }

    #[test]
    fn an_oversized_head_is_refused() {
        let small = FrameCodec::<DataFrame>::new(100);
        assert!(matches!(
            body_frame_head(&small, 200),
            Err(EncodeError::FrameTooLarge { .. })
        ));
    }
}
