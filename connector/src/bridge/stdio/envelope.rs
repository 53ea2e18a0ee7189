//! The JSON-RPC envelope: just enough of a message to route it.
//!
//! Messages pass through as the bytes they arrived as. We parse only the
//! envelope (`id`, `method`, the progress token, the subscription id, the
//! error code) with borrowed [`RawValue`]s, and when the stateless era has
//! to swap an id or a token we splice the new text over the byte range of
//! the old value ([`splice`]) instead of re-encoding the document.

use std::borrow::Cow;
use std::ops::Range;

use bytes::Bytes;
use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

/// What a message is, by the JSON-RPC rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `method` and `id`: expects a response.
    Request,
    /// `method` without `id`.
    Notification,
    /// No `method`: a result or an error for some `id`.
    Response,
}

/// The routing-relevant parts of one JSON-RPC message, borrowed from its
/// text.
#[derive(Debug)]
pub(crate) struct Envelope<'a> {
    /// The whole message.
    pub text: &'a str,
    /// `id` (absent or `null` → `None`).
    pub id: Option<&'a RawValue>,
    /// `method`.
    pub method: Option<Cow<'a, str>>,
    /// `params._meta.progressToken` (on requests).
    pub meta_progress_token: Option<&'a RawValue>,
    /// `params.progressToken` (on `notifications/progress`).
    pub progress_token: Option<&'a RawValue>,
    /// `params.requestId` (on `notifications/cancelled`).
    pub request_id: Option<&'a RawValue>,
    /// `params._meta["io.modelcontextprotocol/subscriptionId"]`.
    pub subscription_id: Option<&'a RawValue>,
    /// `result._meta["io.modelcontextprotocol/subscriptionId"]`.
    pub result_subscription_id: Option<&'a RawValue>,
    /// Whether an `error` member is present.
    pub is_error: bool,
    /// `error.code`, when it is an integer.
    pub error_code: Option<i64>,
}

#[derive(Deserialize)]
struct Wire<'a> {
    #[serde(borrow, default)]
    id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    method: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    params: Option<&'a RawValue>,
    #[serde(borrow, default)]
    result: Option<&'a RawValue>,
    #[serde(borrow, default)]
    error: Option<&'a RawValue>,
}

#[derive(Deserialize, Default)]
struct Params<'a> {
    #[serde(rename = "_meta", borrow, default)]
    meta: Option<Meta<'a>>,
    #[serde(rename = "progressToken", borrow, default)]
    progress_token: Option<&'a RawValue>,
    #[serde(rename = "requestId", borrow, default)]
    request_id: Option<&'a RawValue>,
}

#[derive(Deserialize, Default)]
struct Meta<'a> {
    #[serde(rename = "progressToken", borrow, default)]
    progress_token: Option<&'a RawValue>,
    #[serde(rename = "io.modelcontextprotocol/subscriptionId", borrow, default)]
    subscription_id: Option<&'a RawValue>,
}

#[derive(Deserialize, Default)]
struct WithMeta<'a> {
    #[serde(rename = "_meta", borrow, default)]
    meta: Option<Meta<'a>>,
}

#[derive(Deserialize)]
struct ErrorObject {
    code: Option<i64>,
}

impl<'a> Envelope<'a> {
    /// Parses one JSON-RPC message (an object, nothing after it). `params`,
    /// `result` and `error` that do not have the usual shape are carried
    /// along untouched; only their routing fields are then missing.
    pub fn parse(text: &'a str) -> Result<Self, serde_json::Error> {
        if !text.trim_start().starts_with('{') {
            // serde would also read a struct from an array.
            return Err(serde::de::Error::custom(
                "a JSON-RPC message is a JSON object",
            ));
        }
        let wire: Wire<'a> = serde_json::from_str(text)?;
        let params: Params<'a> = wire
            .params
            .and_then(|p| serde_json::from_str(p.get()).ok())
            .unwrap_or_default();
        let meta = params.meta.unwrap_or_default();
        let result_meta = wire
            .result
            .and_then(|r| serde_json::from_str::<WithMeta<'a>>(r.get()).ok())
            .and_then(|r| r.meta)
            .unwrap_or_default();
        let error_code = wire
            .error
            .and_then(|e| serde_json::from_str::<ErrorObject>(e.get()).ok())
            .and_then(|e| e.code);
        Ok(Self {
            text,
            id: wire.id,
            method: wire.method,
            meta_progress_token: meta.progress_token,
            progress_token: params.progress_token,
            request_id: params.request_id,
            subscription_id: meta.subscription_id,
            result_subscription_id: result_meta.subscription_id,
            is_error: wire.error.is_some(),
            error_code,
        })
    }

    /// Request, notification or response.
    pub fn kind(&self) -> Kind {
        match (&self.method, self.id) {
            (Some(_), Some(_)) => Kind::Request,
            (Some(_), None) => Kind::Notification,
            (None, _) => Kind::Response,
        }
    }

    /// The method, or `""` for responses.
    pub fn method(&self) -> &str {
        self.method.as_deref().unwrap_or("")
    }

    /// The byte range of a value borrowed from this message.
    pub fn span(&self, value: &RawValue) -> Option<Range<usize>> {
        span_of(self.text, value.get())
    }
}

/// The byte range of `part` inside `whole`, when `part` is a sub-slice of
/// it (which every value borrowed by [`Envelope::parse`] is).
fn span_of(whole: &str, part: &str) -> Option<Range<usize>> {
    let start = (part.as_ptr() as usize).checked_sub(whole.as_ptr() as usize)?;
    let end = start.checked_add(part.len())?;
    (end <= whole.len()
        && whole
            .get(start..end)
            .is_some_and(|s| s.as_ptr() == part.as_ptr()))
    .then_some(start..end)
}

/// A JSON-RPC id or progress token in a comparable form: `1` and `"1"`
/// differ, `"a"` and `"\u0061"` do not.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Key {
    /// A number, in serde_json's canonical text.
    Num(String),
    /// A string, unescaped.
    Str(String),
}

impl Key {
    /// The key of an id or token; `None` for anything but a string or a
    /// number.
    pub fn of(raw: &RawValue) -> Option<Key> {
        match serde_json::from_str::<Value>(raw.get()).ok()? {
            Value::Number(n) => Some(Key::Num(n.to_string())),
            Value::String(s) => Some(Key::Str(s)),
            _ => None,
        }
    }

    /// The number, when this key is a non-negative integer.
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Key::Num(n) => n.parse().ok(),
            Key::Str(_) => None,
        }
    }
}

/// Replaces byte ranges of `text` (non-overlapping) and returns the result.
pub(crate) fn splice(text: &str, mut edits: Vec<(Range<usize>, &str)>) -> Bytes {
    edits.sort_by_key(|(range, _)| range.start);
    let mut out = String::with_capacity(text.len() + 16);
    let mut at = 0;
    for (range, with) in edits {
        if range.start < at || range.end > text.len() {
            continue; // overlapping or out of range: never produced by this module
        }
        out.push_str(&text[at..range.start]);
        out.push_str(with);
        at = range.end;
    }
    out.push_str(&text[at..]);
    Bytes::from(out)
}

/// Makes a client's message fit on one stdio line: JSON can only hold a
/// line break as insignificant whitespace (inside strings it must be
/// escaped), so CR and LF become spaces. Nothing else changes.
pub(crate) fn one_line(body: &Bytes) -> Bytes {
    let trimmed = body.trim_ascii();
    if !trimmed.iter().any(|b| *b == b'\n' || *b == b'\r') {
        return body.slice_ref(trimmed);
    }
    trimmed
        .iter()
        .map(|b| if *b == b'\n' || *b == b'\r' { b' ' } else { *b })
        .collect::<Vec<u8>>()
        .into()
}

/// `{"jsonrpc":"2.0","id":<id>,"error":{"code":<code>,"message":<message>}}`
/// where `id` is raw JSON text.
pub(crate) fn error_response(id: &str, code: i64, message: &str) -> Bytes {
    let message = Value::String(message.to_owned());
    Bytes::from(format!(
        r#"{{"jsonrpc":"2.0","id":{id},"error":{{"code":{code},"message":{message}}}}}"#
    ))
}

/// `notifications/cancelled` for request `id` (raw JSON text).
pub(crate) fn cancelled_notification(id: &str, reason: &str) -> Bytes {
    let reason = Value::String(reason.to_owned());
    Bytes::from(format!(
        r#"{{"jsonrpc":"2.0","method":"notifications/cancelled","params":{{"requestId":{id},"reason":{reason}}}}}"#
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_envelope_and_spans() {
        let text = r#"{"jsonrpc":"2.0","id":"a\u0062","method":"tools/call","params":{"name":"x","_meta":{"progressToken":7}}}"#;
        let env = Envelope::parse(text).expect("parses");
        assert_eq!(env.kind(), Kind::Request);
        assert_eq!(env.method(), "tools/call");
        let id = env.id.expect("id");
        assert_eq!(Key::of(id), Some(Key::Str("ab".into())));
        let token = env.meta_progress_token.expect("token");
        assert_eq!(Key::of(token), Some(Key::Num("7".into())));
        let edits = vec![
            (env.span(token).expect("span"), "42"),
            (env.span(id).expect("span"), "5"),
        ];
        assert_eq!(
            splice(text, edits),
            r#"{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"x","_meta":{"progressToken":42}}}"#
        );
    }

    #[test]
    fn kinds_and_error_codes() {
        let n = Envelope::parse(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#)
            .expect("parses");
        assert_eq!(n.kind(), Kind::Notification);
        let r =
            Envelope::parse(r#"{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"x"}}"#)
                .expect("parses");
        assert_eq!(
            (r.kind(), r.is_error, r.error_code),
            (Kind::Response, true, Some(-32601))
        );
        let odd = Envelope::parse(r#"{"id":1,"method":"m","params":[1,2]}"#).expect("parses");
        assert!(odd.meta_progress_token.is_none());
        let sub = Envelope::parse(
            r#"{"method":"n","params":{"_meta":{"io.modelcontextprotocol/subscriptionId":3}}}"#,
        )
        .expect("parses");
        assert_eq!(sub.subscription_id.map(|v| v.get()), Some("3"));
        assert!(Envelope::parse(r#"[{"id":1,"method":"m"}]"#).is_err());
        assert!(Envelope::parse(r#"{"id":1,"method":"m"} x"#).is_err());
        assert!(Envelope::parse(r#"{"id":1,"id":2,"method":"m"}"#).is_err());
    }

    #[test]
    fn keys_compare_by_value() {
        let raw = |s: &str| RawValue::from_string(s.to_owned()).expect("raw");
        assert_eq!(Key::of(&raw("1")), Key::of(&raw("1")));
        assert_ne!(Key::of(&raw("1")), Key::of(&raw(r#""1""#)));
        assert_eq!(Key::of(&raw("12")).and_then(|k| k.as_u64()), Some(12));
        assert_eq!(Key::of(&raw("{}")), None);
    }

    #[test]
    fn one_line_only_touches_line_breaks() {
        let body = Bytes::from_static(b" {\n  \"id\": 1,\r\n  \"method\": \"m\"\n}\n");
        assert_eq!(
            one_line(&body),
            Bytes::from_static(b"{   \"id\": 1,    \"method\": \"m\" }")
        );
        let flat = Bytes::from_static(b"{\"id\":1}");
        assert_eq!(one_line(&flat), flat);
    }

    #[test]
    fn built_messages_are_valid_json() {
        let e = error_response(r#""x""#, -32603, "MCP server \"a\" exited");
        let v: Value = serde_json::from_slice(&e).expect("json");
        assert_eq!(v["error"]["message"], "MCP server \"a\" exited");
        let c = cancelled_notification("4", "gone");
        let v: Value = serde_json::from_slice(&c).expect("json");
        assert_eq!(v["params"]["requestId"], 4);
    }
}
