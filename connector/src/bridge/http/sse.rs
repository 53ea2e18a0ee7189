//! An incremental `text/event-stream` parser, without I/O.
//!
//! Bytes go in with [`SseParser::push`] as they arrive from the upstream;
//! complete events come out of [`SseParser::next_item`] as soon as their
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
//!   buffer instead of copying it;
//! - with [`SseParser::streaming`], an event's data is yielded in pieces
//!   ([`SseItem::Data`]) once it grows long: a long `data:` line as it
//!   arrives, before its line ending, and many shorter lines as they
//!   complete; the [`SseItem::Event`] that follows carries the rest. So a
//!   large event is never held whole.
//!
//! Every line and every event is bounded; past a bound the parser fails
//! and stays failed.

use std::collections::VecDeque;

use bytes::{Buf, Bytes, BytesMut};
use sallyport_protocol::data::SseEvent;

use crate::bridge::SseItem;
use pending::Pending;

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
    /// Bytes not yet consumed: at most one partial line after `next_item`
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
    /// Event data this long is yielded in pieces.
    stream_from: usize,
    /// `buf` starts inside a `data:` line whose start was yielded.
    partial: bool,
    /// Data pieces ready to be yielded, in order.
    ready: VecDeque<Bytes>,
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
            stream_from: usize::MAX,
            partial: false,
            ready: VecDeque::new(),
        }
    }

    /// Yields an event's data in pieces once it reaches `from` bytes (at
    /// least 16): a `data:` line that long without its line ending as it
    /// arrives, complete lines once they add up to that much.
    pub(crate) fn streaming(mut self, from: usize) -> Self {
        self.stream_from = from.max(16);
        self
    }

    /// Appends bytes received from the stream. Call [`Self::next_item`]
    /// until it returns `Ok(None)` before pushing again, so that the buffer
    /// stays bounded.
    pub(crate) fn push(&mut self, chunk: Bytes) {
        if self.failed.is_some() {
            return;
        }
        if self.partial && self.buf.is_empty() {
            // Inside a streamed data line: what precedes a line ending is
            // a piece as received, not copied.
            let end = memchr::memchr2(b'\n', b'\r', &chunk).unwrap_or(chunk.len());
            self.stream_piece(chunk.slice(..end));
            if self.failed.is_none() {
                self.buf.extend_from_slice(&chunk[end..]);
            }
            return;
        }
        self.buf.extend_from_slice(&chunk);
    }

    /// The next data piece or complete event, `Ok(None)` when more bytes
    /// are needed.
    pub(crate) fn next_item(&mut self) -> Result<Option<SseItem>, SseError> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        if let Some(piece) = self.ready.pop_front() {
            return Ok(Some(SseItem::Data(piece)));
        }
        match self.advance() {
            Ok(Some(event)) => {
                debug_assert!(self.ready.is_empty(), "pieces after their event");
                Ok(Some(SseItem::Event(event)))
            }
            Ok(None) => Ok(self.ready.pop_front().map(SseItem::Data)),
            Err(e) => {
                self.fail(e);
                Err(e)
            }
        }
    }

    /// The stream stopped inside an event part of whose data was already
    /// yielded: ending here would cut that event short.
    pub(crate) fn inside_streamed_event(&self) -> bool {
        self.pending.streamed
    }

    fn fail(&mut self, e: SseError) {
        self.failed = Some(e);
        self.buf = BytesMut::new();
        self.pending = Pending::default();
        self.ready.clear();
    }

    /// Yields `piece` as more of the current, streamed data line.
    fn stream_piece(&mut self, piece: Bytes) {
        if piece.is_empty() {
            return;
        }
        self.pending.data_len += piece.len();
        self.pending.streamed = true;
        self.ready.push_back(piece);
        if self.pending.size() > self.max_event {
            self.fail(SseError::EventTooLarge {
                limit: self.max_event,
            });
        }
    }

    /// `buf` holds the start of a long `data:` line without its ending:
    /// yields the event's data so far and what has arrived of the line,
    /// and streams the rest of the line as it comes.
    fn start_streaming(&mut self) -> Result<(), SseError> {
        let skip = 5 + usize::from(self.buf.get(5) == Some(&b' '));
        self.buf.advance(skip);
        let value = self.buf.split().freeze();
        self.scanned = 0;
        self.pending.any = true;
        self.pending.streamed = true;
        self.ready.extend(self.pending.take_data());
        self.ready.extend(self.pending.begin_line());
        self.pending.data_len += value.len();
        self.ready.push_back(value);
        self.partial = true;
        self.check_size()
    }

    fn check_size(&self) -> Result<(), SseError> {
        if self.pending.size() > self.max_event {
            return Err(SseError::EventTooLarge {
                limit: self.max_event,
            });
        }
        Ok(())
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
                if self.partial {
                    let piece = self.buf.split().freeze();
                    self.scanned = 0;
                    self.stream_piece(piece);
                    return self.failed.map_or(Ok(None), Err);
                }
                if self.buf.len() >= self.stream_from && self.buf.starts_with(b"data:") {
                    self.start_streaming()?;
                    return Ok(None);
                }
                if self.buf.len() > self.max_line() {
                    return Err(SseError::LineTooLong {
                        limit: self.max_line(),
                    });
                }
                return Ok(None);
            };
            let end = self.scanned + offset;
            if self.partial {
                // The rest of a streamed data line.
                let mut rest = self.buf.split_to(end + 1).freeze();
                self.scanned = 0;
                self.after_cr = rest[end] == b'\r';
                rest.truncate(end);
                self.partial = false;
                self.pending.append(rest);
                self.check_size()?;
                continue;
            }
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
            if !self.ready.is_empty() {
                return Ok(None); // pieces go before anything that follows
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
            b"data" => {
                if let Some(feed) = self.pending.begin_line() {
                    self.pending.data.append(feed);
                }
                self.pending.append(value);
            }
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
        self.check_size()?;
        if self.pending.data_len >= self.stream_from {
            // Many lines that add up: yield them rather than hold them.
            if let Some(data) = self.pending.take_data() {
                self.pending.streamed = true;
                self.ready.push_back(data);
            }
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

mod pending;
#[cfg(test)]
mod tests;
