//! Stateless era (`2026-07-28`): POSTs served by a bounded pool of shared
//! children.
//!
//! Each request is followed by a driver task that writes it (with the
//! upstream id of its [`Worker`]), waits for the first message, and picks
//! the reply: when that message is the final response the reply is one
//! JSON document whose status follows [`stateless_status`]; otherwise it is
//! an event stream. Closing the stream is cancellation in this era: the
//! driver then sends the server `notifications/cancelled`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use sallyport_protocol::data::{StreamError, StreamErrorKind};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, debug};

use super::envelope::{self, Envelope, Key, Kind};
use super::route::stateless_status;
use super::worker::{Pending, Worker};
use super::{Ctx, event, lock, unreadable_params};
use crate::bridge::{BridgeReply, stream_error};

/// Largest pool, whatever `max_sessions` says.
const MAX_POOL: usize = 4;
/// Messages buffered per request.
const STREAM_QUEUE: usize = 64;
/// JSON-RPC code for "request timed out".
const REQUEST_TIMEOUT: i64 = -32001;

/// The shared children of one server.
#[derive(Debug)]
pub(crate) struct Pool {
    size: usize,
    workers: Mutex<Vec<Arc<Worker>>>,
    next_label: AtomicU64,
}

impl Pool {
    /// A pool of at most `min(4, max_sessions)` children (at least one),
    /// spawned on demand.
    pub fn new(max_sessions: usize) -> Self {
        Self {
            size: max_sessions.clamp(1, MAX_POOL),
            workers: Mutex::new(Vec::new()),
            next_label: AtomicU64::new(0),
        }
    }

    /// Live children.
    pub fn len(&self) -> usize {
        let workers = lock(&self.workers);
        workers.iter().filter(|w| !w.ended.is_cancelled()).count()
    }

    /// Serves one POST.
    pub async fn post(
        &self,
        ctx: &Ctx,
        body: Bytes,
        message: &Envelope<'_>,
        cancel: CancellationToken,
    ) -> Result<BridgeReply, StreamError> {
        match message.kind() {
            Kind::Request => self.request(ctx, message, cancel).await,
            Kind::Response => Err(stream_error(
                StreamErrorKind::BadRequest,
                "stateless-era clients send no JSON-RPC responses",
            )),
            Kind::Notification => {
                // `notifications/cancelled` could name another client's
                // request (ids are per client): never forward it. Closing
                // the stream is how a stateless client cancels.
                if message.method() != "notifications/cancelled" {
                    let any = lock(&self.workers)
                        .iter()
                        .find(|w| !w.ended.is_cancelled())
                        .cloned();
                    if let Some(worker) = any {
                        worker.write(body).await?;
                    }
                }
                Ok(BridgeReply::Empty {
                    status: 202,
                    session: None,
                })
            }
        }
    }

    async fn request(
        &self,
        ctx: &Ctx,
        message: &Envelope<'_>,
        cancel: CancellationToken,
    ) -> Result<BridgeReply, StreamError> {
        let bad = |m: &str| stream_error(StreamErrorKind::BadRequest, m);
        let id = message.id.ok_or_else(|| bad("a request needs an id"))?;
        if Key::of(id).is_none() {
            return Err(bad("a JSON-RPC id must be a string or a number"));
        }
        let listen = message.method() == "subscriptions/listen";
        let (tx, rx) = mpsc::channel(STREAM_QUEUE);
        let pending = Pending {
            client_id: id.get().to_owned(),
            client_token: message.meta_progress_token.map(|t| t.get().to_owned()),
            listen,
            tx,
        };
        if message.params_unread {
            return Err(unreadable_params());
        }
        let (worker, n) = self.register(ctx, pending)?;
        let Some(body) = envelope::remap(message, n) else {
            worker.forget(n);
            return Err(unreadable_params());
        };
        let (reply_tx, reply_rx) = oneshot::channel();
        let driver = Driver {
            worker,
            n,
            client_id: id.get().to_owned(),
            server: ctx.server.to_string(),
            rx,
            cancel,
            // A listen stream stays open as long as the client wants it.
            deadline: (!listen).then(|| Instant::now() + ctx.limits.upstream_timeout),
            timeout: ctx.limits.upstream_timeout,
        };
        let discover = message.method() == "server/discover";
        tokio::spawn(driver.run(body, discover, reply_tx).in_current_span());
        reply_rx.await.unwrap_or_else(|_| {
            Err(stream_error(
                StreamErrorKind::Internal,
                "request driver ended",
            ))
        })
    }

    /// Registers `pending` on an idle child, a new child while the pool is
    /// not full, or else the least loaded one. Dead children are dropped
    /// here, so a crashed child is replaced on next use.
    fn register(&self, ctx: &Ctx, pending: Pending) -> Result<(Arc<Worker>, u64), StreamError> {
        let mut workers = lock(&self.workers);
        workers.retain(|w| !w.ended.is_cancelled());
        let least = workers.iter().min_by_key(|w| w.load()).cloned();
        let worker = match least {
            Some(w) if w.load() == 0 || workers.len() >= self.size => w,
            _ => {
                let label = format!("pool-{}", self.next_label.fetch_add(1, Ordering::Relaxed));
                let w = Worker::start(ctx, label).map_err(|e| {
                    let msg = format!(
                        "cannot start MCP server {} ({:?}): {e}",
                        ctx.server, ctx.spec.command
                    );
                    stream_error(StreamErrorKind::Upstream, msg)
                })?;
                workers.push(Arc::clone(&w));
                w
            }
        };
        let n = worker.register(pending).ok_or_else(|| {
            stream_error(
                StreamErrorKind::Upstream,
                format!("MCP server {} is restarting", ctx.server),
            )
        })?;
        Ok((worker, n))
    }
}

/// Follows one request on one worker.
struct Driver {
    worker: Arc<Worker>,
    n: u64,
    client_id: String,
    server: String,
    rx: mpsc::Receiver<Bytes>,
    cancel: CancellationToken,
    deadline: Option<Instant>,
    timeout: Duration,
}

/// What [`Driver::next`] saw.
enum Next {
    Message(Bytes),
    /// The request is over (answered or its worker stopped).
    End,
    /// The client went away.
    Gone,
}

type Reply = oneshot::Sender<Result<BridgeReply, StreamError>>;

impl Driver {
    async fn run(mut self, body: Bytes, discover: bool, reply: Reply) {
        if let Err(e) = self.worker.write(body).await {
            self.worker.forget(self.n);
            let _ = reply.send(Err(e));
            return;
        }
        let first = match self.next().await {
            Next::Message(m) => m,
            Next::Gone => {
                self.worker.cancel(self.n, "client closed the stream").await;
                return;
            }
            Next::End => {
                let msg = format!("MCP server {} stopped before answering", self.server);
                let _ = reply.send(Err(stream_error(StreamErrorKind::Upstream, msg)));
                return;
            }
        };
        let parsed = std::str::from_utf8(&first)
            .ok()
            .and_then(|t| Envelope::parse(t).ok());
        if let Some(response) = parsed.filter(|m| m.kind() == Kind::Response) {
            let status = stateless_status(&response, discover);
            let _ = reply.send(Ok(BridgeReply::Json {
                status,
                session: None,
                body: first,
            }));
            return;
        }
        let (tx, events) = mpsc::channel(STREAM_QUEUE);
        // Cannot fail: the channel is new.
        let _ = tx.try_send(event(first));
        if reply
            .send(Ok(BridgeReply::Sse {
                status: 200,
                session: None,
                events,
                failure: None,
            }))
            .is_err()
        {
            self.worker.cancel(self.n, "client closed the stream").await;
            return;
        }
        loop {
            let next = tokio::select! {
                next = self.next() => next,
                _ = tx.closed() => Next::Gone,
            };
            match next {
                Next::Message(m) => {
                    if tx.send(event(m)).await.is_err() {
                        self.worker.cancel(self.n, "client closed the stream").await;
                        return;
                    }
                }
                Next::Gone => {
                    self.worker.cancel(self.n, "client closed the stream").await;
                    return;
                }
                Next::End => return,
            }
        }
    }

    /// The next message for this request, watching for the client going
    /// away and for the deadline (which cancels the request upstream and
    /// makes up an error response).
    async fn next(&mut self) -> Next {
        loop {
            let deadline = self.deadline;
            tokio::select! {
                m = self.rx.recv() => return m.map_or(Next::End, Next::Message),
                _ = self.cancel.cancelled() => return Next::Gone,
                _ = sleep_until(deadline), if deadline.is_some() => {
                    self.deadline = None;
                    if self.worker.cancel(self.n, "timed out").await {
                        debug!(upstream_id = self.n, "request timed out");
                        let msg = format!("MCP server {} did not answer within {:?}", self.server, self.timeout);
                        return Next::Message(envelope::error_response(&self.client_id, REQUEST_TIMEOUT, &msg));
                    }
                }
            }
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
