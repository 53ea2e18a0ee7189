//! The demo's error type: one enum for everything `sallyport demo` can
//! fail at, each message saying what to do about it.

use std::path::PathBuf;
use std::time::Duration;

/// Why the demo (or its built-in MCP server) could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DemoError {
    /// The relay's client port is taken.
    #[error(
        "port {port} on 127.0.0.1 is already in use; pick another with --http-port <PORT> (0 = any free port)"
    )]
    PortInUse {
        /// The port asked for.
        port: u16,
    },
    /// A file, directory or socket operation failed.
    #[error("{what}")]
    Io {
        /// What the demo was doing.
        what: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A path cannot be written into a TOML config (not UTF-8).
    #[error("path {} is not valid UTF-8", .0.display())]
    NonUtf8Path(PathBuf),
    /// Creating the demo CA, certificates or API key failed.
    #[error("demo PKI")]
    Pki(#[from] sallyport_pki::PkiError),
    /// The generated relay config was refused (a bug in the demo).
    #[error("generated relay config")]
    RelayConfig(#[from] sallyport_relay::ConfigError),
    /// The relay could not start or stopped with an error.
    #[error("relay")]
    Relay(#[from] sallyport_relay::RelayError),
    /// The generated connector config was refused (a bug in the demo).
    #[error("generated connector config")]
    ConnectorConfig(#[from] sallyport_connector::ConfigError),
    /// The connector could not start or stopped with an error.
    #[error("connector")]
    Connector(#[from] sallyport_connector::ConnectorError),
    /// The connector's servers did not show up at the relay in time.
    #[error(
        "the connector did not register {missing} with the relay within {} s (run with --log debug for details)",
        waited.as_secs()
    )]
    NotReady {
        /// The servers still missing.
        missing: String,
        /// How long the demo waited.
        waited: Duration,
    },
    /// A part of the demo stopped on its own.
    #[error("the demo's {0} stopped unexpectedly")]
    Stopped(&'static str),
    /// The built-in MCP server failed.
    #[error("demo MCP server: {0}")]
    Mcp(String),
}

impl DemoError {
    pub(crate) fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        DemoError::Io {
            what: what.into(),
            source,
        }
    }
}
