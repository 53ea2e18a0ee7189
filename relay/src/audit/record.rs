//! One audit record: the JSON line written for one MCP request, denial or
//! connector refusal.
//!
//! The record type is closed over what may be audited: it has no field
//! meant for a bearer token, an API key, a session id or a request body.
//! Session ids appear only as a [`SessionTag`] (a truncated, domain-separated
//! SHA-256), and callers are expected to fill `user`/`agent`/`groups` from an
//! authenticated [`Principal`], never from a raw header.

use std::fmt;
use std::time::Duration;

use ring::digest;
use serde::{Serialize, Serializer};
use time::{OffsetDateTime, UtcOffset};

use crate::auth::Principal;

/// Longest string written for one field, in bytes; longer values (most are
/// peer-controlled: a tool name, a URL path segment) are cut at a character
/// boundary and end with `…`.
pub const MAX_FIELD_LEN: usize = 512;

/// What happened, as the `event` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditEvent {
    /// An MCP request that reached the relay's routing (allowed or not).
    #[default]
    McpRequest,
    /// A request refused by authentication or policy.
    Denial,
    /// A connector offered a server it is not granted, or refused a request.
    ConnectorRefused,
    /// A request refused by a rate limit.
    RateLimited,
}

/// The outcome, as the `decision` field (and a metrics label).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Policy allowed the request.
    Allow,
    /// Authentication, policy or a limit refused it.
    Deny,
    /// Allowed, but it failed (no connector, timeout, upstream error). The
    /// default, so an unfinished record never reads as `allow`.
    #[default]
    Error,
}

impl Decision {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allow => "allow",
            Decision::Deny => "deny",
            Decision::Error => "error",
        }
    }
}

/// How the caller authenticated, as the `auth` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    /// A static API key (`[[api_key]]`).
    ApiKey,
    /// A JWT bearer token.
    Jwt,
    /// A TLS client certificate.
    ClientCert,
    /// An anonymous binding allowed the unauthenticated caller.
    Anonymous,
    /// Not authenticated (yet): the request was refused before or by
    /// authentication.
    #[default]
    None,
}

/// A short, non-reversible tag of a session id: the first 12 hex digits of
/// `SHA-256("sallyport-audit-session-v1\0" || id)`. Equal ids give equal
/// tags, so one session's records can be grouped; the id cannot be
/// recovered from the tag.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct SessionTag(String);

impl SessionTag {
    /// Tags `session_id` (the `Mcp-Session-Id` value as the client sends it).
    pub fn of(session_id: &str) -> Self {
        let mut ctx = digest::Context::new(&digest::SHA256);
        ctx.update(b"sallyport-audit-session-v1\0");
        ctx.update(session_id.as_bytes());
        let d = ctx.finish();
        let mut s = String::with_capacity(12);
        for b in &d.as_ref()[..6] {
            s.push(char::from(HEX[usize::from(b >> 4)]));
            s.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
        Self(s)
    }

    /// The tag's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// One audit line. Every field is always written (`null` when absent), in
/// this order, so log consumers see one fixed shape.
///
/// Build it with [`AuditRecord::new`] and the `with_*` methods, or set the
/// public fields directly.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditRecord {
    /// When the request arrived (RFC 3339, UTC, milliseconds).
    #[serde(serialize_with = "ser_time")]
    pub time: OffsetDateTime,
    /// What happened.
    pub event: AuditEvent,
    /// The relay's name.
    #[serde(serialize_with = "ser_str")]
    pub relay: String,
    /// The relay's request id (also in tracing spans and sent upstream).
    pub request_id: u64,
    /// The authenticated subject; empty when not authenticated.
    #[serde(serialize_with = "ser_str")]
    pub user: String,
    /// The acting agent, when known.
    #[serde(serialize_with = "ser_opt_str")]
    pub agent: Option<String>,
    /// The subject's groups.
    #[serde(serialize_with = "ser_strs")]
    pub groups: Vec<String>,
    /// How the caller authenticated.
    pub auth: AuthMethod,
    /// The session's tag, when the request belongs to a session.
    pub session: Option<SessionTag>,
    /// The MCP server (as named in the URL).
    #[serde(serialize_with = "ser_str")]
    pub server: String,
    /// The SPIFFE id of the connector that served (or refused) it.
    #[serde(serialize_with = "ser_opt_str")]
    pub connector: Option<String>,
    /// The JSON-RPC method, or the HTTP method when there is no JSON-RPC body.
    #[serde(serialize_with = "ser_str")]
    pub method: String,
    /// The tool name, resource URI or prompt name, when the method has one.
    #[serde(serialize_with = "ser_opt_str")]
    pub target: Option<String>,
    /// The outcome.
    pub decision: Decision,
    /// The policy rule (or limit, or refusal reason) that decided.
    #[serde(serialize_with = "ser_opt_str")]
    pub rule: Option<String>,
    /// The HTTP status answered.
    pub status: u16,
    /// The JSON-RPC error code answered by the relay, if any.
    pub jsonrpc_error: Option<i64>,
    /// Time from arrival to the response head, in milliseconds.
    pub latency_ms: f64,
    /// Request body bytes received from the client.
    pub bytes_in: u64,
    /// Response body bytes sent to the client.
    pub bytes_out: u64,
    /// What failed inside (the connector's or upstream's own words), for
    /// operators; the client only saw a category and the request id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Default for AuditRecord {
    /// An empty `mcp_request` record stamped now.
    fn default() -> Self {
        Self {
            time: OffsetDateTime::now_utc(),
            event: AuditEvent::default(),
            relay: String::new(),
            request_id: 0,
            user: String::new(),
            agent: None,
            groups: Vec::new(),
            auth: AuthMethod::default(),
            session: None,
            server: String::new(),
            connector: None,
            method: String::new(),
            target: None,
            decision: Decision::default(),
            rule: None,
            status: 0,
            jsonrpc_error: None,
            latency_ms: 0.0,
            bytes_in: 0,
            bytes_out: 0,
            error: None,
        }
    }
}

impl AuditRecord {
    /// A record of `event` for request `request_id` at relay `relay`,
    /// stamped now.
    pub fn new(event: AuditEvent, relay: impl Into<String>, request_id: u64) -> Self {
        Self {
            event,
            relay: relay.into(),
            request_id,
            ..Self::default()
        }
    }

    /// Notes what failed inside (log and audit only).
    pub fn with_error(mut self, error: Option<String>) -> Self {
        self.error = error;
        self
    }

    /// Sets the arrival time (tests and replays; `new` stamps now).
    pub fn with_time(mut self, time: OffsetDateTime) -> Self {
        self.time = time;
        self
    }

    /// Fills `user`, `agent`, `groups` and `auth` from an authenticated
    /// caller.
    pub fn with_principal(mut self, principal: &Principal, auth: AuthMethod) -> Self {
        self.user.clone_from(&principal.subject);
        self.agent.clone_from(&principal.agent);
        self.groups.clone_from(&principal.groups);
        self.auth = auth;
        self
    }

    /// Tags the session id; the id itself is not kept.
    pub fn with_session(mut self, session_id: &str) -> Self {
        self.session = Some(SessionTag::of(session_id));
        self
    }

    /// Sets the server.
    pub fn with_server(mut self, server: impl Into<String>) -> Self {
        self.server = server.into();
        self
    }

    /// Sets the connector's SPIFFE id.
    pub fn with_connector(mut self, connector: impl Into<String>) -> Self {
        self.connector = Some(connector.into());
        self
    }

    /// Sets the method and its target (tool, resource URI or prompt).
    pub fn with_method(mut self, method: impl Into<String>, target: Option<String>) -> Self {
        self.method = method.into();
        self.target = target;
        self
    }

    /// Sets the decision and the rule that made it.
    pub fn with_decision(mut self, decision: Decision, rule: Option<String>) -> Self {
        self.decision = decision;
        self.rule = rule;
        self
    }

    /// Sets what the client was answered.
    pub fn with_status(mut self, status: u16, jsonrpc_error: Option<i64>) -> Self {
        self.status = status;
        self.jsonrpc_error = jsonrpc_error;
        self
    }

    /// Sets the latency (kept to the microsecond).
    pub fn with_latency(mut self, latency: Duration) -> Self {
        self.latency_ms = (latency.as_secs_f64() * 1_000_000.0).round() / 1000.0;
        self
    }

    /// Sets the body sizes.
    pub fn with_bytes(mut self, bytes_in: u64, bytes_out: u64) -> Self {
        self.bytes_in = bytes_in;
        self.bytes_out = bytes_out;
        self
    }
}

/// `2025-01-02T03:04:05.678Z`, whatever the offset of the value.
struct Rfc3339Millis(OffsetDateTime);

impl fmt::Display for Rfc3339Millis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = self.0.to_offset(UtcOffset::UTC);
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            t.millisecond()
        )
    }
}

fn ser_time<S: Serializer>(t: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&Rfc3339Millis(*t))
}

/// Cuts `v` to at most [`MAX_FIELD_LEN`] bytes at a character boundary.
fn bounded(v: &str) -> std::borrow::Cow<'_, str> {
    if v.len() <= MAX_FIELD_LEN {
        return v.into();
    }
    let mut end = MAX_FIELD_LEN - '…'.len_utf8();
    while !v.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &v[..end]).into()
}

fn ser_str<S: Serializer>(v: &str, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&bounded(v))
}

// serde's `serialize_with` hands `&Option<String>`.
#[allow(clippy::ref_option, reason = "serde's serialize_with signature")]
fn ser_opt_str<S: Serializer>(v: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.serialize_some(&*bounded(v)),
        None => s.serialize_none(),
    }
}

fn ser_strs<S: Serializer>(v: &[String], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(v.iter().map(|g| bounded(g)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_is_utc_with_millis() {
        let t = time::macros::datetime!(2025-03-04 05:06:07.089_999 +02:00);
        assert_eq!(Rfc3339Millis(t).to_string(), "2025-03-04T03:06:07.089Z");
    }

    #[test]
    fn long_fields_are_cut_at_a_char_boundary() {
        let long = "é".repeat(MAX_FIELD_LEN);
        let cut = bounded(&long);
        assert!(cut.len() <= MAX_FIELD_LEN);
        assert!(cut.ends_with('…'));
        assert_eq!(bounded("short"), "short");
    }

    #[test]
    fn session_tag_is_short_stable_and_not_the_id() {
        let a = SessionTag::of("sealed-session-id");
        assert_eq!(a.as_str().len(), 12);
        assert!(a.as_str().bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(a, SessionTag::of("sealed-session-id"));
        assert_ne!(a, SessionTag::of("sealed-session-id2"));
    }

    #[test]
    fn latency_keeps_microseconds() {
        let r = AuditRecord::default().with_latency(Duration::from_nanos(1_234_567));
        assert!((r.latency_ms - 1.235).abs() < 1e-9, "{}", r.latency_ms);
    }
}
