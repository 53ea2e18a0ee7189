//! The relay (and connector) of the scale scenarios: `sallyport` child
//! processes, whose memory is read from `/proc`, or (with `in_process`,
//! for smoke tests without the release binary) an in-process relay whose
//! memory is not measured.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::Options;
use crate::error::{BenchError, Result};
use crate::fixture::{Dialect, Fixture, LinkSpec, RelaySpec, UpstreamSpec};
use crate::procs::{self, Proc};
use crate::tunnel::Tunnel;

/// Time a relay process has to become ready.
const READY: Duration = Duration::from_secs(30);

/// A relay to measure.
#[derive(Debug)]
pub struct RelayUnderTest {
    /// Its QUIC address.
    pub quic: SocketAddr,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    kind: Kind,
    http: reqwest::Client,
}

#[derive(Debug)]
enum Kind {
    Process {
        proc: Box<Proc>,
        bin: PathBuf,
        config: PathBuf,
        admin: SocketAddr,
        log: PathBuf,
    },
    InProcess(Tunnel),
}

impl RelayUnderTest {
    /// Starts a relay granting `servers`, as a process unless
    /// `opts.in_process`. `session_key` makes sessions survive restarts.
    pub async fn start(
        fx: &Fixture,
        opts: &Options,
        servers: &[&str],
        max_links: usize,
        session_key: Option<PathBuf>,
    ) -> Result<Self> {
        let http = crate::client::http_client()?;
        if opts.in_process {
            let tunnel = Tunnel::relay_only(fx, servers, max_links).await?;
            return Ok(Self {
                quic: tunnel.quic,
                base: tunnel.base.clone(),
                kind: Kind::InProcess(tunnel),
                http,
            });
        }
        let bin = procs::find_sallyport(opts.sallyport.as_deref())?;
        let mut spec = RelaySpec::ephemeral(servers);
        spec.quic = procs::free_udp()?;
        spec.http = procs::free_tcp()?;
        spec.admin = procs::free_tcp()?;
        spec.max_links = max_links;
        spec.session_key = session_key;
        // The binary may be older or newer than this bench: offer the
        // newest config dialect first.
        let config = fx.dir().join("relay.toml");
        let log = fx.dir().join("relay.log");
        let mut first_error = None;
        let mut started = None;
        for dialect in Dialect::ALL {
            fx.write("relay.toml", &fx.relay_toml(&spec, dialect))?;
            match spawn_relay(&bin, &config, &log, spec.admin, &http).await {
                Ok(p) => {
                    started = Some(p);
                    break;
                }
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        let proc = match (started, first_error) {
            (Some(p), _) => Box::new(p),
            (None, Some(e)) => return Err(e),
            (None, None) => return Err(BenchError::Process("relay did not start".into())),
        };
        Ok(Self {
            quic: spec.quic,
            base: format!("http://{}", spec.http),
            kind: Kind::Process {
                proc,
                bin,
                config,
                admin: spec.admin,
                log,
            },
            http,
        })
    }

    /// The client URL of `server`.
    pub fn url(&self, server: &str) -> String {
        format!("{}/mcp/{server}", self.base)
    }

    /// Resident memory of the relay process (None in-process).
    pub fn rss_kib(&self) -> Result<Option<u64>> {
        match &self.kind {
            Kind::Process { proc, .. } => proc.rss_kib().map(Some),
            Kind::InProcess(_) => Ok(None),
        }
    }

    /// The relay's process id (None in-process).
    pub fn pid(&self) -> Option<u32> {
        match &self.kind {
            Kind::Process { proc, .. } => Some(proc.pid()),
            Kind::InProcess(_) => None,
        }
    }

    /// Links the relay reports.
    pub async fn links(&self) -> Result<u64> {
        match &self.kind {
            Kind::Process { admin, .. } => procs::connected_links(&self.http, *admin).await,
            Kind::InProcess(t) => Ok(t.links() as u64),
        }
    }

    /// Requests in flight over all links.
    pub async fn in_flight(&self) -> Result<u64> {
        match &self.kind {
            Kind::Process { admin, .. } => procs::in_flight(&self.http, *admin).await,
            Kind::InProcess(t) => Ok(t.in_flight()),
        }
    }

    /// Waits until the relay reports `n` links.
    pub async fn wait_links(&self, n: u64, limit: Duration) -> Result<()> {
        match &self.kind {
            Kind::Process { admin, .. } => procs::wait_links(&self.http, *admin, n, limit).await,
            Kind::InProcess(t) => {
                let deadline = tokio::time::Instant::now() + limit;
                while (t.links() as u64) < n {
                    if tokio::time::Instant::now() >= deadline {
                        return Err(BenchError::Timeout(format!("{n} links within {limit:?}")));
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Ok(())
            }
        }
    }

    /// SIGKILLs the relay process.
    pub async fn kill(&mut self) -> Result<()> {
        match &mut self.kind {
            Kind::Process { proc, .. } => proc.kill().await,
            Kind::InProcess(_) => Err(BenchError::Setup(
                "an in-process relay cannot be killed; run with the sallyport binary".into(),
            )),
        }
    }

    /// Starts the killed relay again with the same config; returns once
    /// `/readyz` answers.
    pub async fn restart(&mut self) -> Result<()> {
        match &mut self.kind {
            Kind::Process {
                proc,
                bin,
                config,
                admin,
                log,
            } => {
                **proc = spawn_relay(bin, config, log, *admin, &self.http).await?;
                Ok(())
            }
            Kind::InProcess(_) => Err(BenchError::Setup("in-process relay".into())),
        }
    }

    /// Stops the relay (process: SIGKILL; its state is thrown away anyway).
    pub async fn stop(self) {
        match self.kind {
            Kind::Process { mut proc, .. } => {
                let _ = proc.kill().await;
            }
            Kind::InProcess(t) => t.stop().await,
        }
    }
}

async fn spawn_relay(
    bin: &Path,
    config: &Path,
    log: &Path,
    admin: SocketAddr,
    http: &reqwest::Client,
) -> Result<Proc> {
    let config_arg = config.to_string_lossy();
    let mut proc = Proc::spawn(
        "relay",
        bin,
        &["relay", "--config", &config_arg],
        log.to_owned(),
    )?;
    let url = format!("http://{admin}/readyz");
    let deadline = tokio::time::Instant::now() + READY;
    loop {
        // A relay that refused its config exits: report that at once.
        proc.check_alive()?;
        if procs::wait_ok(http, &url, Duration::from_millis(200))
            .await
            .is_ok()
        {
            return Ok(proc);
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(BenchError::Timeout(format!(
                "relay not ready within {READY:?}; its log ends: {}",
                proc.log_tail()
            )));
        }
    }
}

/// A `sallyport connector` process offering `upstreams` to `relay`.
pub fn spawn_connector(
    fx: &Fixture,
    opts: &Options,
    relay: SocketAddr,
    upstreams: &[UpstreamSpec],
) -> Result<Proc> {
    let bin = procs::find_sallyport(opts.sallyport.as_deref())?;
    let (text, _) = fx.connector_config(relay, upstreams, LinkSpec::default())?;
    let config = fx.write("connector.toml", &text)?;
    let config_arg = config.to_string_lossy();
    Proc::spawn(
        "connector",
        &bin,
        &["connector", "--config", &config_arg],
        fx.dir().join("connector.log"),
    )
}

/// The deployment shape: a `sallyport relay` and a `sallyport connector`
/// process offering `upstreams`, linked.
#[derive(Debug)]
pub struct Deployed {
    /// The relay process.
    pub relay: RelayUnderTest,
    /// The connector process.
    pub connector: Proc,
}

impl Deployed {
    /// Starts both processes (`opts.in_process` is ignored: this shape
    /// needs the binary); returns once the relay reports the link.
    pub async fn start(fx: &Fixture, opts: &Options, upstreams: &[UpstreamSpec]) -> Result<Self> {
        let names: Vec<&str> = upstreams.iter().map(UpstreamSpec::name).collect();
        let opts = Options {
            in_process: false,
            ..opts.clone()
        };
        let relay = RelayUnderTest::start(fx, &opts, &names, 16, None).await?;
        let connector = match spawn_connector(fx, &opts, relay.quic, upstreams) {
            Ok(c) => c,
            Err(e) => {
                relay.stop().await;
                return Err(e);
            }
        };
        let deployed = Self { relay, connector };
        match deployed.relay.wait_links(1, crate::tunnel::READY).await {
            Ok(()) => Ok(deployed),
            Err(e) => {
                deployed.stop().await;
                Err(e)
            }
        }
    }

    /// The client URL of `server`.
    pub fn url(&self, server: &str) -> String {
        self.relay.url(server)
    }

    /// The process ids of relay and connector.
    pub fn pids(&self) -> Vec<u32> {
        self.relay
            .pid()
            .into_iter()
            .chain([self.connector.pid()])
            .collect()
    }

    /// Kills the connector, then the relay.
    pub async fn stop(mut self) {
        let _ = self.connector.kill().await;
        self.relay.stop().await;
    }
}
