//! The JSON-RPC envelope: just enough of a message to route it.
//!
//! Messages pass through as the bytes they arrived as. We parse only the
//! envelope (`id`, `method`, the progress token, the subscription id, the
//! protocol version, the error code) with borrowed [`RawValue`]s, and when
//! an id or a token must be swapped (client requests get connector-own
//! upstream ids in both eras) we splice the new text over the byte range
//! of the old value ([`splice`]) instead of re-encoding the document.

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
    /// `params._meta["io.modelcontextprotocol/protocolVersion"]`.
    pub meta_protocol_version: Option<&'a RawValue>,
    /// `params` is an object whose routing members could not be read (a
    /// member given twice, or `_meta` that is not an object): the fields
    /// above that live in `params` are then missing, and a client request
    /// must be refused rather than forwarded with them unmapped.
    pub params_unread: bool,
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
    #[serde(rename = "io.modelcontextprotocol/protocolVersion", borrow, default)]
    protocol_version: Option<&'a RawValue>,
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
        let read: Option<Result<Params<'a>, _>> = wire
            .params
            .filter(|p| p.get().starts_with('{'))
            .map(|p| serde_json::from_str(p.get()));
        let params_unread = matches!(read, Some(Err(_)));
        let params = read.and_then(Result::ok).unwrap_or_default();
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
            meta_protocol_version: meta.protocol_version,
            params_unread,
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

    /// The protocol version `_meta` names: the string, or the raw JSON of
    /// a value that is not one (which no known version matches).
    pub fn protocol_version(&self) -> Option<Cow<'a, str>> {
        let raw = self.meta_protocol_version?;
        Some(match serde_json::from_str::<Cow<'a, str>>(raw.get()) {
            Ok(version) => version,
            Err(_) => Cow::Borrowed(raw.get()),
        })
    }
}

/// A client request with connector-own upstream id `n`: its `id`, and its
/// `params._meta.progressToken` when it has one, replaced by `n`. `None`
/// when the request cannot be rewritten safely (no id, or params whose
/// progress token could not be read).
pub(crate) fn remap(message: &Envelope<'_>, n: u64) -> Option<Bytes> {
    if message.params_unread {
        return None;
    }
    let upstream = n.to_string();
    let mut edits = vec![(message.span(message.id?)?, upstream.as_str())];
    if let Some(token) = message.meta_progress_token {
        edits.push((message.span(token)?, upstream.as_str()));
    }
    Some(splice(message.text, edits))
}

/// `message` with each present value replaced by the given raw JSON.
pub(crate) fn restore(message: &Envelope<'_>, edits: Vec<(Option<&RawValue>, &str)>) -> Bytes {
    let edits = edits
        .into_iter()
        .filter_map(|(value, with)| Some((message.span(value?)?, with)))
        .collect();
    splice(message.text, edits)
}

/// The connector-own upstream id (or progress token) `raw` names: a JSON
/// number that is exactly a non-negative integer. `5.0`, `"5"` and `5e0`
/// name none.
pub(crate) fn upstream_id(raw: Option<&RawValue>) -> Option<u64> {
    let text = raw?.get();
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
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
mod tests;
