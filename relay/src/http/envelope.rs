//! The part of a JSON-RPC message the relay reads: `id`, `method`,
//! `params.name`, `params.uri` and the protocol version in `params._meta`.
//! Parsed with borrowed serde types; the body itself is forwarded untouched.

use serde::Deserialize;
use serde_json::value::RawValue;

/// The `_meta` key that carries the protocol version in the stateless era.
pub const META_PROTOCOL_VERSION: &str = "io.modelcontextprotocol/protocolVersion";

/// What kind of JSON-RPC message a body holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Has `id` and `method`.
    Request,
    /// Has `method`, no `id`.
    Notification,
    /// Has `id` and `result` or `error`.
    Response,
}

/// The envelope of one JSON-RPC message.
#[derive(Debug)]
pub struct Envelope<'a> {
    /// Request, notification or response.
    pub kind: Kind,
    /// The id, verbatim (for error responses).
    pub id: Option<&'a RawValue>,
    /// The method, for requests and notifications.
    pub method: Option<String>,
    /// `params.name` (tool or prompt name).
    pub name: Option<String>,
    /// `params.uri` (resource URI).
    pub uri: Option<String>,
    /// `params._meta["io.modelcontextprotocol/protocolVersion"]`.
    pub meta_version: Option<String>,
    /// `params.ref` of `completion/complete`: (`type`, name or uri).
    pub reference: Option<(String, String)>,
}

#[derive(Deserialize)]
struct Raw<'a> {
    jsonrpc: Option<&'a str>,
    #[serde(borrow)]
    id: Option<&'a RawValue>,
    method: Option<String>,
    #[serde(borrow)]
    params: Option<&'a RawValue>,
    #[serde(borrow)]
    result: Option<&'a RawValue>,
    #[serde(borrow)]
    error: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct Params {
    name: Option<serde_json::Value>,
    uri: Option<serde_json::Value>,
    #[serde(rename = "_meta")]
    meta: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(rename = "ref")]
    reference: Option<Reference>,
}

#[derive(Deserialize)]
struct Reference {
    #[serde(rename = "type")]
    kind: Option<String>,
    name: Option<String>,
    uri: Option<String>,
}

/// Why a body is not a usable JSON-RPC message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EnvelopeError {
    /// Not JSON at all (JSON-RPC -32700).
    #[error("body is not valid JSON: {0}")]
    Parse(String),
    /// JSON, but not one JSON-RPC 2.0 message (JSON-RPC -32600).
    #[error("not a JSON-RPC 2.0 message: {0}")]
    Invalid(&'static str),
}

impl EnvelopeError {
    /// The JSON-RPC error code.
    pub fn code(&self) -> i64 {
        match self {
            EnvelopeError::Parse(_) => -32700,
            EnvelopeError::Invalid(_) => -32600,
        }
    }
}

/// Parses the envelope of `body`.
pub fn parse(body: &[u8]) -> Result<Envelope<'_>, EnvelopeError> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first == Some(&b'[') {
        return Err(EnvelopeError::Invalid(
            "JSON-RPC batches are not supported (removed in MCP 2025-06-18)",
        ));
    }
    let raw: Raw<'_> = serde_json::from_slice(body).map_err(|e| {
        if e.is_data() {
            EnvelopeError::Invalid("expected a JSON object")
        } else {
            EnvelopeError::Parse(e.to_string())
        }
    })?;
    if raw.jsonrpc != Some("2.0") {
        return Err(EnvelopeError::Invalid("jsonrpc must be \"2.0\""));
    }
    let kind = match (
        &raw.id,
        &raw.method,
        raw.result.is_some() || raw.error.is_some(),
    ) {
        (Some(_), Some(_), false) => Kind::Request,
        (None, Some(_), false) => Kind::Notification,
        (Some(_), None, true) => Kind::Response,
        _ => {
            return Err(EnvelopeError::Invalid(
                "expected a request, notification or response",
            ));
        }
    };
    let params: Option<Params> = match raw.params {
        Some(p) if p.get().trim_start().starts_with('{') => {
            Some(serde_json::from_str(p.get()).map_err(|_| EnvelopeError::Invalid("params"))?)
        }
        _ => None,
    };
    let text = |v: Option<serde_json::Value>| match v {
        Some(serde_json::Value::String(s)) => Some(s),
        _ => None,
    };
    let (name, uri, meta_version, reference) = match params {
        Some(p) => (
            text(p.name),
            text(p.uri),
            p.meta
                .and_then(|mut m| m.remove(META_PROTOCOL_VERSION))
                .and_then(|v| text(Some(v))),
            p.reference.and_then(|r| Some((r.kind?, r.name.or(r.uri)?))),
        ),
        None => (None, None, None, None),
    };
    Ok(Envelope {
        kind,
        id: raw.id,
        method: raw.method,
        name,
        uri,
        meta_version,
        reference,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_fields() {
        let e = parse(br#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":{"x":1},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}},"extra":true}"#).expect("valid");
        assert_eq!(e.kind, Kind::Request);
        assert_eq!(e.id.map(|i| i.get()), Some("7"));
        assert_eq!(e.method.as_deref(), Some("tools/call"));
        assert_eq!(e.name.as_deref(), Some("echo"));
        assert_eq!(e.meta_version.as_deref(), Some("2026-07-28"));

        let n = parse(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#).expect("valid");
        assert_eq!(n.kind, Kind::Notification);
        let r = parse(br#"{"jsonrpc":"2.0","id":"a","result":{}}"#).expect("valid");
        assert_eq!(r.kind, Kind::Response);
        let r = parse(
            br#"{"jsonrpc":"2.0","id":"a","method":"resources/read","params":{"uri":"file:///x"}}"#,
        )
        .expect("valid");
        assert_eq!(r.uri.as_deref(), Some("file:///x"));
    }

    #[test]
    fn refusals() {
        assert!(matches!(parse(b"{nope"), Err(EnvelopeError::Parse(_))));
        assert_eq!(parse(b"{nope").expect_err("parse").code(), -32700);
        for bad in [
            &br#"[{"jsonrpc":"2.0","method":"x"}]"#[..],
            br#"{"jsonrpc":"1.0","method":"x"}"#,
            br#"{"jsonrpc":"2.0"}"#,
            br#"{"jsonrpc":"2.0","id":1}"#,
            br#""str""#,
            br#"{"jsonrpc":"2.0","id":1,"method":"x","result":{}}"#,
        ] {
            let err = parse(bad).expect_err("invalid");
            assert_eq!(err.code(), -32600, "{}", String::from_utf8_lossy(bad));
        }
    }
}
