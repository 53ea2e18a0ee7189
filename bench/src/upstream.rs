//! The bench's upstream MCP server over Streamable HTTP, in-process and as
//! cheap as it can be, so that a relayed/direct ratio measures the tunnel
//! rather than an SDK.
//!
//! `POST /mcp` answers `initialize` (with an `Mcp-Session-Id`),
//! notifications (202), `tools/list`, `tools/call` of `echo` (the
//! `message` argument is copied back byte for byte), and `resources/read`
//! of `bench://json/<n>` (an `application/json` answer whose text is `n`
//! bytes) or `bench://sse/<n>` (the same as one `text/event-stream`
//! event). `GET /mcp` opens an event stream that sends one notification and
//! then stays open until the client goes away; `DELETE /mcp` answers 200.
//! Session ids are not checked.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::Response;
use axum::routing::post;
use axum::serve::ListenerExt;
use bytes::Bytes;
use serde_json::value::RawValue;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::error::{BenchError, Result};
use crate::jsonrpc::{Request, echo_result};

/// Largest resource the server makes.
pub const MAX_RESOURCE: usize = 64 * 1024 * 1024;

/// The first event of every GET stream.
const STREAM_OPEN: &[u8] = b"event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\",\"params\":{\"level\":\"info\",\"data\":\"stream open\"}}\n\n";

/// What the server counted.
#[derive(Debug, Default)]
pub struct Stats {
    /// GET streams open now.
    pub open_streams: AtomicUsize,
    /// `initialize` requests answered.
    pub sessions: AtomicU64,
    /// POST requests answered.
    pub requests: AtomicU64,
}

/// A running upstream server.
#[derive(Debug)]
pub struct Upstream {
    /// The endpoint, `http://127.0.0.1:<port>/mcp`.
    pub url: String,
    /// Its counters.
    pub stats: Arc<Stats>,
    cancel: CancellationToken,
    task: Option<JoinHandle<()>>,
}

struct AppState {
    stats: Arc<Stats>,
    cancel: CancellationToken,
    /// `n` bytes of text, by `n`.
    payloads: Mutex<HashMap<usize, Bytes>>,
}

impl Upstream {
    /// Binds `127.0.0.1:0` and serves until [`Upstream::stop`] (or drop).
    pub async fn start() -> Result<Self> {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .map_err(|e| BenchError::io("bind the upstream server", e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| BenchError::io("upstream address", e))?;
        let stats = Arc::new(Stats::default());
        let cancel = CancellationToken::new();
        let state = Arc::new(AppState {
            stats: Arc::clone(&stats),
            cancel: cancel.clone(),
            payloads: Mutex::new(HashMap::new()),
        });
        let app = Router::new()
            .route(
                "/mcp",
                post(handle_post).get(handle_get).delete(handle_delete),
            )
            .with_state(state);
        let stop = cancel.clone();
        let task = tokio::spawn(async move {
            // Like any server tuned for latency: no Nagle delay on answers.
            let listener = listener.tap_io(|tcp| {
                let _ = tcp.set_nodelay(true);
            });
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(stop.cancelled_owned())
                .await;
        });
        Ok(Self {
            url: format!("http://{addr}/mcp"),
            stats,
            cancel,
            task: Some(task),
        })
    }

    /// Ends every stream and stops serving (bounded).
    pub async fn stop(mut self) {
        self.cancel.cancel();
        if let Some(task) = self.task.take() {
            let abort = task.abort_handle();
            if tokio::time::timeout(std::time::Duration::from_secs(5), task)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

async fn handle_post(State(app): State<Arc<AppState>>, body: Bytes) -> Response {
    app.stats.requests.fetch_add(1, Ordering::Relaxed);
    let req: Request<'_> = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return json(error_body("null", -32700, &format!("parse error: {e}"))),
    };
    let Some(id) = req.id.map(RawValue::get) else {
        return status(StatusCode::ACCEPTED);
    };
    let params = req.params.as_ref();
    match req.method {
        "initialize" => {
            let n = app.stats.sessions.fetch_add(1, Ordering::Relaxed);
            let mut r = json(format!(
                r#"{{"jsonrpc":"2.0","id":{id},"result":{{"protocolVersion":"2025-11-25","capabilities":{{"tools":{{}},"resources":{{}}}},"serverInfo":{{"name":"sallyport-bench-upstream","version":"0"}}}}}}"#
            ));
            if let Ok(v) = header::HeaderValue::from_str(&format!("bench-{n}")) {
                r.headers_mut().insert("mcp-session-id", v);
            }
            r
        }
        "ping" => json(format!(r#"{{"jsonrpc":"2.0","id":{id},"result":{{}}}}"#)),
        "tools/list" => json(format!(
            r#"{{"jsonrpc":"2.0","id":{id},"result":{{"tools":[{{"name":"echo","description":"Echo the message back.","inputSchema":{{"type":"object","properties":{{"message":{{"type":"string"}}}},"required":["message"]}}}}]}}}}"#
        )),
        "tools/call" => match req.echo_message() {
            Some(m) => json(echo_result(id, m)),
            None => json(error_body(id, -32602, "only echo {message} is served")),
        },
        "resources/read" => match params.and_then(|p| p.uri).and_then(parse_uri) {
            Some((sse, n, uri)) => resource(&app, id, uri, sse, n),
            None => json(error_body(
                id,
                -32602,
                "unknown resource: use bench://json/<n> or bench://sse/<n>",
            )),
        },
        _ => json(error_body(id, -32601, "method not found")),
    }
}

/// `bench://json/<n>` → `(false, n)`, `bench://sse/<n>` → `(true, n)`.
fn parse_uri(uri: &str) -> Option<(bool, usize, &str)> {
    let (sse, n) = if let Some(n) = uri.strip_prefix("bench://json/") {
        (false, n)
    } else {
        (true, uri.strip_prefix("bench://sse/")?)
    };
    let n: usize = n.parse().ok()?;
    (n <= MAX_RESOURCE).then_some((sse, n, uri))
}

fn resource(app: &AppState, id: &str, uri: &str, sse: bool, n: usize) -> Response {
    let payload = {
        let mut cache = app
            .payloads
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        cache
            .entry(n)
            .or_insert_with(|| Bytes::from(vec![b'x'; n]))
            .clone()
    };
    let head = format!(
        r#"{}{{"jsonrpc":"2.0","id":{id},"result":{{"contents":[{{"uri":"{uri}","mimeType":"text/plain","text":""#,
        if sse { "event: message\ndata: " } else { "" }
    );
    let tail: &'static [u8] = if sse { b"\"}]}}\n\n" } else { b"\"}]}}" };
    let chunks = [Bytes::from(head), payload, Bytes::from_static(tail)];
    let body = Body::from_stream(futures_util::stream::iter(
        chunks.into_iter().map(Ok::<_, Infallible>),
    ));
    let ct = if sse {
        "text/event-stream"
    } else {
        "application/json"
    };
    typed(StatusCode::OK, ct, body)
}

/// Decrements the open-stream count when the stream's body is dropped
/// (the client went away, or shutdown).
struct StreamGuard(Arc<Stats>);

impl Drop for StreamGuard {
    fn drop(&mut self) {
        self.0.open_streams.fetch_sub(1, Ordering::Relaxed);
    }
}

async fn handle_get(State(app): State<Arc<AppState>>) -> Response {
    app.stats.open_streams.fetch_add(1, Ordering::Relaxed);
    let guard = StreamGuard(Arc::clone(&app.stats));
    let cancel = app.cancel.clone();
    let stream =
        futures_util::stream::unfold((true, guard, cancel), |(first, guard, cancel)| async move {
            if first {
                return Some((
                    Ok::<_, Infallible>(Bytes::from_static(STREAM_OPEN)),
                    (false, guard, cancel),
                ));
            }
            cancel.cancelled().await;
            drop(guard);
            None
        });
    typed(
        StatusCode::OK,
        "text/event-stream",
        Body::from_stream(stream),
    )
}

async fn handle_delete() -> Response {
    status(StatusCode::OK)
}

fn typed(status: StatusCode, content_type: &'static str, body: Body) -> Response {
    let mut r = Response::new(body);
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(content_type),
    );
    r
}

fn json(text: String) -> Response {
    typed(StatusCode::OK, "application/json", Body::from(text))
}

fn status(code: StatusCode) -> Response {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = code;
    r
}

fn error_body(id: &str, code: i64, message: &str) -> String {
    let message = serde_json::to_string(message).unwrap_or_else(|_| "\"error\"".to_owned());
    format!(r#"{{"jsonrpc":"2.0","id":{id},"error":{{"code":{code},"message":{message}}}}}"#)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris() {
        assert_eq!(
            parse_uri("bench://json/10"),
            Some((false, 10, "bench://json/10"))
        );
        assert_eq!(parse_uri("bench://sse/0"), Some((true, 0, "bench://sse/0")));
        assert_eq!(parse_uri("bench://sse/x"), None);
        assert_eq!(parse_uri("demo://readme"), None);
        assert_eq!(
            parse_uri(&format!("bench://json/{}", MAX_RESOURCE + 1)),
            None
        );
    }
}
