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
    assert_eq!(
        seen.lock().expect("lock").progress.len(),
        3,
        "progress notifications streamed"
    );

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
    w.relay.proc.wait_msg("relayed", &[("server", "demo-http")]);
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
    w.relay.proc.wait_msg("relayed", &[]);
}
