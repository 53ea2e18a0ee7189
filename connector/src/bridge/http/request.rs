//! The headers of an upstream request, built from the relayed request head
//! by a pure function.
//!
//! A head that carries a routing header (`Mcp-Method`, `Mcp-Name`,
//! `Mcp-Session-Id`, `MCP-Protocol-Version`) or one `Mcp-Param-*` more
//! than once is refused: two parsers may pick different copies, and the
//! relay checked only one.
//!
//! What reaches the upstream, in order (a later step replaces an earlier
//! one's header of the same name):
//!
//! 1. from the client, in the stateless era only (where the relay checked
//!    them against the body): `Mcp-Method`, `Mcp-Name` and every
//!    `Mcp-Param-*`, nothing else (never `Authorization`, cookies or
//!    forwarding headers); in the session era these headers are not part
//!    of the protocol and nothing from the client is forwarded;
//! 2. the transport headers: `Accept`, `Content-Type` (POST),
//!    `Mcp-Session-Id`, `MCP-Protocol-Version`, `Last-Event-ID` (GET);
//! 3. the caller's identity, only when the operator chose header names
//!    for it ([`CallerHeaders`]);
//! 4. the configured headers (service credentials), which win.

use http::header::{ACCEPT, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use sallyport_mcp::Era;
use sallyport_mcp::headers::{self as mcp, ROUTING};
use sallyport_protocol::ServerName;
use sallyport_protocol::data::{Caller, Method, RequestHead};

use crate::error::ConfigError;

const SESSION: HeaderName = HeaderName::from_static(mcp::SESSION_ID);
const PROTOCOL_VERSION: HeaderName = HeaderName::from_static(mcp::PROTOCOL_VERSION);
const LAST_EVENT_ID: HeaderName = HeaderName::from_static(mcp::LAST_EVENT_ID);
const BOTH: HeaderValue = HeaderValue::from_static("application/json, text/event-stream");
const EVENT_STREAM: HeaderValue = HeaderValue::from_static("text/event-stream");
const JSON: HeaderValue = HeaderValue::from_static("application/json");

/// Header names that carry the caller's identity to the upstream server.
///
/// Off by default: unless a bridge is given one with
/// [`HttpBridge::with_caller_headers`](super::HttpBridge::with_caller_headers),
/// nothing derived from the caller reaches the upstream. The upstream
/// must then trust the connector (these headers are only as good as the
/// network between them), and the names should be ones the upstream strips
/// from any other source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerHeaders {
    /// Receives the caller's subject (e.g. `X-Sallyport-Subject`).
    pub subject: String,
    /// Receives the caller's groups, comma-separated; omitted when the
    /// caller has none.
    pub groups: Option<String>,
    /// Receives the acting agent (OAuth client); omitted when unknown.
    pub agent: Option<String>,
}

/// [`CallerHeaders`] with validated names.
#[derive(Debug, Clone)]
pub(super) struct CallerNames {
    subject: HeaderName,
    groups: Option<HeaderName>,
    agent: Option<HeaderName>,
}

impl CallerNames {
    pub(super) fn new(server: &ServerName, h: &CallerHeaders) -> Result<Self, ConfigError> {
        let name = |n: &str| {
            HeaderName::from_bytes(n.as_bytes()).map_err(|_| {
                ConfigError::invalid(format!(
                    "[[server]] {server}: caller header name {n:?} is not a valid HTTP token"
                ))
            })
        };
        Ok(Self {
            subject: name(&h.subject)?,
            groups: h.groups.as_deref().map(name).transpose()?,
            agent: h.agent.as_deref().map(name).transpose()?,
        })
    }

    fn apply(&self, caller: &Caller, map: &mut HeaderMap) -> Result<(), String> {
        let value = |what: &str, v: &str| {
            HeaderValue::from_str(v)
                .map_err(|_| format!("the caller's {what} cannot be sent as a header"))
        };
        map.insert(self.subject.clone(), value("subject", &caller.subject)?);
        if let Some(name) = &self.groups {
            map.remove(name);
            if !caller.groups.is_empty() {
                map.insert(name.clone(), value("groups", &caller.groups.join(","))?);
            }
        }
        if let Some(name) = &self.agent {
            map.remove(name);
            if let Some(agent) = &caller.agent {
                map.insert(name.clone(), value("agent", agent)?);
            }
        }
        Ok(())
    }
}

/// A header value from the client, or the error naming it.
fn value(name: &str, value: &str) -> Result<HeaderValue, String> {
    HeaderValue::from_str(value).map_err(|_| format!("invalid {name} header value"))
}

/// Whether a client header may go upstream in the stateless era.
fn forwarded(name: &str) -> bool {
    name.eq_ignore_ascii_case(mcp::METHOD)
        || name.eq_ignore_ascii_case(mcp::NAME)
        || mcp::is_param(name)
}

/// Refuses a head that carries a routing header, or an `Mcp-Param-*`,
/// more than once (counting `session` and `protocol_version`, which are
/// the relay's copies of `Mcp-Session-Id` and `MCP-Protocol-Version`).
fn no_duplicates(head: &RequestHead) -> Result<(), String> {
    let typed = |name: &str| {
        usize::from(
            (name == mcp::SESSION_ID && head.session.is_some())
                || (name == mcp::PROTOCOL_VERSION && head.protocol_version.is_some()),
        )
    };
    for (i, (name, _)) in head.headers.iter().enumerate() {
        let routing = ROUTING.iter().find(|r| name.eq_ignore_ascii_case(r));
        if routing.is_none() && !mcp::is_param(name) {
            continue;
        }
        let later = head.headers[i + 1..]
            .iter()
            .any(|(other, _)| other.eq_ignore_ascii_case(name));
        if later || routing.is_some_and(|r| typed(r) > 0) {
            return Err(format!("the {name} header is given more than once"));
        }
    }
    Ok(())
}

/// The headers of the upstream request for `head`, in `era`. An error is
/// a header given twice or one the client sent that HTTP cannot carry (the
/// relay's validation should have caught both): a bad request.
pub(super) fn headers(
    head: &RequestHead,
    era: Era,
    configured: &HeaderMap,
    caller: Option<&CallerNames>,
) -> Result<HeaderMap, String> {
    no_duplicates(head)?;
    let mut map = HeaderMap::new();
    for (name, value) in &head.headers {
        if era != Era::Stateless || !forwarded(name) {
            continue;
        }
        let header = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("invalid header name {name:?}"))?;
        map.append(header, self::value(name, value)?);
    }
    match head.method {
        Method::Post => {
            map.insert(ACCEPT, BOTH);
            map.insert(CONTENT_TYPE, JSON);
        }
        Method::Get => {
            map.insert(ACCEPT, EVENT_STREAM);
        }
        Method::Delete => {
            map.insert(ACCEPT, BOTH);
        }
    }
    if let Some(session) = &head.session {
        map.insert(SESSION, value("Mcp-Session-Id", session)?);
    }
    if let Some(version) = &head.protocol_version {
        map.insert(PROTOCOL_VERSION, value("MCP-Protocol-Version", version)?);
    }
    if let (Method::Get, Some(id)) = (head.method, &head.last_event_id) {
        map.insert(LAST_EVENT_ID, value("Last-Event-ID", id)?);
    }
    if let Some(caller_names) = caller {
        caller_names.apply(&head.caller, &mut map)?;
    }
    for name in configured.keys() {
        map.remove(name);
    }
    for (name, value) in configured {
        map.append(name.clone(), value.clone());
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stateless(head: &RequestHead) -> Result<HeaderMap, String> {
        headers(head, Era::Stateless, &HeaderMap::new(), None)
    }

    fn head(method: Method) -> RequestHead {
        RequestHead {
            request_id: 1,
            method,
            server: ServerName::new("wiki").expect("valid name"),
            session: None,
            protocol_version: None,
            last_event_id: Some("ev-1".into()),
            caller: Caller {
                subject: "alice".into(),
                groups: vec!["staff".into(), "ops".into()],
                agent: None,
            },
            headers: vec![
                ("mcp-param-region".into(), "us".into()),
                ("Mcp-Param-Limit".into(), "5".into()),
                ("authorization".into(), "Bearer client".into()),
                ("mcp-parameter".into(), "x".into()),
            ],
        }
    }

    #[test]
    fn only_mcp_headers_are_forwarded() {
        let map = stateless(&head(Method::Post)).expect("headers");
        let names: Vec<&str> = map.keys().map(HeaderName::as_str).collect();
        assert_eq!(
            names,
            [
                "mcp-param-region",
                "mcp-param-limit",
                "accept",
                "content-type"
            ]
        );
    }

    #[test]
    fn session_era_requests_forward_no_client_header() {
        let mut h = head(Method::Post);
        h.headers.push(("mcp-method".into(), "tools/call".into()));
        h.headers.push(("Mcp-Name".into(), "secret".into()));
        let map = headers(&h, Era::Session, &HeaderMap::new(), None).expect("headers");
        let names: Vec<&str> = map.keys().map(HeaderName::as_str).collect();
        assert_eq!(names, ["accept", "content-type"]);
        let map = stateless(&h).expect("headers");
        assert_eq!(
            (map["mcp-method"].as_bytes(), map["mcp-name"].as_bytes()),
            (&b"tools/call"[..], &b"secret"[..])
        );
    }

    #[test]
    fn routing_headers_given_twice_are_refused() {
        for (name, other) in [
            ("mcp-name", "Mcp-Name"),
            ("mcp-method", "mcp-method"),
            ("mcp-session-id", "MCP-Session-Id"),
            ("mcp-protocol-version", "mcp-protocol-version"),
            ("mcp-param-region", "Mcp-Param-Region"),
        ] {
            let mut h = head(Method::Post);
            h.headers.push((name.into(), "a".into()));
            h.headers.push((other.into(), "b".into()));
            for era in [Era::Session, Era::Stateless] {
                let e = headers(&h, era, &HeaderMap::new(), None).expect_err(name);
                assert!(e.contains("more than once"), "{e}");
            }
        }
        // Once in the head's headers and once as the relay's field.
        let mut h = head(Method::Post);
        h.session = Some("s1".into());
        h.headers.push(("Mcp-Session-Id".into(), "s2".into()));
        assert!(stateless(&h).is_err());
        let mut h = head(Method::Post);
        h.protocol_version = Some("2026-07-28".into());
        h.headers
            .push(("mcp-protocol-version".into(), "2025-11-25".into()));
        assert!(stateless(&h).is_err());
        let mut h = head(Method::Post);
        h.headers.push(("mcp-name".into(), "a".into()));
        h.headers.push(("mcp-method".into(), "b".into()));
        assert!(stateless(&h).is_ok(), "different headers once each");
    }

    #[test]
    fn last_event_id_only_on_get() {
        let get = stateless(&head(Method::Get)).expect("headers");
        assert_eq!(get[LAST_EVENT_ID], "ev-1");
        assert_eq!(get[ACCEPT], "text/event-stream");
        assert!(!get.contains_key(CONTENT_TYPE));
        let post = stateless(&head(Method::Post)).expect("headers");
        assert!(!post.contains_key(LAST_EVENT_ID));
    }

    #[test]
    fn caller_headers_when_chosen_and_configured_headers_win() {
        let server = ServerName::new("wiki").expect("valid name");
        let names = CallerNames::new(
            &server,
            &CallerHeaders {
                subject: "X-User".into(),
                groups: Some("X-Groups".into()),
                agent: Some("X-Agent".into()),
            },
        )
        .expect("valid names");
        let mut configured = HeaderMap::new();
        configured.insert("mcp-param-region", HeaderValue::from_static("eu"));
        let map = headers(
            &head(Method::Post),
            Era::Stateless,
            &configured,
            Some(&names),
        )
        .expect("headers");
        assert_eq!(map["x-user"], "alice");
        assert_eq!(map["x-groups"], "staff,ops");
        assert!(!map.contains_key("x-agent"));
        let region: Vec<_> = map.get_all("mcp-param-region").iter().collect();
        assert_eq!(region, [&HeaderValue::from_static("eu")]);
    }

    #[test]
    fn a_header_http_cannot_carry_is_refused() {
        let mut h = head(Method::Post);
        h.headers.push(("mcp-name".into(), "a\nb".into()));
        assert!(stateless(&h).is_err());
    }
}
