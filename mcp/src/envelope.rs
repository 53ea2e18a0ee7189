//! The part of a client's JSON-RPC message a gateway reads: the kind, `id`,
//! `method`, and the members of `params` that name what the message asks a
//! server to use. The body itself is forwarded untouched.
//!
//! The parse is strict where two parsers could disagree:
//!
//! * an `id` member makes a message a request, whatever its value (`null`
//!   included), so nothing with an id slips through as a notification;
//! * a member the gateway reads (`jsonrpc`, `id`, `method`, `params`,
//!   `result`, `error`, and in `params` `name`, `uri`, `ref`, `_meta`, and
//!   in `ref` `type`, `name`, `uri`) given twice is refused: serde refuses a
//!   duplicate struct field, JavaScript's and Python's parsers keep the
//!   last. Key names are compared after unescaping (`"n\u0061me"` is
//!   `name`), as every JSON parser does;
//! * a member's value is kept as it came ([`Field`]): a name that is not a
//!   string is not silently "absent".

use serde::Deserialize;
use serde::de::Deserializer;
use serde_json::value::RawValue;

use crate::era::META_PROTOCOL_VERSION;

/// JSON-RPC "parse error".
pub const PARSE_ERROR: i64 = -32700;
/// JSON-RPC "invalid request".
pub const INVALID_REQUEST: i64 = -32600;
/// JSON-RPC "invalid params".
pub const INVALID_PARAMS: i64 = -32602;

/// What kind of JSON-RPC message a body holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Has an `id` member and `method`.
    Request,
    /// Has `method` and no `id` member.
    Notification,
    /// Has an `id` member and `result` or `error`.
    Response,
}

/// A member as it appeared: absent, a string, or anything else.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Field {
    /// Not in the message.
    #[default]
    Absent,
    /// A JSON string, unescaped.
    Text(String),
    /// Present, but not a string (`null`, a number, an array, an object…).
    Other,
}

impl Field {
    /// The string, when the member is one.
    pub fn text(&self) -> Option<&str> {
        match self {
            Field::Text(s) => Some(s),
            _ => None,
        }
    }

    fn of(value: Option<serde_json::Value>) -> Field {
        match value {
            None => Field::Absent,
            Some(serde_json::Value::String(s)) => Field::Text(s),
            Some(_) => Field::Other,
        }
    }
}

/// `params.ref` of `completion/complete`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Reference {
    /// `ref.type`.
    pub kind: Field,
    /// `ref.name` (what `ref/prompt` uses).
    pub name: Field,
    /// `ref.uri` (what `ref/resource` uses).
    pub uri: Field,
}

/// What `params` held.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ParamsShape {
    /// No `params` member.
    #[default]
    Absent,
    /// An object (its members below).
    Object,
    /// An array, `null` or a scalar.
    Other,
}

/// The envelope of one JSON-RPC message.
#[derive(Debug)]
pub struct Envelope<'a> {
    /// Request, notification or response.
    pub kind: Kind,
    /// The `id` member, verbatim (`null` included).
    pub id: Option<&'a RawValue>,
    /// The method, for requests and notifications.
    pub method: Option<String>,
    /// What `params` was.
    pub params: ParamsShape,
    /// `params.name` (tool or prompt name).
    pub name: Field,
    /// `params.uri` (resource URI).
    pub uri: Field,
    /// `params.ref` of `completion/complete`, when present.
    pub reference: Option<Reference>,
    /// `params._meta["io.modelcontextprotocol/protocolVersion"]`, when a
    /// string.
    pub meta_version: Option<String>,
}

impl Envelope<'_> {
    /// `params.name`, else `params.uri`, as text: what a stateless-era
    /// `Mcp-Name` header must equal.
    pub fn routing_name(&self) -> Option<&str> {
        self.name.text().or(self.uri.text())
    }
}

#[derive(Deserialize)]
struct Raw<'a> {
    jsonrpc: Option<String>,
    #[serde(borrow, default, deserialize_with = "present")]
    id: Option<&'a RawValue>,
    method: Option<String>,
    #[serde(borrow, default, deserialize_with = "present")]
    params: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    result: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    error: Option<&'a RawValue>,
}

/// A member that is present is `Some`, even when it is `null` (serde's
/// `Option` would make `null` look absent).
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<&'de RawValue>, D::Error> {
    <&RawValue>::deserialize(d).map(Some)
}

/// Like [`present`], for a member read as a value.
fn value<'de, D: Deserializer<'de>>(d: D) -> Result<Option<serde_json::Value>, D::Error> {
    serde_json::Value::deserialize(d).map(Some)
}

#[derive(Deserialize)]
struct RawParams<'a> {
    #[serde(default, deserialize_with = "value")]
    name: Option<serde_json::Value>,
    #[serde(default, deserialize_with = "value")]
    uri: Option<serde_json::Value>,
    #[serde(rename = "_meta", default, deserialize_with = "value")]
    meta: Option<serde_json::Value>,
    #[serde(rename = "ref", borrow, default, deserialize_with = "present")]
    reference: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct RawReference {
    #[serde(rename = "type", default, deserialize_with = "value")]
    kind: Option<serde_json::Value>,
    #[serde(default, deserialize_with = "value")]
    name: Option<serde_json::Value>,
    #[serde(default, deserialize_with = "value")]
    uri: Option<serde_json::Value>,
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
    Invalid(String),
}

impl EnvelopeError {
    /// The JSON-RPC error code.
    pub fn code(&self) -> i64 {
        match self {
            EnvelopeError::Parse(_) => PARSE_ERROR,
            EnvelopeError::Invalid(_) => INVALID_REQUEST,
        }
    }
}

fn invalid(why: impl Into<String>) -> EnvelopeError {
    EnvelopeError::Invalid(why.into())
}

/// Parses the envelope of `body` (one JSON object, nothing after it).
pub fn parse(body: &[u8]) -> Result<Envelope<'_>, EnvelopeError> {
    match body.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => {}
        Some(b'[') => {
            return Err(invalid(
                "JSON-RPC batches are not supported (removed in MCP 2025-06-18)",
            ));
        }
        _ => {
            // serde would also read a struct from an array; anything but
            // an object is refused before it gets the chance.
            return match serde_json::from_slice::<serde::de::IgnoredAny>(body) {
                Ok(_) => Err(invalid("expected a JSON object")),
                Err(e) => Err(EnvelopeError::Parse(e.to_string())),
            };
        }
    }
    let raw: Raw<'_> = serde_json::from_slice(body).map_err(|e| {
        if e.is_data() {
            invalid(e.to_string())
        } else {
            EnvelopeError::Parse(e.to_string())
        }
    })?;
    if raw.jsonrpc.as_deref() != Some("2.0") {
        return Err(invalid("jsonrpc must be \"2.0\""));
    }
    let answered = raw.result.is_some() || raw.error.is_some();
    let kind = match (raw.id.is_some(), raw.method.is_some(), answered) {
        (true, true, false) => Kind::Request,
        (false, true, false) => Kind::Notification,
        (true, false, true) if !(raw.result.is_some() && raw.error.is_some()) => Kind::Response,
        _ => return Err(invalid("expected a request, notification or response")),
    };
    let mut env = Envelope {
        kind,
        id: raw.id,
        method: raw.method,
        params: ParamsShape::Absent,
        name: Field::Absent,
        uri: Field::Absent,
        reference: None,
        meta_version: None,
    };
    let Some(params) = raw.params else {
        return Ok(env);
    };
    if !params.get().starts_with('{') {
        env.params = ParamsShape::Other;
        return Ok(env);
    }
    env.params = ParamsShape::Object;
    let p: RawParams<'_> =
        serde_json::from_str(params.get()).map_err(|e| invalid(format!("params: {e}")))?;
    env.name = Field::of(p.name);
    env.uri = Field::of(p.uri);
    env.meta_version = match p.meta {
        Some(serde_json::Value::Object(mut m)) => m
            .remove(META_PROTOCOL_VERSION)
            .and_then(|v| Field::of(Some(v)).text().map(str::to_owned)),
        _ => None,
    };
    env.reference = match p.reference {
        None => None,
        Some(v) if v.get().starts_with('{') => {
            let r: RawReference =
                serde_json::from_str(v.get()).map_err(|e| invalid(format!("params.ref: {e}")))?;
            Some(Reference {
                kind: Field::of(r.kind),
                name: Field::of(r.name),
                uri: Field::of(r.uri),
            })
        }
        Some(_) => Some(Reference {
            kind: Field::Other,
            ..Reference::default()
        }),
    };
    Ok(env)
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
        assert_eq!(e.name, Field::Text("echo".into()));
        assert_eq!(e.meta_version.as_deref(), Some("2026-07-28"));

        let n = parse(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#).expect("ok");
        assert_eq!(n.kind, Kind::Notification);
        let r = parse(br#"{"jsonrpc":"2.0","id":"a","result":{}}"#).expect("valid");
        assert_eq!(r.kind, Kind::Response);
        let r = parse(
            br#"{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"file:///x"}}"#,
        )
        .expect("valid");
        assert_eq!(r.uri.text(), Some("file:///x"));
    }

    #[test]
    fn a_null_id_is_still_a_request() {
        let e =
            parse(br#"{"jsonrpc":"2.0","id":null,"method":"tools/call","params":{"name":"x"}}"#)
                .expect("valid");
        assert_eq!(e.kind, Kind::Request);
        assert_eq!(e.id.map(|i| i.get()), Some("null"));
    }

    #[test]
    fn non_string_members_are_not_absent() {
        let e = parse(br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":["secret"],"uri":null}}"#)
            .expect("valid");
        assert_eq!((e.name, e.uri), (Field::Other, Field::Other));
        let e = parse(br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":["secret"]}"#)
            .expect("valid");
        assert_eq!(e.params, ParamsShape::Other);
        let e = parse(br#"{"jsonrpc":"2.0","id":1,"method":"completion/complete","params":{"ref":{"type":"ref/resource","name":"ok","uri":7}}}"#)
            .expect("valid");
        let r = e.reference.expect("ref");
        assert_eq!(r.kind.text(), Some("ref/resource"));
        assert_eq!(r.uri, Field::Other);
    }

    #[test]
    fn duplicate_members_are_refused_even_escaped() {
        for bad in [
            &br#"{"jsonrpc":"2.0","id":1,"id":2,"method":"ping"}"#[..],
            br#"{"jsonrpc":"2.0","id":1,"method":"ping","method":"tools/call"}"#,
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","name":"secret"}}"#,
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","n\u0061me":"secret"}}"#,
            br#"{"jsonrpc":"2.0","id":1,"method":"completion/complete","params":{"ref":{"type":"ref/prompt","type":"ref/resource"}}}"#,
            br#"{"jsonrpc":"2.0","id":1,"method":"x","params":{},"params":{}}"#,
        ] {
            let e = parse(bad).expect_err(std::str::from_utf8(bad).expect("utf8"));
            assert_eq!(e.code(), INVALID_REQUEST, "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn refusals() {
        assert!(matches!(parse(b"{nope"), Err(EnvelopeError::Parse(_))));
        assert_eq!(parse(b"nope").expect_err("parse").code(), PARSE_ERROR);
        for bad in [
            &br#"[{"jsonrpc":"2.0","method":"x"}]"#[..],
            br#"{"jsonrpc":"1.0","method":"x"}"#,
            br#"{"jsonrpc":"2.0"}"#,
            br#"{"jsonrpc":"2.0","id":1}"#,
            br#""str""#,
            br#"{"jsonrpc":"2.0","id":1,"method":"x","result":{}}"#,
            br#"{"jsonrpc":"2.0","id":1,"result":{},"error":{}}"#,
            br#"{"jsonrpc":"2.0","id":1,"method":7}"#,
        ] {
            let err = parse(bad).expect_err("invalid");
            assert_eq!(
                err.code(),
                INVALID_REQUEST,
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        assert!(parse(br#"{"jsonrpc":"2.0","id":1,"method":"x"} {}"#).is_err());
    }
}
