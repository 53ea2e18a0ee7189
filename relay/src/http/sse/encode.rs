//! `text/event-stream` syntax for relayed events: whole events, and
//! events whose data arrives in pieces ahead of them (protocol 2), written
//! out as they come.

use bytes::{BufMut, Bytes, BytesMut};
use sallyport_protocol::data::SseEvent;

/// Single-line data at least this long is sent as its own chunk rather
/// than copied behind its field name.
const SHARE_DATA_FROM: usize = 4096;

/// One encoded event: the field lines, and for long single-line data the
/// data itself (shared, not copied) and the line endings after it.
#[derive(Debug, Default)]
pub struct Encoded([Option<Bytes>; 3]);

/// Starts the `data:` line of an event whose data comes in pieces.
const DATA: &[u8] = b"data: ";

impl Encoded {
    /// The chunks to send, in order.
    pub fn chunks(self) -> impl Iterator<Item = Bytes> {
        self.0.into_iter().flatten()
    }

    /// The whole event in one buffer (tests, small events).
    pub fn to_bytes(&self) -> Bytes {
        match &self.0 {
            [Some(only), None, None] => only.clone(),
            parts => {
                let mut out = BytesMut::new();
                for part in parts.iter().flatten() {
                    out.extend_from_slice(part);
                }
                out.freeze()
            }
        }
    }
}

impl From<Bytes> for Encoded {
    fn from(b: Bytes) -> Self {
        Encoded([Some(b), None, None])
    }
}

/// Encodes one event in `text/event-stream` syntax.
pub fn encode(event: &SseEvent) -> Encoded {
    let data = &event.data;
    let share = data.len() >= SHARE_DATA_FROM && memchr::memchr2(b'\n', b'\r', data).is_none();
    let mut out = BytesMut::with_capacity(if share { 64 } else { data.len() + 32 });
    put_fields(&mut out, event);
    if share {
        out.put_slice(b"data: ");
        let tail = Bytes::from_static(b"\n\n");
        return Encoded([Some(out.freeze()), Some(data.clone()), Some(tail)]);
    }
    if data.is_empty() {
        out.put_slice(b"data: \n");
    }
    for line in data.split(|b| *b == b'\n') {
        if !line.is_empty() || !data.is_empty() {
            put_field(&mut out, "data", line.strip_suffix(b"\r").unwrap_or(line));
        }
    }
    out.put_u8(b'\n');
    out.freeze().into()
}

/// Encodes a piece of the data of an event that is still open: `first`
/// starts its `data:` line. The piece is shared, not copied, unless it
/// holds line breaks.
pub fn encode_piece(piece: &Bytes, first: bool) -> Encoded {
    let start = first.then(|| Bytes::from_static(DATA));
    Encoded([start, Some(continue_data(piece)), None])
}

/// Ends an event whose data began with [`encode_piece`]: the rest of its
/// data, then its other fields (order within an event does not matter).
pub fn encode_end(event: &SseEvent) -> Encoded {
    let rest = (!event.data.is_empty()).then(|| continue_data(&event.data));
    let mut out = BytesMut::with_capacity(64);
    out.put_u8(b'\n');
    put_fields(&mut out, event);
    out.put_u8(b'\n');
    Encoded([rest, Some(out.freeze()), None])
}

/// Data continuing an open `data:` line: each line feed starts a new
/// `data:` line, carriage returns are dropped (they would end the line).
fn continue_data(data: &Bytes) -> Bytes {
    if memchr::memchr2(b'\n', b'\r', data).is_none() {
        return data.clone();
    }
    let mut out = BytesMut::with_capacity(data.len() + 64);
    for (i, line) in data.split(|b| *b == b'\n').enumerate() {
        if i > 0 {
            out.put_u8(b'\n');
            out.put_slice(DATA);
        }
        out.extend(line.iter().filter(|b| **b != b'\r'));
    }
    out.freeze()
}

/// The `id`, `event` and `retry` lines of `event`.
fn put_fields(out: &mut BytesMut, event: &SseEvent) {
    if let Some(id) = &event.id {
        put_field(out, "id", id.as_bytes());
    }
    if let Some(name) = &event.event {
        put_field(out, "event", name.as_bytes());
    }
    if let Some(retry) = event.retry {
        put_field(out, "retry", retry.to_string().as_bytes());
    }
}

fn put_field(out: &mut BytesMut, name: &str, value: &[u8]) {
    // Field values cannot hold line breaks; strip any a peer smuggled in.
    out.put_slice(name.as_bytes());
    out.put_slice(b": ");
    if memchr::memchr2(b'\n', b'\r', value).is_some() {
        out.extend(value.iter().filter(|b| **b != b'\n' && **b != b'\r'));
    } else {
        // The common case: one copy of the whole value.
        out.put_slice(value);
    }
    out.put_u8(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An event with every field and two data lines.
    fn two_lines() -> SseEvent {
        SseEvent {
            id: Some("7".into()),
            event: Some("message".into()),
            data: Bytes::from_static(b"{\"a\":1}\n{\"b\":2}"),
            retry: Some(1000),
        }
    }

    #[test]
    fn encodes_fields_and_multiline_data() {
        let e = two_lines();
        assert_eq!(
            &encode(&e).to_bytes()[..],
            b"id: 7\nevent: message\nretry: 1000\ndata: {\"a\":1}\ndata: {\"b\":2}\n\n"
        );
    }

    #[test]
    fn long_single_line_data_is_shared_not_copied() {
        let data = Bytes::from(vec![b'x'; SHARE_DATA_FROM]);
        let e = SseEvent {
            id: Some("9".into()),
            data: data.clone(),
            ..Default::default()
        };
        let chunks: Vec<Bytes> = encode(&e).chunks().collect();
        assert_eq!(chunks.len(), 3);
        assert_eq!(&chunks[0][..], b"id: 9\ndata: ");
        assert_eq!(chunks[1].as_ptr(), data.as_ptr(), "the data is not copied");
        assert_eq!(&chunks[2][..], b"\n\n");
        // Long data holding a line break takes the copying path.
        let mut two = vec![b'y'; SHARE_DATA_FROM];
        two[10] = b'\n';
        two[20] = b'\r';
        let e = SseEvent {
            data: Bytes::from(two),
            ..Default::default()
        };
        let out = encode(&e);
        let whole = out.to_bytes();
        assert!(whole.starts_with(b"data: yyyyyyyyyy\ndata: yyyyyyyyy"));
        assert!(!whole[..whole.len() - 2].contains(&b'\r'));
        assert_eq!(out.chunks().count(), 1);
    }

    #[test]
    fn priming_event_and_injection() {
        let e = SseEvent {
            id: Some("x\ndata: evil".into()),
            ..Default::default()
        };
        assert_eq!(&encode(&e).to_bytes()[..], b"id: xdata: evil\ndata: \n\n");
    }

    fn joined(parts: &[Encoded]) -> Vec<u8> {
        parts.iter().flat_map(|p| p.to_bytes().to_vec()).collect()
    }

    #[test]
    fn an_event_in_pieces_is_the_same_event() {
        let whole = two_lines();
        let rest = SseEvent {
            data: Bytes::from_static(b":2}"),
            ..whole.clone()
        };
        let parts = [
            encode_piece(&Bytes::from_static(b"{\"a\""), true),
            encode_piece(&Bytes::from_static(b":1}\n{\"b\""), false),
            encode_end(&rest),
        ];
        // A client sees the fields in another order, and the same data.
        assert_eq!(
            joined(&parts),
            b"data: {\"a\":1}\ndata: {\"b\":2}\nid: 7\nevent: message\nretry: 1000\n\n"
        );
        assert_eq!(
            &encode(&whole).to_bytes()[..],
            b"id: 7\nevent: message\nretry: 1000\ndata: {\"a\":1}\ndata: {\"b\":2}\n\n"
        );
        // All the data in pieces; a carriage return cannot end a line early.
        let parts = [
            encode_piece(&Bytes::from_static(b"x\r"), true),
            encode_end(&SseEvent::default()),
        ];
        assert_eq!(joined(&parts), b"data: x\n\n");
    }

    #[test]
    fn a_piece_without_line_breaks_is_shared() {
        let piece = Bytes::from(vec![b'p'; 100]);
        let chunks: Vec<Bytes> = encode_piece(&piece, false).chunks().collect();
        assert_eq!(chunks.len(), 1);
        assert_eq!(chunks[0].as_ptr(), piece.as_ptr());
    }
}
