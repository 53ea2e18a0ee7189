//! The headers of an upstream request, built from the relayed request head
//! by a pure function.
//!
//! What reaches the upstream, in order (a later step replaces an earlier
//! one's header of the same name):
//!
//! 1. from the client: `Mcp-Method`, `Mcp-Name` and every `Mcp-Param-*`,
//!    nothing else (never `Authorization`, cookies or forwarding headers);
//! 2. the transport headers: `Accept`, `Content-Type` (POST),
//!    `Mcp-Session-Id`, `MCP-Protocol-Version`, `Last-Event-ID` (GET);
//! 3. the caller's identity, only when the operator chose header names
//!    for it ([`CallerHeaders`]);
//! 4. the configured headers (service credentials), which win.

use http::header::{ACCEPT, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use sallyport_protocol::ServerName;
use sallyport_protocol::data::{Caller, Method, RequestHead};

use crate::error::ConfigError;

const SESSION: HeaderName = HeaderName::from_static("mcp-session-id");
const PROTOCOL_VERSION: HeaderName = HeaderName::from_static("mcp-protocol-version");
const LAST_EVENT_ID: HeaderName = HeaderName::from_static("last-event-id");
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

/// Whether a client header may go upstream.
fn forwarded(name: &str) -> bool {
    name.eq_ignore_ascii_case("mcp-method")
        || name.eq_ignore_ascii_case("mcp-name")
        || name
            .get(..10)
            .is_some_and(|p| p.eq_ignore_ascii_case("mcp-param-"))
}

/// The headers of the upstream request for `head`. An error is a header
/// the client sent that HTTP cannot carry (the relay's validation should
/// have caught it): a bad request.
pub(super) fn headers(
    head: &RequestHead,
    configured: &HeaderMap,
    caller: Option<&CallerNames>,
) -> Result<HeaderMap, String> {
    let mut map = HeaderMap::new();
    for (name, value) in &head.headers {
        if !forwarded(name) {
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
        let map = headers(&head(Method::Post), &HeaderMap::new(), None).expect("headers");
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
    fn last_event_id_only_on_get() {
        let get = headers(&head(Method::Get), &HeaderMap::new(), None).expect("headers");
        assert_eq!(get[LAST_EVENT_ID], "ev-1");
        assert_eq!(get[ACCEPT], "text/event-stream");
        assert!(!get.contains_key(CONTENT_TYPE));
        let post = headers(&head(Method::Post), &HeaderMap::new(), None).expect("headers");
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
        let map = headers(&head(Method::Post), &configured, Some(&names)).expect("headers");
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
        assert!(headers(&h, &HeaderMap::new(), None).is_err());
    }
}
