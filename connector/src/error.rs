//! The connector's error types, one per boundary.

pub use sallyport_config::ConfigError;

/// A connector that cannot start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectorError {
    /// The configuration is unusable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The certificate, key or trust bundle could not be loaded.
    #[error("TLS material")]
    Tls(#[from] sallyport_pki::PkiError),
    /// The rustls or quinn configuration cannot be used for QUIC.
    #[error("QUIC configuration: {what}")]
    QuicTls {
        /// Which part: `TLS`, `idle timeout`.
        what: &'static str,
        /// What rustls or quinn said.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The local UDP socket could not be opened.
    #[error("cannot open a UDP socket")]
    Socket(#[source] std::io::Error),
}

impl ConnectorError {
    /// A QUIC configuration error about `what`.
    pub(crate) fn quic(
        what: &'static str,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        ConnectorError::QuicTls {
            what,
            source: Box::new(source),
        }
    }
}

/// Why one attempt to hold a link to a relay failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LinkError {
    /// The relay's host name did not resolve.
    #[error("cannot resolve {relay}: {detail}")]
    Resolve {
        /// The relay address.
        relay: String,
        /// What the resolver said.
        detail: String,
    },
    /// The QUIC connection or TLS handshake failed (a bad certificate on
    /// either side shows up here).
    #[error("cannot connect to {relay}: {detail}")]
    Connect {
        /// The relay address.
        relay: String,
        /// What quinn/rustls said.
        detail: String,
    },
    /// Connecting or the Hello/Welcome exchange took too long.
    #[error("{relay} did not complete the link within {timeout:?}")]
    Timeout {
        /// The relay address.
        relay: String,
        /// The limit.
        timeout: std::time::Duration,
    },
    /// The relay refused the link.
    #[error("{relay} rejected the link ({code}): {reason}")]
    Rejected {
        /// The relay address.
        relay: String,
        /// The close code.
        code: sallyport_protocol::CloseCode,
        /// The relay's reason.
        reason: String,
    },
    /// The relay broke the protocol.
    #[error("protocol error with {relay}: {detail}")]
    Protocol {
        /// The relay address.
        relay: String,
        /// What went wrong.
        detail: String,
    },
}
