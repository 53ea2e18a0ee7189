//! `Body`, `EventData` and `Event` frames without copying their payload.
//!
//! A JSON response body crosses the link as [`DataFrame::Body`] chunks of
//! up to 64 KiB, an SSE event as one [`DataFrame::Event`] (its data
//! possibly sent ahead in [`DataFrame::EventData`] pieces). Encoding one
//! through serde copies the payload into the frame buffer, and decoding
//! copies it out again. These functions produce and consume the very same
//! bytes while leaving the payload where it is: [`body_frame_head`],
//! [`event_data_frame_head`] and [`event_frame_parts`] give what to send
//! around the payload, and [`decode_data_frame`] hands back a `Body`'s or
//! `EventData`'s payload or an `Event`'s data as a slice of the receive
//! buffer. Any other frame goes through the generic codec.

use std::sync::OnceLock;

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::codec::{DecodeError, EncodeError, FrameCodec, PREFIX_LEN, config};
use crate::data::{DataFrame, SseEvent};

/// Longest bincode varint (a tag byte and a u64).
const MAX_VARINT: usize = 9;

/// The encoded variant tag of `frame`, whose encoding ends with
/// `fields` one-byte empty fields.
fn tag_of(frame: &DataFrame, fields: usize) -> Vec<u8> {
    let mut whole = bincode::serde::encode_to_vec(frame, config()).expect("an empty frame encodes");
    whole.truncate(whole.len() - fields);
    whole
}

/// The encoded variant tag of `DataFrame::Body`.
fn body_tag() -> &'static [u8] {
    static TAG: OnceLock<Vec<u8>> = OnceLock::new();
    // An empty body: the tag, then the length 0.
    TAG.get_or_init(|| tag_of(&DataFrame::Body(Bytes::new()), 1))
}

/// The encoded variant tag of `DataFrame::EventData`.
fn event_data_tag() -> &'static [u8] {
    static TAG: OnceLock<Vec<u8>> = OnceLock::new();
    TAG.get_or_init(|| tag_of(&DataFrame::EventData(Bytes::new()), 1))
}

/// The encoded variant tag of `DataFrame::Event`.
fn event_tag() -> &'static [u8] {
    static TAG: OnceLock<Vec<u8>> = OnceLock::new();
    // An empty event: the tag, then id None, event None, length 0, retry None.
    TAG.get_or_init(|| tag_of(&DataFrame::Event(SseEvent::default()), 4))
}

fn encode_error(e: impl std::fmt::Display) -> EncodeError {
    EncodeError::Serialize {
        detail: e.to_string(),
    }
}

/// The length prefix of a frame of `frame_len` bytes, checked against the
/// codec's limit.
fn prefix(codec: &FrameCodec<DataFrame>, frame_len: usize) -> Result<u32, EncodeError> {
    let too_large = || EncodeError::FrameTooLarge {
        len: frame_len,
        max: codec.max_len(),
    };
    if frame_len > codec.max_len() {
        return Err(too_large());
    }
    u32::try_from(frame_len).map_err(|_| too_large())
}

/// `len` as a bincode varint.
fn varint(len: usize) -> Result<([u8; MAX_VARINT], usize), EncodeError> {
    let mut out = [0u8; MAX_VARINT];
    let used =
        bincode::serde::encode_into_slice(len as u64, &mut out, config()).map_err(encode_error)?;
    Ok((out, used))
}

/// What goes before and after `event.data` so that the three together are
/// exactly [`FrameCodec::encode`] of `DataFrame::Event(event)`.
pub fn event_frame_parts(
    codec: &FrameCodec<DataFrame>,
    event: &SseEvent,
) -> Result<(Bytes, Bytes), EncodeError> {
    let shell = DataFrame::Event(SseEvent {
        id: event.id.clone(),
        event: event.event.clone(),
        data: Bytes::new(),
        retry: event.retry,
    });
    let whole = bincode::serde::encode_to_vec(&shell, config()).map_err(encode_error)?;
    let tail = bincode::serde::encode_to_vec(event.retry, config()).map_err(encode_error)?;
    // `whole` is: tag, id, event, the length 0 (one byte), then `tail`.
    let fields = &whole[..whole.len() - tail.len() - 1];
    let (len, used) = varint(event.data.len())?;
    let prefix = prefix(codec, fields.len() + used + event.data.len() + tail.len())?;
    let mut head = BytesMut::with_capacity(PREFIX_LEN + fields.len() + used);
    head.put_u32(prefix);
    head.put_slice(fields);
    head.put_slice(&len[..used]);
    Ok((head.freeze(), Bytes::from(tail)))
}

/// The length prefix and bincode head of a `Body` frame whose payload is
/// `len` bytes: sending these and then the payload gives exactly what
/// [`FrameCodec::encode`] gives for `DataFrame::Body(payload)`.
pub fn body_frame_head(codec: &FrameCodec<DataFrame>, len: usize) -> Result<Bytes, EncodeError> {
    bytes_frame_head(codec, body_tag(), len)
}

/// Like [`body_frame_head`], for a `DataFrame::EventData` piece.
pub fn event_data_frame_head(
    codec: &FrameCodec<DataFrame>,
    len: usize,
) -> Result<Bytes, EncodeError> {
    bytes_frame_head(codec, event_data_tag(), len)
}

/// The prefix, `tag` and length varint of a frame holding one `Bytes`.
fn bytes_frame_head(
    codec: &FrameCodec<DataFrame>,
    tag: &[u8],
    len: usize,
) -> Result<Bytes, EncodeError> {
    let (varint, used) = varint(len)?;
    let prefix = prefix(codec, tag.len() + used + len)?;
    let mut head = BytesMut::with_capacity(PREFIX_LEN + tag.len() + used);
    head.put_u32(prefix);
    head.put_slice(tag);
    head.put_slice(&varint[..used]);
    Ok(head.freeze())
}

/// Like [`FrameCodec::decode`], but the payload of a `Body`, `EventData` or
/// `Event` frame is a slice of `src`'s buffer rather than a copy.
pub fn decode_data_frame(
    codec: &FrameCodec<DataFrame>,
    src: &mut BytesMut,
) -> Result<Option<DataFrame>, DecodeError> {
    if let Some(head) = bytes_head_len(codec, src, body_tag()) {
        let frame = take_frame(src);
        return Ok(Some(DataFrame::Body(frame.slice(head..))));
    }
    if let Some(head) = bytes_head_len(codec, src, event_data_tag()) {
        let frame = take_frame(src);
        return Ok(Some(DataFrame::EventData(frame.slice(head..))));
    }
    if let Some(parts) = event_parts(codec, src) {
        let frame = take_frame(src);
        return Ok(Some(DataFrame::Event(SseEvent {
            id: parts.id,
            event: parts.event,
            data: frame.slice(parts.data),
            retry: parts.retry,
        })));
    }
    codec.decode(src)
}

/// Takes the whole frame at the front of `src` (known to be complete),
/// without its prefix.
fn take_frame(src: &mut BytesMut) -> Bytes {
    let frame_len = u32::from_be_bytes([src[0], src[1], src[2], src[3]]) as usize;
    src.advance(PREFIX_LEN);
    src.split_to(frame_len).freeze()
}

/// The whole frame at the front of `src`, if complete and within the limit.
fn whole_frame<'a>(codec: &FrameCodec<DataFrame>, src: &'a [u8]) -> Option<&'a [u8]> {
    let prefix = src.get(..PREFIX_LEN)?;
    let frame_len = u32::from_be_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]) as usize;
    if frame_len > codec.max_len() {
        return None;
    }
    src.get(PREFIX_LEN..PREFIX_LEN + frame_len)
}

/// An `Event` frame's fields, and where its data lies in the frame.
struct EventParts {
    id: Option<String>,
    event: Option<String>,
    data: std::ops::Range<usize>,
    retry: Option<u32>,
}

/// When `src` starts with a whole, well-formed `Event` frame: its parts.
fn event_parts(codec: &FrameCodec<DataFrame>, src: &[u8]) -> Option<EventParts> {
    let frame = whole_frame(codec, src)?;
    let tag = event_tag();
    frame.strip_prefix(tag)?;
    let mut at = tag.len();
    let (id, used) =
        bincode::serde::decode_from_slice::<Option<String>, _>(frame.get(at..)?, config()).ok()?;
    at += used;
    let (event, used) =
        bincode::serde::decode_from_slice::<Option<String>, _>(frame.get(at..)?, config()).ok()?;
    at += used;
    let (len, used) =
        bincode::serde::decode_from_slice::<u64, _>(frame.get(at..)?, config()).ok()?;
    at += used;
    let end = at.checked_add(usize::try_from(len).ok()?)?;
    let (retry, used) =
        bincode::serde::decode_from_slice::<Option<u32>, _>(frame.get(end..)?, config()).ok()?;
    (end + used == frame.len()).then_some(EventParts {
        id,
        event,
        data: at..end,
        retry,
    })
}

/// When `src` starts with a whole, well-formed frame of one `Bytes` whose
/// variant is `tag` (`Body`, `EventData`): the length of its head (tag and
/// length varint) after the prefix.
fn bytes_head_len(codec: &FrameCodec<DataFrame>, src: &[u8], tag: &[u8]) -> Option<usize> {
    let frame = whole_frame(codec, src)?;
    let frame_len = frame.len();
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
            type Head = fn(&FrameCodec<DataFrame>, usize) -> Result<Bytes, EncodeError>;
            let frames: [(DataFrame, Head); 2] = [
                (DataFrame::Body(payload.clone()), body_frame_head),
                (DataFrame::EventData(payload.clone()), event_data_frame_head),
            ];
            for (frame, head) in frames {
                let generic = codec().encode_to_bytes(&frame).expect("encode");
                let mut ours = head(&codec(), len).expect("head").to_vec();
                ours.extend_from_slice(&payload);
                assert_eq!(ours, generic.to_vec(), "length {len}");
            }
        }
    }

    #[test]
    fn an_event_data_piece_decodes_as_a_slice_of_the_buffer() {
        let payload = Bytes::from(vec![9u8; 70_000]);
        let wire = codec()
            .encode_to_bytes(&DataFrame::EventData(payload.clone()))
            .expect("encode");
        let mut src = BytesMut::from(&wire[..]);
        let base = src.as_ptr() as usize;
        let Some(DataFrame::EventData(got)) =
            decode_data_frame(&codec(), &mut src).expect("decode")
        else {
            panic!("not an event data piece");
        };
        assert_eq!(got, payload);
        assert!(got.as_ptr() as usize - base < 16, "not a copy");
        assert!(src.is_empty());
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

    fn events() -> Vec<SseEvent> {
        let big = Bytes::from((0..70_000).map(|i| (i % 251) as u8).collect::<Vec<_>>());
        vec![
            SseEvent::default(),
            SseEvent {
                id: Some("42".into()),
                event: Some("message".into()),
                data: big.clone(),
                retry: Some(1500),
            },
            SseEvent {
                id: None,
                event: Some(String::new()),
                data: big.slice(..300),
                retry: None,
            },
            SseEvent {
                id: Some("é".repeat(200)),
                event: None,
                data: Bytes::from_static(b"{}"),
                retry: Some(u32::MAX),
            },
        ]
    }

    #[test]
    fn event_parts_around_the_data_are_the_generic_encoding() {
        for event in events() {
            let generic = codec()
                .encode_to_bytes(&DataFrame::Event(event.clone()))
                .expect("encode");
            let (head, tail) = event_frame_parts(&codec(), &event).expect("parts");
            let mut ours = head.to_vec();
            ours.extend_from_slice(&event.data);
            ours.extend_from_slice(&tail);
            assert_eq!(ours, generic.to_vec(), "{event:?}");
        }
    }

    #[test]
    fn an_event_decodes_with_its_data_as_a_slice_of_the_buffer() {
        for event in events() {
            let wire = codec()
                .encode_to_bytes(&DataFrame::Event(event.clone()))
                .expect("encode");
            let mut src = BytesMut::from(&wire[..]);
            let base = src.as_ptr() as usize;
            let got = decode_data_frame(&codec(), &mut src).expect("decode");
            assert!(src.is_empty());
            let Some(DataFrame::Event(got)) = got else {
                panic!("not an event");
            };
            if !got.data.is_empty() {
                let offset = got.data.as_ptr() as usize - base;
                assert!(offset < wire.len(), "the data is the receive buffer");
            }
            assert_eq!(got, event);
        }
        // A retry field cut short is refused by the generic decoder.
        let wire = codec()
            .encode_to_bytes(&DataFrame::Event(events()[1].clone()))
            .expect("encode");
        let mut bad = wire[..wire.len() - 1].to_vec();
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
