//! Turns a relayed response into an HTTP body: JSON chunks as they come,
//! or `text/event-stream` events with keep-alive comments, ending with a
//! JSON-RPC error event if the link fails between events.

mod encode;

use std::time::Duration;

use axum::body::Body;
use bytes::{Bytes, BytesMut};
use futures_util::stream::BoxStream;
use futures_util::{FutureExt, Stream, StreamExt};
use sallyport_protocol::data::SseEvent;
use serde_json::value::RawValue;
use tracing::warn;

use crate::error::chain;
use crate::filter::{self, Filtered, ListKind};
use crate::forward::{ForwardError, Piece, Response};
use crate::http::error::{forward_category, jsonrpc_error};
use crate::http::wire::UNAVAILABLE;
use encode::{Encoded, encode, encode_end, encode_piece};

/// Idle SSE streams get a comment this often, so proxies keep them open.
const KEEPALIVE: Duration = Duration::from_secs(15);

/// The body of a JSON response. One that has fully arrived when its head
/// is read (a short answer travels with its head) goes out whole, with a
/// `Content-Length`; anything else streams as it arrives, and a failure
/// aborts the body (the client sees a truncated response, never a hang).
///
/// With `guard` (a filter for a request that is not a list), an answer
/// sent whole is still filtered if it carries a list result.
pub fn json_body(mut response: Response, guard: Option<ListFilter>) -> Body {
    let mut arrived = Vec::new();
    let mut size = 0;
    let pending = loop {
        match response.next().now_or_never() {
            Some(Ok(None)) => return guarded(whole(arrived), guard.as_ref()),
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
            Ok(Some(Piece::Event(_) | Piece::EventData(_))) => Some((Err(event_in_json()), None)),
            Ok(None) => None,
            Err(e) => {
                warn!(error = %chain(&e), "relayed JSON response failed");
                Some((Err(abort(&chain(&e))), None))
            }
        }
    });
    Body::from_stream(futures_util::stream::iter(arrived.into_iter().map(Ok)).chain(rest))
}

/// A JSON answer at most this long that is already complete is sent whole.
const WHOLE_UP_TO: usize = 64 * 1024;

fn whole(mut parts: Vec<Bytes>) -> Bytes {
    if parts.len() == 1 {
        return parts.remove(0);
    }
    let mut all = BytesMut::with_capacity(parts.iter().map(Bytes::len).sum());
    for part in &parts {
        all.extend_from_slice(part);
    }
    all.freeze()
}

/// A whole JSON answer, filtered by `guard` when there is one; one that
/// cannot be read as JSON-RPC is withheld (the body is aborted).
fn guarded(data: Bytes, guard: Option<&ListFilter>) -> Body {
    let Some(guard) = guard else {
        return Body::from(data);
    };
    match guard.apply(data) {
        Ok(data) => Body::from(data),
        Err(e) => {
            warn!(error = %e, "answer withheld: it could not be checked for a list result");
            Body::from_stream(futures_util::stream::once(async move {
                Err::<Bytes, _>(abort(&e.to_string()))
            }))
        }
    }
}

/// Which names of a list result the caller may see, by list kind.
pub type Keep = std::sync::Arc<dyn Fn(ListKind, &str) -> bool + Send + Sync>;

/// Removes denied items from list results.
#[derive(Clone)]
pub struct ListFilter {
    /// The list the request asked for: its answer is held whole (bounded)
    /// and filtered. `None` for any other request: a whole message that
    /// carries a list result anyway (an upstream that answered another
    /// request's list on this stream) is filtered too, but the pieces of a
    /// large event pass as they come.
    pub kind: Option<ListKind>,
    /// Hold the pieces of a large event and filter it whole even though
    /// the request is not a list: a GET stream, where an answer (a list
    /// among them) comes only as a replay, and bulk data does not flow.
    pub hold_pieces: bool,
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
        let filtered = match self.kind {
            Some(kind) => filter::filter_event_data(&data, kind, |name| (self.keep)(kind, name))?,
            None => filter::filter_any(&data, |kind, name| (self.keep)(kind, name))?,
        };
        match filtered {
            Filtered::Unchanged => Ok(data),
            Filtered::Rewritten { body, removed, .. } => {
                if self.kind.is_none() {
                    warn!(
                        removed,
                        "a list result on a stream that did not ask for one was filtered"
                    );
                } else {
                    tracing::debug!(removed, "denied items removed from a list result");
                }
                Ok(body)
            }
        }
    }

    /// Whether the pieces of a large event are held to filter it whole.
    fn holds_pieces(&self) -> bool {
        self.kind.is_some() || self.hold_pieces
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
                Ok(Some(Piece::Event(_) | Piece::EventData(_))) => return Err(event_in_json()),
                Ok(None) => break,
                Err(e) => {
                    warn!(error = %chain(&e), "relayed JSON response failed");
                    return Err(abort(&chain(&e)));
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

/// The body of an SSE response. If the stream fails between events and
/// `request_id` is known, a final event carries a JSON-RPC error for it;
/// if it fails inside an event whose data is partly written, the body is
/// aborted (an event is never completed with part of its data). With
/// `filter`, list results in the stream are filtered: an event's data
/// pieces are then held (up to the link's frame limit) and filtered whole.
pub fn sse_body(
    response: Response,
    request_id: Option<Box<RawValue>>,
    filter: Option<ListFilter>,
) -> Body {
    let held_limit = response.max_frame();
    events_body(pieces(response).boxed(), held_limit, request_id, filter)
}

/// `response`'s body pieces, ending where it ends (or at its failure).
fn pieces(response: Response) -> impl Stream<Item = Result<Piece, ForwardError>> + Send {
    futures_util::stream::unfold(Some(response), |response| async move {
        let mut response = response?;
        match response.next().await {
            Ok(Some(piece)) => Some((Ok(piece), Some(response))),
            Ok(None) => None,
            Err(e) => Some((Err(e), None)),
        }
    })
}

/// [`sse_body`] over any source of pieces; `held_limit` bounds what is
/// held of one event for the filter.
fn events_body(
    pieces: BoxStream<'static, Result<Piece, ForwardError>>,
    held_limit: usize,
    request_id: Option<Box<RawValue>>,
    filter: Option<ListFilter>,
) -> Body {
    let stream = futures_util::stream::unfold(
        Some(Events {
            pieces,
            held_limit,
            request_id,
            filter,
            open: false,
            held: BytesMut::new(),
        }),
        |state| async move {
            let mut s = state?;
            match s.step().await {
                Step::Send(encoded) => Some((Ok(encoded), Some(s))),
                Step::Last(encoded) => Some((Ok(encoded), None)),
                Step::Abort(e) => Some((Err(e), None)),
                Step::End => None,
            }
        },
    )
    .flat_map(|item: Result<Encoded, std::io::Error>| {
        let (encoded, failed) = match item {
            Ok(encoded) => (Some(encoded), None),
            Err(e) => (None, Some(e)),
        };
        let chunks = encoded.into_iter().flat_map(Encoded::chunks).map(Ok);
        futures_util::stream::iter(chunks.chain(failed.map(Err)))
    });
    Body::from_stream(stream)
}

/// An event stream being relayed.
struct Events {
    pieces: BoxStream<'static, Result<Piece, ForwardError>>,
    request_id: Option<Box<RawValue>>,
    filter: Option<ListFilter>,
    /// Part of an event's data has been written to the client.
    open: bool,
    /// Data pieces of an event to filter, and their bound.
    held: BytesMut,
    held_limit: usize,
}

/// What to do next with the client's body.
enum Step {
    /// Send this and go on.
    Send(Encoded),
    /// Send this and end the body.
    Last(Encoded),
    /// Abort the body: the client must not take what it got as complete.
    Abort(std::io::Error),
    /// The stream ended cleanly.
    End,
}

impl Events {
    async fn step(&mut self) -> Step {
        let next = if self.open {
            // No keep-alive comment inside an event: it would end it.
            self.pieces.next().await
        } else {
            tokio::select! {
                next = self.pieces.next() => next,
                () = tokio::time::sleep(KEEPALIVE) => {
                    return Step::Send(Bytes::from_static(b": keep-alive\n\n").into());
                }
            }
        };
        let inside = self.open || !self.held.is_empty();
        match next {
            Some(Ok(Piece::EventData(piece))) => self.piece(piece),
            Some(Ok(Piece::Event(event))) => self.event(event),
            Some(Ok(Piece::Body(_))) if inside => self.abort("a body chunk inside an event"),
            // Lenient: a body chunk in an event stream is one event.
            Some(Ok(Piece::Body(data))) => self.event(SseEvent {
                data,
                ..Default::default()
            }),
            None if inside => self.abort("the stream ended inside an event"),
            None => Step::End,
            Some(Err(e)) if self.open => self.abort(&chain(&e)),
            Some(Err(e)) => Step::Last(failure_event(&e, self.request_id.as_deref()).into()),
        }
    }

    fn piece(&mut self, piece: Bytes) -> Step {
        if !self.filter.as_ref().is_some_and(ListFilter::holds_pieces) {
            let first = !self.open;
            self.open = true;
            return Step::Send(encode_piece(&piece, first));
        }
        if self.held.len() + piece.len() > self.held_limit {
            let limit = self.held_limit;
            return self.withhold(&format!("an event over {limit} bytes"));
        }
        self.held.extend_from_slice(&piece);
        // Nothing to send yet: wait for the rest of the event.
        Step::Send(Encoded::default())
    }

    fn event(&mut self, mut event: SseEvent) -> Step {
        if self.open {
            self.open = false;
            return Step::Send(encode_end(&event));
        }
        let Some(filter) = &self.filter else {
            return Step::Send(encode(&event));
        };
        if !self.held.is_empty() {
            if self.held.len() + event.data.len() > self.held_limit {
                let limit = self.held_limit;
                return self.withhold(&format!("an event over {limit} bytes"));
            }
            self.held.extend_from_slice(&event.data);
            event.data = std::mem::take(&mut self.held).freeze();
        }
        match filter.apply(event.data.clone()) {
            Ok(data) => {
                event.data = data;
                Step::Send(encode(&event))
            }
            Err(err) => self.withhold(&err.to_string()),
        }
    }

    /// A list result that cannot be filtered is not forwarded.
    fn withhold(&mut self, why: &str) -> Step {
        warn!(error = %why, "list result withheld: it could not be filtered");
        let category = "the MCP server's list result could not be read, so it was withheld";
        Step::Last(failure_text(category, self.request_id.as_deref()).into())
    }

    fn abort(&mut self, why: &str) -> Step {
        warn!(event = "stream.failed_in_event", error = %why, "relayed event stream failed inside an event");
        Step::Abort(abort(why))
    }
}

/// The client reads the failure's category; the log has its detail.
fn failure_event(e: &ForwardError, id: Option<&RawValue>) -> Bytes {
    warn!(error = %chain(e), "relayed event stream failed");
    failure_text(forward_category(e), id)
}

/// The last event of a failed stream: a JSON-RPC error for the request
/// when its id is known, else a comment.
fn failure_text(category: &str, id: Option<&RawValue>) -> Bytes {
    match id {
        Some(id) => encode(&SseEvent {
            data: Bytes::from(jsonrpc_error(Some(id), UNAVAILABLE, category)),
            ..Default::default()
        })
        .to_bytes(),
        None => Bytes::from(format!(": stream ended: {category}\n\n")),
    }
}

/// A connector sent an event frame in a JSON response: the body is cut.
fn event_in_json() -> std::io::Error {
    warn!("relayed JSON response failed: the connector sent an event inside it");
    abort("event inside a JSON body")
}

fn abort(why: &str) -> std::io::Error {
    std::io::Error::other(format!("relayed response failed: {why}"))
}

#[cfg(test)]
mod tests;
