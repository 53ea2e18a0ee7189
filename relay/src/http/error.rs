//! Errors the HTTP endpoint answers with: an HTTP status plus a JSON-RPC
//! error body, so MCP clients show a useful message.
//!
//! What a client reads is a category and the relay's request id; what went
//! wrong inside (a connector's or upstream's own words, which can name a
//! private address or a command path) is the error's `detail`, written to
//! the log and the audit record under that request id, never to the
//! client.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sallyport_protocol::data::StreamErrorKind;
use serde_json::value::RawValue;

use crate::forward::ForwardError;
use crate::http::wire::ErrorKind;

/// An error response.
#[derive(Debug)]
pub struct HttpError {
    /// What went wrong: the row of the wire table the status, code and
    /// audit event come from.
    kind: ErrorKind,
    /// Human-readable message.
    pub message: String,
    /// The request id, when known, so the client can match the error.
    pub id: Option<Box<RawValue>>,
    /// A `WWW-Authenticate` challenge (401).
    pub challenge: Option<String>,
    /// A `Retry-After` value in seconds.
    pub retry_after: Option<u64>,
    /// The request id and what went wrong inside (boxed: most errors
    /// have neither until the handler adds the id).
    trace: Option<Box<Trace>>,
}

/// What ties an error to the log and the audit record.
#[derive(Debug, Default)]
struct Trace {
    /// The relay's request id, echoed in the body's `error.data`.
    request: Option<u64>,
    /// What went wrong inside, for the log and audit only.
    detail: Option<String>,
    /// The policy rule (or limit) that decided, for the audit record.
    rule: Option<String>,
}

impl HttpError {
    /// A new error of `kind` (status and code from the wire table),
    /// without id or challenge.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            id: None,
            challenge: None,
            retry_after: None,
            trace: None,
        }
    }

    /// What went wrong, as the wire table knows it.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The HTTP status, from the wire table.
    pub fn status(&self) -> StatusCode {
        self.kind.wire().status
    }

    /// The JSON-RPC error code, from the wire table.
    pub fn code(&self) -> i64 {
        self.kind.wire().code
    }

    /// Adds what went wrong inside (log and audit only).
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.trace.get_or_insert_default().detail = Some(detail.into());
        self
    }

    /// Names the policy rule or limit that decided (audit only).
    pub fn with_rule(mut self, rule: impl Into<String>) -> Self {
        self.trace.get_or_insert_default().rule = Some(rule.into());
        self
    }

    /// The rule that decided, if any.
    pub fn rule(&self) -> Option<String> {
        self.trace.as_ref()?.rule.clone()
    }

    /// What went wrong inside, if known.
    pub fn detail(&self) -> Option<&str> {
        self.trace.as_ref()?.detail.as_deref()
    }

    /// Ties the error to request `id` (shown to the client) and hands back
    /// the detail, which only the log and audit record may keep.
    pub fn for_request(&mut self, id: u64) -> Option<String> {
        let trace = self.trace.get_or_insert_default();
        trace.request = Some(id);
        trace.detail.take()
    }

    /// Sets the request id echoed in the body.
    pub fn with_id(mut self, id: Option<&RawValue>) -> Self {
        self.id = id.map(|i| i.to_owned());
        self
    }

    /// The JSON-RPC error body.
    pub fn body(&self) -> String {
        let mut data = serde_json::json!({ "category": category(self.status()) });
        if let Some(request) = self.trace.as_ref().and_then(|t| t.request) {
            data["requestId"] = request.to_string().into();
        }
        let error =
            serde_json::json!({ "code": self.code(), "message": self.message, "data": data });
        envelope(self.id.as_deref(), error)
    }
}

/// The kind of failure, for programs (`error.data.category`); the message
/// says it for people.
pub fn category(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "invalid_request",
        401 => "unauthenticated",
        403 => "forbidden",
        404 => "not_found",
        405 => "method_not_allowed",
        408 => "request_timeout",
        409 => "conflict",
        413 => "too_large",
        429 => "rate_limited",
        502 => "upstream_failed",
        503 => "unavailable",
        504 => "upstream_timeout",
        _ if status.is_client_error() => "invalid_request",
        _ => "internal",
    }
}

/// The response header that names the relay's request id, on every answer
/// of `/mcp/<server>`: what an operator looks up in the log and audit.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// A JSON-RPC error response as text.
pub fn jsonrpc_error(id: Option<&RawValue>, code: i64, message: &str) -> String {
    envelope(id, serde_json::json!({ "code": code, "message": message }))
}

fn envelope(id: Option<&RawValue>, error: serde_json::Value) -> String {
    serde_json::json!({
        "jsonrpc": "2.0",
        "id": id.map(|i| serde_json::from_str::<serde_json::Value>(i.get()).unwrap_or(serde_json::Value::Null)),
        "error": error,
    })
    .to_string()
}

/// What a client is told when a relayed request fails: the category of
/// `e`, never its text (the connector's words may name private addresses
/// or commands).
pub fn forward_category(e: &ForwardError) -> &'static str {
    match e {
        ForwardError::Link(_) => "the connector link failed",
        ForwardError::Timeout(_) => "the MCP server did not answer in time",
        ForwardError::Overloaded => "the connector is at its limit of concurrent requests",
        ForwardError::Upstream(se) => match se.kind {
            StreamErrorKind::UnknownSession => "session not found: initialize a new session",
            StreamErrorKind::UnknownServer => "the MCP server is not served by its connector now",
            StreamErrorKind::Overloaded => {
                "the MCP server is at capacity for this caller or server"
            }
            StreamErrorKind::BadRequest => "the connector refused the request as malformed",
            _ => "the MCP server failed",
        },
    }
}

/// The one mapping of a failed relay to the wire: status, JSON-RPC code and
/// category for the client; the connector's own message as the detail.
/// A bad request keeps the connector's message: it is about the client's
/// own request, and the connector never puts addresses or paths in one.
pub fn forward_error(e: ForwardError) -> HttpError {
    let kind = match &e {
        ForwardError::Link(_) => ErrorKind::LinkFailed,
        ForwardError::Timeout(_) => ErrorKind::UpstreamTimeout,
        ForwardError::Overloaded => ErrorKind::Overloaded,
        ForwardError::Upstream(se) => match se.kind {
            StreamErrorKind::UnknownSession => ErrorKind::SessionNotFound,
            StreamErrorKind::UnknownServer | StreamErrorKind::Overloaded => ErrorKind::Overloaded,
            StreamErrorKind::Upstream => ErrorKind::UpstreamFailed,
            StreamErrorKind::BadRequest => ErrorKind::UpstreamRefused,
            _ => ErrorKind::Internal,
        },
    };
    let message = match &e {
        ForwardError::Upstream(se) if se.kind == StreamErrorKind::BadRequest => {
            format!("{}: {}", forward_category(&e), se.message)
        }
        _ => forward_category(&e).to_owned(),
    };
    let mut err = HttpError::new(kind, message).with_detail(crate::error::chain(&e));
    if err.status() == StatusCode::SERVICE_UNAVAILABLE {
        err.retry_after = Some(1);
    }
    err
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let mut response = (
            self.status(),
            [(header::CONTENT_TYPE, "application/json")],
            self.body(),
        )
            .into_response();
        if let Some(challenge) = self.challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, challenge);
        }
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}
