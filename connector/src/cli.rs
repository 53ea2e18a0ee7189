//! The `sallyport connector` command line.

use std::path::PathBuf;

use clap::Args;

/// Run a connector: dial out to the relay over mutually-authenticated QUIC
/// and offer the local MCP servers named in the config. Opens no listening
/// socket.
#[derive(Debug, Args)]
pub struct ConnectorArgs {
    /// The connector's config file (TOML): relay address, certificate, key,
    /// trust bundle and [[server]] entries.
    #[arg(long, short, value_name = "FILE", default_value = "connector.toml")]
    pub config: PathBuf,
}
