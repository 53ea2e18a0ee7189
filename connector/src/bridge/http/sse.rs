//! An incremental `text/event-stream` parser, without I/O.
//!
//! Bytes go in with [`SseParser::push`] as they arrive from the upstream;
//! complete events come out of [`SseParser::next_event`] as soon as their
//! terminating blank line has been seen, so progress notifications stream
//! live. Lines end with `\n`, `\r\n` or `\r` (a `\r` at the end of one chunk
//! and a `\n` at the start of the next are one line ending), a leading
//! UTF-8 BOM is skipped, `:` lines are comments, and a line without a
//! terminator at the end of the stream is discarded, as the WHATWG
//! event-stream grammar says.
//!
//! Two deliberate differences from a browser, because this parser feeds a
//! proxy rather than an application:
//!
//! - every event that carried a known field is yielded, including an event
//!   holding only `id:` or `retry:` (a priming event), so the client still
//!   learns the id and the retry delay;
//! - `data` stays raw bytes (lines joined with `\n`), never re-decoded; an
//!   event with one `data:` line (every MCP message) shares the received
//!   buffer instead of copying it.
//!
//! Every line and every event is bounded; past a bound the parser fails
//! and stays failed.

use bytes::{Buf, Bytes, BytesMut};
use sallyport_protocol::data::SseEvent;

const BOM: &[u8] = b"\xEF\xBB\xBF";
/// Room for a field name and its `: ` on top of the event bound.
const LINE_OVERHEAD: usize = 16;

/// Why the event stream cannot be parsed further.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum SseError {
    /// A line grew past the bound without a line ending.
    #[error("an event-stream line exceeds {limit} bytes")]
    LineTooLong {
        /// The bound, in bytes.
        limit: usize,
    },
    /// The fields of one event add up to more than the bound.
    #[error("an event exceeds {limit} bytes")]
    EventTooLarge {
        /// The bound, in bytes.
        limit: usize,
    },
}

/// Turns event-stream bytes into [`SseEvent`]s.
#[derive(Debug)]
pub(crate) struct SseParser {
    /// Bytes not yet consumed: at most one partial line after `next_event`
    /// returned `Ok(None)`.
    buf: BytesMut,
    /// How much of `buf` is known to hold no line ending.
    scanned: usize,
    /// The last line ended with `\r`: a `\n` right after it is part of
    /// that line ending.
    after_cr: bool,
    /// The start of the stream (and its optional BOM) has been handled.
    started: bool,
    /// The event being built.
    pending: Pending,
    /// Bound on `data` + `id` + `event` of one event.
    max_event: usize,
    /// Set once a bound was exceeded.
    failed: Option<SseError>,
}

#[derive(Debug, Default)]
struct Pending {
    id: Option<String>,
    event: Option<String>,
    data: Data,
    retry: Option<u32>,
    /// A known field was seen since the last dispatch.
    any: bool,
}

/// The `data:` values of an event, joined with `\n`.
#[derive(Debug, Default)]
enum Data {
    #[default]
    None,
    /// One line: a slice of the received bytes, not a copy.
    One(Bytes),
    /// Several lines, copied together.
    Many(BytesMut),
}

impl Data {
    fn len(&self) -> usize {
        match self {
            Data::None => 0,
            Data::One(b) => b.len(),
            Data::Many(b) => b.len(),
        }
    }

    fn push(&mut self, value: Bytes) {
        *self = match std::mem::take(self) {
            Data::None => Data::One(value),
            Data::One(first) => {
                let mut all = BytesMut::with_capacity(first.len() + 1 + value.len());
                all.extend_from_slice(&first);
                all.extend_from_slice(b"\n");
                all.extend_from_slice(&value);
                Data::Many(all)
            }
            Data::Many(mut all) => {
                all.extend_from_slice(b"\n");
                all.extend_from_slice(&value);
                Data::Many(all)
            }
        };
    }

    fn into_bytes(self) -> Bytes {
        match self {
            Data::None => Bytes::new(),
            Data::One(b) => b,
            Data::Many(b) => b.freeze(),
        }
    }
}

impl Pending {
    /// Counts each data line with its line feed, as sent.
    fn size(&self) -> usize {
        let data = match &self.data {
            Data::None => 0,
            d => d.len() + 1,
        };
        data + self.id.as_ref().map_or(0, String::len) + self.event.as_ref().map_or(0, String::len)
    }

    fn take(&mut self) -> SseEvent {
        let pending = std::mem::take(self);
        SseEvent {
            id: pending.id,
            event: pending.event,
            data: pending.data.into_bytes(),
            retry: pending.retry,
        }
    }
}

impl SseParser {
    /// A parser whose events (data, id and event name together) hold at
    /// most `max_event` bytes.
    pub(crate) fn new(max_event: usize) -> Self {
        Self {
            buf: BytesMut::new(),
            scanned: 0,
            after_cr: false,
            started: false,
            pending: Pending::default(),
            max_event,
            failed: None,
        }
    }

    /// Appends bytes received from the stream. Call [`Self::next_event`]
    /// until it returns `Ok(None)` before pushing again, so that the buffer
    /// stays bounded.
    pub(crate) fn push(&mut self, chunk: &[u8]) {
        if self.failed.is_none() {
            self.buf.extend_from_slice(chunk);
        }
    }

    /// The next complete event, `Ok(None)` when more bytes are needed.
    pub(crate) fn next_event(&mut self) -> Result<Option<SseEvent>, SseError> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        let result = self.advance();
        if let Err(e) = result {
            self.failed = Some(e);
            self.buf = BytesMut::new();
            self.pending = Pending::default();
        }
        result
    }

    fn max_line(&self) -> usize {
        self.max_event.saturating_add(LINE_OVERHEAD)
    }

    fn advance(&mut self) -> Result<Option<SseEvent>, SseError> {
        loop {
            if !self.started {
                if self.buf.len() < BOM.len() && BOM.starts_with(&self.buf) {
                    return Ok(None); // empty, or possibly the start of a BOM
                }
                if self.buf.starts_with(BOM) {
                    self.buf.advance(BOM.len());
                }
                self.started = true;
            }
            if self.after_cr {
                match self.buf.first() {
                    None => return Ok(None),
                    Some(b'\n') => self.buf.advance(1),
                    Some(_) => {}
                }
                self.after_cr = false;
            }
            let found = memchr::memchr2(b'\n', b'\r', &self.buf[self.scanned..]);
            let Some(offset) = found else {
                self.scanned = self.buf.len();
                if self.buf.len() > self.max_line() {
                    return Err(SseError::LineTooLong {
                        limit: self.max_line(),
                    });
                }
                return Ok(None);
            };
            let end = self.scanned + offset;
            if end > self.max_line() {
                return Err(SseError::LineTooLong {
                    limit: self.max_line(),
                });
            }
            let mut line = self.buf.split_to(end + 1).freeze();
            self.scanned = 0;
            self.after_cr = line[end] == b'\r';
            line.truncate(end);
            if let Some(event) = self.line(line)? {
                return Ok(Some(event));
            }
        }
    }

    /// Applies one line (without its ending) to the pending event.
    fn line(&mut self, line: Bytes) -> Result<Option<SseEvent>, SseError> {
        if line.is_empty() {
            if !self.pending.any {
                self.pending = Pending::default();
                return Ok(None);
            }
            return Ok(Some(self.pending.take()));
        }
        if line[0] == b':' {
            return Ok(None); // comment (keep-alive)
        }
        let (name, value) = match memchr::memchr(b':', &line) {
            Some(i) => {
                let skip = usize::from(line.get(i + 1) == Some(&b' '));
                (&line[..i], line.slice(i + 1 + skip..))
            }
            None => (&line[..], Bytes::new()),
        };
        let value_ref: &[u8] = &value;
        match name {
            b"data" => self.pending.data.push(value),
            b"event" => {
                // An empty name means the default ("message").
                self.pending.event =
                    (!value.is_empty()).then(|| String::from_utf8_lossy(value_ref).into_owned());
            }
            // An id holding NUL is ignored, as browsers do.
            b"id" if !value.contains(&0) => {
                self.pending.id = Some(String::from_utf8_lossy(value_ref).into_owned());
            }
            b"retry" => match parse_retry(value_ref) {
                Some(ms) => self.pending.retry = Some(ms),
                None => return Ok(None),
            },
            _ => return Ok(None), // unknown field: ignored
        }
        self.pending.any = true;
        if self.pending.size() > self.max_event {
            return Err(SseError::EventTooLarge {
                limit: self.max_event,
            });
        }
        Ok(None)
    }
}

/// `retry:` takes ASCII digits only; anything else is ignored.
fn parse_retry(value: &[u8]) -> Option<u32> {
    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(value).ok()?.parse().ok()
}

#[cfg(test)]
mod tests;
