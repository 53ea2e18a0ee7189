//! Stateless era: each request reaches an HTTP upstream with an id (and a
//! progress token) of the connector's own, unique across every caller,
//! and the client's come back in the answer.
//!
//! Stateless clients all number their requests from 1. An upstream that
//! serves them through one shared transport (which its SDK warns against,
//! but which happens) routes answers by id, so two callers' requests with
//! the same id would get each other's answers — results and list answers
//! alike. With ids of the connector's own, no two requests in flight look
//! alike to the upstream.
//!
//! The connector's id is a string no client can guess
//! (`"sp-<random>-<n>"`), so the answer is restored by replacing that
//! exact text wherever it occurs, as the body streams through: no parse
//! of the answer, no holding it whole, and a token split between two
//! chunks is still found.

use std::ops::Range;

use bytes::{Bytes, BytesMut};

use crate::bridge::stdio::envelope::{Envelope, Kind, splice};

/// The connector's own id and token for one request, and the client's.
#[derive(Debug, Clone)]
pub(super) struct Remap {
    /// (ours, the client's) as JSON text.
    pairs: Vec<(Bytes, Bytes)>,
}

/// The request body with the connector's id and token, and how to undo it
/// in the answer; `None` when the body is not a request with an id (it
/// passes as it is).
pub(super) fn rewrite(body: &Bytes, nonce: u64, n: u64) -> Option<(Bytes, Remap)> {
    let text = std::str::from_utf8(body).ok()?;
    let env = Envelope::parse(text).ok()?;
    if env.kind() != Kind::Request {
        return None;
    }
    let id = env.id?;
    let ours_id = format!("\"sp-{nonce:016x}-{n}\"");
    let ours_token = format!("\"sp-{nonce:016x}-{n}-progress\"");
    let mut edits: Vec<(Range<usize>, &str)> = vec![(env.span(id)?, ours_id.as_str())];
    let mut pairs = vec![(
        Bytes::from(ours_id.clone()),
        Bytes::copy_from_slice(id.get().as_bytes()),
    )];
    if let Some(token) = env.meta_progress_token {
        edits.push((env.span(token)?, ours_token.as_str()));
        pairs.push((
            Bytes::from(ours_token.clone()),
            Bytes::copy_from_slice(token.get().as_bytes()),
        ));
    }
    Some((splice(text, edits), Remap { pairs }))
}

impl Remap {
    /// A restorer for one message (a JSON body, or one event's data).
    pub(super) fn restorer(&self) -> Restorer {
        let keep = self.pairs.iter().map(|(o, _)| o.len()).max().unwrap_or(1) - 1;
        Restorer {
            pairs: self.pairs.clone(),
            keep,
            carry: BytesMut::new(),
        }
    }
}

/// Replaces the connector's id and token with the client's in a message
/// that arrives in pieces.
#[derive(Debug)]
pub(super) struct Restorer {
    pairs: Vec<(Bytes, Bytes)>,
    /// Bytes held back at the end of a piece: a token may continue in the
    /// next one.
    keep: usize,
    carry: BytesMut,
}

impl Restorer {
    /// The next piece, restored as far as it can be; the rest waits for
    /// the next piece or [`Restorer::finish`].
    pub(super) fn push(&mut self, piece: &[u8]) -> Bytes {
        self.carry.extend_from_slice(piece);
        let buf = std::mem::take(&mut self.carry).freeze();
        let safe = buf.len().saturating_sub(self.keep);
        let (out, end) = self.replace(&buf, safe);
        self.carry.extend_from_slice(&buf[end..]);
        out
    }

    /// The end of the message: everything held back, restored.
    pub(super) fn finish(&mut self) -> Bytes {
        let buf = std::mem::take(&mut self.carry).freeze();
        self.replace(&buf, buf.len()).0
    }

    /// A whole message at once.
    pub(super) fn whole(&mut self, message: &[u8]) -> Bytes {
        let mut out = BytesMut::from(&self.push(message)[..]);
        out.extend_from_slice(&self.finish());
        out.freeze()
    }

    /// Replaces every token that starts before `safe`; returns the output
    /// and where the unread rest of `buf` begins.
    fn replace(&self, buf: &Bytes, safe: usize) -> (Bytes, usize) {
        let mut out = BytesMut::with_capacity(buf.len());
        let mut at = 0;
        while let Some((pos, i)) = self.find(&buf[at..]).map(|(p, i)| (p + at, i)) {
            if pos >= safe {
                break;
            }
            out.extend_from_slice(&buf[at..pos]);
            out.extend_from_slice(&self.pairs[i].1);
            at = pos + self.pairs[i].0.len();
        }
        let end = safe.max(at);
        if out.is_empty() && at == 0 {
            // Nothing replaced: hand back a slice, no copy.
            return (buf.slice(..end), end);
        }
        out.extend_from_slice(&buf[at..end]);
        (out.freeze(), end)
    }

    /// The first token in `hay`: its position and which pair it is.
    fn find(&self, hay: &[u8]) -> Option<(usize, usize)> {
        self.pairs
            .iter()
            .enumerate()
            .filter_map(|(i, (ours, _))| memchr::memmem::find(hay, ours).map(|p| (p, i)))
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn remap(body: &str) -> (String, Remap) {
        let (b, r) = rewrite(&Bytes::copy_from_slice(body.as_bytes()), 0xabc, 7).expect("request");
        (String::from_utf8(b.to_vec()).expect("utf8"), r)
    }

    #[test]
    fn the_request_gets_the_connectors_id_and_token() {
        let (body, _) = remap(
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","_meta":{"progressToken":"t"}}}"#,
        );
        assert_eq!(
            body,
            r#"{"jsonrpc":"2.0","id":"sp-0000000000000abc-7","method":"tools/call","params":{"name":"x","_meta":{"progressToken":"sp-0000000000000abc-7-progress"}}}"#
        );
        let note = Bytes::from_static(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
        assert!(rewrite(&note, 1, 1).is_none());
    }

    #[test]
    fn the_answer_gets_the_clients_back_at_every_split() {
        let (_, r) = remap(
            r#"{"jsonrpc":"2.0","id":"a\u0062","method":"tools/call","params":{"_meta":{"progressToken":5}}}"#,
        );
        let answer = r#"{"result":{"content":[]},"jsonrpc":"2.0","id":"sp-0000000000000abc-7"}"#;
        let progress = r#"{"method":"notifications/progress","params":{"progressToken":"sp-0000000000000abc-7-progress","progress":1}}"#;
        for (message, want) in [
            (
                answer,
                r#"{"result":{"content":[]},"jsonrpc":"2.0","id":"a\u0062"}"#,
            ),
            (
                progress,
                r#"{"method":"notifications/progress","params":{"progressToken":5,"progress":1}}"#,
            ),
        ] {
            for split in 0..=message.len() {
                let mut restorer = r.restorer();
                let mut out = BytesMut::new();
                out.extend_from_slice(&restorer.push(&message.as_bytes()[..split]));
                out.extend_from_slice(&restorer.push(&message.as_bytes()[split..]));
                out.extend_from_slice(&restorer.finish());
                assert_eq!(&out[..], want.as_bytes(), "split at {split}");
            }
            assert_eq!(&r.restorer().whole(message.as_bytes())[..], want.as_bytes());
        }
    }

    #[test]
    fn a_message_without_the_token_passes_unchanged() {
        let (_, r) = remap(r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#);
        let text = r#"{"jsonrpc":"2.0","id":"sp-0000000000000abc-8","result":{}}"#;
        assert_eq!(&r.restorer().whole(text.as_bytes())[..], text.as_bytes());
    }
}
