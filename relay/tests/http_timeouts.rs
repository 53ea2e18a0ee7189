//! The public listener's connection timeouts, end to end on loopback
//! against a whole relay in this process (timeouts: head 400 ms, body
//! 600 ms, idle 1500 ms): trickled request lines, headers and bodies,
//! idle HTTP/1.1 and HTTP/2 connections, plain and TLS. Each is closed
//! within its timeout plus a margin, and not before it.

mod listener_support;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use listener_support::{
    BODY, HEADER, IDLE, MARGIN, TestRelay, assert_closed_at, closed_within, read_answer, trickle,
};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::time::Instant;

const EVERY: Duration = Duration::from_millis(50);

fn get(relay: &TestRelay) -> String {
    format!(
        "GET /registry/v0/servers HTTP/1.1\r\nhost: {}\r\n\r\n",
        relay.http
    )
}

#[tokio::test]
async fn a_slow_or_silent_first_request_is_cut_at_the_header_timeout() {
    let relay = TestRelay::start().await;
    let padded = format!(
        "GET /registry/v0/servers HTTP/1.1\r\nhost: {}\r\nx-pad: {}\r\n\r\n",
        relay.http,
        "a".repeat(200)
    );
    let line_end = padded.find("\r\n").expect("line") + 2;
    let cases: [(&str, &[u8], &[u8]); 4] = [
        ("nothing sent", b"", b""),
        ("trickled request line", b"", padded.as_bytes()),
        (
            "trickled headers",
            &padded.as_bytes()[..line_end],
            &padded.as_bytes()[line_end..],
        ),
        (
            "trickled HTTP/2 preface",
            b"",
            b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
        ),
    ];
    for (what, at_once, slowly) in cases {
        let start = Instant::now();
        let tcp = TcpStream::connect(relay.http).await.expect("connect");
        let (mut read, mut write) = tcp.into_split();
        write.write_all(at_once).await.expect("send");
        let writer = trickle(write, slowly.to_vec(), EVERY);
        let closed = closed_within(&mut read, HEADER + MARGIN).await;
        assert_closed_at(what, start, closed, HEADER);
        writer.abort();
    }
}

#[tokio::test]
async fn a_trickled_next_request_head_is_cut_at_the_header_timeout() {
    let relay = TestRelay::start().await;
    let mut tcp = TcpStream::connect(relay.http).await.expect("connect");
    tcp.write_all(get(&relay).as_bytes()).await.expect("send");
    assert_eq!(read_answer(&mut tcp, IDLE).await.status, 200);
    let (mut read, write) = tcp.into_split();
    // The head starts at the first byte: cut HEADER after it, well before
    // IDLE would.
    let start = Instant::now();
    let writer = trickle(write, get(&relay).into_bytes(), EVERY);
    let closed = closed_within(&mut read, HEADER + MARGIN).await;
    assert_closed_at("second head trickled", start, closed, HEADER);
    writer.abort();
}

#[tokio::test]
async fn a_trickled_body_is_answered_408_and_closed() {
    let relay = TestRelay::start().await;
    let body = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{{"pad":"{}"}}}}"#,
        "b".repeat(100)
    );
    let head = format!(
        "POST /mcp/demo HTTP/1.1\r\nhost: {}\r\nauthorization: Bearer {}\r\n\
         content-type: application/json\r\naccept: application/json, text/event-stream\r\n\
         content-length: {}\r\n\r\n",
        relay.http,
        relay.key,
        body.len()
    );
    let tcp = TcpStream::connect(relay.http).await.expect("connect");
    let (mut read, mut write) = tcp.into_split();
    write.write_all(head.as_bytes()).await.expect("head");
    let start = Instant::now();
    let writer = trickle(write, body.into_bytes(), EVERY);
    let answer = read_answer(&mut read, BODY + MARGIN).await;
    assert!(
        start.elapsed() + Duration::from_millis(50) >= BODY,
        "{answer:?}"
    );
    assert_eq!(answer.status, 408, "{answer:?}");
    let error: serde_json::Value = serde_json::from_str(&answer.body).expect("JSON-RPC body");
    assert_eq!(error["jsonrpc"], "2.0");
    assert_eq!(error["id"], serde_json::Value::Null);
    assert_eq!(error["error"]["code"], -32600, "{error}");
    assert!(error["error"]["message"].is_string(), "{error}");
    // The rest of the body is never read: the connection goes.
    assert!(
        closed_within(&mut read, MARGIN).await.is_some(),
        "still open after 408"
    );
    writer.abort();
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_at_the_idle_timeout() {
    let relay = TestRelay::start().await;
    let mut tcp = TcpStream::connect(relay.http).await.expect("connect");
    tcp.write_all(get(&relay).as_bytes()).await.expect("send");
    let answer = read_answer(&mut tcp, IDLE).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let start = Instant::now();
    let closed = closed_within(&mut tcp, IDLE + MARGIN).await;
    // IDLE, not HEADER (the shorter), bounds the wait between requests.
    assert_closed_at("idle HTTP/1.1", start, closed, IDLE);
}

#[tokio::test]
async fn an_idle_http2_connection_is_closed_at_the_idle_timeout() {
    let relay = TestRelay::start().await;
    let tcp = TcpStream::connect(relay.http).await.expect("connect");
    let (mut send, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
            .await
            .expect("h2 handshake");
    let conn = tokio::spawn(conn);
    let req = hyper::Request::get(format!("http://{}/registry/v0/servers", relay.http))
        .body(Empty::<Bytes>::new())
        .expect("request");
    let response = send.send_request(req).await.expect("answer");
    assert_eq!(response.status(), 200);
    response.into_body().collect().await.expect("body");
    let start = Instant::now();
    // `send` stays alive: only the relay can end the connection.
    let ended = tokio::time::timeout(IDLE + MARGIN, conn).await;
    assert!(ended.is_ok(), "idle HTTP/2 connection still open");
    assert_closed_at("idle HTTP/2", start, Some(Instant::now()), IDLE);
    drop(send);
}

#[tokio::test]
async fn https_trickled_headers_are_cut_too() {
    let relay = TestRelay::start_with(true).await;
    let mut roots = rustls::RootCertStore::empty();
    for cert in sallyport_pki::tls::load_certs(&relay.bundle).expect("bundle") {
        roots.add(cert).expect("root");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(relay.http).await.expect("connect");
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
    let tls = connector.connect(name, tcp).await.expect("TLS handshake");
    let start = Instant::now();
    let (mut read, write) = tokio::io::split(tls);
    let writer = trickle(write, get(&relay).into_bytes(), EVERY);
    let closed = closed_within(&mut read, HEADER + MARGIN).await;
    assert_closed_at("HTTPS trickled head", start, closed, HEADER);
    writer.abort();
}
