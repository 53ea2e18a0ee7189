//! One connector link: TLS handshake, identity, the opening exchange on the
//! control stream, then the control loop until the link ends or the relay
//! drains.
//!
//! The decisions (version negotiation, which servers are granted) are pure
//! functions in `sallyport_protocol::version` and [`crate::grants`]; this
//! module only moves frames.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use quinn::{Connection, RecvStream, SendStream, VarInt};
use sallyport_pki::identity::SpiffeId;
use sallyport_protocol::control::{ControlFrame, Decision, GoAway, Hello, Reject, Welcome};
use sallyport_protocol::framed::FramedError;
use sallyport_protocol::version::{self, Preamble, VersionRange};
use sallyport_protocol::{CloseCode, FrameCodec, MAX_CONTROL_FRAME};
use tokio_util::codec::{FramedRead, FramedWrite};
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, Span, debug, info, info_span, warn};

use crate::config::Config;
use crate::grants::{self, LinkDecision};
use crate::metrics::{HandshakeOutcome, Metrics};
use crate::registry::{LinkGuard, NewLink, Registry};

/// What every link task shares.
#[derive(Debug)]
pub(crate) struct Shared {
    pub config: Arc<Config>,
    pub registry: Arc<Registry>,
    pub metrics: Arc<Metrics>,
    pub audit: crate::audit::AuditLog,
}

/// A link ended early, with the code to close it and the outcome to count.
struct Refuse {
    code: CloseCode,
    outcome: HandshakeOutcome,
    reason: String,
}

impl Refuse {
    fn new(code: CloseCode, outcome: HandshakeOutcome, reason: impl Into<String>) -> Self {
        Self {
            code,
            outcome,
            reason: reason.into(),
        }
    }

    fn from_framed(e: FramedError, what: &str) -> Self {
        match e {
            FramedError::Decode(d) => Self::new(
                d.close_code(),
                HandshakeOutcome::ProtocolError,
                format!("{what}: {d}"),
            ),
            other => Self::new(
                CloseCode::ProtocolError,
                HandshakeOutcome::ProtocolError,
                format!("{what}: {other}"),
            ),
        }
    }
}

type ControlRead = FramedRead<RecvStream, FrameCodec<ControlFrame>>;
type ControlWrite = FramedWrite<SendStream, FrameCodec<ControlFrame>>;

/// Drives one incoming connection from handshake to close.
pub(crate) async fn serve(
    incoming: quinn::Incoming,
    shared: Arc<Shared>,
    shutdown: CancellationToken,
) {
    let remote = incoming.remote_address();
    let span = info_span!("link", %remote, connector.id = tracing::field::Empty);
    async move {
        let timeout = shared.config.quic.handshake_timeout;
        let conn = match tokio::time::timeout(timeout, incoming).await {
            Err(_) => {
                shared.metrics.handshake(HandshakeOutcome::Timeout);
                warn!(event = "link.refused", ?timeout, "link refused: TLS handshake timed out");
                return;
            }
            Ok(Err(e)) => {
                shared.metrics.handshake(HandshakeOutcome::TlsError);
                warn!(event = "link.refused", error = %e, "link refused: TLS handshake failed");
                return;
            }
            Ok(Ok(conn)) => conn,
        };
        match open(&conn, &shared).await {
            Ok((hello_done, control)) => {
                shared.metrics.handshake(HandshakeOutcome::Ok);
                run(conn, control, hello_done, &shared, shutdown).await;
            }
            Err(refuse) => {
                shared.metrics.handshake(refuse.outcome);
                warn!(event = "link.refused", code = %refuse.code, reason = %refuse.reason, "link refused");
                close(&conn, refuse.code, &refuse.reason);
            }
        }
    }
    .instrument(span)
    .await
}

struct Control {
    read: ControlRead,
    write: ControlWrite,
}

/// The state of an established link.
struct Established {
    identity: SpiffeId,
    guard: LinkGuard,
}

/// Identity check and opening exchange, bounded by the handshake timeout.
async fn open(conn: &Connection, shared: &Shared) -> Result<(Established, Control), Refuse> {
    let (identity, cert) = peer_identity(conn)?;
    Span::current().record("connector.id", tracing::field::display(&identity));
    let deadline = tokio::time::Instant::now() + shared.config.quic.handshake_timeout;
    let timed_out = |what: &str| {
        Refuse::new(
            CloseCode::Timeout,
            HandshakeOutcome::Timeout,
            format!("{what} not received in time"),
        )
    };
    let (send, mut recv) = tokio::time::timeout_at(deadline, conn.accept_bi())
        .await
        .map_err(|_| timed_out("control stream"))?
        .map_err(|e| {
            Refuse::new(
                CloseCode::ProtocolError,
                HandshakeOutcome::ProtocolError,
                format!("link lost before the control stream opened: {e}"),
            )
        })?;
    let codec = FrameCodec::new(MAX_CONTROL_FRAME);
    let mut write = FramedWrite::new(send, codec.clone());
    let version = match tokio::time::timeout_at(deadline, read_preamble(&mut recv)).await {
        Err(_) => return Err(timed_out("preamble")),
        Ok(Ok(v)) => v,
        Ok(Err(refuse)) => {
            if refuse.code == CloseCode::VersionMismatch {
                // Version 1 frames are the lingua franca of a refusal; the
                // close code carries the reason for peers that cannot read it.
                send_reject(&mut write, Reject::new(refuse.code, &refuse.reason)).await;
            }
            return Err(refuse);
        }
    };
    let mut read = FramedRead::new(recv, codec);
    let hello = tokio::time::timeout_at(deadline, read_hello(&mut read))
        .await
        .map_err(|_| timed_out("Hello"))??;
    let decision = match grants::decide(&shared.config.connectors, &identity, &hello.servers) {
        LinkDecision::Admit(d) => d,
        LinkDecision::UnknownIdentity => {
            let reason = format!(
                "identity {identity} is not listed in any [[connector]] entry of the relay"
            );
            send_reject(&mut write, Reject::new(CloseCode::Unauthorized, &reason)).await;
            return Err(Refuse::new(
                CloseCode::Unauthorized,
                HandshakeOutcome::Unauthorized,
                reason,
            ));
        }
    };
    let welcome = ControlFrame::Welcome(Welcome {
        version,
        relay: shared.config.name.clone(),
        decision: decision.clone(),
    });
    write.send(welcome).await.map_err(|e| {
        Refuse::new(
            CloseCode::ProtocolError,
            HandshakeOutcome::ProtocolError,
            format!("cannot send Welcome: {e}"),
        )
    })?;
    log_decision(&decision);
    audit_refusals(shared, &identity, &decision);
    let guard = shared.registry.insert(
        NewLink {
            identity: identity.clone(),
            label: hello.label.to_string(),
            software: hello.software.clone(),
            remote: conn.remote_address(),
            protocol_version: version,
            instance: hello.instance,
            conn: conn.clone(),
            cert,
        },
        &hello.servers,
        &decision,
    );
    info!(
        event = "link.registered",
        link.id = guard.id(),
        label = %hello.label,
        software = %hello.software,
        version,
        accepted = decision.accepted.len(),
        refused = decision.refused.len(),
        "connector registered"
    );
    Ok((Established { identity, guard }, Control { read, write }))
}

/// The SPIFFE id of the peer's leaf certificate (which it returns too); it
/// must name a connector.
fn peer_identity(
    conn: &Connection,
) -> Result<(SpiffeId, rustls::pki_types::CertificateDer<'static>), Refuse> {
    let unauthorized = |reason: String| {
        Refuse::new(
            CloseCode::Unauthorized,
            HandshakeOutcome::Unauthorized,
            reason,
        )
    };
    let certs = conn
        .peer_identity()
        .and_then(|any| {
            any.downcast::<Vec<rustls::pki_types::CertificateDer<'static>>>()
                .ok()
        })
        .ok_or_else(|| unauthorized("no client certificate".to_owned()))?;
    let leaf = certs
        .first()
        .ok_or_else(|| unauthorized("empty client certificate chain".to_owned()))?;
    let id = sallyport_pki::tls::spiffe_id_of(leaf)
        .map_err(|e| unauthorized(format!("client certificate: {e}")))?;
    if id.connector_name().is_none() {
        return Err(unauthorized(format!(
            "certificate identity {id} is not a connector (expected spiffe://<trust-domain>/connector/<name>)"
        )));
    }
    Ok((id, leaf.clone()))
}

async fn read_preamble(recv: &mut RecvStream) -> Result<u16, Refuse> {
    let mut buf = [0u8; Preamble::LEN];
    recv.read_exact(&mut buf).await.map_err(|e| {
        Refuse::new(
            CloseCode::ProtocolError,
            HandshakeOutcome::ProtocolError,
            format!("control stream ended before the preamble: {e}"),
        )
    })?;
    let preamble = Preamble::decode(&buf).map_err(|e| {
        Refuse::new(
            CloseCode::ProtocolError,
            HandshakeOutcome::ProtocolError,
            e.to_string(),
        )
    })?;
    version::negotiate(VersionRange::SUPPORTED, preamble.versions).map_err(|e| {
        Refuse::new(
            CloseCode::VersionMismatch,
            HandshakeOutcome::VersionMismatch,
            e.to_string(),
        )
    })
}

async fn read_hello(read: &mut ControlRead) -> Result<Hello, Refuse> {
    match read.next().await {
        Some(Ok(ControlFrame::Hello(hello))) => Ok(hello),
        Some(Ok(other)) => Err(Refuse::new(
            CloseCode::UnexpectedFrame,
            HandshakeOutcome::ProtocolError,
            format!("expected Hello, got {}", other.name()),
        )),
        Some(Err(e)) => Err(Refuse::from_framed(e, "Hello")),
        None => Err(Refuse::new(
            CloseCode::ProtocolError,
            HandshakeOutcome::ProtocolError,
            "control stream ended before Hello",
        )),
    }
}

/// The control loop of an established link.
async fn run(
    conn: Connection,
    mut control: Control,
    link: Established,
    shared: &Shared,
    shutdown: CancellationToken,
) {
    let end: (CloseCode, String) = loop {
        tokio::select! {
            frame = control.read.next() => match frame {
                Some(Ok(ControlFrame::Announce(announce))) => {
                    let decision = match grants::decide(&shared.config.connectors, &link.identity, &announce.servers) {
                        LinkDecision::Admit(d) => d,
                        LinkDecision::UnknownIdentity => break (CloseCode::Unauthorized,
                            format!("identity {} is no longer listed in any [[connector]] entry", link.identity)),
                    };
                    log_decision(&decision);
                    audit_refusals(shared, &link.identity, &decision);
                    shared.registry.update(link.guard.id(), &announce.servers, &decision);
                    if let Err(e) = control.write.send(ControlFrame::Decision(decision)).await {
                        break (CloseCode::ProtocolError, format!("cannot send Decision: {e}"));
                    }
                }
                Some(Ok(other)) => break (CloseCode::UnexpectedFrame,
                    format!("unexpected {} on the control stream", other.name())),
                Some(Err(_)) | None if let Some(reason) = conn.close_reason() => {
                    info!(event = "link.closed", link.id = link.guard.id(), %reason, "connector link closed");
                    return;
                }
                Some(Err(e)) => {
                    let r = Refuse::from_framed(e, "control stream");
                    break (r.code, r.reason);
                }
                None => break (CloseCode::Normal, "connector closed its control stream".to_owned()),
            },
            reason = conn.closed() => {
                info!(event = "link.closed", link.id = link.guard.id(), %reason, "connector link closed");
                return;
            }
            () = shutdown.cancelled() => {
                drain(&conn, &mut control, shared.config.quic.drain_timeout).await;
                info!(event = "link.drained", link.id = link.guard.id(), "connector link drained");
                return;
            }
        }
    };
    if end.0 == CloseCode::Normal {
        info!(event = "link.closed", link.id = link.guard.id(), reason = %end.1, "connector link closed");
    } else {
        warn!(event = "link.closed", link.id = link.guard.id(), code = %end.0, reason = %end.1, "connector link closed by relay");
    }
    close(&conn, end.0, &end.1);
}

/// Sends `GoAway` and waits (bounded) for the connector to close the link
/// once its in-flight streams are done.
async fn drain(conn: &Connection, control: &mut Control, timeout: Duration) {
    let goaway = ControlFrame::GoAway(GoAway {
        reason: "relay shutting down".to_owned(),
    });
    if let Err(e) = control.write.send(goaway).await {
        debug!(error = %e, "GoAway not delivered");
    }
    if tokio::time::timeout(timeout, conn.closed()).await.is_err() {
        warn!(?timeout, "connector did not close within the drain timeout");
    }
    close(conn, CloseCode::GoingAway, "relay shutting down");
}

/// Sends `Reject` and waits (briefly) until the peer has it, so that the
/// close that follows does not discard it.
async fn send_reject(write: &mut ControlWrite, reject: Reject) {
    if let Err(e) = write.send(ControlFrame::Reject(reject)).await {
        debug!(error = %e, "Reject not delivered");
        return;
    }
    let send = write.get_mut();
    if send.finish().is_ok() {
        let _ = tokio::time::timeout(Duration::from_secs(1), send.stopped()).await;
    }
}

fn close(conn: &Connection, code: CloseCode, reason: &str) {
    // Close reasons travel in one packet: keep them short.
    let reason = &reason.as_bytes()[..reason.len().min(512)];
    conn.close(VarInt::from_u32(code.to_u32()), reason);
}

/// One audit record per server a connector offered and was refused.
fn audit_refusals(shared: &Shared, identity: &SpiffeId, decision: &Decision) {
    use crate::audit::{AuditEvent, AuditRecord, Decision as Outcome};
    for refusal in &decision.refused {
        let rec = AuditRecord::new(AuditEvent::ConnectorRefused, shared.config.name.clone(), 0)
            .with_server(refusal.server.as_str())
            .with_connector(identity.to_string())
            .with_method("announce", None)
            .with_decision(Outcome::Deny, Some(refusal.reason.clone()))
            .with_status(0, None);
        shared.audit.record_detached(rec);
    }
}

fn log_decision(decision: &Decision) {
    for refusal in &decision.refused {
        warn!(event = "server.refused", server = %refusal.server, reason = %refusal.reason, "server refused");
    }
}
