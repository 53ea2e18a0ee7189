//! Prometheus metrics of the relay, served as text on the admin listener.
//!
//! Request series are labelled by server and tool. Both come from callers
//! (a URL segment, a tool name in a body), so label values are interned and
//! capped: at most [`MAX_SERVERS`] servers and [`MAX_TOOL_SERIES`]
//! (server, tool) pairs, and no value longer than [`MAX_LABEL_LEN`]; beyond
//! that the value is [`OTHER`]. On the hot path an existing label set costs
//! a read lock and a hash lookup, no allocation.

mod series;

use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use crate::audit::{AuditCounters, Decision};
use series::{Series, ServerSeries};

/// Most distinct `server` label values; more are counted as [`OTHER`].
pub const MAX_SERVERS: usize = 1000;
/// Most distinct (server, tool) pairs; more are counted as tool [`OTHER`].
pub const MAX_TOOL_SERIES: usize = 1000;
/// Longest server or tool label value kept; longer ones are [`OTHER`].
pub const MAX_LABEL_LEN: usize = 128;
/// The label value that absorbs everything beyond the caps.
pub const OTHER: &str = "other";

/// Request latency buckets, in seconds: 0.5 ms to 60 s.
pub const DURATION_BUCKETS: [f64; 17] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0,
    30.0, 60.0,
];

/// How a connector's link attempt ended, as a metrics label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HandshakeOutcome {
    /// Link established (`Welcome` sent).
    Ok,
    /// TLS failed: bad, expired, revoked or foreign certificate.
    TlsError,
    /// The certificate holds no connector SPIFFE id, or the id is in no
    /// `[[connector]]` entry.
    Unauthorized,
    /// Preamble or `Hello` malformed.
    ProtocolError,
    /// No common protocol version.
    VersionMismatch,
    /// Handshake or `Hello` not completed in time.
    Timeout,
    /// Refused because the relay is draining or at its link limit.
    Refused,
}

impl HandshakeOutcome {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            HandshakeOutcome::Ok => "ok",
            HandshakeOutcome::TlsError => "tls_error",
            HandshakeOutcome::Unauthorized => "unauthorized",
            HandshakeOutcome::ProtocolError => "protocol_error",
            HandshakeOutcome::VersionMismatch => "version_mismatch",
            HandshakeOutcome::Timeout => "timeout",
            HandshakeOutcome::Refused => "refused",
        }
    }
}

/// The `tool` label of a request: the tool name for `tools/call`, else the
/// JSON-RPC method (or the HTTP method when there is no body).
pub fn tool_label<'a>(method: &'a str, tool: Option<&'a str>) -> &'a str {
    match (method, tool) {
        ("tools/call", Some(name)) => name,
        _ => method,
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RequestLabels {
    server: Arc<str>,
    tool: Arc<str>,
    decision: &'static str,
    status: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ServerLabel {
    server: Arc<str>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct BytesLabels {
    direction: &'static str,
    server: Arc<str>,
}

type HistogramFamily = Family<ServerLabel, Histogram, fn() -> Histogram>;

/// The relay's metrics.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    connectors: Gauge,
    handshakes: Family<OutcomeLabel, Counter>,
    requests: Family<RequestLabels, Counter>,
    durations: HistogramFamily,
    sessions: Gauge,
    bytes: Family<BytesLabels, Counter>,
    rate_limited: Family<ServerLabel, Counter>,
    reloads: Family<OutcomeLabel, Counter>,
    audit: AuditCounters,
    series: RwLock<Series>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Creates and registers every metric.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let connectors = Gauge::default();
        let handshakes = Family::<OutcomeLabel, Counter>::default();
        let requests = Family::<RequestLabels, Counter>::default();
        let durations: HistogramFamily =
            Family::new_with_constructor(|| Histogram::new(DURATION_BUCKETS));
        let sessions = Gauge::default();
        let bytes = Family::<BytesLabels, Counter>::default();
        let rate_limited = Family::<ServerLabel, Counter>::default();
        let reloads = Family::<OutcomeLabel, Counter>::default();
        let audit = AuditCounters::default();
        registry.register(
            "sallyport_connectors_connected",
            "Connector links currently established",
            connectors.clone(),
        );
        registry.register(
            "sallyport_link_handshakes",
            "Connector link attempts by outcome",
            handshakes.clone(),
        );
        registry.register(
            "sallyport_requests",
            "MCP requests by server, tool (or method), decision and HTTP status",
            requests.clone(),
        );
        registry.register_with_unit(
            "sallyport_request_duration",
            "Time from request arrival to response head, by server",
            Unit::Seconds,
            durations.clone(),
        );
        registry.register(
            "sallyport_active_sessions",
            "MCP sessions minted and not yet deleted (best effort)",
            sessions.clone(),
        );
        registry.register(
            "sallyport_bytes",
            "MCP body bytes by direction (in: from clients) and server",
            bytes.clone(),
        );
        registry.register(
            "sallyport_rate_limited",
            "Requests refused by a rate limit, by server",
            rate_limited.clone(),
        );
        registry.register(
            "sallyport_policy_reloads",
            "Policy reloads by outcome",
            reloads.clone(),
        );
        registry.register(
            "sallyport_audit_dropped_or_blocked",
            "Audit records that waited for room in the audit queue or were dropped after close",
            audit.blocked_or_dropped.clone(),
        );
        registry.register(
            "sallyport_audit_write_errors",
            "Audit records lost to write errors",
            audit.write_errors.clone(),
        );
        Self {
            registry,
            connectors,
            handshakes,
            requests,
            durations,
            sessions,
            bytes,
            rate_limited,
            reloads,
            audit,
            series: RwLock::new(Series::default()),
        }
    }

    /// Counts one link attempt.
    pub fn handshake(&self, outcome: HandshakeOutcome) {
        self.handshakes
            .get_or_create(&OutcomeLabel {
                outcome: outcome.as_str(),
            })
            .inc();
    }

    /// Sets the number of connected connectors.
    pub fn set_connectors(&self, n: usize) {
        self.connectors.set(i64::try_from(n).unwrap_or(i64::MAX));
    }

    /// Counts one finished MCP request: `tool` is [`tool_label`]`(method,
    /// name)`, `latency` runs from arrival to the response head, the byte
    /// counts are body sizes.
    #[allow(
        clippy::too_many_arguments,
        reason = "one call per request, named by the caller"
    )]
    pub fn request(
        &self,
        server: &str,
        tool: &str,
        decision: Decision,
        status: u16,
        latency: Duration,
        bytes_in: u64,
        bytes_out: u64,
    ) {
        self.with_series(server, Some(tool), |s, tool| {
            let labels = RequestLabels {
                server: Arc::clone(&s.name),
                // Always `Some`: a tool was passed.
                tool: tool.map_or_else(|| Arc::from(OTHER), Arc::clone),
                decision: decision.as_str(),
                status,
            };
            self.requests.get_or_create(&labels).inc();
            s.duration.observe(latency.as_secs_f64());
            s.bytes_in.inc_by(bytes_in);
            s.bytes_out.inc_by(bytes_out);
        });
    }

    /// Counts one request refused by a rate limit.
    pub fn rate_limited(&self, server: &str) {
        self.with_series(server, None, |s, _| {
            s.rate_limited.inc();
        });
    }

    /// Counts one policy reload.
    pub fn policy_reload(&self, ok: bool) {
        let outcome = if ok { "ok" } else { "error" };
        self.reloads.get_or_create(&OutcomeLabel { outcome }).inc();
    }

    /// A session id was minted.
    pub fn session_opened(&self) {
        self.sessions.inc();
    }

    /// A session was deleted. Never goes below zero (sessions minted before
    /// a restart can be deleted after it).
    pub fn session_closed(&self) {
        let _ = self.sessions.inner().fetch_update(
            std::sync::atomic::Ordering::Relaxed,
            std::sync::atomic::Ordering::Relaxed,
            |n| (n > 0).then(|| n - 1),
        );
    }

    /// The counters to pass to the audit log (`AuditOptions::counters`),
    /// so its waits and write errors are exported here.
    pub fn audit_counters(&self) -> AuditCounters {
        self.audit.clone()
    }

    /// The Prometheus text exposition of every metric.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    /// Runs `f` on the series of `server` (and the interned `tool`), creating
    /// them within the caps.
    fn with_series<R>(
        &self,
        server: &str,
        tool: Option<&str>,
        f: impl FnOnce(&ServerSeries, Option<&Arc<str>>) -> R,
    ) -> R {
        {
            let series = self.series.read().unwrap_or_else(PoisonError::into_inner);
            if let Some(s) = series.servers.get(server) {
                match tool {
                    None => return f(s, None),
                    Some(t) => {
                        if let Some(t) = s.tools.get(t) {
                            return f(s, Some(t));
                        }
                    }
                }
            }
        }
        let mut series = self.series.write().unwrap_or_else(PoisonError::into_inner);
        let key = series.admit_server(server, self);
        let tool = tool.map(|t| series.admit_tool(&key, t));
        match series.servers.get(&key) {
            Some(s) => f(s, tool.as_ref()),
            // admit_server inserted it under this lock.
            None => unreachable!("admitted server series exists"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_holds_counts() {
        let m = Metrics::new();
        m.handshake(HandshakeOutcome::Ok);
        m.handshake(HandshakeOutcome::TlsError);
        m.handshake(HandshakeOutcome::TlsError);
        m.set_connectors(3);
        let text = m.encode();
        assert!(text.contains("sallyport_connectors_connected 3"), "{text}");
        assert!(
            text.contains("sallyport_link_handshakes_total{outcome=\"tls_error\"} 2"),
            "{text}"
        );
    }
}
