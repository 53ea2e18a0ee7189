//! The link to one relay: dial out, prove identity, offer servers, then hold
//! the link until it ends; reconnect with backoff and jitter, forever, until
//! shutdown.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use quinn::{Connection, ConnectionError, VarInt};
use sallyport_protocol::control::{ControlFrame, Decision, Hello};
use sallyport_protocol::version::{Preamble, VersionRange};
use sallyport_protocol::{CloseCode, FrameCodec, MAX_CONTROL_FRAME};
use tokio::time::Instant;
use tokio_util::codec::{FramedRead, FramedWrite};
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, info, info_span, warn};

use crate::backoff::Backoff;
use crate::config::{LinkTiming, RelayAddr};
use crate::error::LinkError;
use crate::scope::LinkScope;
use crate::streams::{self, Bridges};

/// A link that lived this long resets the backoff when it ends.
const STABLE_LINK: Duration = Duration::from_secs(10);

/// Numbers links, so bridges can tell which sessions came through which.
static NEXT_LINK: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// Everything one relay's link task needs.
#[derive(Debug, Clone)]
pub(crate) struct LinkSpec {
    pub relay: RelayAddr,
    pub server_name: String,
    pub endpoint: quinn::Endpoint,
    pub client_config: quinn::ClientConfig,
    pub hello: Hello,
    pub timing: LinkTiming,
    pub bridges: Arc<Bridges>,
}

/// How an established link ended.
enum LinkEnd {
    /// The relay is draining (GoAway or a going-away close).
    GoAway,
    /// The link was lost.
    Lost(String),
    /// We are shutting down.
    Shutdown,
}

impl LinkEnd {
    fn reason(&self) -> &str {
        match self {
            LinkEnd::GoAway => "draining on GoAway",
            LinkEnd::Lost(_) => "link lost",
            LinkEnd::Shutdown => "connector shutting down",
        }
    }
}

/// Holds a link to one relay until `shutdown`.
pub(crate) async fn maintain(spec: Arc<LinkSpec>, shutdown: CancellationToken) {
    let span = info_span!("relay_link", relay = %spec.relay);
    async move {
        let mut backoff = Backoff::new(spec.timing.backoff_initial, spec.timing.backoff_max);
        loop {
            let started = Instant::now();
            match attempt(&spec, &shutdown).await {
                Ok(LinkEnd::Shutdown) => break,
                Ok(LinkEnd::GoAway) => {
                    info!(
                        event = "link.relay_draining",
                        "relay is draining; reconnecting"
                    );
                    backoff.reset();
                }
                Ok(LinkEnd::Lost(reason)) => {
                    warn!(event = "link.lost", %reason, "link to relay lost");
                    if started.elapsed() >= STABLE_LINK {
                        backoff.reset();
                    }
                }
                Err(e) => warn!(event = "link.attempt_failed", error = %e, "link attempt failed"),
            }
            let delay = backoff.next_delay(fastrand::f64());
            info!(
                delay_ms = delay.as_millis() as u64,
                "reconnecting after delay"
            );
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = shutdown.cancelled() => break,
            }
        }
        info!(event = "link.stopped", "link to relay stopped");
    }
    .instrument(span)
    .await
}

/// One link's life: connect, Hello/Welcome, control loop.
async fn attempt(spec: &LinkSpec, shutdown: &CancellationToken) -> Result<LinkEnd, LinkError> {
    let relay = spec.relay.to_string();
    let timeout = spec.timing.connect_timeout;
    let timed_out = || LinkError::Timeout {
        relay: relay.clone(),
        timeout,
    };
    let deadline = Instant::now() + timeout;
    let addr = tokio::time::timeout_at(deadline, resolve(&spec.relay))
        .await
        .map_err(|_| timed_out())??;
    let connecting = spec
        .endpoint
        .connect_with(spec.client_config.clone(), addr, &spec.server_name)
        .map_err(|e| LinkError::Connect {
            relay: relay.clone(),
            detail: e.to_string(),
        })?;
    let conn = tokio::select! {
        r = tokio::time::timeout_at(deadline, connecting) => r.map_err(|_| timed_out())?
            .map_err(|e| LinkError::Connect { relay: relay.clone(), detail: e.to_string() })?,
        () = shutdown.cancelled() => return Ok(LinkEnd::Shutdown),
    };
    let (mut send, recv) = conn.open_bi().await.map_err(|e| lost(&relay, &e))?;
    let preamble = Preamble {
        versions: VersionRange::SUPPORTED,
    };
    send.write_all(&preamble.encode())
        .await
        .map_err(|e| LinkError::Protocol {
            relay: relay.clone(),
            detail: format!("cannot write preamble: {e}"),
        })?;
    let codec = FrameCodec::<ControlFrame>::new(MAX_CONTROL_FRAME);
    let mut write = FramedWrite::new(send, codec.clone());
    let mut read = FramedRead::new(recv, codec);
    write
        .send(ControlFrame::Hello(spec.hello.clone()))
        .await
        .map_err(|e| LinkError::Protocol {
            relay: relay.clone(),
            detail: format!("cannot send Hello: {e}"),
        })?;
    let first = tokio::time::timeout_at(deadline, read.next())
        .await
        .map_err(|_| timed_out())?;
    let welcome = match first {
        Some(Ok(ControlFrame::Welcome(w))) => w,
        Some(Ok(ControlFrame::Reject(r))) => {
            return Err(LinkError::Rejected {
                relay,
                code: CloseCode::from_u32(r.code),
                reason: r.reason,
            });
        }
        Some(Ok(other)) => {
            return Err(protocol(
                &conn,
                &relay,
                format!("expected Welcome, got {}", other.name()),
            ));
        }
        Some(Err(e)) => return Err(protocol(&conn, &relay, format!("reading Welcome: {e}"))),
        None => return Err(closed_before_welcome(&conn, &relay, deadline).await),
    };
    let ours = VersionRange::SUPPORTED;
    if !(ours.min..=ours.max).contains(&welcome.version) {
        return Err(protocol(
            &conn,
            &relay,
            format!(
                "the relay chose protocol version {}, which this connector does not speak ({}..={})",
                welcome.version, ours.min, ours.max
            ),
        ));
    }
    info!(
        event = "link.established",
        relay.name = %welcome.relay,
        version = welcome.version,
        accepted = ?welcome.decision.accepted.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
        "link established"
    );
    log_decision(&welcome.decision);
    let origin = NEXT_LINK.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let scope = LinkScope::new(shutdown);
    let streams = tokio::spawn(streams::accept(
        conn.clone(),
        streams::Peer {
            origin,
            version: welcome.version,
            request_timeout: spec.timing.drain_timeout,
        },
        Arc::clone(&spec.bridges),
        scope.clone(),
    ));
    let end = control_loop(&conn, &mut read, &scope).await;
    // After GoAway the relay opens no new streams: the open ones get the
    // drain timeout to end. Otherwise (lost, shutdown) they end now.
    let drain = spec.timing.drain_timeout;
    let grace = matches!(end, LinkEnd::GoAway).then_some(drain);
    let ended = scope.end(grace, drain).await;
    if ended.cut_short > 0 {
        warn!(
            cut_short = ended.cut_short,
            stuck = ended.stuck,
            drain_ms = drain.as_millis() as u64,
            "requests cancelled as the link ended"
        );
    }
    close(&conn, CloseCode::Normal, end.reason());
    let _ = streams.await;
    Ok(end)
}

type ControlRead = FramedRead<quinn::RecvStream, FrameCodec<ControlFrame>>;

async fn control_loop(conn: &Connection, read: &mut ControlRead, scope: &LinkScope) -> LinkEnd {
    loop {
        tokio::select! {
            frame = read.next() => match frame {
                Some(Ok(ControlFrame::GoAway(g))) => {
                    info!(event = "link.goaway", reason = %g.reason, "relay sent GoAway");
                    return LinkEnd::GoAway;
                }
                Some(Ok(ControlFrame::Decision(d))) => log_decision(&d),
                Some(Ok(other)) => {
                    let detail = format!("unexpected {} on the control stream", other.name());
                    close(conn, CloseCode::UnexpectedFrame, &detail);
                    return LinkEnd::Lost(detail);
                }
                Some(Err(e)) => {
                    if let Some(reason) = conn.close_reason() {
                        return ended(reason);
                    }
                    let detail = format!("control stream: {e}");
                    close(conn, CloseCode::ProtocolError, &detail);
                    return LinkEnd::Lost(detail);
                }
                None => return ended(conn.closed().await),
            },
            reason = conn.closed() => return ended(reason),
            () = scope.cancelled() => return LinkEnd::Shutdown,
        }
    }
}

async fn resolve(relay: &RelayAddr) -> Result<std::net::SocketAddr, LinkError> {
    let mut addrs = tokio::net::lookup_host((relay.host.as_str(), relay.port))
        .await
        .map_err(|e| LinkError::Resolve {
            relay: relay.to_string(),
            detail: e.to_string(),
        })?;
    addrs.next().ok_or_else(|| LinkError::Resolve {
        relay: relay.to_string(),
        detail: "no addresses".to_owned(),
    })
}

fn ended(reason: ConnectionError) -> LinkEnd {
    match &reason {
        ConnectionError::ApplicationClosed(c)
            if CloseCode::from_u64(c.error_code.into_inner()) == CloseCode::GoingAway =>
        {
            LinkEnd::GoAway
        }
        _ => LinkEnd::Lost(reason.to_string()),
    }
}

/// The relay closed the control stream before `Welcome`: report its close
/// code and reason if it gives one before the connect deadline.
async fn closed_before_welcome(conn: &Connection, relay: &str, deadline: Instant) -> LinkError {
    let reason = tokio::time::timeout_at(deadline, conn.closed()).await;
    match reason {
        Ok(ConnectionError::ApplicationClosed(c)) => LinkError::Rejected {
            relay: relay.to_owned(),
            code: CloseCode::from_u64(c.error_code.into_inner()),
            reason: String::from_utf8_lossy(&c.reason).into_owned(),
        },
        Ok(other) => lost(relay, &other),
        Err(_) => LinkError::Protocol {
            relay: relay.to_owned(),
            detail: "control stream ended before Welcome".to_owned(),
        },
    }
}

fn lost(relay: &str, e: &ConnectionError) -> LinkError {
    match e {
        ConnectionError::ApplicationClosed(c) => LinkError::Rejected {
            relay: relay.to_owned(),
            code: CloseCode::from_u64(c.error_code.into_inner()),
            reason: String::from_utf8_lossy(&c.reason).into_owned(),
        },
        other => LinkError::Connect {
            relay: relay.to_owned(),
            detail: other.to_string(),
        },
    }
}

fn protocol(conn: &Connection, relay: &str, detail: String) -> LinkError {
    close(conn, CloseCode::ProtocolError, &detail);
    LinkError::Protocol {
        relay: relay.to_owned(),
        detail,
    }
}

fn close(conn: &Connection, code: CloseCode, reason: &str) {
    let reason = &reason.as_bytes()[..reason.len().min(512)];
    conn.close(VarInt::from_u32(code.to_u32()), reason);
}

fn log_decision(decision: &Decision) {
    for refusal in &decision.refused {
        warn!(event = "server.refused", server = %refusal.server, reason = %refusal.reason, "relay refused server");
    }
}
