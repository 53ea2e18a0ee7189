//! `sallyport demo`: the whole system in one process — a throw-away PKI,
//! the relay, the connector, and the built-in MCP server twice (as the
//! connector's stdio child and in-process over HTTP).
//!
//! [`start`] brings everything up and returns once the relay routes both
//! demo servers; [`RunningDemo::wait`] runs until `shutdown`; [`run`] does
//! both and prints the banner in between.

mod banner;
mod files;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sallyport_protocol::ServerName;
use sallyport_relay::{Relay, RelayError};
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::cli::{DemoArgs, DemoCommand};
use crate::error::DemoError;
use crate::server::{http_router, serve_stdio};

pub use banner::CURL_INITIALIZE;
pub use files::{CONNECTOR_NAME, HTTP_SERVER, STDIO_SERVER, TRUST_DOMAIN};
use files::{Material, RelayAddrs, Workdir};

/// How long [`start`] waits for the connector's servers to reach the relay.
pub const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long stopping may take before the remaining tasks are aborted.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs `sallyport demo` until `shutdown`: starts everything, prints where
/// to connect, waits, then stops the connector and the relay and removes
/// the temporary files. With the `mcp-server` subcommand, serves the demo
/// MCP server on stdin/stdout instead.
pub async fn run(args: DemoArgs, shutdown: CancellationToken) -> Result<(), DemoError> {
    if args.command == Some(DemoCommand::McpServer) {
        return tokio::select! {
            r = serve_stdio() => r,
            () = shutdown.cancelled() => Ok(()),
        };
    }
    let demo = start(DemoOptions::from_args(&args)?, shutdown).await?;
    if !demo.shutdown.is_cancelled() {
        println!("{}", demo.banner());
    }
    demo.wait().await
}

/// What [`start`] needs; [`DemoOptions::from_args`] fills it from the
/// command line.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// The relay's client port on 127.0.0.1; 0 picks a free one.
    pub http_port: u16,
    /// Keep the PKI and configs in this directory instead of a temporary one.
    pub keep: Option<PathBuf>,
    /// The program and arguments of the connector's stdio server `demo`
    /// (normally `[<this executable>, "demo", "mcp-server"]`).
    pub stdio_command: Vec<String>,
}

impl DemoOptions {
    /// Options from the command line; the stdio server is this executable's
    /// `demo mcp-server`.
    pub fn from_args(args: &DemoArgs) -> Result<Self, DemoError> {
        let exe = std::env::current_exe()
            .map_err(|e| DemoError::io("cannot find the current executable", e))?;
        let exe = exe
            .to_str()
            .ok_or_else(|| DemoError::NonUtf8Path(exe.clone()))?
            .to_owned();
        Ok(Self {
            http_port: args.http_port,
            keep: args.keep.clone(),
            stdio_command: vec![exe, "demo".to_owned(), "mcp-server".to_owned()],
        })
    }
}

/// A started demo. Finish it with [`RunningDemo::wait`] or
/// [`RunningDemo::stop`]; dropping it aborts every part without draining.
pub struct RunningDemo {
    base_url: String,
    api_key: String,
    admin: SocketAddr,
    workdir: Workdir,
    /// The caller's token: cancelling it ends [`RunningDemo::wait`].
    shutdown: CancellationToken,
    /// A child of `shutdown` that every part runs under.
    cancel_parts: CancellationToken,
    tasks: JoinSet<(&'static str, Result<(), DemoError>)>,
}

impl std::fmt::Debug for RunningDemo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningDemo")
            .field("base_url", &self.base_url)
            .field("admin", &self.admin)
            .field("dir", &self.workdir.path())
            .finish_non_exhaustive()
    }
}

impl RunningDemo {
    /// The relay's client URL, `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The client URL of one server: `<base>/mcp/<server>`.
    pub fn server_url(&self, server: &str) -> String {
        format!("{}/mcp/{server}", self.base_url)
    }

    /// The demo API key (send it as `Authorization: Bearer <key>`).
    pub fn api_key(&self) -> &str {
        &self.api_key
    }

    /// The relay's admin listener.
    pub fn admin_addr(&self) -> SocketAddr {
        self.admin
    }

    /// The directory holding the PKI and configs.
    pub fn dir(&self) -> &Path {
        self.workdir.path()
    }

    /// The block `sallyport demo` prints.
    pub fn banner(&self) -> String {
        banner::Banner {
            base_url: &self.base_url,
            api_key: &self.api_key,
            admin: self.admin,
            dir: self.workdir.path(),
            kept: self.workdir.is_kept(),
        }
        .render()
    }

    /// Runs until `shutdown` is cancelled (or a part fails), then stops
    /// everything and removes the temporary directory.
    pub async fn wait(mut self) -> Result<(), DemoError> {
        let failure = tokio::select! {
            () = self.shutdown.cancelled() => None,
            ended = self.tasks.join_next() => ended.map(task_failure),
        };
        if let Some(e) = &failure {
            warn!(error = %sallyport_relay::error::chain(e), "demo part stopped; shutting the demo down");
        }
        self.stop().await?;
        failure.map_or(Ok(()), Err)
    }

    /// Stops the connector, the relay and the demo HTTP server now and waits
    /// for them (bounded), then removes the temporary directory.
    pub async fn stop(mut self) -> Result<(), DemoError> {
        self.cancel_parts.cancel();
        let drained = tokio::time::timeout(STOP_TIMEOUT, async {
            let mut first_error = None;
            while let Some(ended) = self.tasks.join_next().await {
                match ended {
                    Ok((_, Ok(()))) => {}
                    Ok((part, Err(e))) => {
                        warn!(part, error = %sallyport_relay::error::chain(&e), "demo part failed while stopping");
                        first_error.get_or_insert(e);
                    }
                    Err(e) => warn!(error = %e, "demo task panicked"),
                }
            }
            first_error
        })
        .await;
        match drained {
            Ok(None) => {}
            Ok(Some(e)) => return Err(e),
            Err(_) => {
                warn!("demo parts still running after {STOP_TIMEOUT:?}; aborting them");
                self.tasks.abort_all();
            }
        }
        info!("demo stopped");
        Ok(())
    }
}

/// A part that ended before shutdown: its error, or "stopped unexpectedly".
fn task_failure(
    ended: Result<(&'static str, Result<(), DemoError>), tokio::task::JoinError>,
) -> DemoError {
    match ended {
        Ok((_, Err(e))) => e,
        Ok((part, Ok(()))) => DemoError::Stopped(part),
        Err(_) => DemoError::Stopped("task (it panicked)"),
    }
}

/// Creates the PKI and configs, starts the relay, the demo HTTP MCP server
/// and the connector, and returns once the relay routes both demo servers
/// (at most [`READY_TIMEOUT`]).
pub async fn start(
    options: DemoOptions,
    shutdown: CancellationToken,
) -> Result<RunningDemo, DemoError> {
    let workdir = Workdir::new(options.keep.as_deref())?;
    let material = files::create_pki(workdir.path(), workdir.is_kept())?;
    let (relay, addrs) = bind_relay(workdir.path(), &material, options.http_port).await?;
    let registry = relay.registry();
    let stop = shutdown.child_token();
    let mut demo = RunningDemo {
        base_url: format!("http://127.0.0.1:{}", addrs.http_port),
        api_key: material.api_key.key().to_owned(),
        admin: addrs.admin,
        workdir,
        shutdown,
        cancel_parts: stop.clone(),
        tasks: JoinSet::new(),
    };
    let relay_stop = stop.child_token();
    demo.tasks.spawn(async move {
        (
            "relay",
            relay.serve(relay_stop).await.map_err(DemoError::from),
        )
    });
    match start_parts(
        &mut demo,
        &material,
        addrs.quic,
        &options.stdio_command,
        &registry,
    )
    .await
    {
        Ok(()) => Ok(demo),
        Err(e) => {
            let _ = demo.stop().await;
            Err(e)
        }
    }
}

/// With the relay running: the demo HTTP server, the connector, and the
/// wait until the relay routes both servers.
async fn start_parts(
    demo: &mut RunningDemo,
    material: &Material,
    relay: SocketAddr,
    stdio_command: &[String],
    registry: &sallyport_relay::registry::Registry,
) -> Result<(), DemoError> {
    let http_url = spawn_http_server(&mut demo.tasks, &demo.cancel_parts).await?;
    let dir = demo.workdir.path();
    let text = files::connector_toml(material, relay, stdio_command, &http_url);
    files::write(&dir.join("connector.toml"), &text)?;
    let config = sallyport_connector::Config::parse(&text, dir, &|_| None)
        .map_err(DemoError::ConnectorConfig)?;
    let connector_stop = demo.cancel_parts.child_token();
    demo.tasks.spawn(async move {
        let r = sallyport_connector::run(config, connector_stop).await;
        ("connector", r.map_err(DemoError::from))
    });
    wait_ready(registry, &mut demo.tasks, &demo.shutdown).await
}

/// Writes `relay.toml`, parses it and binds the relay. With port 0, picks a
/// free port first (so `public_url` names the real one), retrying if another
/// process takes it in between.
async fn bind_relay(
    dir: &Path,
    material: &Material,
    http_port: u16,
) -> Result<(Relay, RelayAddrs), DemoError> {
    let any: SocketAddr = (Ipv4Addr::LOCALHOST, 0).into();
    let path = dir.join("relay.toml");
    let mut attempts = 0;
    loop {
        attempts += 1;
        let port = match http_port {
            0 => free_port()?,
            p => p,
        };
        let mut addrs = RelayAddrs {
            quic: any,
            admin: any,
            http_port: port,
        };
        let text = files::relay_toml(material, addrs);
        files::write(&path, &text)?;
        let config = sallyport_relay::Config::parse(&text, dir).map_err(DemoError::RelayConfig)?;
        let relay = match Relay::bind(config).await {
            Ok(relay) => relay,
            Err(RelayError::Bind {
                what: "HTTP",
                source,
                ..
            }) if source.kind() == std::io::ErrorKind::AddrInUse => {
                if http_port == 0 && attempts < 3 {
                    continue;
                }
                return Err(DemoError::PortInUse { port });
            }
            Err(e) => return Err(e.into()),
        };
        addrs.quic = relay
            .quic_addr()
            .map_err(|e| DemoError::io("relay QUIC address", e))?;
        addrs.admin = relay
            .admin_addr()
            .map_err(|e| DemoError::io("relay admin address", e))?;
        // Keep the kept files runnable as they are: name the bound ports.
        files::write(&path, &files::relay_toml(material, addrs))?;
        return Ok((relay, addrs));
    }
}

/// A TCP port on 127.0.0.1 that is free right now.
fn free_port() -> Result<u16, DemoError> {
    std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| DemoError::io("cannot find a free port on 127.0.0.1", e))
}

/// Serves [`http_router`] on 127.0.0.1:0 until `stop`; returns its URL.
async fn spawn_http_server(
    tasks: &mut JoinSet<(&'static str, Result<(), DemoError>)>,
    stop: &CancellationToken,
) -> Result<String, DemoError> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .map_err(|e| DemoError::io("cannot bind the demo HTTP MCP server", e))?;
    let addr = listener
        .local_addr()
        .map_err(|e| DemoError::io("demo HTTP MCP server address", e))?;
    let token = stop.child_token();
    tasks.spawn(async move {
        let app = http_router(token.clone());
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(token.cancelled_owned())
            .await;
        (
            "demo HTTP MCP server",
            served.map_err(|e| DemoError::io("demo HTTP MCP server", e)),
        )
    });
    info!(%addr, "demo HTTP MCP server listening");
    Ok(format!("http://{addr}/mcp"))
}

/// Polls the registry until both demo servers are routed, a part fails, or
/// [`READY_TIMEOUT`] passes. A shutdown during the wait ends it early (the
/// caller then stops at once).
async fn wait_ready(
    registry: &sallyport_relay::registry::Registry,
    tasks: &mut JoinSet<(&'static str, Result<(), DemoError>)>,
    shutdown: &CancellationToken,
) -> Result<(), DemoError> {
    // Literal names that satisfy ServerName's rules (lowercase, dashes).
    let names = [STDIO_SERVER, HTTP_SERVER].map(|n| ServerName::new(n).expect("valid literal"));
    let deadline = tokio::time::Instant::now() + READY_TIMEOUT;
    let mut tick = tokio::time::interval(Duration::from_millis(25));
    loop {
        let missing: Vec<&str> = names
            .iter()
            .filter(|n| !registry.serves(n))
            .map(ServerName::as_str)
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            ended = tasks.join_next() => {
                return Err(ended.map_or(DemoError::Stopped("demo"), task_failure));
            }
            () = tokio::time::sleep_until(deadline) => {
                return Err(DemoError::NotReady {
                    missing: missing.join(" and "),
                    waited: READY_TIMEOUT,
                });
            }
            _ = tick.tick() => {}
        }
    }
}
