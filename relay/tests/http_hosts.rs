//! `Host` rules on every route of the public listener (RFC 9112 §3.2,
//! RFC 9113 §8.3.1: 400; not this relay: 403) and on the admin listener
//! (its own address only, plus `[admin] allowed_hosts`), end to end on
//! loopback against a whole relay in this process.

mod listener_support;

use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use listener_support::{
    ADMIN_NAME, Answer, HEADER, IDLE, MARGIN, TestRelay, assert_closed_at, closed_within, exchange,
    read_answer,
};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::time::Instant;

const ROUTES: [&str; 4] = [
    "GET /registry/v0/servers",
    "GET /.well-known/oauth-protected-resource",
    "GET /.well-known/oauth-protected-resource/mcp/demo",
    "POST /mcp/demo",
];

/// `route` with `headers` (each a full `name: value` line).
async fn send(addr: SocketAddr, route: &str, version: &str, headers: &[String]) -> Answer {
    let mut request = format!("{route} {version}\r\n");
    for h in headers {
        request.push_str(h);
        request.push_str("\r\n");
    }
    request.push_str("content-length: 0\r\n\r\n");
    exchange(addr, &request).await
}

fn assert_jsonrpc_error(answer: &Answer, status: u16, what: &str) {
    assert_eq!(answer.status, status, "{what}: {answer:?}");
    let body: serde_json::Value = serde_json::from_str(&answer.body)
        .unwrap_or_else(|e| panic!("{what}: not JSON ({e}): {answer:?}"));
    assert_eq!(body["jsonrpc"], "2.0", "{what}");
    assert_eq!(body["error"]["code"], -32600, "{what}: {body}");
}

#[tokio::test]
async fn http1_host_missing_duplicated_or_foreign_is_refused_on_every_route() {
    let relay = TestRelay::start().await;
    let own = format!("host: {}", relay.http);
    for route in ROUTES {
        let missing = send(relay.http, route, "HTTP/1.1", &[]).await;
        assert_jsonrpc_error(&missing, 400, &format!("{route} without Host"));
        let twice = send(relay.http, route, "HTTP/1.1", &[own.clone(), own.clone()]).await;
        assert_jsonrpc_error(&twice, 400, &format!("{route} with two Host"));
        let foreign = send(
            relay.http,
            route,
            "HTTP/1.1",
            &["host: evil.example".into()],
        )
        .await;
        assert_jsonrpc_error(&foreign, 403, &format!("{route} for evil.example"));
        let old = send(relay.http, route, "HTTP/1.0", &[]).await;
        assert_jsonrpc_error(&old, 400, &format!("{route} HTTP/1.0 without Host"));
    }
    // An absolute-form target names the host; its Host header does not.
    let target = ROUTES[1].replace("GET /", "GET http://evil.example/");
    let absolute = send(relay.http, &target, "HTTP/1.1", std::slice::from_ref(&own)).await;
    assert_jsonrpc_error(&absolute, 403, "absolute-form evil.example");
    for host in [
        relay.http.to_string(),
        format!("localhost:{}", relay.http.port()),
        "RELAY.test".to_owned(),
    ] {
        let ok = send(
            relay.http,
            ROUTES[1],
            "HTTP/1.1",
            &[format!("host: {host}")],
        )
        .await;
        assert_eq!(ok.status, 200, "{host}: {ok:?}");
    }
}

/// One HTTP/2 (prior knowledge) request for `uri` with `hosts` headers.
async fn h2(relay: &TestRelay, uri: &str, hosts: &[&str]) -> (u16, String) {
    let tcp = TcpStream::connect(relay.http).await.expect("connect");
    let (mut send, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
            .await
            .expect("h2 handshake");
    tokio::spawn(conn);
    let mut req = hyper::Request::get(uri);
    for h in hosts {
        req = req.header("host", *h);
    }
    let response = send
        .send_request(req.body(Empty::<Bytes>::new()).expect("request"))
        .await
        .expect("answer");
    let status = response.status().as_u16();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn http2_authority_is_the_host() {
    let relay = TestRelay::start().await;
    let own = relay.http.to_string();
    let path = "/.well-known/oauth-protected-resource";
    let (status, body) = h2(&relay, &format!("http://{own}{path}"), &[]).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = h2(&relay, &format!("http://{own}{path}"), &[own.as_str()]).await;
    assert_eq!(status, 200, "{body}");
    // The handler's own Host check sees the authority too.
    let (status, body) = h2(&relay, &format!("http://{own}/registry/v0/servers"), &[]).await;
    assert_eq!(status, 200, "{body}");
    for route in ["/registry/v0/servers", path, "/mcp/demo"] {
        let (status, body) = h2(
            &relay,
            &format!("http://evil.example:{}{route}", relay.http.port()),
            &[],
        )
        .await;
        assert_eq!(status, 403, "{route} for evil.example: {body}");
        assert!(body.contains("-32600"), "{body}");
    }
    let (status, body) = h2(&relay, &format!("http://{own}{path}"), &["evil.example"]).await;
    assert_eq!(status, 400, "Host disagreeing with :authority: {body}");
    let (status, body) = h2(
        &relay,
        &format!("http://{own}{path}"),
        &[own.as_str(), own.as_str()],
    )
    .await;
    assert_eq!(status, 400, "two Host: {body}");
}

#[tokio::test]
async fn the_admin_listener_serves_only_its_own_hosts() {
    let relay = TestRelay::start().await;
    let port = relay.admin.port();
    for host in [
        relay.admin.to_string(),
        format!("localhost:{port}"),
        format!("[::1]:{port}"),
        ADMIN_NAME.to_owned(),
    ] {
        let ok = send(
            relay.admin,
            "GET /healthz",
            "HTTP/1.1",
            &[format!("host: {host}")],
        )
        .await;
        assert_eq!(
            (ok.status, ok.body.as_str()),
            (200, "ok\n"),
            "{host}: {ok:?}"
        );
    }
    for host in [
        "evil.example".to_owned(),
        format!("evil.example:{port}"),
        format!("{ADMIN_NAME}:{port}"),
        relay.http.to_string(),
    ] {
        let refused = send(
            relay.admin,
            "GET /metrics",
            "HTTP/1.1",
            &[format!("host: {host}")],
        )
        .await;
        assert_eq!(refused.status, 403, "{host}: {refused:?}");
        assert!(
            refused.body.contains("is not this admin listener"),
            "{refused:?}"
        );
        assert!(
            refused.body.contains("[admin] allowed_hosts"),
            "{refused:?}"
        );
        assert!(
            !refused.body.contains("sallyport_"),
            "metrics leaked: {refused:?}"
        );
    }
    let own = format!("host: {}", relay.admin);
    let missing = send(relay.admin, "GET /metrics", "HTTP/1.1", &[]).await;
    assert_eq!(missing.status, 400, "{missing:?}");
    let twice = send(relay.admin, "GET /metrics", "HTTP/1.1", &[own.clone(), own]).await;
    assert_eq!(twice.status, 400, "{twice:?}");
}

#[tokio::test]
async fn the_admin_listener_closes_idle_and_slow_connections() {
    let relay = TestRelay::start().await;
    let mut tcp = TcpStream::connect(relay.admin).await.expect("connect");
    let request = format!("GET /healthz HTTP/1.1\r\nhost: {}\r\n\r\n", relay.admin);
    tcp.write_all(request.as_bytes()).await.expect("send");
    assert_eq!(read_answer(&mut tcp, IDLE).await.status, 200);
    let start = Instant::now();
    let closed = closed_within(&mut tcp, IDLE + MARGIN).await;
    assert_closed_at("idle admin connection", start, closed, IDLE);

    let start = Instant::now();
    let mut silent = TcpStream::connect(relay.admin).await.expect("connect");
    let closed = closed_within(&mut silent, HEADER + MARGIN).await;
    assert_closed_at("silent admin connection", start, closed, HEADER);
}
