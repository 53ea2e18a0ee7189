//! The `sallyport relay` command line.

use std::path::PathBuf;

use clap::Args;

/// Run the relay: accept connector links over QUIC and serve the admin API.
#[derive(Debug, Args)]
pub struct RelayArgs {
    /// The relay's config file (TOML): [quic], [admin] and [[connector]]
    /// entries granting SPIFFE ids the servers they may serve.
    #[arg(long, short, value_name = "FILE", default_value = "relay.toml")]
    pub config: PathBuf,
}
