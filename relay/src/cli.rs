//! The `sallyport relay` command line.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};
use sallyport_protocol::ServerName;

use crate::config::Config;
use crate::error::ConfigError;
use crate::policy::{Subject, Target};

/// Run the relay: accept connector links over QUIC, serve remote MCP
/// clients over HTTPS, and the admin API.
#[derive(Debug, Args)]
pub struct RelayArgs {
    /// The relay's config file (TOML): [quic], [http], [admin], [auth],
    /// [[api_key]], [[role]]/[[binding]] (or `policy = "file"`) and
    /// [[connector]] entries granting SPIFFE ids the servers they may serve.
    #[arg(
        long,
        short,
        value_name = "FILE",
        default_value = "relay.toml",
        global = true
    )]
    pub config: PathBuf,
    /// A tool instead of running the relay.
    #[command(subcommand)]
    pub command: Option<RelayCommand>,
}

/// `sallyport relay <command>`.
#[derive(Debug, Subcommand)]
pub enum RelayCommand {
    /// Show whether the policy allows a caller to use `<server>/<name>`, and
    /// the rule that decided. Exits 0 when allowed, 1 when denied.
    Explain(ExplainArgs),
}

/// `sallyport relay explain`.
#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The user (token `sub`); omit for an unauthenticated caller.
    #[arg(long)]
    pub user: Option<String>,
    /// A group of the user (repeatable).
    #[arg(long = "group", value_name = "GROUP")]
    pub groups: Vec<String>,
    /// The agent acting for the user (token `azp`/`client_id`/`act.sub`).
    #[arg(long)]
    pub agent: Option<String>,
    /// What `<name>` is.
    #[arg(long, value_enum, default_value_t = Kind::Tool)]
    pub kind: Kind,
    /// `<server>/<tool|resource|prompt>`, e.g. contracts/delete_contract;
    /// `<server>` alone asks whether the server may be used at all.
    pub target: String,
}

/// The kind of thing named in `explain`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Kind {
    /// A tool name.
    Tool,
    /// A resource URI.
    Resource,
    /// A prompt name.
    Prompt,
}

/// Evaluates `explain`: returns the decision line and whether it allows.
pub fn explain(
    config: &std::path::Path,
    args: &ExplainArgs,
) -> Result<(String, bool), ConfigError> {
    let config = Config::load(config)?;
    let (server, name) = match args.target.split_once('/') {
        Some((s, n)) => (s, Some(n)),
        None => (args.target.as_str(), None),
    };
    let server = ServerName::new(server).map_err(ConfigError::invalid)?;
    let target = match (name, args.kind) {
        (None, _) => Target::Server,
        (Some(n), Kind::Tool) => Target::Tool(n),
        (Some(n), Kind::Resource) => Target::Resource(n),
        (Some(n), Kind::Prompt) => Target::Prompt(n),
    };
    let who = Subject {
        user: args.user.as_deref(),
        groups: &args.groups,
        agent: args.agent.as_deref(),
    };
    let decision = config.policy.decide(&who, &server, target);
    Ok((decision.to_string(), decision.allowed))
}
