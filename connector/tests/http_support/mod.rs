//! The harness of the `HttpBridge` tests: a fake upstream MCP server on
//! 127.0.0.1 and helpers that drive the bridge as the link does.

#![allow(
    dead_code,
    unused_imports,
    reason = "each test binary uses a different part of the harness"
)]

pub use std::collections::BTreeMap;
pub use std::convert::Infallible;
pub use std::future::Future;
pub use std::sync::{Arc, Mutex};
pub use std::time::Duration;

pub use axum::Router;
pub use axum::body::Body;
pub use axum::extract::Request;
pub use axum::http::{HeaderMap, Method as HttpMethod, Response, StatusCode};
pub use axum::routing::any;
pub use bytes::Bytes;
pub use futures_util::StreamExt;
pub use sallyport_connector::bridge::http::HttpBridge;
pub use sallyport_connector::bridge::{BodyStream, Bridge, BridgeReply, BridgeRequest, SseItem};
pub use sallyport_connector::config::Limits;
pub use sallyport_protocol::ServerName;
pub use sallyport_protocol::data::StreamErrorKind;
pub use sallyport_protocol::data::{Caller, Method, RequestHead, SseEvent, StreamError};
pub use tokio::io::AsyncReadExt;
pub use tokio::net::TcpListener;
pub use tokio::sync::{mpsc, oneshot};
pub use tokio::time::timeout;
pub use tokio_util::sync::CancellationToken;

/// Bound on any wait in these tests: a hang is a failure, not a stall.
pub const WAIT: Duration = Duration::from_secs(5);

/// What the fake upstream received.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: HttpMethod,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// Serves `handler` at `/mcp` on a fresh port; returns the URL and the
/// requests as they arrive. The listener is bound before this returns.
pub async fn upstream<F, Fut>(handler: F) -> (String, mpsc::UnboundedReceiver<Seen>)
where
    F: Fn(Seen) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response<Body>> + Send + 'static,
{
    let (tx, rx) = mpsc::unbounded_channel();
    let app = Router::new().route(
        "/mcp",
        any(move |request: Request| {
            let (handler, tx) = (handler.clone(), tx.clone());
            async move {
                let (parts, body) = request.into_parts();
                let body = axum::body::to_bytes(body, usize::MAX)
                    .await
                    .expect("request body");
                let seen = Seen {
                    method: parts.method,
                    headers: parts.headers,
                    body,
                };
                let _ = tx.send(seen.clone());
                handler(seen).await
            }
        }),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    (format!("http://{addr}/mcp"), rx)
}

pub fn reply(
    status: u16,
    content_type: Option<&str>,
    session: Option<&str>,
    body: Body,
) -> Response<Body> {
    let mut response = Response::builder().status(StatusCode::from_u16(status).expect("status"));
    if let Some(ct) = content_type {
        response = response.header("content-type", ct);
    }
    if let Some(s) = session {
        response = response.header("mcp-session-id", s);
    }
    response.body(body).expect("response")
}

/// An event-stream response whose chunks come from `rx`, each flushed as
/// sent. When the connection goes, hyper drops the body and with it `rx`.
pub fn event_stream(rx: mpsc::Receiver<Bytes>) -> Response<Body> {
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|chunk| (Ok::<_, Infallible>(chunk), rx))
    });
    reply(
        200,
        Some("text/event-stream"),
        None,
        Body::from_stream(stream),
    )
}

/// A 200 response of `content_type` without a length (chunked), whose
/// chunks come from `rx` as sent; an `Err` breaks the connection midway.
pub fn streamed(content_type: &str, rx: mpsc::Receiver<std::io::Result<Bytes>>) -> Response<Body> {
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    });
    reply(200, Some(content_type), None, Body::from_stream(stream))
}

pub fn server() -> ServerName {
    ServerName::new("wiki").expect("valid name")
}

/// `url` as a `Url`; the tests' URLs always parse.
pub fn parse_url(url: &str) -> url::Url {
    url::Url::parse(url).expect("a valid test URL")
}

pub fn bridge(url: &str, headers: &[(&str, &str)], upstream_timeout: Duration) -> HttpBridge {
    let headers: BTreeMap<String, String> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let limits = Limits {
        upstream_timeout,
        ..Limits::default()
    };
    HttpBridge::new(server(), parse_url(url), headers, limits).expect("valid bridge")
}

/// A request from an identifiable caller, none of whose identity may
/// reach the upstream.
pub fn request(method: Method, body: &'static str) -> BridgeRequest {
    BridgeRequest {
        origin: 7,
        head: RequestHead {
            request_id: 1,
            method,
            server: server(),
            session: None,
            protocol_version: None,
            last_event_id: None,
            caller: Caller {
                subject: "alice@example.com".into(),
                groups: vec!["staff-group".into()],
                agent: Some("claude-agent".into()),
            },
            headers: vec![],
        },
        body: Bytes::from_static(body.as_bytes()),
    }
}

pub async fn handle(
    bridge: &HttpBridge,
    request: BridgeRequest,
) -> Result<BridgeReply, StreamError> {
    timeout(WAIT, bridge.handle(request, CancellationToken::new()))
        .await
        .expect("bridge answered in time")
}

/// The next event, its data pieces joined back on.
pub async fn next_event(events: &mut mpsc::Receiver<SseItem>) -> Option<SseEvent> {
    next_event_pieces(events).await.map(|(event, _)| event)
}

/// The next event, its data pieces joined back on, and how many pieces
/// went ahead of it. `None` at the end of the stream; the stream must not
/// end inside an event.
pub async fn next_event_pieces(events: &mut mpsc::Receiver<SseItem>) -> Option<(SseEvent, usize)> {
    let mut pieces = Vec::new();
    loop {
        match timeout(WAIT, events.recv()).await.expect("event in time") {
            Some(SseItem::Data(piece)) => pieces.push(piece),
            Some(SseItem::Event(mut event)) => {
                let count = pieces.len();
                if count > 0 {
                    pieces.push(event.data);
                    event.data = Bytes::from(pieces.concat());
                }
                return Some((event, count));
            }
            None => {
                assert!(pieces.is_empty(), "the stream ended inside an event");
                return None;
            }
        }
    }
}

pub async fn next_seen(seen: &mut mpsc::UnboundedReceiver<Seen>) -> Seen {
    timeout(WAIT, seen.recv())
        .await
        .expect("request in time")
        .expect("a request")
}

pub const INITIALIZE: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}"#;
/// Odd spacing and non-ASCII: the body must arrive byte for byte.
pub const INIT_RESULT: &str =
    "{\"jsonrpc\":\"2.0\",  \"id\":1,\n \"result\":{\"serverInfo\":{\"name\":\"f\u{e4}ke\"}}}";
