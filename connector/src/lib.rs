//! The Sallyport connector: the private side of the tunnel.
//!
//! It runs beside private MCP servers, dials *out* to one or more relays
//! over mutually-authenticated QUIC ([`run`]), offers the servers named in
//! its [`config`], and keeps each link up with keep-alives and jittered
//! exponential [`backoff`]. It never listens for inbound connections.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod backoff;
pub mod bridge;
pub mod cli;
pub mod config;
pub mod envsubst;
pub mod error;
mod link;
mod scope;
mod streams;

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use quinn::VarInt;
use sallyport_protocol::CloseCode;
use sallyport_protocol::control::{Hello, ServerOffer, Transport};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::info;

pub use cli::ConnectorArgs;
pub use config::Config;
pub use error::{ConfigError, ConnectorError, LinkError};

use crate::bridge::Bridge;
use crate::bridge::http::HttpBridge;
use crate::bridge::stdio::StdioBridge;
use crate::config::Upstream;
use crate::link::LinkSpec;
use crate::streams::Bridges;

/// Holds a link to every configured relay until `shutdown` is cancelled.
pub async fn run(config: Config, shutdown: CancellationToken) -> Result<(), ConnectorError> {
    let client_config = quic_client_config(&config)?;
    let hello = Hello {
        label: config.label.clone(),
        instance: fastrand::u64(..),
        software: concat!("sallyport-connector/", env!("CARGO_PKG_VERSION")).to_owned(),
        servers: config
            .servers
            .iter()
            .map(|s| ServerOffer {
                name: s.name.clone(),
                transport: match s.upstream {
                    Upstream::Stdio { .. } => Transport::Stdio,
                    Upstream::Http { .. } => Transport::Http,
                },
            })
            .collect(),
    };
    let bridges = Arc::new(Bridges {
        map: bridges(&config)?,
        max_body: config.limits.max_body,
        max_frame: sallyport_protocol::codec::DEFAULT_MAX_FRAME_LEN,
    });
    let v4 = client_endpoint(SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)))?;
    let mut v6 = None;
    let tasks = TaskTracker::new();
    for relay in &config.relays {
        let wants_v6 = relay.host.parse::<Ipv6Addr>().is_ok();
        let endpoint = if wants_v6 {
            match &v6 {
                Some(e) => Clone::clone(e),
                None => {
                    let e = client_endpoint(SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0)))?;
                    v6 = Some(e.clone());
                    e
                }
            }
        } else {
            v4.clone()
        };
        let spec = Arc::new(LinkSpec {
            relay: relay.clone(),
            server_name: config
                .relay_name
                .clone()
                .unwrap_or_else(|| relay.host.clone()),
            endpoint,
            client_config: client_config.clone(),
            hello: hello.clone(),
            timing: config.link,
            bridges: Arc::clone(&bridges),
        });
        tasks.spawn(link::maintain(spec, shutdown.clone()));
    }
    info!(
        relays = config.relays.len(),
        servers = config.servers.len(),
        label = %config.label,
        "connector started"
    );
    tasks.close();
    tasks.wait().await;
    bridges.shutdown();
    for endpoint in std::iter::once(v4).chain(v6) {
        endpoint.close(
            VarInt::from_u32(CloseCode::Normal.to_u32()),
            b"connector shutting down",
        );
        let _ = tokio::time::timeout(config.link.drain_timeout, endpoint.wait_idle()).await;
    }
    info!("connector stopped");
    Ok(())
}

/// One bridge per configured server.
fn bridges(
    config: &Config,
) -> Result<
    std::collections::HashMap<sallyport_protocol::ServerName, Arc<dyn Bridge>>,
    ConnectorError,
> {
    let mut map: std::collections::HashMap<_, Arc<dyn Bridge>> = Default::default();
    for server in &config.servers {
        let bridge: Arc<dyn Bridge> = match &server.upstream {
            Upstream::Stdio { command, env, cwd } => Arc::new(StdioBridge::new(
                server.name.clone(),
                command.clone(),
                env.clone(),
                cwd.clone(),
                config.limits,
            )),
            Upstream::Http {
                url,
                headers,
                caller,
            } => {
                let bridge = HttpBridge::new(
                    server.name.clone(),
                    url.clone(),
                    headers.clone(),
                    config.limits,
                )?;
                Arc::new(match caller {
                    Some(caller) => bridge.with_caller_headers(caller.clone())?,
                    None => bridge,
                })
            }
        };
        map.insert(server.name.clone(), bridge);
    }
    Ok(map)
}

/// Concurrent requests (data streams) one relay link may carry.
const MAX_STREAMS_PER_LINK: u32 = 16_384;

/// A client endpoint on a socket with enlarged buffers (see
/// `sallyport_protocol::socket`).
fn client_endpoint(addr: SocketAddr) -> Result<quinn::Endpoint, ConnectorError> {
    let bound = sallyport_protocol::socket::bind_udp(addr).map_err(ConnectorError::Socket)?;
    if let Some(warning) = bound.warning() {
        tracing::warn!("{warning}");
    }
    let runtime = quinn::default_runtime().ok_or_else(|| {
        ConnectorError::Socket(std::io::Error::other("no async runtime for QUIC"))
    })?;
    quinn::Endpoint::new(
        quinn::EndpointConfig::default(),
        None,
        bound.socket,
        runtime,
    )
    .map_err(ConnectorError::Socket)
}

fn quic_client_config(config: &Config) -> Result<quinn::ClientConfig, ConnectorError> {
    let tls = sallyport_pki::tls::quic_client_config(
        &config.cert,
        &config.key,
        &config.trust_bundle,
        sallyport_protocol::ALPN,
    )?;
    let crypto = quinn::crypto::rustls::QuicClientConfig::try_from(tls)
        .map_err(|e| ConnectorError::QuicTls(e.to_string()))?;
    let mut client = quinn::ClientConfig::new(Arc::new(crypto));
    let mut transport = quinn::TransportConfig::default();
    let idle = quinn::IdleTimeout::try_from(config.link.idle_timeout)
        .map_err(|e| ConnectorError::QuicTls(format!("idle timeout: {e}")))?;
    transport.max_idle_timeout(Some(idle));
    transport.keep_alive_interval(Some(config.link.keepalive));
    // The relay opens one bidirectional stream per relayed request; an
    // open GET/SSE stream holds one for its whole life.
    transport.max_concurrent_bidi_streams(VarInt::from_u32(MAX_STREAMS_PER_LINK));
    transport.max_concurrent_uni_streams(VarInt::from_u32(0));
    client.transport_config(Arc::new(transport));
    Ok(client)
}
