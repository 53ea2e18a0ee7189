//! The audit trail of one request: filled in as the request is handled,
//! written (with its metrics) when the response ends — after the last body
//! byte, or when the client goes away — so latency and bytes are real.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::{Body, HttpBody};
use bytes::Bytes;
use tokio::time::Instant;

use crate::audit::{AuditEvent, AuditLog, AuditRecord, AuthMethod, Decision};
use crate::auth::Principal;
use crate::metrics::{Metrics, tool_label};
use crate::shares::StreamPermit;

/// Where finished trails go.
#[derive(Debug, Clone)]
pub(crate) struct Recorder {
    pub audit: AuditLog,
    pub metrics: Arc<Metrics>,
    pub relay: String,
}

/// What is known about a request so far.
#[derive(Debug)]
pub(crate) struct Trail {
    started: Instant,
    request_id: u64,
    pub server: String,
    pub principal: Option<Principal>,
    pub method: String,
    pub target: Option<String>,
    pub session: Option<String>,
    pub decision: Decision,
    pub rule: Option<String>,
    pub connector: Option<String>,
    pub event: AuditEvent,
    pub bytes_in: u64,
    pub session_opened: bool,
    pub session_closed: bool,
    /// What failed inside, for the audit record only.
    pub error: Option<String>,
    /// The caller's share of open streams, held until the trail is
    /// written: when the response body ends or the client goes away.
    pub permit: Option<StreamPermit>,
}

impl Trail {
    pub fn new(request_id: u64, server: &str, http_method: &str) -> Self {
        Self {
            started: Instant::now(),
            request_id,
            server: server.to_owned(),
            principal: None,
            method: http_method.to_owned(),
            target: None,
            session: None,
            decision: Decision::Error,
            rule: None,
            connector: None,
            event: AuditEvent::McpRequest,
            bytes_in: 0,
            session_opened: false,
            session_closed: false,
            error: None,
            permit: None,
        }
    }

    /// Marks a refusal by authentication, policy or a limit.
    pub fn deny(&mut self, event: AuditEvent, rule: Option<String>) {
        self.event = event;
        self.decision = Decision::Deny;
        self.rule = rule;
    }

    /// Gives the caller's stream share back, then writes the record and
    /// the metrics (so a written record means the share is free again).
    pub fn finish(
        mut self,
        to: &Recorder,
        status: u16,
        jsonrpc_error: Option<i64>,
        bytes_out: u64,
    ) {
        drop(self.permit.take());
        let latency = self.started.elapsed();
        let tool = tool_label(&self.method, self.target.as_deref()).to_owned();
        to.metrics.request(
            &self.server,
            &tool,
            self.decision,
            status,
            latency,
            self.bytes_in,
            bytes_out,
        );
        if self.event == AuditEvent::RateLimited {
            to.metrics.rate_limited(&self.server);
        }
        if self.session_opened && (200..300).contains(&status) {
            to.metrics.session_opened();
        }
        if self.session_closed && (200..300).contains(&status) {
            to.metrics.session_closed();
        }
        let mut rec = AuditRecord::new(self.event, to.relay.clone(), self.request_id)
            .with_server(self.server)
            .with_method(self.method, self.target)
            .with_decision(self.decision, self.rule)
            .with_status(status, jsonrpc_error)
            .with_latency(latency)
            .with_bytes(self.bytes_in, bytes_out)
            .with_error(self.error);
        if let Some(p) = &self.principal {
            rec = rec.with_principal(p, auth_method(p));
        }
        if let Some(s) = &self.session {
            rec = rec.with_session(s);
        }
        if let Some(c) = self.connector {
            rec = rec.with_connector(c);
        }
        to.audit.record_detached(rec);
    }
}

fn auth_method(p: &Principal) -> AuthMethod {
    use crate::auth::AuthMethod as How;
    match p.method {
        How::ApiKey => AuthMethod::ApiKey,
        How::Jwt { .. } => AuthMethod::Jwt,
        How::ClientCert { .. } => AuthMethod::ClientCert,
        How::Anonymous => AuthMethod::Anonymous,
    }
}

/// A response body that writes the trail when it ends or is dropped.
pub(crate) struct Counted {
    inner: Body,
    bytes: u64,
    status: u16,
    pending: Option<(Trail, Recorder)>,
}

impl Counted {
    pub fn wrap(inner: Body, status: u16, trail: Trail, to: Recorder) -> Body {
        Body::new(Counted {
            inner,
            bytes: 0,
            status,
            pending: Some((trail, to)),
        })
    }
}

impl HttpBody for Counted {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            self.bytes += data.len() as u64;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        if let Some((trail, to)) = self.pending.take() {
            trail.finish(&to, self.status, None, self.bytes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shares::StreamShares;

    fn recorder(dir: &std::path::Path) -> Recorder {
        Recorder {
            audit: AuditLog::file(dir.join("audit.jsonl"), 1 << 20, 1).expect("audit log"),
            metrics: Arc::new(Metrics::new()),
            relay: "test".into(),
        }
    }

    fn trail_holding(shares: &StreamShares) -> Trail {
        let mut trail = Trail::new(1, "demo", "GET");
        trail.permit = Some(shares.try_acquire("alice", None).expect("share"));
        trail
    }

    #[tokio::test]
    async fn a_response_body_holds_the_share_until_it_ends_or_is_dropped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let to = recorder(dir.path());
        let shares = StreamShares::new(1);

        // The client went away mid-stream: hyper drops the body unread.
        let stream =
            Body::from_stream(futures_util::stream::pending::<Result<Bytes, std::io::Error>>());
        let body = Counted::wrap(stream, 200, trail_holding(&shares), to.clone());
        assert_eq!(shares.held("alice", None), 1, "held while the body is open");
        assert!(shares.try_acquire("alice", None).is_err());
        drop(body);
        assert_eq!(
            shares.held("alice", None),
            0,
            "released when the client goes away"
        );

        // A body read to its end, then dropped (as hyper does).
        let body = Counted::wrap(Body::from("done"), 200, trail_holding(&shares), to.clone());
        let bytes = axum::body::to_bytes(body, 1024).await.expect("body");
        assert_eq!(&bytes[..], b"done");
        assert_eq!(shares.held("alice", None), 0);

        // A refusal written at once.
        trail_holding(&shares).finish(&to, 429, Some(crate::limits::RATE_LIMITED), 0);
        assert_eq!(shares.held("alice", None), 0);
    }
}
