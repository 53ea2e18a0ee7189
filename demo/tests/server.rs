//! The demo MCP server over Streamable HTTP, in process, driven by rmcp
//! clients in both protocol eras.

#![allow(
    deprecated,
    reason = "rmcp marks sampling deprecated (SEP-2577); the demo still exercises it"
)]

use std::net::SocketAddr;
use std::time::Duration;

use rmcp::model::{
    CallToolRequestParams, CallToolResult, ClientCapabilities, ClientConfig,
    CreateMessageRequestParams, CreateMessageResult, GetPromptRequestParams, Implementation,
    ProgressNotificationParam, ProtocolVersion, ReadResourceRequestParams, ResourceContents,
    SamplingMessage,
};
use rmcp::service::{NotificationContext, RequestContext, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{ClientHandler, ClientLifecycleMode, ClientServiceExt, ErrorData, RoleClient};
use sallyport_demo::http_router;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// A client that answers sampling with a canned text naming the question,
/// and forwards every progress notification to the test.
#[derive(Clone)]
struct TestClient {
    progress: mpsc::UnboundedSender<ProgressNotificationParam>,
}

impl ClientHandler for TestClient {
    fn get_info(&self) -> ClientConfig {
        ClientConfig::new(
            ClientCapabilities::builder().enable_sampling().build(),
            Implementation::new("sallyport-demo-test", "0.1.0"),
        )
        .with_protocol_version(ProtocolVersion::V_2025_11_25)
    }

    async fn create_message(
        &self,
        params: CreateMessageRequestParams,
        _ctx: RequestContext<RoleClient>,
    ) -> Result<CreateMessageResult, ErrorData> {
        let question = params
            .messages
            .first()
            .and_then(|m| m.content.first())
            .and_then(|c| c.as_text())
            .map(|t| t.text.clone())
            .unwrap_or_default();
        Ok(CreateMessageResult::new(
            SamplingMessage::assistant_text(format!("model says: {question}")),
            "fake-model".to_owned(),
        )
        .with_stop_reason(CreateMessageResult::STOP_REASON_END_TURN))
    }

    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _ctx: NotificationContext<RoleClient>,
    ) {
        let _ = self.progress.send(params);
    }
}

/// The demo server on 127.0.0.1:0; cancelling the token stops it.
async fn serve() -> (SocketAddr, CancellationToken) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cancel = CancellationToken::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = http_router(cancel.clone());
    let stop = cancel.clone();
    tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(stop.cancelled_owned())
            .await
    });
    (addr, cancel)
}

type Client = RunningService<RoleClient, TestClient>;

async fn connect(
    addr: SocketAddr,
    lifecycle: ClientLifecycleMode,
) -> (Client, mpsc::UnboundedReceiver<ProgressNotificationParam>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let config = StreamableHttpClientTransportConfig::with_uri(format!("http://{addr}/mcp"));
    let transport = StreamableHttpClientTransport::with_client(reqwest::Client::new(), config);
    let client = TestClient { progress: tx }
        .serve_with_lifecycle(transport, lifecycle)
        .await
        .expect("client connects");
    (client, rx)
}

fn call(name: &'static str, args: Value) -> CallToolRequestParams {
    let Value::Object(args) = args else {
        panic!("tool arguments must be an object")
    };
    CallToolRequestParams::new(name).with_arguments(args)
}

fn text(result: &CallToolResult) -> String {
    assert_ne!(result.is_error, Some(true), "tool failed: {result:?}");
    result
        .content
        .iter()
        .filter_map(|c| c.as_text())
        .map(|t| t.text.clone())
        .collect()
}

#[tokio::test]
async fn session_era_tools_resources_prompts() {
    let (addr, cancel) = serve().await;
    let (client, mut progress) = connect(addr, ClientLifecycleMode::Initialize).await;
    let info = client.peer_info().expect("initialized");
    assert_eq!(info.protocol_version, ProtocolVersion::V_2025_11_25);
    let server = info.server_info.as_ref().expect("serverInfo");
    assert_eq!(server.name, "sallyport-demo");

    let mut tools: Vec<String> = client
        .list_all_tools()
        .await
        .expect("tools/list")
        .into_iter()
        .map(|t| t.name.to_string())
        .collect();
    tools.sort();
    assert_eq!(tools, ["add", "ask_llm", "big", "count", "echo"]);

    let echoed = client
        .call_tool(call("echo", json!({"message": "hello through the tunnel"})))
        .await
        .expect("echo");
    assert_eq!(text(&echoed), "hello through the tunnel");

    let sum = client
        .call_tool(call("add", json!({"a": 2, "b": 40.5})))
        .await
        .expect("add");
    assert_eq!(text(&sum), "42.5");

    // rmcp's client puts its own progressToken on every request (it
    // replaces one set by the caller), so this call carries one too.
    let counted = client
        .call_tool(call("count", json!({"to": 5, "delay_ms": 1})))
        .await
        .expect("count");
    assert_eq!(text(&counted), "counted to 5");
    let mut token = None;
    for step in 1..=5 {
        let p = tokio::time::timeout(Duration::from_secs(5), progress.recv())
            .await
            .expect("progress in time")
            .expect("progress channel open");
        assert_eq!(
            token.get_or_insert(p.progress_token.clone()),
            &p.progress_token
        );
        assert_eq!((p.progress, p.total), (f64::from(step), Some(5.0)));
    }
    assert!(progress.try_recv().is_err(), "exactly five notifications");

    let too_many = client.call_tool(call("count", json!({"to": 101}))).await;
    assert!(too_many.is_err(), "count is bounded: {too_many:?}");

    let answer = client
        .call_tool(call("ask_llm", json!({"question": "what is QUIC?"})))
        .await
        .expect("ask_llm");
    assert_eq!(text(&answer), "model says: what is QUIC?");

    let big = client
        .call_tool(call("big", json!({"bytes": 100_000})))
        .await
        .expect("big");
    assert_eq!(text(&big).len(), 100_000);

    let resources = client.list_all_resources().await.expect("resources/list");
    assert!(
        resources.iter().any(|r| r.uri == "demo://readme"),
        "{resources:?}"
    );
    let readme = client
        .read_resource(ReadResourceRequestParams::new("demo://readme"))
        .await
        .expect("resources/read");
    match &readme.contents[..] {
        [ResourceContents::TextResourceContents { text, .. }] => {
            assert!(text.contains("Sallyport"), "{text}")
        }
        other => panic!("unexpected contents {other:?}"),
    }
    let sized = client
        .read_resource(ReadResourceRequestParams::new("demo://sized/1000"))
        .await
        .expect("sized resource");
    match &sized.contents[..] {
        [ResourceContents::TextResourceContents { text, .. }] => assert_eq!(text.len(), 1000),
        other => panic!("unexpected contents {other:?}"),
    }

    let mut args = serde_json::Map::new();
    args.insert("name".into(), json!("Ada"));
    let prompt = client
        .get_prompt(GetPromptRequestParams::new("greeting").with_arguments(args))
        .await
        .expect("prompts/get");
    match &prompt.messages[..] {
        [m] => {
            let text = &m.content.as_text().expect("text content").text;
            assert!(text.contains("Ada"), "{text}");
        }
        other => panic!("unexpected prompt {other:?}"),
    }

    client.cancel().await.expect("close");
    cancel.cancel();
}

#[tokio::test]
async fn stateless_era_echo_count_and_ask_llm() {
    let (addr, cancel) = serve().await;
    let (client, mut progress) = connect(
        addr,
        ClientLifecycleMode::Discover {
            preferred_versions: vec![ProtocolVersion::V_2026_07_28],
        },
    )
    .await;

    let echoed = client
        .call_tool(call("echo", json!({"message": "stateless hello"})))
        .await
        .expect("echo");
    assert_eq!(text(&echoed), "stateless hello");

    let counted = client
        .call_tool(call("count", json!({"to": 3, "delay_ms": 1})))
        .await
        .expect("count");
    assert_eq!(text(&counted), "counted to 3");
    for _ in 0..3 {
        tokio::time::timeout(Duration::from_secs(5), progress.recv())
            .await
            .expect("progress in time")
            .expect("progress channel open");
    }

    // The stateless era has no server-to-client requests: rmcp's client
    // fulfils the InputRequiredResult through the same handler and retries.
    let answer = client
        .call_tool(call("ask_llm", json!({"question": "and MRTR?"})))
        .await
        .expect("ask_llm");
    assert_eq!(text(&answer), "model says: and MRTR?");

    client.cancel().await.expect("close");
    cancel.cancel();
}

#[tokio::test]
async fn printed_curl_initialize_is_accepted() {
    let (addr, cancel) = serve().await;
    let response = reqwest::Client::new()
        .post(format!("http://{addr}/mcp"))
        .header("Accept", "application/json, text/event-stream")
        .header("Content-Type", "application/json")
        .body(sallyport_demo::CURL_INITIALIZE)
        .send()
        .await
        .expect("POST");
    assert_eq!(response.status(), 200);
    assert!(response.headers().contains_key("mcp-session-id"));
    let body = response.text().await.expect("body");
    assert!(body.contains("sallyport-demo"), "{body}");
    cancel.cancel();
}
