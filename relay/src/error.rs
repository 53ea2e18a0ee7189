//! The relay's error types, one per boundary.

use std::path::PathBuf;

/// A configuration file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The TOML is malformed or holds an unknown key or a bad value.
    #[error("{}{message}", path.as_ref().map(|p| format!("config {}: ", p.display())).unwrap_or_default())]
    Syntax {
        /// The file, when known.
        path: Option<PathBuf>,
        /// The parser's message (with line and column).
        message: String,
    },
    /// The TOML is well-formed but its content is inconsistent.
    #[error("{}{message}", path.as_ref().map(|p| format!("config {}: ", p.display())).unwrap_or_default())]
    Invalid {
        /// The file, when known.
        path: Option<PathBuf>,
        /// What is wrong.
        message: String,
    },
}

impl ConfigError {
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        ConfigError::Invalid {
            path: None,
            message: message.into(),
        }
    }

    pub(crate) fn in_file(self, file: &std::path::Path) -> Self {
        match self {
            ConfigError::Syntax { message, .. } => ConfigError::Syntax {
                path: Some(file.to_owned()),
                message,
            },
            ConfigError::Invalid { message, .. } => ConfigError::Invalid {
                path: Some(file.to_owned()),
                message,
            },
            other => other,
        }
    }
}

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
