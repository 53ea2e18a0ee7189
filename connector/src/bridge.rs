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

use bytes::Bytes;
use sallyport_protocol::data::{RequestHead, SseEvent, StreamError, StreamErrorKind};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

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
    /// A server-sent event stream; it ends when the sender is dropped.
    Sse {
        /// HTTP status.
        status: u16,
        /// Upstream session id to report, if any.
        session: Option<String>,
        /// The events, in order.
        events: mpsc::Receiver<SseEvent>,
        /// Set when the stream can fail after it started (an upstream
        /// connection breaking): the error arrives here before `events`
        /// closes, and the client gets an error instead of a quiet end.
        failure: Option<oneshot::Receiver<StreamError>>,
    },
}

/// A boxed future returned by a [`Bridge`].
pub type BridgeFuture<'a> =
    Pin<Box<dyn Future<Output = Result<BridgeReply, StreamError>> + Send + 'a>>;

/// Serves relayed requests for one MCP server.
pub trait Bridge: Send + Sync + std::fmt::Debug {
    /// Handles one request. `cancel` fires when the client went away (the
    /// relay reset the stream); the bridge then stops work for it.
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
