//! The bridge's HTTP/1.1 client for one upstream, on hyper's connection
//! API.
//!
//! Each connection is driven inside the task that uses it: the request's
//! own task writes the request and reads the answer, with no connection
//! task in between (a pooling client such as reqwest runs every connection
//! in a task of its own, which costs two cross-task hand-offs per call).
//! A connection whose answer was read to its end goes back to a bounded
//! pool of idle connections; one dropped earlier (cancel, timeout, error)
//! is closed. An idle connection is checked before reuse, and a request
//! that a reused connection could not even send (the upstream had just
//! closed it) is retried once on a new one.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::Bytes;
use http::response::Parts;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_util::either::Either;
use tracing::debug;
use url::{Host, Url};

/// Idle connections kept per upstream.
const MAX_IDLE: usize = 256;
/// An idle connection unused this long is closed.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// TCP keep-alive, so that a silently dead upstream ends a quiet stream.
const TCP_KEEPALIVE: Duration = Duration::from_secs(30);

type Io = TokioIo<Either<TcpStream, TlsStream<TcpStream>>>;
/// Request bodies are whole (the link bounds them).
pub(super) type ReqBody = Full<Bytes>;

/// Why an exchange failed; the text never holds the URL.
#[derive(Debug, thiserror::Error)]
pub(super) enum ClientError {
    /// No connection (DNS, refused, unreachable, TLS).
    #[error("cannot connect: {0}")]
    Connect(String),
    /// The connection did not open within the limit.
    #[error("cannot connect: no connection within {0:?}")]
    ConnectTimeout(Duration),
    /// The exchange broke (reset, malformed answer, closed early).
    #[error("request failed: {0}")]
    Request(String),
    /// The answer's body broke.
    #[error("body failed: {0}")]
    Body(String),
}

/// A client of one upstream (scheme, host and port of its URL).
#[derive(Clone)]
pub(super) struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    host: Host<String>,
    port: u16,
    /// `https` upstreams: the connector and the name to verify.
    tls: Option<(TlsConnector, rustls::pki_types::ServerName<'static>)>,
    connect_timeout: Duration,
    idle: Mutex<Vec<(Conn, Instant)>>,
    /// The task closing long-idle connections runs (started with the
    /// first idle connection, inside the runtime).
    reaping: AtomicBool,
}

/// The future that drives one connection; it ends when the connection
/// does and must not be polled after that.
type Driver = http1::Connection<Io, ReqBody>;

/// One connection: its request handle and its driver.
struct Conn {
    send: http1::SendRequest<ReqBody>,
    driver: Driver,
}

impl Client {
    /// A client for `url`'s origin. `tls` must be given for `https`.
    pub(super) fn new(
        url: &Url,
        tls: Option<Arc<rustls::ClientConfig>>,
        connect_timeout: Duration,
    ) -> Result<Self, String> {
        let host = url.host().ok_or("url has no host")?.to_owned();
        let port = url.port_or_known_default().ok_or("url has no port")?;
        let tls = match tls {
            None => None,
            Some(config) => {
                let name = match &host {
                    Host::Domain(d) => rustls::pki_types::ServerName::try_from(d.clone())
                        .map_err(|e| format!("host is not a valid TLS name: {e}"))?,
                    Host::Ipv4(ip) => {
                        rustls::pki_types::ServerName::from(std::net::IpAddr::V4(*ip))
                    }
                    Host::Ipv6(ip) => {
                        rustls::pki_types::ServerName::from(std::net::IpAddr::V6(*ip))
                    }
                };
                Some((TlsConnector::from(config), name))
            }
        };
        let inner = Arc::new(Inner {
            host,
            port,
            tls,
            connect_timeout,
            idle: Mutex::new(Vec::new()),
            reaping: AtomicBool::new(false),
        });
        Ok(Client { inner })
    }

    /// Sends `request` (origin-form URI, `Host` set) and returns the answer
    /// once its head is in. Dropping the future closes the connection.
    pub(super) async fn send(&self, request: Request<ReqBody>) -> Result<Response, ClientError> {
        let (conn, reused) = self.checkout().await?;
        let request = match conn.exchange(request).await {
            Ok((head, conn)) => return Ok(self.response(head, conn)),
            // Never sent: the upstream had closed the idle connection.
            Err(Exchange::NotSent(request)) if reused => {
                debug!(
                    "upstream closed a kept-alive connection as the request went out; retrying on a new one"
                );
                request
            }
            Err(Exchange::NotSent(_)) => {
                return Err(ClientError::Request(
                    "connection closed before the request was sent".into(),
                ));
            }
            Err(Exchange::Failed(e)) => return Err(ClientError::Request(cause(&e))),
        };
        let conn = self.dial().await?;
        match conn.exchange(*request).await {
            Ok((head, conn)) => Ok(self.response(head, conn)),
            Err(Exchange::NotSent(_)) => Err(ClientError::Request(
                "connection closed before the request was sent".into(),
            )),
            Err(Exchange::Failed(e)) => Err(ClientError::Request(cause(&e))),
        }
    }

    fn response(&self, answer: http::Response<Incoming>, conn: Option<Conn>) -> Response {
        let (head, body) = answer.into_parts();
        Response {
            head,
            body,
            conn,
            pool: Arc::downgrade(&self.inner),
        }
    }

    /// An idle connection that is still open, or a new one.
    async fn checkout(&self) -> Result<(Conn, bool), ClientError> {
        loop {
            let next = {
                let mut idle = self.inner.idle.lock().unwrap_or_else(|p| p.into_inner());
                idle.pop()
            };
            let Some((mut conn, since)) = next else { break };
            if since.elapsed() < IDLE_TIMEOUT && conn.ready() {
                return Ok((conn, true));
            }
            debug!("idle upstream connection closed or expired; dropped");
        }
        Ok((self.dial().await?, false))
    }

    async fn dial(&self) -> Result<Conn, ClientError> {
        let inner = &self.inner;
        let open = async {
            let tcp = super::dial::connect(&inner.host, inner.port)
                .await
                .map_err(|e| ClientError::Connect(e.to_string()))?;
            tcp.set_nodelay(true)
                .map_err(|e| ClientError::Connect(e.to_string()))?;
            let keepalive = socket2::TcpKeepalive::new().with_time(TCP_KEEPALIVE);
            socket2::SockRef::from(&tcp)
                .set_tcp_keepalive(&keepalive)
                .map_err(|e| ClientError::Connect(e.to_string()))?;
            let io = match &inner.tls {
                None => Either::Left(tcp),
                Some((connector, name)) => Either::Right(
                    connector
                        .connect(name.clone(), tcp)
                        .await
                        .map_err(|e| ClientError::Connect(cause(&e)))?,
                ),
            };
            let (send, driver) = http1::handshake(TokioIo::new(io))
                .await
                .map_err(|e| ClientError::Connect(cause(&e)))?;
            Ok(Conn { send, driver })
        };
        tokio::time::timeout(inner.connect_timeout, open)
            .await
            .map_err(|_| ClientError::ConnectTimeout(inner.connect_timeout))?
    }
}

impl Inner {
    fn put_back(self: &Arc<Self>, conn: Conn) {
        if !self.reaping.swap(true, Ordering::Relaxed) {
            tokio::spawn(reap(Arc::downgrade(self)));
        }
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < MAX_IDLE {
            idle.push((conn, Instant::now()));
        }
    }

    fn prune(&self) {
        let expired: Vec<_> = {
            let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
            let (keep, expired) = std::mem::take(&mut *idle)
                .into_iter()
                .partition(|(_, since)| since.elapsed() < IDLE_TIMEOUT);
            *idle = keep;
            expired
        };
        // Closed here, outside the lock.
        drop(expired);
    }
}

/// Closes connections idle too long, until the client is gone.
async fn reap(inner: Weak<Inner>) {
    loop {
        tokio::time::sleep(IDLE_TIMEOUT / 2).await;
        match inner.upgrade() {
            Some(inner) => inner.prune(),
            None => return,
        }
    }
}

enum Exchange {
    /// The connection closed before the request was written; here it is.
    NotSent(Box<Request<ReqBody>>),
    Failed(hyper::Error),
}

impl Conn {
    /// Whether an idle connection can take a request now: one poll of
    /// each half, no waiting (a connection that is not idle, or that the
    /// upstream closed, is not worth waiting for: a new one is dialled).
    fn ready(&mut self) -> bool {
        let mut cx = Context::from_waker(Waker::noop());
        if Pin::new(&mut self.driver).poll(&mut cx).is_ready() {
            return false;
        }
        matches!(self.send.poll_ready(&mut cx), Poll::Ready(Ok(())))
    }

    /// Sends `request` and drives the connection until the answer's head;
    /// the connection comes back unless it ended meanwhile.
    async fn exchange(
        self,
        request: Request<ReqBody>,
    ) -> Result<(http::Response<Incoming>, Option<Conn>), Exchange> {
        let Conn { mut send, driver } = self;
        let answer = send.try_send_request(request);
        tokio::pin!(answer);
        let mut driver = Some(driver);
        loop {
            tokio::select! {
                biased;
                // Dropping an ended connection settles the pending answer:
                // the request comes back if it was never written, else the
                // answer fails with the cause.
                () = drive(&mut driver), if driver.is_some() => driver = None,
                answer = &mut answer => {
                    return match answer {
                        Ok(head) => Ok((head, driver.map(|driver| Conn { send, driver }))),
                        Err(mut e) => Err(match e.take_message() {
                            Some(request) => Exchange::NotSent(Box::new(request)),
                            None => Exchange::Failed(e.into_error()),
                        }),
                    };
                }
            }
        }
    }
}

/// Polls the connection until it ends.
async fn drive(driver: &mut Option<Driver>) {
    match driver {
        Some(driver) => {
            // Its outcome reaches the request or body that needed it.
            let _ = driver.await;
        }
        None => std::future::pending().await,
    }
}

/// An upstream answer whose head is in; its body is read with
/// [`Response::chunk`], which also drives the connection.
pub(super) struct Response {
    head: Parts,
    body: Incoming,
    /// `None` once the connection ended (the body may still hold data).
    conn: Option<Conn>,
    pool: Weak<Inner>,
}

impl Response {
    pub(super) fn status(&self) -> StatusCode {
        self.head.status
    }

    pub(super) fn headers(&self) -> &HeaderMap {
        &self.head.headers
    }

    /// The declared body length, if any.
    pub(super) fn content_length(&self) -> Option<u64> {
        hyper::body::Body::size_hint(&self.body).exact()
    }

    /// The next chunk of the body; `Ok(None)` at its end, when the
    /// connection goes back to the pool.
    pub(super) async fn chunk(&mut self) -> Result<Option<Bytes>, ClientError> {
        loop {
            let frame = match &mut self.conn {
                Some(conn) => tokio::select! {
                    biased;
                    _ = &mut conn.driver => {
                        self.conn = None;
                        continue;
                    }
                    frame = self.body.frame() => frame,
                },
                None => self.body.frame().await,
            };
            match frame {
                None => {
                    if let (Some(conn), Some(pool)) = (self.conn.take(), self.pool.upgrade()) {
                        pool.put_back(conn);
                    }
                    return Ok(None);
                }
                Some(Err(e)) => {
                    self.conn = None;
                    return Err(ClientError::Body(cause(&e)));
                }
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) if !data.is_empty() => return Ok(Some(data)),
                    // Empty chunks and trailers carry nothing to relay.
                    _ => {}
                },
            }
        }
    }
}

/// The innermost cause of an error: the part that says what happened.
fn cause(error: &(dyn std::error::Error + 'static)) -> String {
    super::setup::root_cause(error)
}
