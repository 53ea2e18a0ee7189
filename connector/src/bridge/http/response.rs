//! Turns an upstream response into a [`BridgeReply`]: small bodies read
//! whole, large JSON bodies streamed as they arrive (bounded in total), a
//! task pumping parsed events for `text/event-stream`.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use http::header::{CONTENT_TYPE, HeaderMap, HeaderValue};
use sallyport_protocol::data::{StreamError, StreamErrorKind};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, debug, warn};

use super::client::Response;
use super::scope::Lease;
use super::sse::SseParser;
use super::{MAX_EVENT, MAX_JSON_BODY, MAX_OTHER_BODY, Target};
use crate::bridge::{BodyStream, BridgeReply, SseItem};

/// Events and data pieces parsed ahead of the link.
const EVENT_QUEUE: usize = 8;
/// A `data:` line longer than this goes on in pieces as it arrives, so an
/// event is held whole only up to this size (and at most [`EVENT_QUEUE`]
/// of them).
const STREAM_EVENT_FROM: usize = 64 * 1024;
/// JSON bodies longer than this, or of unknown length, are relayed as
/// they arrive; shorter ones are read whole and sent with the head.
const STREAM_JSON_FROM: usize = 64 * 1024;

/// What a request still needs once the response head is in.
pub(super) struct Inflight {
    pub target: Arc<Target>,
    /// The relay reset the stream.
    pub cancel: CancellationToken,
    /// The link closed or the connector is stopping.
    pub lease: Lease,
    /// Deadline for the head and a non-streamed body.
    pub deadline: Instant,
    /// The request's id, held in its session until the response ends.
    pub _id: Option<super::ids::IdClaim>,
    /// Stateless era: the client's id and token to put back.
    pub remap: Option<super::remap::Remap>,
}

/// How a response body is relayed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    EventStream,
    Json,
    Other,
}

fn shape(content_type: Option<&HeaderValue>) -> Shape {
    let Some(value) = content_type.and_then(|v| v.to_str().ok()) else {
        return Shape::Other;
    };
    let essence = value.split(';').next().unwrap_or_default().trim();
    if essence.eq_ignore_ascii_case("text/event-stream") {
        Shape::EventStream
    } else if essence.eq_ignore_ascii_case("application/json") {
        Shape::Json
    } else {
        Shape::Other
    }
}

/// The upstream's `Mcp-Session-Id`: visible ASCII (0x21–0x7E) only.
fn session_id(headers: &HeaderMap) -> Result<Option<String>, &'static str> {
    let Some(value) = headers.get("mcp-session-id") else {
        return Ok(None);
    };
    let bytes = value.as_bytes();
    if bytes.is_empty() || !bytes.iter().all(|b| (0x21..=0x7e).contains(b)) {
        return Err("sent an Mcp-Session-Id that is not visible ASCII");
    }
    Ok(Some(String::from_utf8_lossy(bytes).into_owned()))
}

/// The reply for `response`.
pub(super) async fn reply(
    response: Response,
    inflight: Inflight,
) -> Result<BridgeReply, StreamError> {
    let status = response.status().as_u16();
    let session = session_id(response.headers())
        .map_err(|m| inflight.target.error(StreamErrorKind::Upstream, m))?;
    let (limit, streams) = match shape(response.headers().get(CONTENT_TYPE)) {
        Shape::EventStream => {
            let (tx, events) = mpsc::channel(EVENT_QUEUE);
            let (failed, failure) = oneshot::channel();
            let task = pump(response, tx, failed, inflight).in_current_span();
            tokio::spawn(task);
            return Ok(BridgeReply::Sse {
                status,
                session,
                events,
                failure: Some(failure),
            });
        }
        Shape::Json => (MAX_JSON_BODY, true),
        Shape::Other => (MAX_OTHER_BODY, false),
    };
    let declared = response.content_length();
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_big(&inflight.target, limit));
    }
    if streams && declared.is_none_or(|n| n > STREAM_JSON_FROM as u64) {
        return Ok(BridgeReply::JsonStream {
            status,
            session,
            body: stream_body(response, limit, inflight),
        });
    }
    let body = read_body(response, limit, &inflight).await?.freeze();
    let body = match &inflight.remap {
        Some(remap) => remap.restorer().whole(&body),
        None => body,
    };
    Ok(if body.is_empty() {
        BridgeReply::Empty { status, session }
    } else {
        BridgeReply::Json {
            status,
            session,
            body,
        }
    })
}

fn too_big(target: &Target, limit: usize) -> StreamError {
    target.error(
        StreamErrorKind::Overloaded,
        format!("sent a body over {limit} bytes"),
    )
}

/// Reads a whole body of at most `limit` bytes (its declared length is
/// already checked) before the deadline.
async fn read_body(
    mut response: Response,
    limit: usize,
    inflight: &Inflight,
) -> Result<BytesMut, StreamError> {
    // One allocation for a body of known length (bounded by `limit`).
    let declared = response.content_length().unwrap_or(0) as usize;
    let mut body = BytesMut::with_capacity(declared.min(limit));
    while let Some(chunk) = next_chunk(&mut response, inflight).await? {
        if body.len() + chunk.len() > limit {
            return Err(too_big(&inflight.target, limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The body as it arrives, at most `limit` bytes in all, all of it before
/// the deadline; chunks pass on as received (no copy, unless the client's
/// id is put back in one).
fn stream_body(response: Response, limit: usize, inflight: Inflight) -> BodyStream {
    let restorer = inflight.remap.as_ref().map(super::remap::Remap::restorer);
    let state = Some((response, inflight, 0usize, restorer));
    BodyStream::new(futures_util::stream::unfold(
        state,
        move |state| async move {
            let (mut response, inflight, received, mut restorer) = state?;
            match next_chunk(&mut response, &inflight).await {
                // The end: what the restorer held back goes last.
                Ok(None) => restorer
                    .as_mut()
                    .map(super::remap::Restorer::finish)
                    .filter(|rest| !rest.is_empty())
                    .map(|rest| (Ok(rest), None)),
                Ok(Some(chunk)) if received + chunk.len() > limit => {
                    Some((Err(too_big(&inflight.target, limit)), None))
                }
                Ok(Some(chunk)) => {
                    let received = received + chunk.len();
                    let chunk = match restorer.as_mut() {
                        Some(r) => r.push(&chunk),
                        None => chunk,
                    };
                    Some((Ok(chunk), Some((response, inflight, received, restorer))))
                }
                Err(e) => Some((Err(e), None)),
            }
        },
    ))
}

/// The next chunk of a body that must be complete by the deadline;
/// `Ok(None)` at its end.
async fn next_chunk(
    response: &mut Response,
    inflight: &Inflight,
) -> Result<Option<Bytes>, StreamError> {
    let target = &inflight.target;
    let chunk = tokio::select! {
        _ = inflight.cancel.cancelled() => return Err(target.error(StreamErrorKind::Upstream, "request cancelled")),
        _ = inflight.lease.token().cancelled() => return Err(target.stopped()),
        chunk = tokio::time::timeout_at(inflight.deadline, response.chunk()) => chunk,
    };
    match chunk {
        Err(_) => Err(target.timed_out()),
        Ok(Err(e)) => Err(target.error(StreamErrorKind::Upstream, e)),
        Ok(Ok(chunk)) => Ok(chunk),
    }
}

/// Why the event pump stopped.
enum End {
    /// The upstream ended the stream.
    Done,
    /// The relay side is gone (reset, link closed, shutdown).
    Gone,
    /// The upstream broke the stream or a bound.
    Failed(String),
}

/// Reads the event stream and sends each event as soon as it is complete;
/// dropping `tx` ends the reply. Ends early (dropping the response, which
/// closes the upstream connection) when the relay side goes away.
async fn pump(
    mut response: Response,
    tx: mpsc::Sender<SseItem>,
    failed: oneshot::Sender<StreamError>,
    inflight: Inflight,
) {
    let mut parser = SseParser::new(MAX_EVENT).streaming(STREAM_EVENT_FROM);
    // Stateless era: the client's id and token go back into each event.
    let mut restorer = None;
    let end = loop {
        let next = loop {
            match parser.next_item() {
                Ok(Some(event)) => {
                    let event = match (&inflight.remap, event) {
                        (None, event) => event,
                        (Some(remap), SseItem::Data(piece)) => SseItem::Data(
                            restorer
                                .get_or_insert_with(|| remap.restorer())
                                .push(&piece),
                        ),
                        (Some(remap), SseItem::Event(mut event)) => {
                            let mut r = restorer.take().unwrap_or_else(|| remap.restorer());
                            event.data = r.whole(&event.data);
                            SseItem::Event(event)
                        }
                    };
                    if matches!(&event, SseItem::Data(piece) if piece.is_empty()) {
                        continue; // all of it held back, for the next piece
                    }
                    let sent = tokio::select! {
                        sent = tx.send(event) => sent.is_ok(),
                        _ = inflight.cancel.cancelled() => false,
                        _ = inflight.lease.token().cancelled() => false,
                    };
                    if !sent {
                        break Some(End::Gone);
                    }
                }
                Ok(None) => break None,
                Err(e) => break Some(End::Failed(e.to_string())),
            }
        };
        if let Some(end) = next {
            break end;
        }
        let chunk = tokio::select! {
            chunk = response.chunk() => chunk,
            _ = tx.closed() => break End::Gone,
            _ = inflight.cancel.cancelled() => break End::Gone,
            _ = inflight.lease.token().cancelled() => break End::Gone,
        };
        match chunk {
            Ok(Some(chunk)) => parser.push(chunk),
            // Ending inside an event whose start went on would leave the
            // relay with part of an event: that is a failure, not an end.
            Ok(None) if parser.inside_streamed_event() => {
                break End::Failed("the stream ended inside an event".into());
            }
            Ok(None) => break End::Done,
            Err(e) => break End::Failed(e.to_string()),
        }
    };
    let target = &inflight.target;
    match end {
        End::Done => debug!("upstream event stream ended"),
        End::Gone => debug!("event stream abandoned by the relay side"),
        End::Failed(error) => {
            warn!(
                server = %target.server,
                upstream = %target.authority,
                %error,
                "upstream event stream failed"
            );
            // Sent before `tx` is dropped, so the link sees it at the end.
            let _ = failed.send(target.error(
                StreamErrorKind::Upstream,
                format_args!("event stream failed: {error}"),
            ));
        }
    }
    // Dropping `response` here closes the upstream connection if the body
    // was not read to its end.
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types() {
        let shape_of = |s: &'static str| shape(Some(&HeaderValue::from_static(s)));
        assert_eq!(shape_of("text/event-stream"), Shape::EventStream);
        assert_eq!(
            shape_of("Text/Event-Stream; charset=utf-8"),
            Shape::EventStream
        );
        assert_eq!(shape_of("application/json; charset=utf-8"), Shape::Json);
        assert_eq!(shape_of("application/jsonx"), Shape::Other);
        assert_eq!(shape_of("text/plain"), Shape::Other);
        assert_eq!(shape(None), Shape::Other);
    }

    #[test]
    fn session_ids_must_be_visible_ascii() {
        let mut headers = HeaderMap::new();
        assert_eq!(session_id(&headers), Ok(None));
        headers.insert("mcp-session-id", HeaderValue::from_static("abc-123_~"));
        assert_eq!(session_id(&headers), Ok(Some("abc-123_~".into())));
        headers.insert("mcp-session-id", HeaderValue::from_static("a b"));
        assert!(session_id(&headers).is_err());
    }
}
