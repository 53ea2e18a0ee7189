//! Session era: one MCP session, backed by one child process.
//!
//! The client side ([`Session::request`], [`Session::one_way`],
//! [`Session::open_get`], [`Session::initialize`]) registers requests and
//! writes to the child's stdin; the router task (in [`router`]) reads the
//! child's stdout and puts every message on the stream that
//! [`route::target`](super::route::target) picks. Both share `State` behind
//! one mutex, never held across an await.

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
use tracing::{Instrument, info_span};

use super::child;
use super::envelope::{Envelope, Key, Kind};
use super::route::Entry;
use super::sessions::Table;
use super::{Ctx, event, lock, write_stdin};
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
    next_seq: u64,
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
                next_seq: 0,
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
    /// response, returned untouched.
    pub async fn initialize(
        self: &Arc<Self>,
        body: Bytes,
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
        let (mut rx, _seq, _done) = match self.register(message, false) {
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
        body: Bytes,
        message: &Envelope<'_>,
        cancel: CancellationToken,
    ) -> Result<mpsc::Receiver<SseItem>, StreamError> {
        let (rx, seq, done) = self.register(message, true)?;
        if let Err(e) = write_stdin(&self.stdin, body, self.timeout).await {
            self.remove(seq);
            return Err(e);
        }
        tokio::spawn(Arc::clone(self).watch(seq, cancel, done).in_current_span());
        Ok(rx)
    }

    /// Writes a notification or a response (the client answering a server
    /// request).
    pub async fn one_way(&self, body: Bytes) -> Result<(), StreamError> {
        {
            let mut state = lock(&self.state);
            if state.closed {
                return Err(self.gone());
            }
            state.last_used = Instant::now();
        }
        write_stdin(&self.stdin, body, self.timeout).await
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

    fn register(
        &self,
        message: &Envelope<'_>,
        takes_unrelated: bool,
    ) -> Result<(mpsc::Receiver<SseItem>, u64, CancellationToken), StreamError> {
        let bad = |m: &str| stream_error(StreamErrorKind::BadRequest, m);
        let id = message.id.ok_or_else(|| bad("a request needs an id"))?;
        let key = Key::of(id).ok_or_else(|| bad("a JSON-RPC id must be a string or a number"))?;
        let (tx, rx) = mpsc::channel(STREAM_QUEUE);
        let mut state = lock(&self.state);
        if state.closed {
            return Err(self.gone());
        }
        if state.entries.iter().any(|e| e.key == key) {
            return Err(bad(
                "a request with this id is already in flight in this session",
            ));
        }
        state.next_seq += 1;
        let seq = state.next_seq;
        let done = CancellationToken::new();
        state.entries.push(Entry {
            seq,
            key,
            raw_id: id.get().to_owned(),
            token: message.meta_progress_token.and_then(Key::of),
            tx: Some(tx),
            done: done.clone(),
            takes_unrelated,
        });
        state.last_used = Instant::now();
        Ok((rx, seq, done))
    }

    fn remove(&self, seq: u64) -> Option<Entry> {
        let mut state = lock(&self.state);
        let i = state.entries.iter().position(|e| e.seq == seq)?;
        let entry = state.entries.remove(i);
        entry.done.cancel();
        state.last_used = Instant::now();
        Some(entry)
    }
}
