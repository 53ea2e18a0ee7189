//! Relay and connector in this process (tokio tasks), on loopback: the
//! tunnel of the latency and bulk scenarios.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use sallyport_protocol::ServerName;
use sallyport_relay::Relay;
use sallyport_relay::registry::Registry;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::error::{BenchError, Result};
use crate::fixture::{Fixture, LinkSpec, RelaySpec, UpstreamSpec};

/// How long the connector has to bring its servers to the relay.
pub const READY: Duration = Duration::from_secs(20);

/// A running in-process relay and connector.
#[derive(Debug)]
pub struct Tunnel {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// The relay's QUIC address.
    pub quic: SocketAddr,
    relay_stop: CancellationToken,
    connector_stop: CancellationToken,
    relay: JoinHandle<()>,
    connector: Option<JoinHandle<()>>,
    registry: Arc<Registry>,
}

impl Tunnel {
    /// Starts a relay granting `upstreams` and a connector offering them;
    /// returns once the relay routes every one.
    pub async fn start(fx: &Fixture, upstreams: &[UpstreamSpec]) -> Result<Self> {
        let names: Vec<&str> = upstreams.iter().map(UpstreamSpec::name).collect();
        let mut tunnel = Self::relay_only(fx, &names, 100).await?;
        let (_, config) = fx.connector_config(tunnel.quic, upstreams, LinkSpec::default())?;
        let stop = tunnel.connector_stop.clone();
        tunnel.connector = Some(tokio::spawn(async move {
            if let Err(e) = sallyport_connector::run(config, stop).await {
                tracing::error!(error = %e, "bench connector failed");
            }
        }));
        for name in names {
            tunnel.wait_serving(name, READY).await?;
        }
        Ok(tunnel)
    }

    /// Starts only the relay (its connectors are the caller's).
    pub async fn relay_only(fx: &Fixture, servers: &[&str], max_links: usize) -> Result<Self> {
        let mut spec = RelaySpec::ephemeral(servers);
        spec.max_links = max_links;
        let (_, config) = fx.relay_config(&spec)?;
        let relay = Relay::bind(config).await?;
        let http = relay
            .http_addr()
            .ok_or_else(|| BenchError::Setup("relay has no HTTP listener".into()))?;
        let quic = relay
            .quic_addr()
            .map_err(|e| BenchError::io("relay QUIC address", e))?;
        let registry = relay.registry();
        let relay_stop = CancellationToken::new();
        let stop = relay_stop.clone();
        let task = tokio::spawn(async move {
            if let Err(e) = relay.serve(stop).await {
                tracing::error!(error = %e, "bench relay failed");
            }
        });
        Ok(Self {
            base: format!("http://{http}"),
            quic,
            relay_stop,
            connector_stop: CancellationToken::new(),
            relay: task,
            connector: None,
            registry,
        })
    }

    /// The client URL of `server`.
    pub fn url(&self, server: &str) -> String {
        format!("{}/mcp/{server}", self.base)
    }

    /// Live links at the relay.
    pub fn links(&self) -> usize {
        self.registry.len()
    }

    /// Requests in flight over all links (open data streams).
    pub fn in_flight(&self) -> u64 {
        self.registry
            .snapshot()
            .iter()
            .map(|l| l.in_flight as u64)
            .sum()
    }

    /// Waits until the relay routes `server`.
    pub async fn wait_serving(&self, server: &str, limit: Duration) -> Result<()> {
        let name = ServerName::new(server)
            .map_err(|e| BenchError::Setup(format!("server name {server:?}: {e}")))?;
        let deadline = Instant::now() + limit;
        while !self.registry.serves(&name) {
            if Instant::now() >= deadline {
                return Err(BenchError::Timeout(format!(
                    "the relay did not route {server} within {limit:?}"
                )));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(())
    }

    /// Stops the connector, then the relay (bounded).
    pub async fn stop(self) {
        self.connector_stop.cancel();
        if let Some(c) = self.connector {
            let abort = c.abort_handle();
            if tokio::time::timeout(Duration::from_secs(10), c)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
        self.relay_stop.cancel();
        let abort = self.relay.abort_handle();
        if tokio::time::timeout(Duration::from_secs(10), self.relay)
            .await
            .is_err()
        {
            abort.abort();
        }
    }
}
