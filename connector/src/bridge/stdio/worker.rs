//! Stateless era: one pooled child process, shared by the requests of many
//! clients.
//!
//! Clients pick their JSON-RPC ids independently, so every request gets a
//! fresh numeric upstream id `n` on its way in (its progress token becomes
//! `n` too), and the router restores the client's id, token and
//! subscription id on the way out. Only messages that name a request in
//! flight are delivered: an unattributable notification could belong to
//! another client, so it is dropped, and a server-to-client request (not
//! allowed in this era: servers use `InputRequiredResult`) is answered
//! with an error so that the server does not wait forever.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use sallyport_protocol::ServerName;
use sallyport_protocol::data::StreamError;
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, debug, info, info_span, warn};

use super::child::{self, Event, Exit};
use super::envelope::{self, Envelope, Kind, restore, upstream_id};
use super::{Ctx, lock, server_message, write_stdin};

/// JSON-RPC code for "the server process is gone".
const INTERNAL_ERROR: i64 = -32603;
/// JSON-RPC code for "method not found".
const METHOD_NOT_FOUND: i64 = -32601;
/// How long delivering a final error may block on a slow reader.
const DELIVER_GRACE: Duration = Duration::from_secs(2);

/// A client request in flight on a worker, by upstream id.
#[derive(Debug)]
pub(crate) struct Pending {
    /// The client's id, as raw JSON.
    pub client_id: String,
    /// The client's `_meta.progressToken`, as raw JSON.
    pub client_token: Option<String>,
    /// A `subscriptions/listen` request.
    pub listen: bool,
    /// Where its messages go (already restored to the client's ids).
    pub tx: mpsc::Sender<Bytes>,
}

/// One pooled child.
#[derive(Debug)]
pub(crate) struct Worker {
    /// `pool-<n>`, for logs.
    pub label: String,
    server: ServerName,
    stdin: mpsc::Sender<Bytes>,
    /// Fires when the worker stops, for any reason.
    pub ended: CancellationToken,
    write_timeout: Duration,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    pending: HashMap<u64, Pending>,
    closed: bool,
    last_used: Instant,
    next_id: u64,
}

impl Worker {
    /// Spawns the child and its router.
    pub fn start(ctx: &Ctx, label: String) -> std::io::Result<Arc<Self>> {
        let ended = ctx.shutdown.child_token();
        let (handle, events) = child::spawn(
            &ctx.spec,
            &ctx.server,
            &label,
            ctx.max_line(),
            ended.clone(),
        )?;
        let worker = Arc::new(Worker {
            label,
            server: ctx.server.clone(),
            stdin: handle.stdin,
            ended,
            write_timeout: ctx.limits.upstream_timeout,
            state: Mutex::new(State {
                pending: HashMap::new(),
                closed: false,
                last_used: Instant::now(),
                next_id: 0,
            }),
        });
        let span = info_span!("stdio_worker", server = %worker.server, session = %worker.label);
        tokio::spawn(
            Arc::clone(&worker)
                .run(events, ctx.limits.session_idle)
                .instrument(span),
        );
        Ok(worker)
    }

    /// Requests in flight.
    pub fn load(&self) -> usize {
        lock(&self.state).pending.len()
    }

    /// Registers a request; its upstream id, or `None` if the worker is
    /// closed.
    pub fn register(&self, pending: Pending) -> Option<u64> {
        let mut state = lock(&self.state);
        if state.closed {
            return None;
        }
        state.next_id += 1;
        let n = state.next_id;
        state.pending.insert(n, pending);
        state.last_used = Instant::now();
        Some(n)
    }

    /// Queues one line for stdin.
    pub async fn write(&self, line: Bytes) -> Result<(), StreamError> {
        write_stdin(&self.stdin, line, self.write_timeout).await
    }

    /// Forgets request `n` without telling the server.
    pub fn forget(&self, n: u64) {
        let mut state = lock(&self.state);
        state.pending.remove(&n);
        state.last_used = Instant::now();
    }

    /// Cancels request `n` if it is still in flight: forgets it and sends
    /// the server `notifications/cancelled`. Whether it was in flight.
    pub async fn cancel(&self, n: u64, reason: &str) -> bool {
        let was_pending = {
            let mut state = lock(&self.state);
            state.last_used = Instant::now();
            state.pending.remove(&n).is_some()
        };
        if was_pending {
            debug!(upstream_id = n, reason, "cancelling request");
            let note = envelope::cancelled_notification(&n.to_string(), reason);
            let _ = self.write(note).await;
        }
        was_pending
    }

    async fn run(self: Arc<Self>, mut events: mpsc::Receiver<Event>, idle: Duration) {
        loop {
            let deadline = {
                let state = lock(&self.state);
                if state.pending.is_empty() {
                    state.last_used + idle
                } else {
                    Instant::now() + idle
                }
            };
            tokio::select! {
                biased;
                _ = self.ended.cancelled() => {
                    self.close();
                    break;
                }
                event = events.recv() => match event {
                    Some(Event::Line(line)) => self.route(line).await,
                    Some(Event::Exited(how)) => {
                        self.exited(how).await;
                        break;
                    }
                    None => {
                        self.exited(Exit::plain("its output ended")).await;
                        break;
                    }
                },
                _ = tokio::time::sleep_until(deadline) => {
                    let state = lock(&self.state);
                    if state.pending.is_empty() && state.last_used.elapsed() >= idle {
                        info!(idle = ?idle, "pooled MCP server idle; stopping it");
                        self.ended.cancel();
                    }
                }
            }
        }
    }

    async fn route(&self, line: Bytes) {
        let Some(message) = server_message(&line) else {
            return;
        };
        if message.kind() == Kind::Request {
            return self.refuse_server_request(&message).await;
        }
        let upstream = upstream_id;
        let restored = {
            let mut state = lock(&self.state);
            match (message.kind(), message.method()) {
                (Kind::Response, _) => upstream(message.id)
                    .and_then(|n| state.pending.remove(&n))
                    .map(|p| {
                        state.last_used = Instant::now();
                        let mut edits = vec![(message.id, p.client_id.as_str())];
                        if p.listen {
                            edits.push((message.result_subscription_id, p.client_id.as_str()));
                        }
                        (None, p.tx.clone(), restore(&message, edits))
                    }),
                (_, "notifications/progress") => upstream(message.progress_token)
                    .and_then(|n| Some((n, state.pending.get(&n)?)))
                    .and_then(|(n, p)| {
                        let token = p.client_token.as_deref()?;
                        Some((
                            Some(n),
                            p.tx.clone(),
                            restore(&message, vec![(message.progress_token, token)]),
                        ))
                    }),
                (_, "notifications/cancelled") => {
                    // On stdio a server ends a `subscriptions/listen` this
                    // way; over HTTP that is the end of the stream.
                    let ended = upstream(message.request_id).and_then(|n| state.pending.remove(&n));
                    if ended.is_some() {
                        debug!("server ended a request stream");
                    }
                    None
                }
                _ => upstream(message.subscription_id)
                    .and_then(|n| Some((n, state.pending.get(&n)?)))
                    .filter(|(_, p)| p.listen)
                    .map(|(n, p)| {
                        (
                            Some(n),
                            p.tx.clone(),
                            restore(
                                &message,
                                vec![(message.subscription_id, p.client_id.as_str())],
                            ),
                        )
                    }),
            }
        };
        // This child's output is shared by every caller: a client that does
        // not read its stream must never stop it. A message that does not
        // fit in that client's queue cancels its request; a final answer
        // goes on aside, bounded.
        match restored {
            Some((pending, tx, out)) => match (tx.try_send(out), pending) {
                (Ok(()) | Err(TrySendError::Closed(_)), _) => {}
                (Err(TrySendError::Full(out)), None) => {
                    tokio::spawn(async move {
                        let _ = tokio::time::timeout(DELIVER_GRACE, tx.send(out)).await;
                    });
                }
                (Err(TrySendError::Full(_)), Some(n)) => {
                    warn!(
                        upstream_id = n,
                        "a client is not reading its stream; its request is cancelled so the shared MCP server is not held"
                    );
                    self.cancel(n, "the client is not reading its stream").await;
                }
            },
            None => debug!(
                method = message.method(),
                "server message for no request in flight; dropped"
            ),
        }
    }

    async fn refuse_server_request(&self, message: &Envelope<'_>) {
        warn!(
            method = message.method(),
            "stateless-era MCP server sent a request; answering with an error"
        );
        if let Some(id) = message.id {
            let msg = "server-to-client requests are not available to stateless clients; return an InputRequiredResult";
            let _ = self
                .stdin
                .try_send(envelope::error_response(id.get(), METHOD_NOT_FOUND, msg));
        }
    }

    /// The child exited on its own: every request in flight gets an error
    /// response with its client's id.
    async fn exited(&self, how: Exit) {
        let pending = self.close();
        self.ended.cancel();
        warn!(status = %how.detail, in_flight = pending.len(), "pooled MCP server exited");
        let message = format!("MCP server {} exited ({})", self.server, how.public);
        for p in pending {
            let error = envelope::error_response(&p.client_id, INTERNAL_ERROR, &message);
            let _ = tokio::time::timeout(DELIVER_GRACE, p.tx.send(error)).await;
        }
    }

    fn close(&self) -> Vec<Pending> {
        let mut state = lock(&self.state);
        state.closed = true;
        state.pending.drain().map(|(_, p)| p).collect()
    }
}
