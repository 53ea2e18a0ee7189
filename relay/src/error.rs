//! The relay's error types, one per boundary.

pub use sallyport_config::ConfigError;

/// A relay that cannot start or keep running.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RelayError {
    /// The configuration is unusable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Certificates, keys, the trust bundle or the CRL could not be loaded.
    #[error("TLS material: {0}")]
    Tls(#[from] sallyport_pki::PkiError),
    /// The rustls configuration cannot be used for QUIC.
    #[error("QUIC TLS configuration: {0}")]
    QuicTls(String),
    /// The audit log could not be opened.
    #[error("audit log: {0}")]
    Audit(String),
    /// The session keys could not be loaded.
    #[error("session keys: {0}")]
    Sessions(String),
    /// A listener could not bind its address.
    #[error("cannot listen on {addr} ({what}): {source}")]
    Bind {
        /// Which listener.
        what: &'static str,
        /// The address.
        addr: std::net::SocketAddr,
        /// The I/O error.
        source: std::io::Error,
    },
}
