//! Scenario 4, many connectors: `N` links with valid certificates to one
//! relay. The links are raw QUIC clients in this process doing what a
//! connector does to come up (TLS with the connector certificate, the
//! control stream's preamble, `Hello`, `Welcome`), then idling. The relay
//! runs as a separate `sallyport relay` process so its RSS can be read from
//! `/proc/<pid>/status`; without the binary (`in_process`) it runs here and
//! memory is not measured.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use quinn::{Connection, Endpoint, VarInt};
use sallyport_protocol::control::{ControlFrame, Hello, ServerOffer, Transport};
use sallyport_protocol::version::{Preamble, VersionRange};
use sallyport_protocol::{ConnectorLabel, FrameCodec, ServerName};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::codec::{FramedRead, FramedWrite};

use crate::Options;
use crate::error::{BenchError, Result};
use crate::fixture::Fixture;
use crate::hist::Latency;
use crate::procs::self_rss_kib;
use crate::record::{Record, count, us};
use crate::scenarios::relayproc::RelayUnderTest;

const SERVER: &str = "bench";
/// Handshakes in flight at once.
const PARALLEL: usize = 64;
/// Links per client UDP socket.
const LINKS_PER_SOCKET: usize = 1000;
/// Time one link may take to come up.
const LINK_TIMEOUT: Duration = Duration::from_secs(30);

/// An established link: the connection and its control stream halves.
struct Link {
    conn: Connection,
    _write: FramedWrite<quinn::SendStream, FrameCodec<ControlFrame>>,
    _read: FramedRead<quinn::RecvStream, FrameCodec<ControlFrame>>,
}

/// Runs the scenario.
pub async fn run(opts: &Options) -> Result<Vec<Record>> {
    let n = opts.connectors;
    let fx = Fixture::new()?;
    let mut relay = RelayUnderTest::start(&fx, opts, &[SERVER], n + 16, None).await?;
    let result = measure(opts, &fx, &mut relay, n).await;
    relay.stop().await;
    result
}

async fn measure(
    opts: &Options,
    fx: &Fixture,
    relay: &mut RelayUnderTest,
    n: usize,
) -> Result<Vec<Record>> {
    let client_cfg = client_config(fx)?;
    let sockets = n.div_ceil(LINKS_PER_SOCKET).max(1);
    let mut endpoints = Vec::with_capacity(sockets);
    for _ in 0..sockets {
        endpoints.push(
            Endpoint::client(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
                .map_err(|e| BenchError::io("bind a QUIC client socket", e))?,
        );
    }
    tokio::time::sleep(opts.settle).await;
    let relay_before = relay.rss_kib()?;
    let self_before = self_rss_kib()?;

    let start = Instant::now();
    let mut links = Vec::with_capacity(n);
    let mut latency = Latency::new();
    let mut errors = 0u64;
    let mut first_error = None;
    let mut set = JoinSet::new();
    let mut started = 0usize;
    while started < n || !set.is_empty() {
        while started < n && set.len() < PARALLEL {
            let endpoint = endpoints[started % sockets].clone();
            let cfg = client_cfg.clone();
            let addr = relay.quic;
            let i = started;
            set.spawn(async move {
                let t0 = Instant::now();
                let r = tokio::time::timeout(LINK_TIMEOUT, link(&endpoint, cfg, addr, i)).await;
                (t0.elapsed(), r)
            });
            started += 1;
        }
        let Some(joined) = set.join_next().await else {
            break;
        };
        match joined {
            Ok((took, Ok(Ok(l)))) => {
                latency.record(took);
                links.push(l);
            }
            Ok((_, Ok(Err(e)))) => {
                errors += 1;
                first_error.get_or_insert_with(|| e.to_string());
            }
            Ok((_, Err(_))) => {
                errors += 1;
                first_error.get_or_insert_with(|| format!("link not up within {LINK_TIMEOUT:?}"));
            }
            Err(e) => {
                errors += 1;
                first_error.get_or_insert_with(|| format!("link task: {e}"));
            }
        }
    }
    let connect_all = start.elapsed();
    tokio::time::sleep(opts.settle).await;
    let relay_after = relay.rss_kib()?;
    let self_after = self_rss_kib()?;
    let dead = links
        .iter()
        .filter(|l| l.conn.close_reason().is_some())
        .count();
    let relay_links = relay.links().await?;
    if dead > 0 {
        first_error.get_or_insert_with(|| format!("{dead} links closed while idle"));
    }

    let up = links.len() - dead;
    let mut r = Record::new("connectors", format!("{n} links"));
    let s = latency.summary();
    r.fig("links", up as f64)
        .fig("relay_links", relay_links as f64)
        .fig("connect_all_ms", connect_all.as_secs_f64() * 1000.0)
        .fig(
            "links_per_s",
            up as f64 / connect_all.as_secs_f64().max(1e-9),
        )
        .fig("handshake_p50_us", s.p50_us)
        .fig("handshake_p99_us", s.p99_us)
        .fig("handshake_max_us", s.max_us)
        .fig("client_kib_per_link", per(self_after, self_before, up))
        .fail(errors + dead as u64, first_error);
    let mut text = format!(
        "{} up in {} ({}/s) · handshake p50 {} · p99 {}",
        count(up as f64),
        us(connect_all.as_secs_f64() * 1e6),
        count(up as f64 / connect_all.as_secs_f64().max(1e-9)),
        us(s.p50_us),
        us(s.p99_us)
    );
    match (relay_before, relay_after) {
        (Some(b), Some(a)) => {
            let kib = per(a, b, up);
            r.fig("relay_rss_before_kib", b as f64)
                .fig("relay_rss_after_kib", a as f64)
                .fig("relay_kib_per_link", kib);
            text.push_str(&format!(
                " · relay {kib:.1} KiB/link (RSS {} MiB)",
                a / 1024
            ));
            r.ratio("relay_kib_per_link_vs_target_64", kib / 64.0);
            r.ratio_text = format!("{:.2} of the 64 KiB/link target", kib / 64.0);
        }
        _ => r.notes.push("relay in-process: memory not measured".into()),
    }
    r.text = text;
    r.notes.push(format!(
        "{PARALLEL} handshakes in flight, {sockets} client socket(s), settle {:?}",
        opts.settle
    ));

    for l in &links {
        l.conn.close(VarInt::from_u32(0), b"bench done");
    }
    drop(links);
    for e in &endpoints {
        let _ = tokio::time::timeout(Duration::from_secs(5), e.wait_idle()).await;
    }
    Ok(vec![r])
}

/// `(after - before) / n` in KiB, 0 for no links.
fn per(after: u64, before: u64, n: usize) -> f64 {
    if n == 0 {
        0.0
    } else {
        (after as f64 - before as f64) / n as f64
    }
}

/// The connector's QUIC client settings (as `connector/src/lib.rs`).
fn client_config(fx: &Fixture) -> Result<quinn::ClientConfig> {
    let tls = sallyport_pki::tls::quic_client_config(
        &fx.connector_cert,
        &fx.connector_key,
        &fx.bundle,
        sallyport_protocol::ALPN,
    )?;
    let crypto = quinn::crypto::rustls::QuicClientConfig::try_from(tls)
        .map_err(|e| BenchError::Quic(e.to_string()))?;
    let mut cfg = quinn::ClientConfig::new(Arc::new(crypto));
    let mut t = quinn::TransportConfig::default();
    t.max_idle_timeout(Some(Duration::from_secs(8).try_into().map_err(
        |e: quinn::VarIntBoundsExceeded| BenchError::Quic(e.to_string()),
    )?))
    .keep_alive_interval(Some(Duration::from_secs(2)))
    .max_concurrent_bidi_streams(VarInt::from_u32(1024))
    .max_concurrent_uni_streams(VarInt::from_u32(0));
    cfg.transport_config(Arc::new(t));
    Ok(cfg)
}

/// Brings one link up: QUIC + TLS, preamble, `Hello`, `Welcome`.
async fn link(
    endpoint: &Endpoint,
    cfg: quinn::ClientConfig,
    relay: SocketAddr,
    i: usize,
) -> Result<Link> {
    let q = |e: &dyn std::fmt::Display| BenchError::Quic(e.to_string());
    let conn = endpoint
        .connect_with(cfg, relay, "127.0.0.1")
        .map_err(|e| q(&e))?
        .await
        .map_err(|e| q(&e))?;
    let (mut send, recv) = conn.open_bi().await.map_err(|e| q(&e))?;
    let preamble = Preamble {
        versions: VersionRange::SUPPORTED,
    };
    send.write_all(&preamble.encode())
        .await
        .map_err(|e| q(&e))?;
    let codec = FrameCodec::<ControlFrame>::new(1024 * 1024);
    let mut write = FramedWrite::new(send, codec.clone());
    let mut read = FramedRead::new(recv, codec);
    let hello = Hello {
        label: ConnectorLabel::new(format!("bench-{i}")).map_err(|e| q(&e))?,
        instance: 0x5a11_0000_0000 + i as u64,
        software: concat!("sallyport-bench/", env!("CARGO_PKG_VERSION")).to_owned(),
        servers: vec![ServerOffer {
            name: ServerName::new(SERVER).map_err(|e| q(&e))?,
            transport: Transport::Http,
        }],
    };
    write
        .send(ControlFrame::Hello(hello))
        .await
        .map_err(|e| q(&e))?;
    match read.next().await {
        Some(Ok(ControlFrame::Welcome(w))) if !w.decision.accepted.is_empty() => Ok(Link {
            conn,
            _write: write,
            _read: read,
        }),
        Some(Ok(ControlFrame::Welcome(w))) => Err(BenchError::Quic(format!(
            "Welcome accepted no server: {:?}",
            w.decision.refused
        ))),
        Some(Ok(other)) => Err(BenchError::Quic(format!(
            "expected Welcome, got {}",
            other.name()
        ))),
        Some(Err(e)) => Err(q(&e)),
        None => Err(BenchError::Quic(
            "control stream closed before Welcome".into(),
        )),
    }
}
