//! An in-memory MCP server behind the connector's [`Bridge`] trait: it
//! speaks JSON-RPC in both protocol eras, keeps sessions, and has tools
//! whose behaviour tests rely on.
//!
//! Tools: `echo` (returns its `text` argument), `fail` (the upstream
//! breaks: a [`StreamErrorKind::Upstream`] error), `wait` (answers only when
//! [`MemoryServer::release`] is called, and records a cancellation when its
//! token fires first), `stream` (an event stream with a progress
//! notification that stays open like `wait`), `broken` (an event stream
//! whose upstream breaks after one event; not listed), plus any names given to
//! [`MemoryServer::with_tools`], which answer like `echo`.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use sallyport_connector::bridge::{
    Bridge, BridgeFuture, BridgeReply, BridgeRequest, LinkTag, SseItem, stream_error,
};
use sallyport_mcp::era::STATELESS_ERA;
use sallyport_protocol::data::{Caller, Method, SseEvent, StreamErrorKind};
use serde_json::{Value, json};
use tokio::sync::{Notify, mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;

/// What the server has seen, for tests to wait on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Seen {
    /// JSON-RPC methods (and `GET`/`DELETE`), in arrival order.
    pub methods: Vec<String>,
    /// The caller of the last request.
    pub caller: Option<Caller>,
    /// The protocol version the relay decided the last request's era by.
    pub protocol_version: Option<String>,
    /// `wait` calls that started.
    pub waiting: usize,
    /// `wait` calls whose cancellation token fired before they were
    /// released (the relay stopped their stream).
    pub cancelled: usize,
    /// `wait` calls that were released and answered.
    pub released: usize,
}

/// The in-memory MCP server; cheap to clone (one shared state).
#[derive(Debug, Clone)]
pub struct MemoryServer {
    inner: Arc<State>,
}

#[derive(Debug)]
struct State {
    tools: Vec<String>,
    sse_lists: bool,
    sessions: Mutex<HashSet<String>>,
    seen: watch::Sender<Seen>,
    release: Notify,
}

impl Default for MemoryServer {
    fn default() -> Self {
        Self::with_tools(&[], false)
    }
}

impl MemoryServer {
    /// A server with `echo`, `fail`, `wait`, `stream` and `extra` tools; with
    /// `sse_lists`, `tools/list` answers as an event stream.
    pub fn with_tools(extra: &[&str], sse_lists: bool) -> Self {
        let mut tools: Vec<String> = ["echo", "fail", "wait", "stream"]
            .map(str::to_owned)
            .to_vec();
        tools.extend(extra.iter().map(|t| (*t).to_owned()));
        Self {
            inner: Arc::new(State {
                tools,
                sse_lists,
                sessions: Mutex::default(),
                seen: watch::Sender::new(Seen::default()),
                release: Notify::new(),
            }),
        }
    }

    /// As a bridge for [`crate::World`].
    pub fn bridge(&self) -> Arc<dyn Bridge> {
        Arc::new(self.clone())
    }

    /// A copy of what was seen so far.
    pub fn seen(&self) -> Seen {
        self.inner.seen.borrow().clone()
    }

    /// Waits (at most `within`) until `what` holds of [`Seen`]; panics
    /// with the last state otherwise.
    pub async fn wait_until(&self, within: Duration, what: impl Fn(&Seen) -> bool) {
        let mut rx = self.inner.seen.subscribe();
        let waited = tokio::time::timeout(within, rx.wait_for(|s| what(s))).await;
        assert!(
            matches!(waited, Ok(Ok(_))),
            "condition not met within {within:?}: {:?}",
            self.seen()
        );
    }

    /// Lets one waiting `wait` call (or the next one) answer.
    pub fn release(&self) {
        self.inner.release.notify_one();
    }

    fn note(&self, f: impl FnOnce(&mut Seen)) {
        self.inner.seen.send_modify(f);
    }

    async fn serve(
        &self,
        request: BridgeRequest,
        cancel: CancellationToken,
    ) -> Result<BridgeReply, sallyport_protocol::data::StreamError> {
        let head = &request.head;
        self.note(|s| {
            s.caller = Some(head.caller.clone());
            s.protocol_version = head.protocol_version.clone();
        });
        match head.method {
            Method::Get => {
                self.note(|s| s.methods.push("GET".into()));
                return Ok(BridgeReply::Empty {
                    status: 405,
                    session: None,
                });
            }
            Method::Delete => {
                self.note(|s| s.methods.push("DELETE".into()));
                let known = head.session.as_ref().is_some_and(|id| self.end(id));
                return Ok(BridgeReply::Empty {
                    status: if known { 200 } else { 404 },
                    session: None,
                });
            }
            Method::Post => {}
        }
        let message: Value = serde_json::from_slice(&request.body)
            .map_err(|e| stream_error(StreamErrorKind::BadRequest, e.to_string()))?;
        let method = message["method"].as_str().unwrap_or_default().to_owned();
        self.note(|s| s.methods.push(method.clone()));
        let stateless = head.protocol_version.as_deref() == Some(STATELESS_ERA);
        if !stateless && method != "initialize" {
            let live = head.session.as_ref().is_some_and(|id| self.live(id));
            if !live {
                return Err(stream_error(StreamErrorKind::UnknownSession, "no session"));
            }
        }
        let Some(id) = message.get("id").cloned() else {
            // A notification (e.g. notifications/initialized).
            return Ok(BridgeReply::Empty {
                status: 202,
                session: None,
            });
        };
        let result = match method.as_str() {
            "initialize" => {
                let session = (!stateless).then(|| self.open());
                let version = message["params"]["protocolVersion"].clone();
                let body = reply(
                    &id,
                    json!({
                        "protocolVersion": version,
                        "capabilities": {"tools": {}},
                        "serverInfo": {"name": "memory", "version": "1"},
                    }),
                );
                return Ok(BridgeReply::Json {
                    status: 200,
                    session,
                    body,
                });
            }
            "tools/list" => {
                let tools: Vec<Value> = self
                    .inner
                    .tools
                    .iter()
                    .map(|t| json!({"name": t, "inputSchema": {"type": "object"}}))
                    .collect();
                let body = reply(&id, json!({ "tools": tools }));
                if self.inner.sse_lists {
                    return Ok(sse(body));
                }
                body
            }
            "tools/call" => return self.call(&id, &message["params"], cancel).await,
            other => {
                let error = json!({"code": -32601, "message": format!("no method {other}")});
                Bytes::from(json!({"jsonrpc": "2.0", "id": id, "error": error}).to_string())
            }
        };
        Ok(BridgeReply::Json {
            status: 200,
            session: None,
            body: result,
        })
    }

    async fn call(
        &self,
        id: &Value,
        params: &Value,
        cancel: CancellationToken,
    ) -> Result<BridgeReply, sallyport_protocol::data::StreamError> {
        let name = params["name"].as_str().unwrap_or_default();
        let json = |body: Bytes| BridgeReply::Json {
            status: 200,
            session: None,
            body,
        };
        match name {
            "fail" => Err(stream_error(StreamErrorKind::Upstream, "the tool crashed")),
            "wait" => {
                self.note(|s| s.waiting += 1);
                // The connector may drop this future when the relay stops
                // the stream; what a bridge sees then is its token, which
                // also fires when a request ends normally. So a watcher
                // counts the token firing before the call was released.
                let released = Arc::new(AtomicBool::new(false));
                let watcher = self.clone();
                let seen_release = Arc::clone(&released);
                tokio::spawn(async move {
                    cancel.cancelled().await;
                    if !seen_release.load(Ordering::SeqCst) {
                        watcher.note(|s| s.cancelled += 1);
                    }
                });
                self.inner.release.notified().await;
                released.store(true, Ordering::SeqCst);
                self.note(|s| s.released += 1);
                Ok(json(text(id, "released")))
            }
            "stream" => Ok(self.stream(id.clone(), cancel)),
            "broken" => Ok(broken()),
            known if self.inner.tools.iter().any(|t| t == known) => {
                let echoed = params["arguments"]["text"].as_str().unwrap_or(known);
                Ok(json(text(id, echoed)))
            }
            // What the MCP SDKs answer for a tool they do not have.
            unknown => Ok(json(Bytes::from(
                json!({"jsonrpc": "2.0", "id": id,
                    "error": {"code": -32602, "message": format!("Unknown tool: {unknown}")}})
                .to_string(),
            ))),
        }
    }

    /// The `stream` tool: an event stream with one progress notification
    /// that stays open until [`MemoryServer::release`] (then the result
    /// follows and it ends) or until its token fires (a cancellation).
    fn stream(&self, id: Value, cancel: CancellationToken) -> BridgeReply {
        self.note(|s| s.waiting += 1);
        let (tx, events) = mpsc::channel(4);
        let progress = json!({"jsonrpc": "2.0", "method": "notifications/progress",
            "params": {"progressToken": 1, "progress": 1}});
        // A fresh channel with room for four: this send cannot fail.
        let _ = tx.try_send(event(Bytes::from(progress.to_string())));
        let server = self.clone();
        tokio::spawn(async move {
            tokio::select! {
                () = server.inner.release.notified() => {
                    server.note(|s| s.released += 1);
                    let _ = tx.send(event(text(&id, "released"))).await;
                }
                () = cancel.cancelled() => server.note(|s| s.cancelled += 1),
            }
        });
        BridgeReply::Sse {
            status: 200,
            session: None,
            events,
            failure: None,
        }
    }

    fn open(&self) -> String {
        let mut sessions = self
            .inner
            .sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let id = format!("upstream-{}", sessions.len() + 1);
        sessions.insert(id.clone());
        id
    }

    fn live(&self, id: &str) -> bool {
        let sessions = self
            .inner
            .sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        sessions.contains(id)
    }

    fn end(&self, id: &str) -> bool {
        let mut sessions = self
            .inner
            .sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        sessions.remove(id)
    }
}

fn reply(id: &Value, result: Value) -> Bytes {
    Bytes::from(json!({"jsonrpc": "2.0", "id": id, "result": result}).to_string())
}

fn text(id: &Value, text: &str) -> Bytes {
    reply(id, json!({"content": [{"type": "text", "text": text}]}))
}

/// A `message` event carrying `data`.
fn event(data: Bytes) -> SseItem {
    SseItem::Event(SseEvent {
        id: None,
        event: Some("message".into()),
        data,
        retry: None,
    })
}

/// The `broken` tool: an event stream whose upstream breaks after a
/// progress notification.
fn broken() -> BridgeReply {
    let (tx, events) = mpsc::channel(1);
    let progress = json!({"jsonrpc": "2.0", "method": "notifications/progress",
        "params": {"progressToken": 1, "progress": 1}});
    // A fresh channel with room for one: this send cannot fail.
    let _ = tx.try_send(event(Bytes::from(progress.to_string())));
    let (fail, failure) = oneshot::channel();
    // The receiver is in the reply below: this send cannot fail.
    let _ = fail.send(stream_error(StreamErrorKind::Upstream, "connection reset"));
    drop(tx);
    BridgeReply::Sse {
        status: 200,
        session: None,
        events,
        failure: Some(failure),
    }
}

/// `body` as a one-event stream.
fn sse(body: Bytes) -> BridgeReply {
    let (tx, events) = mpsc::channel(1);
    // A fresh channel with room for one: this send cannot fail.
    let _ = tx.try_send(event(body));
    BridgeReply::Sse {
        status: 200,
        session: None,
        events,
        failure: None,
    }
}

impl Bridge for MemoryServer {
    fn handle(&self, request: BridgeRequest, cancel: CancellationToken) -> BridgeFuture<'_> {
        Box::pin(self.serve(request, cancel))
    }

    fn link_closed(&self, _origin: LinkTag) {}

    fn shutdown(&self) {}
}
