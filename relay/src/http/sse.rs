//! Turns a relayed response into an HTTP body: JSON chunks as they come,
//! or `text/event-stream` events with keep-alive comments, ending with a
//! JSON-RPC error event if the link fails mid-stream.

use std::time::Duration;

use axum::body::Body;
use bytes::{BufMut, Bytes, BytesMut};
use futures_util::{FutureExt, StreamExt};
use sallyport_protocol::data::SseEvent;
use serde_json::value::RawValue;
use tracing::warn;

use crate::filter::{self, Filtered, ListKind};
use crate::forward::{ForwardError, Piece, Response};
use crate::http::error::{UNAVAILABLE, jsonrpc_error};

/// Idle SSE streams get a comment this often, so proxies keep them open.
const KEEPALIVE: Duration = Duration::from_secs(15);

/// Single-line data at least this long is sent as its own chunk rather
/// than copied behind its field name.
const SHARE_DATA_FROM: usize = 4096;

/// One encoded event: the field lines, and for long single-line data the
/// data itself (shared, not copied) and the line endings after it.
#[derive(Debug)]
pub struct Encoded([Option<Bytes>; 3]);

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
    if let Some(id) = &event.id {
        put_field(&mut out, "id", id.as_bytes());
    }
    if let Some(name) = &event.event {
        put_field(&mut out, "event", name.as_bytes());
    }
    if let Some(retry) = event.retry {
        put_field(&mut out, "retry", retry.to_string().as_bytes());
    }
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

/// The body of a JSON response. One that has fully arrived when its head
/// is read (a short answer travels with its head) goes out whole, with a
/// `Content-Length`; anything else streams as it arrives, and a failure
/// aborts the body (the client sees a truncated response, never a hang).
pub fn json_body(mut response: Response) -> Body {
    let mut arrived = Vec::new();
    let mut size = 0;
    let pending = loop {
        match response.next().now_or_never() {
            Some(Ok(None)) => return whole(arrived),
            Some(Ok(Some(Piece::Body(b)))) if size + b.len() <= WHOLE_UP_TO => {
                size += b.len();
                arrived.push(b);
            }
            None => break None,
            Some(other) => break Some(other),
        }
    };
    let rest = futures_util::stream::unfold(Some((response, pending)), |state| async move {
        let (mut response, pending) = state?;
        let next = match pending {
            Some(next) => next,
            None => response.next().await,
        };
        match next {
            Ok(Some(Piece::Body(b))) => Some((Ok(b), Some((response, None)))),
            Ok(Some(Piece::Event(_))) => Some((Err(abort("event inside a JSON body")), None)),
            Ok(None) => None,
            Err(e) => {
                warn!(error = %e, "relayed JSON response failed");
                Some((Err(abort(&e.to_string())), None))
            }
        }
    });
    Body::from_stream(futures_util::stream::iter(arrived.into_iter().map(Ok)).chain(rest))
}

/// A JSON answer at most this long that is already complete is sent whole.
const WHOLE_UP_TO: usize = 64 * 1024;

fn whole(mut parts: Vec<Bytes>) -> Body {
    if parts.len() == 1 {
        return Body::from(parts.remove(0));
    }
    let mut all = BytesMut::with_capacity(parts.iter().map(Bytes::len).sum());
    for part in &parts {
        all.extend_from_slice(part);
    }
    Body::from(all.freeze())
}

/// Which names of a list result the caller may see.
pub type Keep = std::sync::Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// Removes denied items from a list result.
#[derive(Clone)]
pub struct ListFilter {
    /// The list the request asked for.
    pub kind: ListKind,
    /// The policy's verdict per name.
    pub keep: Keep,
}

impl std::fmt::Debug for ListFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ListFilter")
            .field("kind", &self.kind)
            .finish()
    }
}

impl ListFilter {
    /// Filters one JSON-RPC message; on failure the message must not be
    /// forwarded (it could hold items the caller may not see).
    fn apply(&self, data: Bytes) -> Result<Bytes, filter::FilterError> {
        match filter::filter_event_data(&data, self.kind, |name| (self.keep)(name))? {
            Filtered::Unchanged => Ok(data),
            Filtered::Rewritten { body, removed, .. } => {
                tracing::debug!(removed, "denied items removed from a list result");
                Ok(body)
            }
        }
    }
}

/// The body of a JSON list response: read whole (it is bounded by the
/// connector's frame limit), filtered, then sent.
pub fn filtered_json_body(response: Response, filter: ListFilter) -> Body {
    let stream = futures_util::stream::once(async move {
        let mut response = response;
        let mut whole = BytesMut::new();
        loop {
            match response.next().await {
                Ok(Some(Piece::Body(b))) => whole.extend_from_slice(&b),
                Ok(Some(Piece::Event(_))) => return Err(abort("event inside a JSON body")),
                Ok(None) => break,
                Err(e) => {
                    warn!(error = %e, "relayed JSON response failed");
                    return Err(abort(&e.to_string()));
                }
            }
        }
        filter.apply(whole.freeze()).map_err(|e| {
            warn!(error = %e, "list result withheld: it could not be filtered");
            abort(&e.to_string())
        })
    });
    Body::from_stream(stream)
}

/// The body of an SSE response. If the stream fails and `request_id` is
/// known, a final event carries a JSON-RPC error for it. With `filter`,
/// list results in the stream are filtered.
pub fn sse_body(
    response: Response,
    request_id: Option<Box<RawValue>>,
    filter: Option<ListFilter>,
) -> Body {
    struct State {
        response: Response,
        request_id: Option<Box<RawValue>>,
        filter: Option<ListFilter>,
    }
    let stream = futures_util::stream::unfold(
        Some(State {
            response,
            request_id,
            filter,
        }),
        |state| async move {
            let mut s = state?;
            let next = tokio::select! {
                next = s.response.next() => next,
                () = tokio::time::sleep(KEEPALIVE) => {
                    return Some((Ok::<Encoded, std::io::Error>(Bytes::from_static(b": keep-alive\n\n").into()), Some(s)));
                }
            };
            match next {
                Ok(Some(Piece::Event(mut e))) => {
                    if let Some(f) = &s.filter {
                        match f.apply(e.data.clone()) {
                            Ok(data) => e.data = data,
                            Err(err) => {
                                warn!(error = %err, "list result withheld: it could not be filtered");
                                let fail =
                                    ForwardError::Link(format!("unreadable list result: {err}"));
                                return Some((
                                    Ok(failure_event(&fail, s.request_id.as_deref()).into()),
                                    None,
                                ));
                            }
                        }
                    }
                    Some((Ok(encode(&e)), Some(s)))
                }
                Ok(Some(Piece::Body(b))) => Some((
                    Ok(encode(&SseEvent {
                        data: b,
                        ..Default::default()
                    })),
                    Some(s),
                )),
                Ok(None) => None,
                Err(e) => Some((Ok(failure_event(&e, s.request_id.as_deref()).into()), None)),
            }
        },
    )
    .flat_map(|item| {
        let (encoded, failed) = match item {
            Ok(encoded) => (Some(encoded), None),
            Err(e) => (None, Some(e)),
        };
        let chunks = encoded.into_iter().flat_map(Encoded::chunks).map(Ok);
        futures_util::stream::iter(chunks.chain(failed.map(Err)))
    });
    Body::from_stream(stream)
}

fn failure_event(e: &ForwardError, id: Option<&RawValue>) -> Bytes {
    warn!(error = %e, "relayed event stream failed");
    match id {
        Some(id) => encode(&SseEvent {
            data: Bytes::from(jsonrpc_error(Some(id), UNAVAILABLE, &format!("relay: {e}"))),
            ..Default::default()
        })
        .to_bytes(),
        None => Bytes::from(format!(
            ": stream ended: {}\n\n",
            e.to_string().replace(['\n', '\r'], " ")
        )),
    }
}

fn abort(why: &str) -> std::io::Error {
    std::io::Error::other(format!("relayed response failed: {why}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_fields_and_multiline_data() {
        let e = SseEvent {
            id: Some("7".into()),
            event: Some("message".into()),
            data: Bytes::from_static(b"{\"a\":1}\n{\"b\":2}"),
            retry: Some(1000),
        };
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
}
