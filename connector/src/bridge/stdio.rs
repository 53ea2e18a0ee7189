//! The stdio bridge: MCP servers run as child processes that speak
//! newline-delimited JSON-RPC on stdin/stdout, served to the relay as a
//! Streamable HTTP MCP server would be.
//!
//! The era of each request, as the relay decided it
//! ([`era`](crate::bridge::era): `sallyport_mcp::Era`, known versions
//! only; an unknown one is refused before anything starts), decides how it
//! is served:
//!
//! * **Session era**: `initialize` spawns one child per session
//!   (`sessions`, `session`), within the server's limit and the caller's
//!   share; requests answer with an event stream carrying what the child
//!   sends for them (`route::target`); GET opens the stream of unsolicited
//!   messages; DELETE, idleness, the loss of the link that created the
//!   session, or the child's exit end the session.
//! * **Stateless era**: POSTs share a small pool of children (`stateless`,
//!   `worker`); GET and DELETE are 405.
//!
//! In both eras a client request reaches the child with a connector-own
//! upstream id (and progress token), unique in that child, and answers are
//! matched by it exactly and given back the client's id as the client
//! spelled it. Messages otherwise pass through byte for byte (`envelope`
//! parses only the envelope); the only other rewrite is line breaks in a
//! client's body (which stdio framing forbids).
//!
//! Behaviour choices: a second concurrent GET stream gets 409 (as the
//! TypeScript SDK does), while a GET stream whose client is gone is
//! replaced; `Last-Event-ID` is ignored (no resumption); a session with a
//! request in flight or a GET stream open is never idle; requests time out
//! after `upstream_timeout` (except `subscriptions/listen`): the child is
//! sent `notifications/cancelled` and the client a -32001 error.

mod child;
pub(crate) mod envelope;
mod lines;
mod route;
mod session;
mod sessions;
mod stateless;
mod worker;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use sallyport_mcp::Era;
use sallyport_protocol::ServerName;
use sallyport_protocol::data::{Method, SseEvent, StreamError, StreamErrorKind};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::bridge::{
    self, Bridge, BridgeFuture, BridgeReply, BridgeRequest, LinkTag, SseItem, stream_error,
};
use crate::config::Limits;
use envelope::{Envelope, Kind};
use sessions::Sessions;
use stateless::Pool;

/// The first protocol version of the stateless era.
pub use sallyport_mcp::STATELESS_ERA;
/// Stdout lines are capped at `max_body`, but never below this.
const MIN_LINE: usize = 64 * 1024;

/// Serves one stdio MCP server (see the module docs).
pub struct StdioBridge {
    ctx: Ctx,
    sessions: Sessions,
    pool: Pool,
}

/// What sessions and pooled children need to know.
#[derive(Debug)]
pub(crate) struct Ctx {
    server: ServerName,
    spec: child::Spec,
    limits: Limits,
    /// Fires on [`Bridge::shutdown`]; every child's stop token derives
    /// from it.
    shutdown: CancellationToken,
}

impl Ctx {
    fn max_line(&self) -> usize {
        self.limits.max_body.max(MIN_LINE)
    }
}

impl StdioBridge {
    /// A bridge that runs `command` (program and arguments), with `env`
    /// added to the inherited environment, in `cwd`. Spawns nothing yet.
    pub fn new(
        server: ServerName,
        command: Vec<String>,
        env: BTreeMap<String, String>,
        cwd: Option<PathBuf>,
        limits: Limits,
    ) -> StdioBridge {
        StdioBridge {
            pool: Pool::new(limits.max_sessions),
            ctx: Ctx {
                server,
                spec: child::Spec { command, env, cwd },
                limits,
                shutdown: CancellationToken::new(),
            },
            sessions: Sessions::new(),
        }
    }

    /// Live session-era sessions (one child each).
    pub fn sessions(&self) -> usize {
        self.sessions.table().len()
    }

    /// Live pooled children of the stateless era.
    pub fn pooled(&self) -> usize {
        self.pool.len()
    }

    async fn serve(
        &self,
        request: BridgeRequest,
        cancel: CancellationToken,
    ) -> Result<BridgeReply, StreamError> {
        if self.ctx.shutdown.is_cancelled() {
            return Err(stream_error(
                StreamErrorKind::Upstream,
                "the connector is shutting down",
            ));
        }
        let BridgeRequest { origin, head, body } = request;
        let body = match head.method {
            Method::Post => envelope::one_line(&body),
            Method::Get | Method::Delete => body,
        };
        let message = match head.method {
            Method::Post => Some(parse(&body)?),
            Method::Get | Method::Delete => None,
        };
        let meta = message.as_ref().and_then(Envelope::protocol_version);
        if bridge::era(&head, meta.as_deref())? == Era::Stateless {
            let Some(message) = message else {
                return Ok(BridgeReply::Empty {
                    status: 405,
                    session: None,
                });
            };
            return self
                .pool
                .post(&self.ctx, body.clone(), &message, cancel)
                .await;
        }
        match (head.method, head.session, message) {
            (Method::Post, None, Some(message)) => {
                if message.kind() != Kind::Request || message.method() != "initialize" {
                    return Err(session_required());
                }
                self.sessions
                    .initialize(&self.ctx, origin, &head.caller, &message)
                    .await
            }
            (Method::Post, Some(id), Some(message)) => {
                let session = self.sessions.get(&id)?;
                if message.kind() == Kind::Request {
                    let events = session.request(&message, cancel).await?;
                    Ok(BridgeReply::Sse {
                        status: 200,
                        session: None,
                        events,
                        failure: None,
                    })
                } else {
                    session.one_way(body.clone(), &message).await?;
                    Ok(BridgeReply::Empty {
                        status: 202,
                        session: None,
                    })
                }
            }
            (Method::Post, _, None) => Err(stream_error(
                StreamErrorKind::Internal,
                "a POST without its parsed body",
            )),
            (Method::Get, Some(id), _) => match self.sessions.get(&id)?.open_get()? {
                Some(events) => Ok(BridgeReply::Sse {
                    status: 200,
                    session: None,
                    events,
                    failure: None,
                }),
                None => Ok(BridgeReply::Empty {
                    status: 409,
                    session: None,
                }),
            },
            (Method::Delete, Some(id), _) => {
                self.sessions.delete(&id).await?;
                Ok(BridgeReply::Empty {
                    status: 200,
                    session: None,
                })
            }
            (Method::Get | Method::Delete, None, _) => Err(session_required()),
        }
    }
}

impl std::fmt::Debug for StdioBridge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StdioBridge")
            .field("server", &self.ctx.server)
            .field("command", &self.ctx.spec.command)
            .field("sessions", &self.sessions())
            .field("pooled", &self.pooled())
            .finish_non_exhaustive()
    }
}

impl Bridge for StdioBridge {
    fn handle(&self, request: BridgeRequest, cancel: CancellationToken) -> BridgeFuture<'_> {
        Box::pin(self.serve(request, cancel))
    }

    fn link_closed(&self, origin: LinkTag) {
        self.sessions.link_closed(origin);
    }

    fn shutdown(&self) {
        self.ctx.shutdown.cancel();
    }
}

fn parse(body: &Bytes) -> Result<Envelope<'_>, StreamError> {
    let text = std::str::from_utf8(body)
        .map_err(|_| stream_error(StreamErrorKind::BadRequest, "the body is not UTF-8"))?;
    Envelope::parse(text).map_err(|e| {
        stream_error(
            StreamErrorKind::BadRequest,
            format!("the body is not one JSON-RPC message: {e}"),
        )
    })
}

/// A request whose `params` could not be read for its routing members:
/// refused, because its id or progress token could not be remapped.
fn unreadable_params() -> StreamError {
    stream_error(
        StreamErrorKind::BadRequest,
        "the request's params could not be read (a member given twice, or _meta not an object)",
    )
}

fn session_required() -> StreamError {
    stream_error(
        StreamErrorKind::BadRequest,
        "Mcp-Session-Id is required (send initialize first)",
    )
}

/// Locks `mutex`; a panic elsewhere leaves consistent data here (every
/// critical section is a few assignments), so poisoning is ignored.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The start of a line, for logs.
fn log_head(text: &str) -> &str {
    let mut end = text.len().min(200);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The JSON-RPC message of a line the MCP server wrote, or `None` (logged)
/// when the line is not UTF-8 or not a JSON-RPC message: such a line is
/// skipped, never forwarded.
fn server_message(line: &[u8]) -> Option<Envelope<'_>> {
    let Ok(text) = std::str::from_utf8(line) else {
        tracing::warn!(
            bytes = line.len(),
            "MCP server wrote a non-UTF-8 line; skipped"
        );
        return None;
    };
    match Envelope::parse(text) {
        Ok(m) => Some(m),
        Err(e) => {
            tracing::warn!(error = %e, line = %log_head(text), "MCP server wrote a non-JSON-RPC line; skipped");
            None
        }
    }
}

/// An SSE event carrying one JSON-RPC message.
fn event(data: Bytes) -> SseItem {
    SseItem::Event(SseEvent {
        data,
        ..SseEvent::default()
    })
}

/// Queues `line` for a child's stdin, waiting at most `timeout` for room.
async fn write_stdin(
    stdin: &mpsc::Sender<Bytes>,
    line: Bytes,
    timeout: Duration,
) -> Result<(), StreamError> {
    match tokio::time::timeout(timeout, stdin.send(line)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => Err(stream_error(
            StreamErrorKind::Upstream,
            "the MCP server has stopped",
        )),
        Err(_) => Err(stream_error(
            StreamErrorKind::Upstream,
            "the MCP server is not reading its input",
        )),
    }
}
