//! End-to-end: a real MCP client (rmcp) → relay → QUIC → connector → a real
//! MCP server (the built-in demo server over stdio and over Streamable HTTP),
//! in the session era and the stateless era.

mod common;

use common::client::{self, call, text};
use common::*;
use rmcp::ClientLifecycleMode;
use rmcp::model::*;

/// Relay + connector serving `servers_toml`, granted `names`.
fn world(names: &[&str], servers_toml: &str, extra_http: &str) -> World {
    World::start("demo", names, servers_toml, extra_http)
}

async fn tour(url: &str, key: &str) {
    let (c, seen) = client::connect(url, key).await;
    let info = c.peer_info().expect("server info");
    assert_eq!(info.protocol_version, ProtocolVersion::V_2025_11_25);

    let tools = c.list_all_tools().await.expect("tools/list");
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    for want in ["echo", "add", "count", "ask_llm"] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
    let r = c
        .call_tool(call(
            "echo",
            serde_json::json!({"message": "through the tunnel"}),
            None,
        ))
        .await
        .expect("echo");
    assert_eq!(text(&r), "through the tunnel");

    let r = c
        .call_tool(call(
            "count",
            serde_json::json!({"to": 3, "delay_ms": 10}),
            Some(7),
        ))
        .await
        .expect("count");
    assert!(text(&r).contains('3'), "{}", text(&r));
    assert_eq!(seen.progress(3).await, 3, "progress notifications streamed");

    let r = c
        .call_tool(call(
            "ask_llm",
            serde_json::json!({"question": "why?"}),
            None,
        ))
        .await
        .expect("ask_llm");
    assert!(
        text(&r).contains("sampled by the e2e client"),
        "{}",
        text(&r)
    );
    assert_eq!(seen.lock().expect("lock").sampling.len(), 1);

    let res = c
        .read_resource(ReadResourceRequestParams::new("demo://readme"))
        .await
        .expect("resources/read");
    assert!(!res.contents.is_empty());

    // Large enough for several 64 KiB frames and the connector's zero-copy
    // Body (stdio: JSON answer) and Event (HTTP: SSE answer) paths.
    const SIZED: usize = 300_000;
    let res = c
        .read_resource(ReadResourceRequestParams::new(format!(
            "demo://sized/{SIZED}"
        )))
        .await
        .expect("large resources/read");
    let got = match res.contents.first() {
        Some(ResourceContents::TextResourceContents { text, .. }) => text.as_str(),
        other => panic!("expected text contents, got {other:?}"),
    };
    let want: String = b"sallyport demo payload 0123456789\n"
        .iter()
        .cycle()
        .take(SIZED)
        .map(|&b| char::from(b))
        .collect();
    assert!(
        got == want,
        "large resource altered (got {} bytes)",
        got.len()
    );

    let prompt = c
        .get_prompt(
            GetPromptRequestParams::new("greeting").with_arguments(
                serde_json::json!({"name": "Ada"})
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
            ),
        )
        .await
        .expect("prompts/get");
    assert!(format!("{prompt:?}").contains("Ada"));
    c.cancel().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_era_over_stdio_and_http_upstreams() {
    let cancel = tokio_util::sync::CancellationToken::new();
    let upstream = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind upstream");
    let upstream_addr = upstream.local_addr().expect("addr");
    let app = sallyport_demo::http_router(cancel.clone());
    tokio::spawn(async move { axum::serve(upstream, app).await });

    let servers = format!(
        "{}\n[[server]]\nname = \"demo-http\"\nurl = \"http://{upstream_addr}/mcp\"\n",
        demo_stdio_server("demo")
    );
    let w = world(&["demo", "demo-http"], &servers, "");
    tour(&w.relay.mcp_url("demo"), &w.alice.key).await;
    tour(&w.relay.mcp_url("demo-http"), &w.alice.key).await;
    w.relay
        .proc
        .wait_event("request.relayed", &[("server", "demo-http")]);
    cancel.cancel();
    drop(w.connector);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stateless_era_and_fallback() {
    let servers = demo_stdio_server("demo");
    let w = world(&["demo"], &servers, "");
    let url = w.relay.mcp_url("demo");
    let (c, _) = client::connect_with(
        &url,
        &w.alice.key,
        ClientLifecycleMode::Discover {
            preferred_versions: vec![ProtocolVersion::V_2026_07_28],
        },
    )
    .await;
    let r = c
        .call_tool(call(
            "echo",
            serde_json::json!({"message": "stateless"}),
            None,
        ))
        .await
        .expect("echo");
    assert_eq!(text(&r), "stateless");
    let r = c
        .call_tool(call("add", serde_json::json!({"a": 2, "b": 3}), None))
        .await
        .expect("add");
    assert!(text(&r).contains('5'), "{}", text(&r));
    c.cancel().await.expect("close");
    // The relay minted no session id in this era.
    w.relay.proc.wait_event("request.relayed", &[]);
}

/// Whether a response failed (before its head, or in its body), and the
/// body bytes that arrived before the failure or the end.
async fn failed_or_body(sent: reqwest::Result<reqwest::Response>) -> (bool, Vec<u8>) {
    use futures_util::StreamExt;
    let Ok(resp) = sent else {
        return (true, Vec::new());
    };
    assert_eq!(resp.status(), 200);
    let mut body = resp.bytes_stream();
    let mut got = Vec::new();
    loop {
        match tokio::time::timeout(WAIT, body.next())
            .await
            .expect("no hang")
        {
            Some(Ok(chunk)) => got.extend_from_slice(&chunk),
            Some(Err(_)) => return (true, got),
            None => return (false, got),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_json_streams_through_and_a_break_is_not_a_short_answer() {
    let servers = common::upstream::serve_chunked().await;
    let w = world(&["chunked"], &servers, "");
    let s = common::raw::RawSession::open(&w.relay.mcp_url("chunked"), &w.alice.key).await;
    let read = |uri: &str| serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "resources/read", "params": {"uri": uri}});

    // A short answer arrives with its head and goes out whole, with a
    // length; a long one streams (chunked).
    let resp = s.post(&read("test://small")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.content_length(),
        Some(common::upstream::SMALL.len() as u64)
    );
    assert_eq!(
        resp.bytes().await.expect("body"),
        common::upstream::SMALL.as_bytes()
    );

    let resp = s.post(&read("test://big")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.content_length(), None, "streamed, not buffered");
    let got = resp.bytes().await.expect("the whole body");
    assert!(
        got == common::upstream::big_body(),
        "body altered ({} bytes)",
        got.len()
    );

    // The break reaches the client as a failed response (before or after
    // the head, depending on when the relay learns of it), never as a
    // complete (shorter) document.
    let (failed, got) = failed_or_body(s.try_post(&read("test://broken")).await).await;
    let got = got.len();
    assert!(failed, "the broken body ended cleanly after {got} bytes");
    assert!(got <= 10_000, "only the first piece was sent, got {got}");
    w.connector.wait_event("body.failed_after_head", &[]);

    // A large event goes through in pieces and arrives whole, byte for
    // byte; a break inside it aborts the client's stream instead of
    // completing the event with part of its data.
    let resp = s.post(&read("test://sse-big")).await;
    assert_eq!(resp.status(), 200);
    let text = resp.bytes().await.expect("the whole stream");
    let mut expected = b"data: ".to_vec();
    expected.extend(common::upstream::big_body());
    expected.extend(b"\nid: 4\n\n");
    assert!(text == expected, "event altered ({} bytes)", text.len());

    // As above, the failure may reach the client before the head.
    let (failed, got) = failed_or_body(s.try_post(&read("test://sse-broken")).await).await;
    assert!(
        failed,
        "the broken stream ended cleanly after {} bytes",
        got.len()
    );
    assert!(
        !got.windows(2).any(|w| w == b"\n\n"),
        "a partial event was completed"
    );
    w.relay.proc.wait_event("stream.failed_in_event", &[]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_list_result_over_sse_is_filtered_whole() {
    let servers = common::upstream::serve_chunked().await;
    // Alice may use everything but the secret tools.
    let deny = "[[role]]\nname = \"no-secrets\"\ndeny = [\"chunked/secret-*\"]\n\n[[binding]]\nrole = \"no-secrets\"\nusers = [\"alice@acme.com\"]\n";
    let w = world(&["chunked"], &servers, deny);
    let s = common::raw::RawSession::open(&w.relay.mcp_url("chunked"), &w.alice.key).await;
    let resp = s
        .post(&serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}))
        .await;
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.expect("the whole stream");
    let data: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .collect();
    assert_eq!(data.len(), 1, "one event, one data line");
    let list: serde_json::Value = serde_json::from_str(data[0]).expect("a JSON result");
    let names: Vec<&str> = list["result"]["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(
        names.len(),
        common::upstream::OPEN_TOOLS,
        "{} tools",
        names.len()
    );
    assert!(names.iter().all(|n| n.starts_with("open-")));
}
