//! The interface between the link and the local MCP servers.
//!
//! The link turns each data stream into a [`BridgeRequest`] and hands it to
//! the [`Bridge`] of the named server; the bridge answers with a
//! [`BridgeReply`] (or a [`StreamError`]), which the link sends back as
//! frames. Bridges know MCP's Streamable HTTP semantics; the link knows
//! only frames.

pub mod http;
pub mod stdio;

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::Stream;
use sallyport_mcp::Era;
use sallyport_protocol::data::{RequestHead, SseEvent, StreamError, StreamErrorKind};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tracing::warn;

/// Identifies the relay link a request came through, so that a bridge can
/// end the sessions of a link that is gone.
pub type LinkTag = u64;

/// One relayed client request.
#[derive(Debug, Clone)]
pub struct BridgeRequest {
    /// The link it came through.
    pub origin: LinkTag,
    /// Method, server, session, headers and caller.
    pub head: RequestHead,
    /// The whole request body (bounded by the link).
    pub body: Bytes,
}

/// A bridge's answer.
#[derive(Debug)]
pub enum BridgeReply {
    /// A status without a body (202 for notifications and responses, 200
    /// for DELETE, 405 for an unsupported method…).
    Empty {
        /// HTTP status.
        status: u16,
        /// Upstream session id to report, if any.
        session: Option<String>,
    },
    /// One JSON document.
    Json {
        /// HTTP status.
        status: u16,
        /// Upstream session id to report (set on `initialize`).
        session: Option<String>,
        /// The JSON body, passed through byte for byte.
        body: Bytes,
    },
    /// A JSON document relayed as it arrives (a large one, or one of
    /// unknown length), so the connector never holds it whole. An error
    /// after the first chunk ends the response with that error, which the
    /// client sees as a broken body, never as a complete short document.
    JsonStream {
        /// HTTP status.
        status: u16,
        /// Upstream session id to report, if any.
        session: Option<String>,
        /// The body's chunks, in order.
        body: BodyStream,
    },
    /// A server-sent event stream; it ends when the sender is dropped.
    Sse {
        /// HTTP status.
        status: u16,
        /// Upstream session id to report, if any.
        session: Option<String>,
        /// The events, in order.
        events: mpsc::Receiver<SseItem>,
        /// Set when the stream can fail after it started (an upstream
        /// connection breaking): the error arrives here before `events`
        /// closes, and the client gets an error instead of a quiet end.
        failure: Option<oneshot::Receiver<StreamError>>,
    },
}

/// What an event stream carries: events, and ahead of a large one, its
/// data in pieces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SseItem {
    /// The next piece of the data of the event in progress (raw bytes of
    /// its data lines joined with `\n`), sent ahead because the event is
    /// large.
    Data(Bytes),
    /// A complete event; its `data` is the part not sent as pieces.
    Event(SseEvent),
}

impl From<SseEvent> for SseItem {
    fn from(event: SseEvent) -> Self {
        SseItem::Event(event)
    }
}

/// The chunks of a body that is relayed while it is read; polled by the
/// link's stream task itself (no task or channel in between).
pub struct BodyStream(Pin<Box<dyn Stream<Item = Result<Bytes, StreamError>> + Send>>);

impl BodyStream {
    /// Wraps `chunks`; an `Err` item is the last one.
    pub fn new(chunks: impl Stream<Item = Result<Bytes, StreamError>> + Send + 'static) -> Self {
        BodyStream(Box::pin(chunks))
    }
}

impl Stream for BodyStream {
    type Item = Result<Bytes, StreamError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.0.as_mut().poll_next(cx)
    }
}

impl std::fmt::Debug for BodyStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BodyStream")
    }
}

/// A boxed future returned by a [`Bridge`].
pub type BridgeFuture<'a> =
    Pin<Box<dyn Future<Output = Result<BridgeReply, StreamError>> + Send + 'a>>;

/// Serves relayed requests for one MCP server.
pub trait Bridge: Send + Sync + std::fmt::Debug {
    /// Handles one request. `cancel` is the request's scope: it fires when
    /// the request ends for any reason — answered, the client went away
    /// (the relay stopped the stream), or the link or connector is closing.
    /// When the relay stops the stream, the returned future is dropped
    /// *before* `cancel` fires, so only work the bridge spawned (a child's
    /// pending answer, an upstream call carried on elsewhere) sees it; work
    /// inside the future ends by being dropped.
    fn handle(&self, request: BridgeRequest, cancel: CancellationToken) -> BridgeFuture<'_>;

    /// The link `origin` is gone: end the sessions that came through it.
    fn link_closed(&self, origin: LinkTag);

    /// The connector is stopping: end every session and child process.
    fn shutdown(&self);
}

/// Shorthand for a [`StreamError`].
pub fn stream_error(kind: StreamErrorKind, message: impl Into<String>) -> StreamError {
    StreamError {
        kind,
        message: message.into(),
    }
}

/// The protocol era of a request, as the relay decided it: its
/// `RequestHead.protocol_version` (a known stateless-era version for every
/// stateless request; the client's session-era version or none for the
/// session era), checked against the version the body's `_meta` names
/// (`meta`, when the bridge reads the body) with the rule the relay uses.
/// A version this build does not know is refused, and logged, never
/// guessed: such a request must not start anything.
pub(crate) fn era(head: &RequestHead, meta: Option<&str>) -> Result<Era, StreamError> {
    Era::decide(head.protocol_version.as_deref(), meta).map_err(|e| {
        warn!(
            request.id = head.request_id,
            server = %head.server,
            version = ?head.protocol_version,
            meta,
            error = %e,
            "request refused: no protocol era"
        );
        stream_error(StreamErrorKind::BadRequest, e.to_string())
    })
}

#[cfg(test)]
mod tests {
    use sallyport_protocol::ServerName;
    use sallyport_protocol::data::{Caller, Method};

    use super::*;

    fn head(version: Option<&str>) -> RequestHead {
        RequestHead {
            request_id: 1,
            method: Method::Post,
            server: ServerName::new("s").expect("valid name"),
            session: None,
            protocol_version: version.map(str::to_owned),
            last_event_id: None,
            caller: Caller::default(),
            headers: Vec::new(),
        }
    }

    #[test]
    fn the_era_is_the_relays_decision_and_unknown_versions_are_refused() {
        assert_eq!(era(&head(None), None), Ok(Era::Session));
        assert_eq!(era(&head(Some("2025-03-26")), None), Ok(Era::Session));
        assert_eq!(era(&head(Some("2026-07-28")), None), Ok(Era::Stateless));
        let modern = Some("2026-07-28");
        assert_eq!(era(&head(modern), modern), Ok(Era::Stateless));
        for bad in ["9999", "2027-01-01", "DRAFT-2026-v1", ""] {
            let e = era(&head(Some(bad)), None).expect_err(bad);
            assert_eq!(e.kind, StreamErrorKind::BadRequest, "{bad}");
            assert!(
                e.message.contains("unsupported MCP protocol version"),
                "{}",
                e.message
            );
        }
        let mixed = era(&head(Some("2025-11-25")), modern).expect_err("mismatch");
        assert_eq!(mixed.kind, StreamErrorKind::BadRequest);
        assert!(era(&head(None), Some("5")).is_err());
    }
}
