//! Session era: one MCP session, backed by one child process.
//!
//! The client side ([`Session::request`], [`Session::one_way`],
//! [`Session::open_get`], [`Session::initialize`]) registers requests and
//! writes to the child's stdin; the router task (in [`router`]) reads the
//! child's stdout and puts every message on the stream that
//! [`route::target`](super::route::target) picks. Both share `State` behind
//! one mutex, never held across an await.
//!
//! Every client request (`initialize` too) reaches the child with a fresh
//! upstream id of the connector's own, and its progress token with the
//! same number; the router restores the client's spelling of both on the
//! way out (see [`Entry`]). A client's `notifications/cancelled` is mapped
//! to the upstream id of the request it names. Server-to-client requests
//! and the client's answers to them keep the server's ids untouched.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::bridge::SseItem;
use bytes::Bytes;
use sallyport_protocol::ServerName;
use sallyport_protocol::data::{StreamError, StreamErrorKind};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, debug, info, info_span};

use super::child;
use super::envelope::{self, Envelope, Key, Kind};
use super::route::Entry;
use super::sessions::{CallerKey, Table};
use super::{Ctx, event, lock, log_head, unreadable_params, write_stdin};
use crate::bridge::{LinkTag, stream_error};

mod router;

/// Events buffered per request stream.
const STREAM_QUEUE: usize = 64;
/// Server messages kept for a GET stream that is not open yet.
const BACKLOG: usize = 256;
/// How long a DELETE waits for the child to be reaped.
const REAP_WAIT: Duration = Duration::from_secs(3);
/// How long delivering a final error may block on a slow reader.
const DELIVER_GRACE: Duration = Duration::from_secs(2);
/// Upstream ids of requests the client cancelled, remembered so that an
/// answer already on its way is dropped quietly.
const CANCELLED_KEPT: usize = 64;

/// JSON-RPC code for "the server process is gone".
const INTERNAL_ERROR: i64 = -32603;
/// JSON-RPC code for "request timed out" (as the MCP SDKs use it).
const REQUEST_TIMEOUT: i64 = -32001;

/// One session-era MCP session.
#[derive(Debug)]
pub(crate) struct Session {
    /// The session id given to the relay.
    pub id: String,
    /// The link whose client created it.
    pub origin: LinkTag,
    /// Who created it (its slot counts against this caller's share).
    pub caller: CallerKey,
    server: ServerName,
    stdin: mpsc::Sender<Bytes>,
    reaped: CancellationToken,
    /// Fires when the session ends, for any reason; stops the child.
    pub ended: CancellationToken,
    timeout: Duration,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    /// Requests in flight, oldest first.
    entries: Vec<Entry>,
    /// The GET stream, if one was opened.
    get: Option<mpsc::Sender<SseItem>>,
    backlog: VecDeque<Bytes>,
    /// No more requests: the child is gone or going.
    closed: bool,
    /// Why the child exited, when it did on its own.
    exit: Option<String>,
    last_used: Instant,
    /// The last upstream id given out.
    next_id: u64,
    /// Upstream ids the client cancelled, newest last.
    cancelled: VecDeque<u64>,
}

impl State {
    fn get_open(&self) -> bool {
        self.get.as_ref().is_some_and(|tx| !tx.is_closed())
    }

    fn busy(&self) -> bool {
        self.get_open() || self.entries.iter().any(|e| e.tx.is_some())
    }
}

impl Session {
    /// Spawns the child and the router task; the session ends when
    /// `ended` fires (or the child exits), and then leaves `table`.
    pub fn start(
        ctx: &Ctx,
        id: String,
        origin: LinkTag,
        caller: CallerKey,
        ended: CancellationToken,
        table: Arc<Table>,
    ) -> Result<Arc<Self>, StreamError> {
        let (handle, events) =
            child::spawn(&ctx.spec, &ctx.server, &id, ctx.max_line(), ended.clone()).map_err(
                |e| {
                    let msg = format!(
                        "cannot start MCP server {} ({:?}): {e}",
                        ctx.server, ctx.spec.command
                    );
                    stream_error(StreamErrorKind::Upstream, msg)
                },
            )?;
        let session = Arc::new(Session {
            id,
            origin,
            caller,
            server: ctx.server.clone(),
            stdin: handle.stdin,
            reaped: handle.reaped,
            ended,
            timeout: ctx.limits.upstream_timeout,
            state: Mutex::new(State {
                entries: Vec::new(),
                get: None,
                backlog: VecDeque::new(),
                closed: false,
                exit: None,
                last_used: Instant::now(),
                next_id: 0,
                cancelled: VecDeque::new(),
            }),
        });
        let span = info_span!("stdio_session", server = %session.server, session = %session.id);
        tokio::spawn(
            Arc::clone(&session)
                .run(events, ctx.limits.session_idle, table)
                .instrument(span),
        );
        Ok(session)
    }

    /// Whether the session can take no more requests.
    pub fn is_closed(&self) -> bool {
        lock(&self.state).closed
    }

    /// Ends the session and waits (boundedly) until the child is reaped.
    pub async fn end_and_wait(&self) {
        self.ended.cancel();
        let _ = tokio::time::timeout(REAP_WAIT, self.reaped.cancelled()).await;
    }

    /// Sends `initialize` and waits (up to the upstream timeout) for its
    /// response, returned as the child wrote it but for the client's id.
    pub async fn initialize(
        self: &Arc<Self>,
        message: &Envelope<'_>,
    ) -> Result<Bytes, StreamError> {
        let upstream = |what: String| {
            stream_error(
                StreamErrorKind::Upstream,
                format!("MCP server {} {what}", self.server),
            )
        };
        let exited = |this: &Self| {
            lock(&this.state)
                .exit
                .clone()
                .map(|how| upstream(format!("exited during initialize ({how})")))
        };
        let Registered { mut rx, body, .. } = match self.register(message, false) {
            Ok(registered) => registered,
            Err(e) if e.kind == StreamErrorKind::BadRequest => return Err(e),
            Err(_) => {
                return Err(
                    exited(self).unwrap_or_else(|| upstream("stopped during initialize".into()))
                );
            }
        };
        write_stdin(&self.stdin, body, self.timeout).await?;
        let waited = tokio::time::timeout(self.timeout, async {
            while let Some(item) = rx.recv().await {
                // The stdio bridge sends whole events only.
                let SseItem::Event(event) = item else {
                    continue;
                };
                let is_response = std::str::from_utf8(&event.data)
                    .ok()
                    .and_then(|t| Envelope::parse(t).ok())
                    .is_some_and(|m| m.kind() == Kind::Response);
                if is_response {
                    return Some(event.data);
                }
            }
            None
        })
        .await;
        if let Some(e) = exited(self) {
            return Err(e);
        }
        match waited {
            Ok(Some(response)) => Ok(response),
            Ok(None) => Err(upstream("stopped during initialize".into())),
            Err(_) => Err(upstream(format!(
                "did not answer initialize within {:?}",
                self.timeout
            ))),
        }
    }

    /// Writes a request and returns the stream its messages will go on.
    /// `cancel` (the client went away) only detaches the stream: in this
    /// era a disconnect is not a cancellation.
    pub async fn request(
        self: &Arc<Self>,
        message: &Envelope<'_>,
        cancel: CancellationToken,
    ) -> Result<mpsc::Receiver<SseItem>, StreamError> {
        let Registered { rx, n, done, body } = self.register(message, true)?;
        if let Err(e) = write_stdin(&self.stdin, body, self.timeout).await {
            self.remove(n);
            return Err(e);
        }
        tokio::spawn(Arc::clone(self).watch(n, cancel, done).in_current_span());
        Ok(rx)
    }

    /// Writes a notification or a response (the client answering a server
    /// request, in the server's id space: untouched). A
    /// `notifications/cancelled` is rewritten to name the upstream id of
    /// the request it names, or dropped when that is not in flight.
    pub async fn one_way(&self, body: Bytes, message: &Envelope<'_>) -> Result<(), StreamError> {
        let cancels =
            message.kind() == Kind::Notification && message.method() == "notifications/cancelled";
        let body = {
            let mut state = lock(&self.state);
            if state.closed {
                return Err(self.gone());
            }
            state.last_used = Instant::now();
            if cancels {
                match Self::cancelled_by_client(&mut state, message) {
                    Some(line) => line,
                    None => {
                        info!(
                            request = log_head(message.request_id.map_or("(none)", |r| r.get())),
                            "client cancelled no request in flight; dropped"
                        );
                        return Ok(());
                    }
                }
            } else {
                body
            }
        };
        write_stdin(&self.stdin, body, self.timeout).await
    }

    /// The client cancels the request its `params.requestId` names: the
    /// request ends here (its stream closes), and the child is told with
    /// the upstream id. `None` when it names no request in flight.
    fn cancelled_by_client(state: &mut State, message: &Envelope<'_>) -> Option<Bytes> {
        let named = message.request_id?;
        let key = Key::of(named)?;
        let i = state.entries.iter().position(|e| e.key == key)?;
        let entry = state.entries.remove(i);
        entry.done.cancel();
        if state.cancelled.len() >= CANCELLED_KEPT {
            state.cancelled.pop_front();
        }
        state.cancelled.push_back(entry.upstream);
        debug!(
            request = log_head(&entry.client_id),
            upstream_id = entry.upstream,
            "client cancelled a request"
        );
        let upstream = entry.upstream.to_string();
        Some(envelope::restore(
            message,
            vec![(Some(named), upstream.as_str())],
        ))
    }

    /// Opens the GET stream, first filled with the backlog; `None` when one
    /// is already open (the caller answers 409, as the TypeScript SDK
    /// does). A GET stream whose client went away is replaced.
    pub fn open_get(&self) -> Result<Option<mpsc::Receiver<SseItem>>, StreamError> {
        let mut state = lock(&self.state);
        if state.closed {
            return Err(self.gone());
        }
        if state.get_open() {
            return Ok(None);
        }
        let (tx, rx) = mpsc::channel(BACKLOG + STREAM_QUEUE);
        for line in state.backlog.drain(..) {
            // Cannot fail: the channel is new and larger than the backlog.
            let _ = tx.try_send(event(line));
        }
        state.get = Some(tx);
        state.last_used = Instant::now();
        Ok(Some(rx))
    }

    fn gone(&self) -> StreamError {
        stream_error(
            StreamErrorKind::UnknownSession,
            format!("session {} has ended", self.id),
        )
    }

    /// Registers a client request under a fresh upstream id and returns
    /// it with the line to write (the request with that id).
    fn register(
        &self,
        message: &Envelope<'_>,
        takes_unrelated: bool,
    ) -> Result<Registered, StreamError> {
        let bad = |m: &str| stream_error(StreamErrorKind::BadRequest, m);
        let id = message.id.ok_or_else(|| bad("a request needs an id"))?;
        let key = Key::of(id).ok_or_else(|| bad("a JSON-RPC id must be a string or a number"))?;
        if message.params_unread {
            return Err(unreadable_params());
        }
        let (tx, rx) = mpsc::channel(STREAM_QUEUE);
        let mut state = lock(&self.state);
        if state.closed {
            return Err(self.gone());
        }
        // Answers could not be confused any more (upstream ids are
        // unique), but a cancellation names a request by the client's id.
        if state.entries.iter().any(|e| e.key == key) {
            return Err(bad(
                "a request with this id is already in flight in this session",
            ));
        }
        let n = state.next_id + 1;
        let body = envelope::remap(message, n).ok_or_else(unreadable_params)?;
        state.next_id = n;
        let done = CancellationToken::new();
        state.entries.push(Entry {
            upstream: n,
            key,
            client_id: id.get().to_owned(),
            client_token: message.meta_progress_token.map(|t| t.get().to_owned()),
            tx: Some(tx),
            done: done.clone(),
            takes_unrelated,
        });
        state.last_used = Instant::now();
        Ok(Registered { rx, n, done, body })
    }

    fn remove(&self, n: u64) -> Option<Entry> {
        let mut state = lock(&self.state);
        let i = state.entries.iter().position(|e| e.upstream == n)?;
        let entry = state.entries.remove(i);
        entry.done.cancel();
        state.last_used = Instant::now();
        Some(entry)
    }
}

/// A registered request: its stream, upstream id, end signal, and the line
/// to write to the child.
struct Registered {
    rx: mpsc::Receiver<SseItem>,
    n: u64,
    done: CancellationToken,
    body: Bytes,
}
