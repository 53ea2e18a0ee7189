//! Drops the items a caller may not see from MCP list results
//! (`tools/list`, `resources/list`, `resources/templates/list`,
//! `prompts/list`), in JSON bodies and in SSE event data (DESIGN §5: the
//! relay "drops denied tools, resources and prompts from list results,
//! also inside SSE streams").
//!
//! Only the list array is rebuilt, from the kept items' original text;
//! every other byte of the message — key order, whitespace, escapes,
//! `nextCursor`, `_meta`, unknown fields — is copied through. Nothing is
//! decoded into a `serde_json::Value` and nothing is re-encoded.
//!
//! Rules, all failing closed (a list the relay cannot read is not
//! forwarded):
//!
//! - A message without `result`, or whose `result` has no list array (an
//!   error response, a request, a notification), is [`Filtered::Unchanged`].
//!   `"tools": null` counts as no array.
//! - An item whose name cannot be read — not an object, no name key, a name
//!   that is not a string, the name key twice — is dropped (default deny),
//!   and counted in [`Filtered::Rewritten::removed`].
//! - Names are compared decoded: `"n\u0061me": "d\u0065lete"` is the tool
//!   `delete`, as any client would read it.
//! - A body that is not one JSON object (invalid JSON or UTF-8, trailing
//!   bytes, a batch), a duplicated `result` or list key, or a list key
//!   whose value is neither an array nor null, is a [`FilterError`]: the
//!   relay answers with an error instead.
//! - Hostile sizes are cheap: values the filter does not read are skipped
//!   by serde_json without recursion (any depth, no stack risk), and the
//!   work is linear in the body (a few passes, no tree is built).
//! - When nothing is dropped the answer is [`Filtered::Unchanged`], so a
//!   caller allowed everything receives the upstream bytes as they were.
//!   Otherwise the array is written `[item,item]`: the kept items' bytes
//!   are untouched, the whitespace between them is not kept.
//!
//! Pagination needs nothing special: each page is filtered on its own and
//! `nextCursor` passes through (a page may come out short, or empty).
//!
//! ```
//! use sallyport_relay::filter::{filter_response, Filtered, ListKind};
//!
//! let body = br#"{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"search"},{"name":"delete"}],"nextCursor":"p2"}}"#;
//! let kind = ListKind::for_method("tools/list").expect("a list method");
//! let out = filter_response(body, kind, |name| name != "delete")?;
//! let Filtered::Rewritten { body, removed, .. } = out else { panic!("rewritten") };
//! assert_eq!(removed, 1);
//! assert_eq!(&body[..], br#"{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"search"}],"nextCursor":"p2"}}"#);
//! # Ok::<(), sallyport_relay::filter::FilterError>(())
//! ```

mod scan;

use std::ops::Range;

use axum::http::StatusCode;
use bytes::Bytes;
use serde_json::value::RawValue;

use crate::policy::Target;

/// Which list a response answers; from the request's method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ListKind {
    /// `tools/list`: `result.tools[].name`.
    Tools,
    /// `resources/list`: `result.resources[].uri`.
    Resources,
    /// `resources/templates/list`: `result.resourceTemplates[].uriTemplate`.
    ResourceTemplates,
    /// `prompts/list`: `result.prompts[].name`.
    Prompts,
}

/// What to forward after filtering.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum Filtered {
    /// Forward the original bytes: there is no list in the message, or
    /// every item was kept.
    Unchanged,
    /// Forward `body` instead: items were removed.
    Rewritten {
        /// The message with the list array rebuilt.
        body: Bytes,
        /// Items kept.
        kept: usize,
        /// Items removed (denied, or unreadable), for the audit record.
        removed: usize,
    },
}

/// Why a list result could not be filtered. The message must not be
/// forwarded: it could carry items the caller may not see.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FilterError {
    /// Not one well-formed JSON object: invalid JSON or UTF-8, trailing
    /// bytes, a top-level array (batch) or scalar, or `result` given
    /// twice.
    #[error("upstream list response is not a readable JSON-RPC message: {0}")]
    Malformed(String),
    /// The list key appears twice in `result`, or is neither an array nor
    /// null.
    #[error("upstream list response has an unreadable result.{key}: {reason}")]
    BadList {
        /// The array key (`tools`, `resources`, ...).
        key: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

impl ListKind {
    /// The list a request method asks for; `None` for any other method.
    pub fn for_method(method: &str) -> Option<ListKind> {
        match method {
            "tools/list" => Some(ListKind::Tools),
            "resources/list" => Some(ListKind::Resources),
            "resources/templates/list" => Some(ListKind::ResourceTemplates),
            "prompts/list" => Some(ListKind::Prompts),
            _ => None,
        }
    }

    /// The request method.
    pub fn method(self) -> &'static str {
        match self {
            ListKind::Tools => "tools/list",
            ListKind::Resources => "resources/list",
            ListKind::ResourceTemplates => "resources/templates/list",
            ListKind::Prompts => "prompts/list",
        }
    }

    /// The key of the array in `result`.
    pub fn array_key(self) -> &'static str {
        match self {
            ListKind::Tools => "tools",
            ListKind::Resources => "resources",
            ListKind::ResourceTemplates => "resourceTemplates",
            ListKind::Prompts => "prompts",
        }
    }

    /// The key of an item's name, the string passed to `keep`.
    pub fn name_key(self) -> &'static str {
        match self {
            ListKind::Tools | ListKind::Prompts => "name",
            ListKind::Resources => "uri",
            ListKind::ResourceTemplates => "uriTemplate",
        }
    }

    /// What the policy decides for an item of this list, so that `keep`
    /// can be `|name| caller.allows(server, kind.target(name))`. A
    /// resource template is judged as a resource by its template text
    /// (`file:///hr/{name}` against `server/file:///hr/*`); reading a
    /// resource made from it is decided again, by its real URI.
    pub fn target(self, name: &str) -> Target<'_> {
        match self {
            ListKind::Tools => Target::Tool(name),
            ListKind::Resources | ListKind::ResourceTemplates => Target::Resource(name),
            ListKind::Prompts => Target::Prompt(name),
        }
    }
}

impl Filtered {
    /// Items removed; 0 when unchanged.
    pub fn removed(&self) -> usize {
        match self {
            Filtered::Unchanged => 0,
            Filtered::Rewritten { removed, .. } => *removed,
        }
    }
}

impl FilterError {
    /// The HTTP status for the client: the upstream answer was unusable.
    pub fn status(&self) -> StatusCode {
        StatusCode::BAD_GATEWAY
    }

    /// The JSON-RPC error code for the client (internal error).
    pub fn code(&self) -> i64 {
        -32603
    }
}

/// Filters one JSON-RPC response to a list request: items whose name
/// `keep` refuses are removed from `result.<kind.array_key()>`; the rest
/// of `body` is copied byte for byte. See the [module docs](self) for the
/// rules.
pub fn filter_response(
    body: &[u8],
    kind: ListKind,
    mut keep: impl FnMut(&str) -> bool,
) -> Result<Filtered, FilterError> {
    let Some(items) = scan::list_items(body, kind.array_key())? else {
        return Ok(Filtered::Unchanged);
    };
    let name_key = kind.name_key();
    let mut kept: Vec<&RawValue> = Vec::with_capacity(items.len());
    for item in &items {
        if scan::name(item, name_key).is_some_and(|name| keep(&name)) {
            kept.push(item);
        }
    }
    let removed = items.len() - kept.len();
    if removed == 0 {
        return Ok(Filtered::Unchanged);
    }
    let span = array_span(body, &items).ok_or_else(|| {
        // The items are borrowed from `body` by construction (serde_json
        // only hands out borrowed `&RawValue`s); a miss would be a bug.
        FilterError::Malformed("list array not found in body".to_owned())
    })?;
    let items_len: usize = kept.iter().map(|i| i.get().len() + 1).sum();
    let mut out = Vec::with_capacity(body.len() - span.len() + items_len + 2);
    out.extend_from_slice(&body[..span.start]);
    out.push(b'[');
    for (i, item) in kept.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(item.get().as_bytes());
    }
    out.push(b']');
    out.extend_from_slice(&body[span.end..]);
    Ok(Filtered::Rewritten {
        body: Bytes::from(out),
        kept: kept.len(),
        removed,
    })
}

/// Filters the data of one SSE event on the stream that answers a list
/// request. Requests and notifications the server sends before its answer
/// have no `result` and pass unchanged, as do empty (priming) events; any
/// response carrying the list is filtered, whatever its `id`.
///
/// The `id` is deliberately not compared with the request's: on a POST's
/// stream the only response is the answer to that POST, and clients do
/// not all compare ids the way the relay would (`1`, `1.0` and `"1"` are
/// one id to a client that converts with `Number(id)`), so matching ids
/// would only open a way around the filter.
pub fn filter_event_data(
    data: &[u8],
    kind: ListKind,
    keep: impl FnMut(&str) -> bool,
) -> Result<Filtered, FilterError> {
    if data.iter().all(u8::is_ascii_whitespace) {
        return Ok(Filtered::Unchanged);
    }
    filter_response(data, kind, keep)
}

/// Every list kind, in the order [`filter_any`] tries them.
pub const ALL_KINDS: [ListKind; 4] = [
    ListKind::Tools,
    ListKind::Resources,
    ListKind::ResourceTemplates,
    ListKind::Prompts,
];

/// Filters one message on a stream that does not answer a list request:
/// if it is nonetheless a response carrying a list result (an upstream
/// that confused two requests' ids, or a hostile one), each list it holds
/// is filtered as if it had been asked for. `keep` gets the list's kind
/// and the item's name.
///
/// A message that cannot hold a list costs a substring search: one without
/// `"result"` is not scanned, nor for a kind whose key does not occur —
/// unless the message has a `\u` escape anywhere (a key can be spelled
/// with escapes), in which case every kind is scanned.
pub fn filter_any(
    data: &[u8],
    mut keep: impl FnMut(ListKind, &str) -> bool,
) -> Result<Filtered, FilterError> {
    let escaped = memchr::memmem::find(data, b"\\u").is_some();
    if !escaped && memchr::memmem::find(data, b"\"result\"").is_none() {
        return Ok(Filtered::Unchanged);
    }
    // The message as rewritten so far, with the kept and removed counts.
    let mut out: Option<(Bytes, usize, usize)> = None;
    for kind in ALL_KINDS {
        let current: &[u8] = out.as_ref().map_or(data, |(b, ..)| b);
        let quoted = format!("\"{}\"", kind.array_key());
        if !escaped && memchr::memmem::find(current, quoted.as_bytes()).is_none() {
            continue;
        }
        if let Filtered::Rewritten {
            body,
            kept,
            removed,
        } = filter_event_data(current, kind, |name| keep(kind, name))?
        {
            let (k, r) = out.as_ref().map_or((0, 0), |(_, k, r)| (*k, *r));
            out = Some((body, k + kept, r + removed));
        }
    }
    Ok(match out {
        None => Filtered::Unchanged,
        Some((body, kept, removed)) => Filtered::Rewritten {
            body,
            kept,
            removed,
        },
    })
}

/// Where the array holding `items` (at least one) lies in `body`: from
/// the `[` before the first item to the `]` after the last, across the
/// JSON whitespace between.
fn array_span(body: &[u8], items: &[&RawValue]) -> Option<Range<usize>> {
    let first = span_of(body, items.first()?.get())?;
    let last = span_of(body, items.last()?.get())?;
    let open = body[..first.start]
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())?;
    let close = last.end
        + body[last.end..]
            .iter()
            .position(|b| !b.is_ascii_whitespace())?;
    (body[open] == b'[' && body[close] == b']').then_some(open..close + 1)
}

/// Where `inner`, a slice of `outer`, lies in it.
fn span_of(outer: &[u8], inner: &str) -> Option<Range<usize>> {
    let start = inner.as_ptr().addr().checked_sub(outer.as_ptr().addr())?;
    let range = start..start.checked_add(inner.len())?;
    (outer.get(range.clone())? == inner.as_bytes()).then_some(range)
}

#[cfg(test)]
mod tests;
