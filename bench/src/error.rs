//! The bench's one error type.

use std::path::PathBuf;

/// Why a scenario (or its set-up) failed. Request-level failures during a
/// measured run are counted in the records, not returned as errors.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BenchError {
    /// A file or socket operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The cause.
        source: std::io::Error,
    },
    /// Creating the throw-away PKI failed.
    #[error("pki: {0}")]
    Pki(#[from] sallyport_pki::PkiError),
    /// The generated relay config was refused.
    #[error("relay config")]
    RelayConfig(#[source] sallyport_relay::ConfigError),
    /// The in-process relay failed.
    #[error("relay: {0}")]
    Relay(#[from] sallyport_relay::RelayError),
    /// The generated connector config was refused.
    #[error("connector config")]
    ConnectorConfig(#[source] sallyport_connector::ConfigError),
    /// The HTTP client failed (connect, send, body).
    #[error("HTTP: {0}")]
    Http(#[from] reqwest::Error),
    /// An HTTP answer with an unexpected status.
    #[error("HTTP status {status}: {body}")]
    Status {
        /// The status code.
        status: u16,
        /// The start of the body.
        body: String,
    },
    /// A well-formed HTTP answer that is not the expected MCP message.
    #[error("MCP: {0}")]
    Mcp(String),
    /// A QUIC connection or stream failed.
    #[error("QUIC: {0}")]
    Quic(String),
    /// Something did not happen in time.
    #[error("timed out: {0}")]
    Timeout(String),
    /// The release `sallyport` binary is needed and was not found.
    #[error(
        "the sallyport binary was not found (looked for {}); build it with `cargo build --release` or pass --sallyport PATH",
        looked.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
    )]
    NoBinary {
        /// Where it was looked for.
        looked: Vec<PathBuf>,
    },
    /// A child process misbehaved (exited early, no status file).
    #[error("{0}")]
    Process(String),
    /// Anything else that stops a scenario from running.
    #[error("{0}")]
    Setup(String),
}

impl BenchError {
    /// An I/O error with what was being done.
    pub fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            what: what.into(),
            source,
        }
    }
}

/// The bench's result type.
pub type Result<T, E = BenchError> = std::result::Result<T, E>;
