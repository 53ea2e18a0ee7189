//! `sallyport`: one binary for the relay, the connector and the pki tool.
//! This file only wires the library crates to the command line.

use std::io::IsTerminal;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

/// mimalloc instead of glibc malloc: the relay and connector allocate per
/// request, and the benchmark measured +56% relayed req/s at 16 sessions
/// with it (`bench/README.md`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Sallyport: a zero-trust tunnel for MCP servers.
#[derive(Debug, Parser)]
#[command(name = "sallyport", version, about, long_about = None)]
struct Cli {
    /// Log filter (tracing `EnvFilter` syntax, e.g. `info,sallyport_relay=debug`).
    #[arg(long, global = true, env = "SALLYPORT_LOG", default_value = "info")]
    log: String,
    /// Log line format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// Worker threads of the async runtime (relay, connector, demo);
    /// default: one per CPU. On a small VM shared with other work, fewer
    /// workers mean fewer thread wake-ups per request.
    #[arg(long, global = true, env = "SALLYPORT_WORKERS", value_parser = clap::value_parser!(u16).range(1..=1024))]
    workers: Option<u16>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the public relay.
    Relay(sallyport_relay::RelayArgs),
    /// Run a connector beside private MCP servers.
    Connector(sallyport_connector::ConnectorArgs),
    /// Create and manage the CA, certificates and API keys.
    Pki(sallyport_pki::cli::PkiArgs),
    /// Try the whole system on this machine: relay, connector and a demo MCP
    /// server in one process (prints the URL and an API key).
    Demo(sallyport_demo::DemoArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    init_logging(&cli.log, cli.log_format);
    // One crypto provider for the whole process: ring.
    let _ = rustls::crypto::ring::default_provider().install_default();
    match dispatch(cli.command, cli.workers) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // `{:#}` prints the error and each cause once, joined by `: `:
            // no library `Display` repeats its source.
            let message = format!("{e:#}");
            error!("{message}");
            eprintln!("error: {message}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn dispatch(command: Command, workers: Option<u16>) -> anyhow::Result<()> {
    match command {
        Command::Pki(args) => Ok(sallyport_pki::cli::run(args)?),
        Command::Relay(args) => {
            if let Some(sallyport_relay::RelayCommand::Explain(explain)) = &args.command {
                let (line, allowed) = sallyport_relay::cli::explain(&args.config, explain)?;
                println!("{line}");
                if !allowed {
                    std::process::exit(1);
                }
                return Ok(());
            }
            let config = sallyport_relay::Config::load(&args.config)?;
            runtime(workers)?.block_on(async {
                let shutdown = shutdown_on_signal();
                let relay = sallyport_relay::Relay::bind(config).await?;
                reload_on_sighup(relay.reload_handle());
                relay.serve(shutdown).await
            })?;
            Ok(())
        }
        Command::Demo(args) => {
            let rt = runtime(workers)?;
            let result = rt.block_on(async {
                let shutdown = shutdown_on_signal();
                sallyport_demo::run(args, shutdown).await
            });
            // `demo mcp-server` reads stdin on a blocking thread that cannot
            // be cancelled; do not wait for it when the runtime goes away.
            rt.shutdown_timeout(std::time::Duration::from_secs(1));
            result?;
            Ok(())
        }
        Command::Connector(args) => {
            let config = sallyport_connector::Config::load(&args.config)?;
            runtime(workers)?.block_on(async {
                let shutdown = shutdown_on_signal();
                sallyport_connector::run(config, shutdown).await
            })?;
            Ok(())
        }
    }
}

/// The async runtime: `workers` threads, or one per CPU.
fn runtime(workers: Option<u16>) -> anyhow::Result<tokio::runtime::Runtime> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = workers {
        builder.worker_threads(usize::from(n));
    }
    let runtime = builder
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    info!(
        event = "runtime.started",
        workers = runtime.metrics().num_workers(),
        "async runtime started"
    );
    Ok(runtime)
}

/// A token cancelled by the first SIGTERM or Ctrl-C; a second one exits at
/// once.
fn shutdown_on_signal() -> CancellationToken {
    let token = CancellationToken::new();
    let trigger = token.clone();
    tokio::spawn(async move {
        let mut count = 0;
        loop {
            if let Err(e) = wait_for_signal().await {
                warn!(error = %e, "cannot listen for shutdown signals");
                return;
            }
            count += 1;
            if count == 1 {
                info!("shutdown requested; draining (signal again to stop at once)");
                trigger.cancel();
            } else {
                warn!("second shutdown signal; exiting now");
                std::process::exit(130);
            }
        }
    });
    token
}

/// SIGHUP makes the relay reload its certificates, trust bundle and CRL.
fn reload_on_sighup(handle: sallyport_relay::ReloadHandle) {
    use tokio::signal::unix::{SignalKind, signal};
    tokio::spawn(async move {
        let mut hup = match signal(SignalKind::hangup()) {
            Ok(s) => s,
            Err(e) => {
                warn!(error = %e, "cannot listen for SIGHUP; reload by restarting");
                return;
            }
        };
        while hup.recv().await.is_some() {
            info!("SIGHUP: reloading TLS material");
            handle.reload();
        }
    });
}

async fn wait_for_signal() -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r,
        _ = term.recv() => Ok(()),
    }
}

fn init_logging(filter: &str, format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter).unwrap_or_else(|e| {
        eprintln!("warning: bad log filter {filter:?} ({e}); using \"info\"");
        tracing_subscriber::EnvFilter::new("info")
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
