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
    let bridges = bridges(&config, Default::default())?;
    run_on(config, &client_endpoint, bridges, shutdown).await
}

/// [`run`] without sockets, for in-process tests: every relay link dials
/// through `socket` (an in-memory network; the relay's address is the
/// configured `relay` literal), and the servers named in `bridges` are
/// served by those bridges instead of their configured upstreams (which
/// still decide the transport the `Hello` offers). Names not in the config
/// are ignored.
#[cfg(feature = "test-support")]
pub async fn run_in_memory(
    config: Config,
    socket: Arc<dyn quinn::AsyncUdpSocket>,
    bridges: std::collections::HashMap<sallyport_protocol::ServerName, Arc<dyn Bridge>>,
    shutdown: CancellationToken,
) -> Result<(), ConnectorError> {
    let runtime = quinn::default_runtime().ok_or_else(|| {
        ConnectorError::Socket(std::io::Error::other("no async runtime for QUIC"))
    })?;
    let endpoint = quinn::Endpoint::new_with_abstract_socket(
        quinn::EndpointConfig::default(),
        None,
        socket,
        runtime,
    )
    .map_err(ConnectorError::Socket)?;
    let bridges = self::bridges(&config, bridges)?;
    let same = move |_: SocketAddr| Ok(endpoint.clone());
    run_on(config, &same, bridges, shutdown).await
}

type Bridged = std::collections::HashMap<sallyport_protocol::ServerName, Arc<dyn Bridge>>;

/// [`run`] with its endpoints made by `endpoint_for` (given the wildcard
/// address of the family a relay needs) and its bridges given.
async fn run_on(
    config: Config,
    endpoint_for: &(dyn Fn(SocketAddr) -> Result<quinn::Endpoint, ConnectorError> + Sync),
    bridges: Bridged,
    shutdown: CancellationToken,
) -> Result<(), ConnectorError> {
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
        map: bridges,
        max_body: config.limits.max_body,
        max_frame: sallyport_protocol::codec::DEFAULT_MAX_FRAME_LEN,
    });
    let v4 = endpoint_for(SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)))?;
    let mut v6 = None;
    let tasks = TaskTracker::new();
    for relay in &config.relays {
        let wants_v6 = relay.host.parse::<Ipv6Addr>().is_ok();
        let endpoint = if wants_v6 {
            match &v6 {
                Some(e) => Clone::clone(e),
                None => {
                    let e = endpoint_for(SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0)))?;
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
    info!(event = "connector.stopped", "connector stopped");
    Ok(())
}

/// One bridge per configured server: the one in `given`, or else one for
/// its configured upstream.
fn bridges(config: &Config, mut given: Bridged) -> Result<Bridged, ConnectorError> {
    let mut map: Bridged = Default::default();
    for server in &config.servers {
        if let Some(bridge) = given.remove(&server.name) {
            map.insert(server.name.clone(), bridge);
            continue;
        }
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
        .map_err(|e| ConnectorError::quic("TLS", e))?;
    let mut client = quinn::ClientConfig::new(Arc::new(crypto));
    let mut transport = quinn::TransportConfig::default();
    let idle = quinn::IdleTimeout::try_from(config.link.idle_timeout)
        .map_err(|e| ConnectorError::quic("idle timeout", e))?;
    transport.max_idle_timeout(Some(idle));
    transport.keep_alive_interval(Some(config.link.keepalive));
    // The relay opens one bidirectional stream per relayed request; an
    // open GET/SSE stream holds one for its whole life.
    transport.max_concurrent_bidi_streams(VarInt::from_u32(MAX_STREAMS_PER_LINK));
    transport.max_concurrent_uni_streams(VarInt::from_u32(0));
    client.transport_config(Arc::new(transport));
    Ok(client)
}
