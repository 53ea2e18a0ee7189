//! `HttpBridge` against fake upstream MCP servers on 127.0.0.1, driven
//! through the `Bridge` trait as the link drives it.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, Method as HttpMethod, Response, StatusCode};
use axum::routing::any;
use bytes::Bytes;
use sallyport_connector::bridge::http::HttpBridge;
use sallyport_connector::bridge::{Bridge, BridgeReply, BridgeRequest};
use sallyport_connector::config::Limits;
use sallyport_protocol::ServerName;
use sallyport_protocol::data::StreamErrorKind;
use sallyport_protocol::data::{Caller, Method, RequestHead, SseEvent, StreamError};
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;

/// Bound on any wait in these tests: a hang is a failure, not a stall.
const WAIT: Duration = Duration::from_secs(5);

/// What the fake upstream received.
#[derive(Debug, Clone)]
struct Seen {
    method: HttpMethod,
    headers: HeaderMap,
    body: Bytes,
}

/// Serves `handler` at `/mcp` on a fresh port; returns the URL and the
/// requests as they arrive. The listener is bound before this returns.
async fn upstream<F, Fut>(handler: F) -> (String, mpsc::UnboundedReceiver<Seen>)
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

fn reply(
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
fn event_stream(rx: mpsc::Receiver<Bytes>) -> Response<Body> {
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

fn server() -> ServerName {
    ServerName::new("wiki").expect("valid name")
}

fn bridge(url: &str, headers: &[(&str, &str)], upstream_timeout: Duration) -> HttpBridge {
    let headers: BTreeMap<String, String> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let limits = Limits {
        upstream_timeout,
        ..Limits::default()
    };
    HttpBridge::new(server(), url.to_owned(), headers, limits).expect("valid bridge")
}

/// A request from an identifiable caller, none of whose identity may
/// reach the upstream.
fn request(method: Method, body: &'static str) -> BridgeRequest {
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

async fn handle(bridge: &HttpBridge, request: BridgeRequest) -> Result<BridgeReply, StreamError> {
    timeout(WAIT, bridge.handle(request, CancellationToken::new()))
        .await
        .expect("bridge answered in time")
}

async fn next_event(events: &mut mpsc::Receiver<SseEvent>) -> Option<SseEvent> {
    timeout(WAIT, events.recv()).await.expect("event in time")
}

async fn next_seen(seen: &mut mpsc::UnboundedReceiver<Seen>) -> Seen {
    timeout(WAIT, seen.recv())
        .await
        .expect("request in time")
        .expect("a request")
}

const INITIALIZE: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}"#;
/// Odd spacing and non-ASCII: the body must arrive byte for byte.
const INIT_RESULT: &str =
    "{\"jsonrpc\":\"2.0\",  \"id\":1,\n \"result\":{\"serverInfo\":{\"name\":\"f\u{e4}ke\"}}}";

#[tokio::test]
async fn initialize_returns_json_and_the_session_id() {
    let (url, mut seen) = upstream(|_| async {
        reply(
            200,
            Some("application/json"),
            Some("sess-1"),
            Body::from(INIT_RESULT),
        )
    })
    .await;
    let bridge = bridge(&url, &[], WAIT);
    match handle(&bridge, request(Method::Post, INITIALIZE)).await {
        Ok(BridgeReply::Json {
            status,
            session,
            body,
        }) => {
            assert_eq!(status, 200);
            assert_eq!(session.as_deref(), Some("sess-1"));
            assert_eq!(body, INIT_RESULT.as_bytes());
        }
        other => panic!("expected JSON, got {other:?}"),
    }
    let first = next_seen(&mut seen).await;
    assert_eq!(first.method, HttpMethod::POST);
    assert_eq!(first.body, INITIALIZE.as_bytes());
    assert_eq!(first.headers["content-type"], "application/json");
    assert_eq!(
        first.headers["accept"],
        "application/json, text/event-stream"
    );
    assert!(!first.headers.contains_key("mcp-session-id"));
    assert!(!first.headers.contains_key("mcp-protocol-version"));

    // The next request carries the session and the negotiated version.
    let mut next = request(
        Method::Post,
        r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
    );
    next.head.session = Some("sess-1".into());
    next.head.protocol_version = Some("2025-11-25".into());
    handle(&bridge, next).await.expect("reply");
    let second = next_seen(&mut seen).await;
    assert_eq!(second.headers["mcp-session-id"], "sess-1");
    assert_eq!(second.headers["mcp-protocol-version"], "2025-11-25");
}

#[tokio::test]
async fn event_stream_is_relayed_live_and_in_order() {
    let (go_tx, go_rx) = oneshot::channel::<()>();
    let go = Arc::new(Mutex::new(Some(go_rx)));
    let (url, _seen) = upstream(move |_| {
        let go = go.lock().expect("lock").take().expect("called once");
        async move {
            let (tx, rx) = mpsc::channel(4);
            tokio::spawn(async move {
                let progress = ": priming\nid: 1\nevent: message\ndata: {\"method\":\"notifications/progress\"}\n\n";
                tx.send(Bytes::from(progress)).await.expect("send");
                // The response only once the test saw the progress event.
                go.await.expect("go");
                tx.send(Bytes::from("id: 2\r\ndata: {\"id\":1,\r\ndata: \"result\"")).await.expect("send");
                tx.send(Bytes::from(":{}}\r\n\r\n")).await.expect("send");
            });
            event_stream(rx)
        }
    })
    .await;
    let bridge = bridge(&url, &[], WAIT);
    let Ok(BridgeReply::Sse {
        status,
        session,
        mut events,
        ..
    }) = handle(&bridge, request(Method::Post, "{}")).await
    else {
        panic!("expected an event stream");
    };
    assert_eq!((status, session), (200, None));
    let progress = next_event(&mut events).await.expect("progress event");
    assert_eq!(progress.id.as_deref(), Some("1"));
    assert_eq!(progress.event.as_deref(), Some("message"));
    assert_eq!(
        progress.data,
        r#"{"method":"notifications/progress"}"#.as_bytes()
    );
    go_tx.send(()).expect("upstream waiting");
    let result = next_event(&mut events).await.expect("result event");
    assert_eq!(result.id.as_deref(), Some("2"));
    assert_eq!(result.data, "{\"id\":1,\n\"result\":{}}".as_bytes());
    assert_eq!(
        next_event(&mut events).await,
        None,
        "the stream ends with the upstream's"
    );
}

#[tokio::test]
async fn credentials_and_mcp_headers_reach_upstream_but_nothing_of_the_caller() {
    let (url, mut seen) = upstream(|_| async { reply(202, None, None, Body::empty()) }).await;
    let configured = [
        ("Authorization", "Bearer svc-secret"),
        ("X-Api-Key", "key-1"),
        ("Mcp-Param-Region", "eu"),
    ];
    let bridge = bridge(&url, &configured, WAIT);
    let mut req = request(Method::Post, "{}");
    req.head.protocol_version = Some("2026-07-28".into());
    for (name, value) in [
        ("authorization", "Bearer client-token"),
        ("cookie", "sid=client-cookie"),
        ("x-forwarded-for", "203.0.113.9"),
        ("accept", "text/html"),
        ("mcp-method", "tools/call"),
        ("mcp-name", "search"),
        ("mcp-param-region", "us"),
        ("mcp-param-limit", "5"),
    ] {
        req.head.headers.push((name.into(), value.into()));
    }
    let reply = handle(&bridge, req).await.expect("reply");
    assert!(matches!(
        reply,
        BridgeReply::Empty {
            status: 202,
            session: None
        }
    ));

    let headers = next_seen(&mut seen).await.headers;
    assert_eq!(
        headers.get_all("authorization").iter().collect::<Vec<_>>(),
        ["Bearer svc-secret"]
    );
    assert_eq!(headers["x-api-key"], "key-1");
    assert_eq!(headers["mcp-method"], "tools/call");
    assert_eq!(headers["mcp-name"], "search");
    assert_eq!(headers["mcp-param-limit"], "5");
    // The configured header wins over the client's.
    assert_eq!(
        headers
            .get_all("mcp-param-region")
            .iter()
            .collect::<Vec<_>>(),
        ["eu"]
    );
    assert_eq!(headers["accept"], "application/json, text/event-stream");
    assert_eq!(headers["mcp-protocol-version"], "2026-07-28");
    let allowed = [
        "host",
        "content-type",
        "content-length",
        "accept",
        "user-agent",
        "mcp-protocol-version",
        "authorization",
        "x-api-key",
        "mcp-method",
        "mcp-name",
        "mcp-param-region",
        "mcp-param-limit",
    ];
    for (name, value) in &headers {
        assert!(allowed.contains(&name.as_str()), "unexpected header {name}");
        let value = value.to_str().expect("ASCII");
        for secret in [
            "alice",
            "staff-group",
            "claude-agent",
            "client-token",
            "client-cookie",
        ] {
            assert!(!value.contains(secret), "{name} carries {secret}");
        }
    }
}

#[tokio::test]
async fn get_resumes_with_last_event_id() {
    let (url, mut seen) = upstream(|_| async {
        let (tx, rx) = mpsc::channel(1);
        tx.send(Bytes::from("id: ev-42\ndata: {\"replayed\":true}\n\n"))
            .await
            .expect("send");
        event_stream(rx)
    })
    .await;
    let bridge = bridge(&url, &[], WAIT);
    let mut req = request(Method::Get, "");
    req.head.session = Some("sess-9".into());
    req.head.last_event_id = Some("ev-41".into());
    let Ok(BridgeReply::Sse { mut events, .. }) = handle(&bridge, req).await else {
        panic!("expected an event stream");
    };
    let event = next_event(&mut events).await.expect("replayed event");
    assert_eq!(event.id.as_deref(), Some("ev-42"));
    assert_eq!(next_event(&mut events).await, None);
    let get = next_seen(&mut seen).await;
    assert_eq!(get.method, HttpMethod::GET);
    assert_eq!(get.headers["accept"], "text/event-stream");
    assert_eq!(get.headers["last-event-id"], "ev-41");
    assert_eq!(get.headers["mcp-session-id"], "sess-9");
    assert!(!get.headers.contains_key("content-type"));
}

#[tokio::test]
async fn bodiless_answers_are_empty() {
    let (url, mut seen) = upstream(|s: Seen| async move {
        match s.method {
            HttpMethod::POST => reply(202, None, None, Body::empty()),
            HttpMethod::DELETE => reply(200, None, None, Body::empty()),
            _ => reply(405, None, None, Body::empty()),
        }
    })
    .await;
    let bridge = bridge(&url, &[], WAIT);
    let cases = [
        (Method::Post, 202),
        (Method::Delete, 200),
        (Method::Get, 405),
    ];
    for (method, expected) in cases {
        let mut req = request(method, "");
        req.head.session = Some("sess-1".into());
        match handle(&bridge, req).await {
            Ok(BridgeReply::Empty {
                status,
                session: None,
            }) => assert_eq!(status, expected),
            other => panic!("{method:?}: expected Empty, got {other:?}"),
        }
    }
    next_seen(&mut seen).await;
    let delete = next_seen(&mut seen).await;
    assert_eq!(delete.method, HttpMethod::DELETE);
    assert_eq!(delete.headers["mcp-session-id"], "sess-1");
}

#[tokio::test]
async fn other_content_types_pass_when_small() {
    let (url, _seen) = upstream(|s: Seen| async move {
        let size = if s.body.is_empty() { 100 } else { 100 * 1024 };
        reply(400, Some("text/plain"), None, Body::from("x".repeat(size)))
    })
    .await;
    let bridge = bridge(&url, &[], WAIT);
    match handle(&bridge, request(Method::Post, "")).await {
        Ok(BridgeReply::Json {
            status: 400, body, ..
        }) => assert_eq!(body.len(), 100),
        other => panic!("expected the small body, got {other:?}"),
    }
    let error = handle(&bridge, request(Method::Post, "{}"))
        .await
        .expect_err("too big");
    assert_eq!(error.kind, StreamErrorKind::Overloaded);
}

/// A raw-socket upstream that reads requests and never answers.
struct Silent {
    url: String,
    /// Fires when the first bytes of a request arrived.
    received: oneshot::Receiver<()>,
    /// Fires when the client closed the connection.
    closed: oneshot::Receiver<()>,
}

async fn silent_upstream() -> Silent {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    let (received_tx, received) = oneshot::channel();
    let (closed_tx, closed) = oneshot::channel();
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.expect("accept");
        let mut buf = [0u8; 4096];
        let mut received_tx = Some(received_tx);
        while let Ok(n) = socket.read(&mut buf).await {
            if n == 0 {
                break;
            }
            if let Some(tx) = received_tx.take() {
                let _ = tx.send(());
            }
        }
        let _ = closed_tx.send(());
    });
    Silent {
        url: format!("http://{addr}/mcp"),
        received,
        closed,
    }
}

#[tokio::test]
async fn upstream_down_is_an_upstream_error() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("address").port()
    };
    let url = format!("http://127.0.0.1:{port}/mcp");
    let bridge = bridge(
        &url,
        &[("Authorization", "Bearer svc-secret")],
        Duration::from_secs(60),
    );
    let error = handle(&bridge, request(Method::Post, "{}"))
        .await
        .expect_err("refused");
    assert_eq!(error.kind, StreamErrorKind::Upstream);
    assert!(error.message.contains("wiki"), "{}", error.message);
    assert!(
        error.message.contains(&format!("127.0.0.1:{port}")),
        "{}",
        error.message
    );
    assert!(!error.message.contains("svc-secret"), "{}", error.message);
}

#[tokio::test]
async fn slow_upstream_times_out_and_is_disconnected() {
    let upstream = silent_upstream().await;
    let bridge = bridge(&upstream.url, &[], Duration::from_millis(200));
    let error = handle(&bridge, request(Method::Post, "{}"))
        .await
        .expect_err("timeout");
    assert_eq!(error.kind, StreamErrorKind::Upstream);
    assert!(
        error.message.contains("did not answer within 200ms"),
        "{}",
        error.message
    );
    timeout(WAIT, upstream.closed)
        .await
        .expect("upstream saw the disconnect")
        .expect("closed");
}

#[tokio::test]
async fn cancel_before_the_answer_drops_the_request() {
    let upstream = silent_upstream().await;
    let bridge = bridge(&upstream.url, &[], Duration::from_secs(60));
    let cancel = CancellationToken::new();
    let pending = bridge.handle(request(Method::Post, "{}"), cancel.clone());
    let canceller = async {
        upstream.received.await.expect("request sent");
        cancel.cancel();
    };
    let (result, ()) = timeout(WAIT, async { tokio::join!(pending, canceller) })
        .await
        .expect("in time");
    assert!(result.is_err());
    timeout(WAIT, upstream.closed)
        .await
        .expect("upstream saw the disconnect")
        .expect("closed");
}

/// An upstream event stream: one event, then keep-alive comments until the
/// connection is gone, which it reports.
async fn endless_stream() -> (String, oneshot::Receiver<()>) {
    let (closed_tx, closed_rx) = oneshot::channel();
    let closed_tx = Arc::new(Mutex::new(Some(closed_tx)));
    let (url, _seen) = upstream(move |_| {
        let closed_tx = closed_tx.lock().expect("lock").take().expect("called once");
        async move {
            let (tx, rx) = mpsc::channel(1);
            tokio::spawn(async move {
                let mut chunk = Bytes::from("data: first\n\n");
                while tx.send(chunk).await.is_ok() {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    chunk = Bytes::from(": keep-alive\n\n");
                }
                let _ = closed_tx.send(());
            });
            event_stream(rx)
        }
    })
    .await;
    (url, closed_rx)
}

#[tokio::test]
async fn cancel_closes_the_upstream_stream() {
    let (url, closed) = endless_stream().await;
    let bridge = bridge(&url, &[], WAIT);
    let cancel = CancellationToken::new();
    let reply = timeout(
        WAIT,
        bridge.handle(request(Method::Post, "{}"), cancel.clone()),
    )
    .await;
    let Ok(Ok(BridgeReply::Sse { mut events, .. })) = reply else {
        panic!("expected an event stream");
    };
    assert_eq!(
        next_event(&mut events).await.expect("first").data,
        "first".as_bytes()
    );
    cancel.cancel();
    assert_eq!(next_event(&mut events).await, None);
    timeout(WAIT, closed)
        .await
        .expect("upstream saw the disconnect")
        .expect("closed");
}

#[tokio::test]
async fn link_closed_and_shutdown_close_upstream_streams() {
    for end in ["link_closed", "shutdown"] {
        let (url, closed) = endless_stream().await;
        let bridge = bridge(&url, &[], WAIT);
        let Ok(BridgeReply::Sse { mut events, .. }) =
            handle(&bridge, request(Method::Post, "{}")).await
        else {
            panic!("expected an event stream");
        };
        next_event(&mut events).await.expect("first");
        // Another link's closing does not touch the stream.
        bridge.link_closed(8);
        if end == "link_closed" {
            bridge.link_closed(7);
        } else {
            bridge.shutdown();
        }
        assert_eq!(next_event(&mut events).await, None, "{end}");
        timeout(WAIT, closed)
            .await
            .expect("upstream saw the disconnect")
            .expect("closed");
    }
}

#[tokio::test]
async fn a_broken_upstream_stream_ends_the_events() {
    let (break_tx, break_rx) = oneshot::channel::<()>();
    let break_rx = Arc::new(Mutex::new(Some(break_rx)));
    let (url, _seen) = upstream(move |_| {
        let break_rx = break_rx.lock().expect("lock").take().expect("called once");
        async move {
            let first = futures_util::stream::once(async { Ok(Bytes::from("data: one\n\n")) });
            // After the test saw the first event, the body fails: hyper
            // aborts the connection mid-body.
            let failure = futures_util::stream::once(async move {
                let _ = break_rx.await;
                Err(std::io::Error::other("upstream crashed"))
            });
            let body = Body::from_stream(futures_util::StreamExt::chain(first, failure));
            reply(200, Some("text/event-stream"), None, body)
        }
    })
    .await;
    let bridge = bridge(&url, &[], WAIT);
    let Ok(BridgeReply::Sse {
        mut events,
        failure,
        ..
    }) = handle(&bridge, request(Method::Post, "{}")).await
    else {
        panic!("expected an event stream");
    };
    assert_eq!(
        next_event(&mut events).await.expect("one").data,
        "one".as_bytes()
    );
    break_tx.send(()).expect("upstream waiting");
    assert_eq!(next_event(&mut events).await, None);
    // The break is reported, so the client gets an error, not a quiet end.
    let error = failure
        .expect("HTTP event streams can fail")
        .try_recv()
        .expect("the failure arrives before the events close");
    assert_eq!(error.kind, StreamErrorKind::Upstream);
    assert!(
        error.message.contains("event stream failed"),
        "{}",
        error.message
    );
}

#[tokio::test]
async fn a_tls_failure_is_an_upstream_error() {
    // An https URL pointing at a plain-HTTP server: the handshake fails.
    let (url, _seen) = upstream(|_| async { reply(200, None, None, Body::empty()) }).await;
    let url = url.replace("http://", "https://");
    let limits = Limits {
        upstream_timeout: WAIT,
        ..Limits::default()
    };
    let Ok(bridge) = HttpBridge::new(server(), url.clone(), BTreeMap::new(), limits) else {
        return; // no system trust store here: covered by http_bridge_config
    };
    let error = handle(&bridge, request(Method::Post, "{}"))
        .await
        .expect_err("TLS fails");
    assert_eq!(error.kind, StreamErrorKind::Upstream);
    let authority = url.trim_start_matches("https://").trim_end_matches("/mcp");
    assert!(error.message.contains(authority), "{}", error.message);
}
