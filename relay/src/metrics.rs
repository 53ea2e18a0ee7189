//! Prometheus metrics of the relay, served as text on the admin listener.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

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

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: &'static str,
}

/// The relay's metrics.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    connectors: Gauge,
    handshakes: Family<OutcomeLabel, Counter>,
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
        Self {
            registry,
            connectors,
            handshakes,
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

    /// The Prometheus text exposition of every metric.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
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
