//! The `sallyport demo` command line.

use std::path::PathBuf;

use clap::{Args, Subcommand};

/// Run the whole system on this machine: a throw-away CA, a relay, a
/// connector and two built-in MCP servers (stdio and HTTP). Prints the URLs
/// and the `Authorization` header to use from any MCP client.
#[derive(Debug, Clone, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct DemoArgs {
    /// Internal: what to run instead of the demo.
    #[command(subcommand)]
    pub command: Option<DemoCommand>,
    /// Port of the relay's MCP endpoint on 127.0.0.1 (0 = any free port).
    #[arg(long, value_name = "PORT", default_value_t = 8080)]
    pub http_port: u16,
    /// Write the generated PKI and configs to DIR and keep them (files of an
    /// earlier demo in DIR are replaced), instead of a temporary directory
    /// removed on exit.
    #[arg(long, value_name = "DIR")]
    pub keep: Option<PathBuf>,
}

/// The demo's internal subcommands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Subcommand)]
pub enum DemoCommand {
    /// Serve the built-in demo MCP server on stdin/stdout (the demo's
    /// connector runs this as its stdio server).
    #[command(hide = true)]
    McpServer,
}

impl Default for DemoArgs {
    fn default() -> Self {
        Self {
            command: None,
            http_port: 8080,
            keep: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::{Parser, Subcommand};

    use super::*;

    /// The shape `src/main.rs` gives it: `sallyport demo [...]`.
    #[derive(Debug, Parser)]
    struct Cli {
        #[command(subcommand)]
        command: Command,
    }

    #[derive(Debug, Subcommand)]
    enum Command {
        Demo(DemoArgs),
    }

    fn parse(args: &[&str]) -> DemoArgs {
        let argv = ["sallyport", "demo"].iter().chain(args);
        match Cli::try_parse_from(argv).expect("parse").command {
            Command::Demo(d) => d,
        }
    }

    #[test]
    fn defaults_and_flags() {
        let d = parse(&[]);
        assert_eq!((d.command, d.http_port, d.keep), (None, 8080, None));
        let d = parse(&["--http-port", "0", "--keep", "/tmp/x"]);
        assert_eq!(d.http_port, 0);
        assert_eq!(d.keep, Some(PathBuf::from("/tmp/x")));
        let d = parse(&["mcp-server"]);
        assert_eq!(d.command, Some(DemoCommand::McpServer));
    }
}
