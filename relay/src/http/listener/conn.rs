//! One accepted connection: HTTP/1.1 or HTTP/2 (hyper-util's auto
//! builder), every request counted in flight and its body timed, and the
//! connection closed when [`Activity::expired`] says so or the relay shuts
//! down.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info};

use super::activity::{Activity, Expiry, Tracked};
use super::body::{InFlight, TimedBody};
use super::{ClientCert, ConnLimits};

/// On shutdown, open HTTP connections get this long to finish.
pub(super) const GRACE: Duration = Duration::from_secs(10);
/// An idle connection gets this long to close cleanly (HTTP/2 GOAWAY).
const IDLE_GRACE: Duration = Duration::from_secs(1);

/// The connection builder for `limits`.
pub(super) fn builder(limits: &ConnLimits) -> Builder<TokioExecutor> {
    let mut builder = Builder::new(TokioExecutor::new());
    // hyper's own HTTP/1 header timeout (without a timer it is off) starts
    // again when a response ends, so it would also cut the keep-alive wait
    // to `header`: `Activity` times both.
    builder.http1().header_read_timeout(None);
    // Keep-alive PINGs find a dead HTTP/2 peer under a long request within
    // `idle`; the ACKs do not keep an idle connection open (`Activity`).
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(limits.idle / 2)
        .keep_alive_timeout(limits.idle / 2);
    builder
}

/// What a connection serves.
#[derive(Debug, Clone)]
pub(super) struct Peer {
    pub remote: SocketAddr,
    /// The verified client certificate (HTTPS with client certificates).
    pub cert: Option<ClientCert>,
}

/// Serves one connection until it ends, times out, or `shutdown`.
pub(super) async fn serve<T>(
    io: T,
    peer: Peer,
    app: Router,
    builder: Builder<TokioExecutor>,
    limits: ConnLimits,
    shutdown: CancellationToken,
) where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let activity = Activity::new();
    let remote = peer.remote;
    let service = ConnService {
        app: TowerToHyperService::new(app),
        activity: Arc::clone(&activity),
        body_timeout: limits.body,
        peer,
    };
    let io = TokioIo::new(Tracked::new(io, Arc::clone(&activity)));
    let conn = builder.serve_connection(io, service);
    let mut conn = std::pin::pin!(conn);
    let grace = tokio::select! {
        result = conn.as_mut() => {
            if let Err(e) = result {
                debug!(%remote, error = %e, "HTTP connection ended with an error");
            }
            return;
        }
        () = shutdown.cancelled() => GRACE,
        expiry = activity.expired(&limits) => {
            if expiry != Expiry::Idle {
                // A peer that stalls is cut at once, without a response.
                info!(%remote, reason = expiry.describe(), "HTTP connection closed");
                return;
            }
            debug!(%remote, reason = expiry.describe(), "HTTP connection closed");
            IDLE_GRACE
        }
    };
    conn.as_mut().graceful_shutdown();
    match tokio::time::timeout(grace, conn).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => debug!(%remote, error = %e, "HTTP connection ended with an error"),
        Err(_) => debug!(%remote, "HTTP connection cut: it did not close within its grace"),
    }
}

/// The router as a hyper service for one connection: each request is
/// counted in flight until its response body is done, gets a body
/// deadline, and carries the peer's address (and client certificate).
#[derive(Clone)]
struct ConnService {
    app: TowerToHyperService<Router>,
    activity: Arc<Activity>,
    body_timeout: Duration,
    peer: Peer,
}

type Answer = Response<InFlight<axum::body::Body>>;

impl hyper::service::Service<Request<Incoming>> for ConnService {
    type Response = Answer;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Answer, Infallible>> + Send>>;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        let ticket = self.activity.request_started(req.version());
        let timeout = self.body_timeout;
        let remote = self.peer.remote;
        let mut req =
            req.map(|body| axum::body::Body::new(TimedBody::new(body, timeout).with_peer(remote)));
        req.extensions_mut().insert(ConnectInfo(remote));
        if let Some(cert) = &self.peer.cert {
            req.extensions_mut().insert(cert.clone());
        }
        let answer = hyper::service::Service::call(&self.app, req);
        Box::pin(async move {
            let response = answer.await?;
            Ok(response.map(|body| InFlight::new(body, ticket)))
        })
    }
}
