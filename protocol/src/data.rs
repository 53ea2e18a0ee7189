//! Frames of data streams: one bidirectional stream per client HTTP request,
//! opened by the relay.
//!
//! ```text
//! relay                                         connector
//!   | RequestHead {method, server, session, …} -->  |
//!   | Body(chunk)* , BodyEnd                   -->  |
//!   |  <--  ResponseHead {status, kind, session}    |
//!   |  <--  Body(chunk)* (JSON) | Event(sse)*       |
//!   |  <--  End  or  Error {kind, message}          |
//! ```
//!
//! From protocol version 2 on, an event's data may go ahead of it in
//! [`DataFrame::EventData`] pieces, so that neither end holds a large
//! event whole.
//!
//! MCP JSON travels as opaque bytes and is never re-encoded.

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::names::ServerName;

/// A frame on a data stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum DataFrame {
    /// Relay → connector: what the client asked for.
    RequestHead(RequestHead),
    /// A chunk of a body: the request body (relay → connector) or a JSON
    /// response body (connector → relay).
    Body(Bytes),
    /// Relay → connector: the request body is complete.
    BodyEnd,
    /// Connector → relay: status and shape of the response.
    ResponseHead(ResponseHead),
    /// Connector → relay: one server-sent event.
    Event(SseEvent),
    /// Connector → relay: the response is complete.
    End,
    /// Either way: the stream failed; no more frames follow.
    Error(StreamError),
    /// Connector → relay, protocol version 2 and later: the next piece of
    /// the data of the event being sent. The [`DataFrame::Event`] that
    /// follows the pieces completes the event: its data is the rest of
    /// the data (appended to the pieces), and it carries the other fields.
    /// Pieces are raw bytes of the joined data (lines joined with `\n`).
    EventData(Bytes),
}

/// The HTTP method of the client's request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Method {
    /// `POST`: a JSON-RPC message.
    Post,
    /// `GET`: the server-initiated SSE stream.
    Get,
    /// `DELETE`: end the session.
    Delete,
}

/// Who is calling: the authenticated user and the agent acting for it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Caller {
    /// The user or service subject.
    pub subject: String,
    /// The user's groups.
    pub groups: Vec<String>,
    /// The acting agent (OAuth client), when known.
    pub agent: Option<String>,
}

/// The head of a relayed request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestHead {
    /// Correlates relay and connector logs.
    pub request_id: u64,
    /// The HTTP method.
    pub method: Method,
    /// The target server.
    pub server: ServerName,
    /// The upstream session this request belongs to (session era).
    pub session: Option<String>,
    /// The MCP protocol version the relay decided the request's era by
    /// (`sallyport_mcp::Era`): the client's `MCP-Protocol-Version`, or for
    /// a stateless-era request that carries it only in its body, the
    /// body's version; `None` for a session-era request without one. The
    /// relay sends only versions it knows; a connector refuses any other.
    pub protocol_version: Option<String>,
    /// `Last-Event-ID` as the client sent it (resumption).
    pub last_event_id: Option<String>,
    /// The authenticated caller.
    pub caller: Caller,
    /// Other forwarded headers, lowercase names: `Accept`, and in the
    /// stateless era only, `Mcp-Method`, `Mcp-Name` and `Mcp-Param-*`
    /// after the relay checked them (each at most once).
    pub headers: Vec<(String, String)>,
}

/// The shape of a response body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BodyKind {
    /// No body (e.g. 202 Accepted).
    Empty,
    /// One JSON document, sent as [`DataFrame::Body`] chunks.
    Json,
    /// `text/event-stream`, sent as [`DataFrame::Event`]s.
    EventStream,
}

/// The head of a relayed response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponseHead {
    /// HTTP status.
    pub status: u16,
    /// Body shape.
    pub kind: BodyKind,
    /// The upstream `Mcp-Session-Id`, when the server issued one.
    pub session: Option<String>,
}

/// One server-sent event.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SseEvent {
    /// `id:` field.
    pub id: Option<String>,
    /// `event:` field.
    pub event: Option<String>,
    /// `data:` payload (lines joined with `\n`).
    pub data: Bytes,
    /// `retry:` field, milliseconds.
    pub retry: Option<u32>,
}

/// Why a stream failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamError {
    /// What kind of failure.
    pub kind: StreamErrorKind,
    /// Details for logs and the client's error message.
    pub message: String,
}

/// Kinds of stream failure; each maps to an HTTP status at the relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum StreamErrorKind {
    /// The server name is unknown to this connector.
    UnknownServer,
    /// The upstream session does not exist (any more).
    UnknownSession,
    /// The upstream server could not be reached or crashed.
    Upstream,
    /// A limit was hit (process count, body size…).
    Overloaded,
    /// The request was malformed.
    BadRequest,
    /// Anything else.
    Internal,
}
