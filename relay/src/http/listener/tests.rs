//! The serve loop on real loopback sockets, with routes the relay's own
//! router cannot offer cheaply: a slow answer, a long stream, an endless
//! one. (Trickled heads and bodies, idle connections and `Host` go through
//! a whole relay in `relay/tests/http_timeouts.rs` and `http_hosts.rs`.)

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{ConnLimits, Served, serve};

const IDLE: Duration = Duration::from_millis(300);
/// What a close may take beyond its deadline on a loaded 2-core machine.
const MARGIN: Duration = Duration::from_millis(700);

fn limits() -> ConnLimits {
    ConnLimits {
        header: Duration::from_millis(200),
        body: Duration::from_millis(200),
        idle: IDLE,
    }
}

/// Longer than IDLE plus the grace an idle close gives: a connection
/// wrongly taken as idle would not get this answer through.
async fn slow() -> &'static str {
    tokio::time::sleep(IDLE * 5).await;
    "done"
}

/// Twelve keep-alive comments, one every IDLE / 2: 1.8 s, more than IDLE
/// plus an idle close's grace.
async fn stream() -> Body {
    let ticks = futures_util::stream::unfold(0u32, |n| async move {
        if n == 12 {
            return None;
        }
        tokio::time::sleep(IDLE / 2).await;
        Some((
            Ok::<_, Infallible>(Bytes::from_static(b": keep-alive\n\n")),
            n + 1,
        ))
    });
    Body::from_stream(ticks)
}

/// Serves `router` on a loopback port until the token is cancelled.
async fn start(router: Router) -> (SocketAddr, CancellationToken) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let stop = CancellationToken::new();
    let served = Served {
        name: "test",
        router,
        limits: limits(),
    };
    tokio::spawn(serve(listener, None, served, stop.clone()));
    (addr, stop)
}

fn get_req(addr: SocketAddr, path: &str) -> hyper::Request<Empty<Bytes>> {
    hyper::Request::get(format!("http://{addr}{path}"))
        .header("host", addr.to_string())
        .body(Empty::new())
        .expect("request")
}

/// The client's half of a connection: its task ends when the server
/// closes (the sender is kept, so the client never closes it first).
struct Client {
    conn: tokio::task::JoinHandle<()>,
    _sender: Box<dyn std::any::Any + Send>,
}

/// One request on a fresh HTTP/1.1 or HTTP/2 connection: the body, and
/// the connection.
async fn one_request(addr: SocketAddr, path: &str, h2: bool) -> (Bytes, Client) {
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let io = TokioIo::new(tcp);
    let req = get_req(addr, path);
    let (response, conn) = if h2 {
        let (mut send, conn) = hyper::client::conn::http2::handshake(TokioExecutor::new(), io)
            .await
            .expect("h2 handshake");
        let conn = tokio::spawn(async move {
            let _ = conn.await;
        });
        let response = send.send_request(req).await.expect("answer");
        let sender: Box<dyn std::any::Any + Send> = Box::new(send);
        (
            response,
            Client {
                conn,
                _sender: sender,
            },
        )
    } else {
        let (mut send, conn) = hyper::client::conn::http1::handshake(io)
            .await
            .expect("h1 handshake");
        let conn = tokio::spawn(async move {
            let _ = conn.await;
        });
        let response = send.send_request(req).await.expect("answer");
        let sender: Box<dyn std::any::Any + Send> = Box::new(send);
        (
            response,
            Client {
                conn,
                _sender: sender,
            },
        )
    };
    assert_eq!(response.status(), 200);
    let body = response.into_body().collect().await.expect("body");
    (body.to_bytes(), conn)
}

#[tokio::test]
async fn a_slow_answer_is_not_idle_then_the_idle_connection_closes() {
    let (addr, _stop) = start(Router::new().route("/slow", get(slow))).await;
    for h2 in [false, true] {
        let started = Instant::now();
        let (body, client) = one_request(addr, "/slow", h2).await;
        assert_eq!(&body[..], b"done", "h2={h2}");
        assert!(started.elapsed() >= IDLE * 5);
        // Now nothing is in flight: closed after IDLE.
        let answered = Instant::now();
        tokio::time::timeout(IDLE + MARGIN, client.conn)
            .await
            .unwrap_or_else(|_| panic!("h2={h2}: idle connection still open"))
            .expect("conn task");
        assert!(
            answered.elapsed() >= IDLE - Duration::from_millis(50),
            "h2={h2}"
        );
    }
}

#[tokio::test]
async fn a_stream_longer_than_idle_is_not_cut() {
    let (addr, _stop) = start(Router::new().route("/stream", get(stream))).await;
    for h2 in [false, true] {
        let started = Instant::now();
        let (body, _conn) = one_request(addr, "/stream", h2).await;
        assert_eq!(body.len(), 12 * b": keep-alive\n\n".len(), "h2={h2}");
        assert!(started.elapsed() >= IDLE * 6, "h2={h2}");
    }
}

/// Tells when the response body is dropped (the connection is gone).
struct Dropped(Option<oneshot::Sender<()>>);

impl Drop for Dropped {
    fn drop(&mut self) {
        if let Some(tx) = self.0.take() {
            let _ = tx.send(());
        }
    }
}

#[tokio::test]
async fn a_peer_that_stops_reading_is_cut() {
    let (tx, rx) = oneshot::channel();
    let tx = std::sync::Arc::new(std::sync::Mutex::new(Some(tx)));
    let endless = move || {
        let guard = Dropped(tx.lock().expect("lock").take());
        async move {
            let chunk = Bytes::from(vec![b'x'; 64 * 1024]);
            let chunks = futures_util::stream::repeat_with(move || {
                let _held = &guard;
                Ok::<_, Infallible>(chunk.clone())
            });
            Body::from_stream(chunks)
        }
    };
    let (addr, _stop) = start(Router::new().route("/endless", get(endless))).await;
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("rcvbuf");
    let mut tcp = socket.connect(addr).await.expect("connect");
    let request = format!("GET /endless HTTP/1.1\r\nhost: {addr}\r\n\r\n");
    tokio::io::AsyncWriteExt::write_all(&mut tcp, request.as_bytes())
        .await
        .expect("send");
    let sent = Instant::now();
    // The client never reads: the server's writes stall once the socket
    // buffers are full, and after IDLE the connection is dropped.
    tokio::time::timeout(IDLE + MARGIN * 2, rx)
        .await
        .expect("a connection whose peer does not read is still open")
        .expect("dropped");
    assert!(sent.elapsed() >= IDLE);
    drop(tcp);
}
