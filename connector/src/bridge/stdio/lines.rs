//! A bounded, cancel-safe newline reader for a child's stdout and stderr.

use bytes::Bytes;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

/// One read from [`Lines::next`].
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Line {
    /// A complete line, without its `\n` (or `\r\n`).
    Full(Bytes),
    /// The line grew past the limit; its first `max` bytes. The rest of it
    /// is skipped if the caller keeps reading.
    TooLong(Bytes),
    /// End of stream.
    Eof,
}

/// Splits a byte stream into lines of at most `max` bytes.
#[derive(Debug)]
pub(crate) struct Lines<R> {
    reader: BufReader<R>,
    buf: Vec<u8>,
    max: usize,
    /// Skipping the rest of an over-long line.
    skipping: bool,
}

impl<R: AsyncRead + Unpin> Lines<R> {
    /// Reads lines of at most `max` bytes from `reader`.
    pub fn new(reader: R, max: usize) -> Self {
        Self {
            reader: BufReader::new(reader),
            buf: Vec::new(),
            max,
            skipping: false,
        }
    }

    /// The line limit.
    pub fn max(&self) -> usize {
        self.max
    }

    /// The next line. Cancel-safe: a partly read line is kept for the next
    /// call. A final line without `\n` is returned before [`Line::Eof`].
    pub async fn next(&mut self) -> std::io::Result<Line> {
        loop {
            let available = self.reader.fill_buf().await?;
            if available.is_empty() {
                if self.buf.is_empty() || self.skipping {
                    self.buf.clear();
                    return Ok(Line::Eof);
                }
                return Ok(Line::Full(self.take()));
            }
            let newline = available.iter().position(|b| *b == b'\n');
            let used = newline.map_or(available.len(), |i| i + 1);
            if !self.skipping {
                let part = &available[..newline.unwrap_or(available.len())];
                let room = self.max.saturating_sub(self.buf.len());
                self.buf.extend_from_slice(&part[..part.len().min(room)]);
                if part.len() > room {
                    self.reader.consume(used);
                    self.skipping = newline.is_none();
                    let head = std::mem::take(&mut self.buf);
                    return Ok(Line::TooLong(head.into()));
                }
            } else if newline.is_some() {
                self.skipping = false;
                self.reader.consume(used);
                continue;
            }
            self.reader.consume(used);
            if newline.is_some() {
                return Ok(Line::Full(self.take()));
            }
        }
    }

    fn take(&mut self) -> Bytes {
        let mut line = std::mem::take(&mut self.buf);
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        line.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn all(input: &'static [u8], max: usize) -> Vec<Line> {
        let mut lines = Lines::new(input, max);
        let mut out = Vec::new();
        loop {
            let line = lines.next().await.expect("in-memory read");
            let eof = line == Line::Eof;
            out.push(line);
            if eof {
                return out;
            }
        }
    }

    fn full(s: &'static str) -> Line {
        Line::Full(Bytes::from_static(s.as_bytes()))
    }

    #[tokio::test]
    async fn splits_lines_and_keeps_the_unterminated_tail() {
        assert_eq!(
            all(b"a\r\n\nbc\nd", 8).await,
            vec![full("a"), full(""), full("bc"), full("d"), Line::Eof]
        );
    }

    #[tokio::test]
    async fn over_long_lines_are_cut_and_the_rest_skipped() {
        assert_eq!(
            all(b"0123456789\nok\n", 4).await,
            vec![
                Line::TooLong(Bytes::from_static(b"0123")),
                full("ok"),
                Line::Eof
            ]
        );
        assert_eq!(
            all(b"0123456789", 4).await,
            vec![Line::TooLong(Bytes::from_static(b"0123")), Line::Eof]
        );
        assert_eq!(all(b"0123\n", 4).await, vec![full("0123"), Line::Eof]);
    }
}
