//! The connector's error types, one per boundary.

use std::path::PathBuf;

/// A configuration file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config {}", path.display())]
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
    /// The rustls configuration cannot be used for QUIC.
    #[error("QUIC TLS configuration: {0}")]
    QuicTls(String),
    /// The local UDP socket could not be opened.
    #[error("cannot open a UDP socket: {0}")]
    Socket(std::io::Error),
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
