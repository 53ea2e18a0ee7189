//! The MCP headers of a client request: read once, refused when a routing
//! header comes twice, checked against the body in the stateless era, and
//! only then forwarded.

use axum::http::HeaderMap;
use sallyport_mcp::era::HEADER_MISMATCH;
use sallyport_mcp::{Envelope, Era, headers as names, target};

use crate::http::error::HttpError;
use crate::http::wire::ErrorKind;

/// Refuses a request that carries an `Mcp-*` header (the routing ones,
/// `Mcp-Param-*` included) more than once: two parsers may pick different
/// copies, and the relay must check the one the upstream will use.
pub(super) fn refuse_repeated(headers: &HeaderMap) -> Result<(), HttpError> {
    for name in headers.keys() {
        let n = name.as_str();
        let mcp = names::ROUTING.contains(&n) || names::is_param(n);
        if mcp && headers.get_all(name).iter().nth(1).is_some() {
            return Err(HttpError::new(
                ErrorKind::BadHeader,
                format!("header {n} is sent more than once"),
            ));
        }
    }
    Ok(())
}

/// A header value as text; values of the form `=?base64?…?=` (how MCP
/// carries non-ASCII or padded values) are decoded. A value that is not
/// visible ASCII reads as `Err`.
pub(super) fn text(headers: &HeaderMap, name: &str) -> Result<Option<String>, HttpError> {
    let Some(value) = headers.get(name) else {
        return Ok(None);
    };
    let raw = value.to_str().map_err(|_| {
        HttpError::new(
            ErrorKind::BadHeader,
            format!("header {name} is not valid text"),
        )
    })?;
    let Some(encoded) = raw
        .strip_prefix("=?base64?")
        .and_then(|r| r.strip_suffix("?="))
    else {
        return Ok(Some(raw.to_owned()));
    };
    use base64::Engine;
    // A malformed encoding is refused: upstreams decode leniently (Node's
    // Buffer.from skips what it cannot read), so its meaning is not ours
    // to guess.
    base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .map(Some)
        .ok_or_else(|| {
            HttpError::new(
                ErrorKind::BadHeader,
                format!("header {name} has a malformed =?base64?…?= value"),
            )
        })
}

/// Stateless-era routing headers must agree with the body; a mismatch is a
/// 400 (`HeaderMismatch`), never a policy bypass. (The protocol version is
/// compared by [`Era::decide`].)
pub(super) fn check_stateless(headers: &HeaderMap, env: &Envelope<'_>) -> Result<(), HttpError> {
    let mismatch = |what: &str, header: &str, body: Option<&str>| {
        HttpError::new(
            ErrorKind::Malformed(HEADER_MISMATCH),
            format!("header {what} {header:?} does not match the body ({body:?})"),
        )
        .with_id(env.id)
    };
    if let Some(h) = text(headers, names::METHOD)?
        && Some(h.as_str()) != env.method.as_deref()
    {
        return Err(mismatch("Mcp-Method", &h, env.method.as_deref()));
    }
    // Mcp-Name names what the method uses (a completion's ref.name or
    // ref.uri, a read's uri even beside a name); undecidable messages are
    // refused later anyway.
    let body_name = match target::target_of(env) {
        Ok(Some(t)) => Some(t.name()),
        _ => env.routing_name(),
    };
    if let Some(h) = text(headers, names::NAME)?
        && Some(h.as_str()) != body_name
    {
        return Err(mismatch("Mcp-Name", &h, body_name));
    }
    Ok(())
}

/// The client headers that travel to the connector: `Accept`, and in the
/// stateless era (after [`check_stateless`]) `Mcp-Method`, `Mcp-Name` and
/// the `Mcp-Param-*` headers that mirror an argument of the body (see
/// [`mirrors_argument`]; others are dropped and logged). Session-era
/// requests carry none of the client's `Mcp-*` headers: they are not part
/// of that era, and nothing checked them.
pub(super) fn forwarded(headers: &HeaderMap, era: Era, body: &[u8]) -> Vec<(String, String)> {
    let mut arguments = None;
    let mut out = Vec::new();
    for (name, value) in headers {
        let n = name.as_str();
        let keep = match n {
            "accept" => true,
            _ if era != Era::Stateless => false,
            names::METHOD | names::NAME => true,
            _ if names::is_param(n) => {
                let args = arguments.get_or_insert_with(|| arguments_of(body));
                let text = self::text(headers, n).ok().flatten();
                let suffix = &n[names::PARAM_PREFIX.len()..];
                let mirrored = text.is_some_and(|t| mirrors_argument(args, suffix, &t));
                if !mirrored {
                    tracing::info!(
                        header = n,
                        "Mcp-Param header mirrors no argument of the body; not forwarded"
                    );
                }
                mirrored
            }
            _ => false,
        };
        if keep && let Ok(v) = value.to_str() {
            out.push((n.to_owned(), v.to_owned()));
        }
    }
    out
}

/// `params.arguments` of a body, when it is an object.
fn arguments_of(body: &[u8]) -> serde_json::Map<String, serde_json::Value> {
    #[derive(serde::Deserialize)]
    struct Body {
        params: Option<Params>,
    }
    #[derive(serde::Deserialize)]
    struct Params {
        arguments: Option<serde_json::Map<String, serde_json::Value>>,
    }
    serde_json::from_slice::<Body>(body)
        .ok()
        .and_then(|b| b.params?.arguments)
        .unwrap_or_default()
}

/// Whether `Mcp-Param-<suffix>: value` mirrors an argument: one whose name
/// equals `suffix` ignoring case, `-` and `_`, and whose value (a string,
/// or a number or boolean as JSON text) equals `value`.
fn mirrors_argument(
    arguments: &serde_json::Map<String, serde_json::Value>,
    suffix: &str,
    value: &str,
) -> bool {
    let fold = |s: &str| {
        s.chars()
            .filter(|c| *c != '-' && *c != '_')
            .map(|c| c.to_ascii_lowercase())
            .collect::<String>()
    };
    let wanted = fold(suffix);
    arguments.iter().any(|(k, v)| {
        fold(k) == wanted
            && match v {
                serde_json::Value::String(s) => s == value,
                serde_json::Value::Number(_) | serde_json::Value::Bool(_) => {
                    value.parse::<serde_json::Value>().is_ok_and(|h| &h == v)
                }
                _ => false,
            }
    })
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderValue, StatusCode};

    use super::*;

    fn map(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn repeated_routing_headers_are_refused() {
        for name in [
            "mcp-name",
            "mcp-method",
            "mcp-protocol-version",
            "mcp-session-id",
            "mcp-param-region",
        ] {
            let e = refuse_repeated(&map(&[(name, "a"), (name, "b")])).expect_err(name);
            assert_eq!(e.status(), StatusCode::BAD_REQUEST);
        }
        assert!(
            refuse_repeated(&map(&[("accept", "a"), ("accept", "b"), ("mcp-name", "x")])).is_ok()
        );
    }

    #[test]
    fn only_checked_headers_are_forwarded() {
        let h = map(&[
            ("accept", "application/json"),
            ("mcp-name", "echo"),
            ("mcp-method", "tools/call"),
            ("mcp-param-region", "eu"),
            ("mcp-session-id", "s"),
            ("authorization", "Bearer x"),
        ]);
        let body = br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"region":"eu"}}}"#;
        let names = |era| {
            forwarded(&h, era, body)
                .into_iter()
                .map(|(n, _)| n)
                .collect::<Vec<_>>()
        };
        assert_eq!(names(Era::Session), ["accept"]);
        assert_eq!(
            names(Era::Stateless),
            ["accept", "mcp-name", "mcp-method", "mcp-param-region"]
        );
    }

    #[test]
    fn param_headers_must_mirror_an_argument() {
        let h = map(&[
            ("mcp-param-region", "eu"),
            ("mcp-param-tenant-id", "7"),
            ("mcp-param-ghost", "x"),
            ("mcp-param-mode", "other"),
        ]);
        let body = br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","arguments":{"Region":"eu","tenant_id":7,"mode":"fast"}}}"#;
        let names: Vec<_> = forwarded(&h, Era::Stateless, body)
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(names, ["mcp-param-region", "mcp-param-tenant-id"]);
        assert!(forwarded(&h, Era::Stateless, b"{}").is_empty());
    }

    #[test]
    fn base64_values_are_decoded() {
        let h = map(&[("mcp-name", "=?base64?ZWNobw==?=")]);
        assert_eq!(text(&h, "mcp-name").expect("text").as_deref(), Some("echo"));
        let bad = map(&[("mcp-name", "=?base64?ZWN*obw==?=")]);
        assert_eq!(
            text(&bad, "mcp-name").expect_err("malformed").status(),
            StatusCode::BAD_REQUEST
        );
    }
}
