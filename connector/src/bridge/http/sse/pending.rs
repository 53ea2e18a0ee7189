//! The event being parsed: its fields, and the data not yet yielded.

use bytes::{Bytes, BytesMut};
use sallyport_protocol::data::SseEvent;

/// The fields of the event being parsed.
#[derive(Debug, Default)]
pub(super) struct Pending {
    pub(super) id: Option<String>,
    pub(super) event: Option<String>,
    /// Data not yet yielded as pieces.
    pub(super) data: Data,
    /// Data lines begun, and the length of the joined data so far
    /// (including pieces already yielded).
    pub(super) lines: usize,
    pub(super) data_len: usize,
    pub(super) retry: Option<u32>,
    /// A known field was seen since the last dispatch.
    pub(super) any: bool,
    /// Some of the data was yielded as pieces.
    pub(super) streamed: bool,
}

/// The `data:` values of an event, joined with `\n`.
#[derive(Debug, Default)]
pub(super) enum Data {
    #[default]
    None,
    /// One line: a slice of the received bytes, not a copy.
    One(Bytes),
    /// Several lines, copied together.
    Many(BytesMut),
}

impl Data {
    /// Bytes held.
    #[cfg(test)]
    pub(super) fn held(&self) -> usize {
        match self {
            Data::None => 0,
            Data::One(b) => b.len(),
            Data::Many(b) => b.len(),
        }
    }

    /// Appends `value` as it is (line breaks are the caller's business).
    pub(super) fn append(&mut self, value: Bytes) {
        *self = match std::mem::take(self) {
            Data::None => Data::One(value),
            Data::One(first) => {
                let mut all = BytesMut::with_capacity(first.len() + value.len());
                all.extend_from_slice(&first);
                all.extend_from_slice(&value);
                Data::Many(all)
            }
            Data::Many(mut all) => {
                all.extend_from_slice(&value);
                Data::Many(all)
            }
        };
    }

    pub(super) fn into_bytes(self) -> Bytes {
        match self {
            Data::None => Bytes::new(),
            Data::One(b) => b,
            Data::Many(b) => b.freeze(),
        }
    }
}

impl Pending {
    /// Counts each data line with its line feed, as sent.
    pub(super) fn size(&self) -> usize {
        let data = self.data_len + usize::from(self.lines > 0);
        data + self.id.as_ref().map_or(0, String::len) + self.event.as_ref().map_or(0, String::len)
    }

    /// Begins a data line: the line feed joining it to the previous one,
    /// if any. Returns that line feed.
    pub(super) fn begin_line(&mut self) -> Option<Bytes> {
        self.lines += 1;
        (self.lines > 1).then(|| {
            self.data_len += 1;
            Bytes::from_static(b"\n")
        })
    }

    /// Appends a data line, or more of the current one, to the data not
    /// yet yielded.
    pub(super) fn append(&mut self, value: Bytes) {
        if !value.is_empty() {
            self.data_len += value.len();
            self.data.append(value);
        }
    }

    /// The data not yet yielded, as pieces.
    pub(super) fn take_data(&mut self) -> Option<Bytes> {
        match std::mem::take(&mut self.data) {
            Data::None => None,
            Data::One(b) => Some(b),
            Data::Many(b) => Some(b.freeze()),
        }
    }

    pub(super) fn take(&mut self) -> SseEvent {
        let pending = std::mem::take(self);
        SseEvent {
            id: pending.id,
            event: pending.event,
            data: pending.data.into_bytes(),
            retry: pending.retry,
        }
    }
}
