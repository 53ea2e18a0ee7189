//! Fake upstream MCP servers over HTTP, in the test process.

/// Serves [`chunked`] on a loopback port; returns the connector's
/// `[[server]]` entry for it, named `chunked`.
pub async fn serve_chunked() -> String {
    let upstream = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind upstream");
    let addr = upstream.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(upstream, chunked()).await });
    format!("[[server]]\nname = \"chunked\"\nurl = \"http://{addr}/mcp\"\n")
}

/// An HTTP upstream whose `resources/read` answers come without a length
/// (chunked): `test://big` sends [`BIG`] bytes of JSON in 10 KB pieces,
/// `test://broken` a first piece and then breaks the connection;
/// `test://sse-big` sends them as one event, `test://sse-broken` breaks
/// inside it; `test://small` is a short JSON answer. `tools/list` answers
/// with one event of ~100 kB listing [`OPEN_TOOLS`] tools `open-<n>` and
/// [`SECRET_TOOLS`] tools `secret-<n>`, in 10 kB pieces.
pub fn chunked() -> axum::Router {
    use axum::body::{Body, Bytes};
    use axum::http::{Response, header};
    const INIT: &str = r#"{"jsonrpc":"2.0","id":0,"result":{"protocolVersion":"2025-11-25","capabilities":{},"serverInfo":{"name":"chunked","version":"0"}}}"#;
    axum::Router::new().route(
        "/mcp",
        axum::routing::post(|body: Bytes| async move {
            let request: serde_json::Value = serde_json::from_slice(&body).expect("JSON request");
            let json = |b: Body| {
                Response::builder()
                    .header(header::CONTENT_TYPE, "application/json")
                    .header("mcp-session-id", "chunked-1")
                    .body(b)
                    .expect("response")
            };
            let uri = request["params"]["uri"].as_str().unwrap_or_default();
            match request["method"].as_str() {
                Some("initialize") => json(Body::from(INIT)),
                Some("tools/list") => {
                    let mut text = b"data: ".to_vec();
                    text.extend(tool_list());
                    text.extend(b"\n\n");
                    event_stream(in_pieces(text, None))
                }
                Some("resources/read") if uri.starts_with("test://sse") => {
                    // One event of ~300 kB; a break comes after the
                    // connector began to stream it (64 KiB).
                    let mut text = b"id: 4\ndata: ".to_vec();
                    text.extend(big_body());
                    text.extend(b"\n\n");
                    event_stream(in_pieces(text, (uri == "test://sse-broken").then_some(8)))
                }
                Some("resources/read") if uri == "test://small" => json(Body::from(SMALL)),
                Some("resources/read") => {
                    json(in_pieces(big_body(), (uri == "test://broken").then_some(1)))
                }
                _ => Response::builder()
                    .status(202)
                    .body(Body::empty())
                    .expect("response"),
            }
        }),
    )
}

pub const BIG: usize = 300_000;
pub const SMALL: &str =
    r#"{"jsonrpc":"2.0","id":1,"result":{"contents":[{"uri":"test://small","text":"short"}]}}"#;

pub fn big_body() -> Vec<u8> {
    let mut body =
        br#"{"jsonrpc":"2.0","id":1,"result":{"contents":[{"uri":"test://big","text":""#.to_vec();
    body.extend(b"0123456789abcdef".iter().cycle().take(BIG));
    body.extend_from_slice(br#""}]}}"#);
    body
}

/// `bytes` as a chunked body of 10 kB pieces, each after a pause (so that
/// hyper flushes what came before); piece `break_at`, if any, breaks the
/// connection instead.
fn in_pieces(bytes: Vec<u8>, break_at: Option<usize>) -> axum::body::Body {
    use futures_util::StreamExt;
    let pieces: Vec<_> = bytes
        .chunks(10_000)
        .enumerate()
        .map(|(i, piece)| match break_at {
            Some(at) if at == i => Err(std::io::Error::other("upstream crashed")),
            _ => Ok(axum::body::Bytes::copy_from_slice(piece)),
        })
        .collect();
    let stream = futures_util::stream::iter(pieces).then(|piece| async {
        tokio::task::yield_now().await;
        piece
    });
    axum::body::Body::from_stream(stream)
}

fn event_stream(body: axum::body::Body) -> axum::http::Response<axum::body::Body> {
    axum::http::Response::builder()
        .header(axum::http::header::CONTENT_TYPE, "text/event-stream")
        .body(body)
        .expect("response")
}

pub const OPEN_TOOLS: usize = 900;
pub const SECRET_TOOLS: usize = 100;

/// The `tools/list` result: secret tools interleaved with open ones.
fn tool_list() -> Vec<u8> {
    let description = "a tool with a description long enough to make the list large";
    let tools: Vec<serde_json::Value> = (0..OPEN_TOOLS + SECRET_TOOLS)
        .map(|i| {
            let name = if i % 10 == 3 {
                format!("secret-{i}")
            } else {
                format!("open-{i}")
            };
            serde_json::json!({"name": name, "description": description, "inputSchema": {"type": "object"}})
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({"jsonrpc": "2.0", "id": 1, "result": {"tools": tools}}))
        .expect("JSON")
}
