//! Errors the HTTP endpoint answers with: an HTTP status plus a JSON-RPC
//! error body, so MCP clients show a useful message.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::value::RawValue;

/// JSON-RPC error code for a stateless-era header that disagrees with the
/// body.
pub const HEADER_MISMATCH: i64 = -32020;
/// JSON-RPC error code the relay uses for "upstream unavailable".
pub const UNAVAILABLE: i64 = -32002;

/// An error response.
#[derive(Debug)]
pub struct HttpError {
    /// HTTP status.
    pub status: StatusCode,
    /// JSON-RPC error code.
    pub code: i64,
    /// Human-readable message.
    pub message: String,
    /// The request id, when known, so the client can match the error.
    pub id: Option<Box<RawValue>>,
    /// A `WWW-Authenticate` challenge (401).
    pub challenge: Option<String>,
    /// A `Retry-After` value in seconds.
    pub retry_after: Option<u64>,
    /// The policy rule that decided, for the audit record.
    pub rule: Option<String>,
}

impl HttpError {
    /// A new error without id or challenge.
    pub fn new(status: StatusCode, code: i64, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            id: None,
            challenge: None,
            retry_after: None,
            rule: None,
        }
    }

    /// Sets the request id echoed in the body.
    pub fn with_id(mut self, id: Option<&RawValue>) -> Self {
        self.id = id.map(|i| i.to_owned());
        self
    }

    /// The JSON-RPC error body.
    pub fn body(&self) -> String {
        jsonrpc_error(self.id.as_deref(), self.code, &self.message)
    }
}

/// A JSON-RPC error response as text.
pub fn jsonrpc_error(id: Option<&RawValue>, code: i64, message: &str) -> String {
    serde_json::json!({
        "jsonrpc": "2.0",
        "id": id.map(|i| serde_json::from_str::<serde_json::Value>(i.get()).unwrap_or(serde_json::Value::Null)),
        "error": { "code": code, "message": message },
    })
    .to_string()
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
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
