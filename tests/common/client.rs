//! An MCP client for the end-to-end tests: the official Rust SDK (`rmcp`)
//! over Streamable HTTP, with a bearer token, answering sampling requests
//! and recording progress notifications.

use std::sync::{Arc, LockResult, Mutex, MutexGuard};

use rmcp::model::*;
use rmcp::service::{NotificationContext, RequestContext, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{
    ClientHandler, ClientLifecycleMode, ClientServiceExt, ErrorData as McpError, RoleClient,
    ServiceExt,
};

/// What the client observed from the server.
#[derive(Debug, Default)]
pub struct Seen {
    /// `(progress, total)` of each progress notification, in order.
    pub progress: Vec<(f64, Option<f64>)>,
    /// The prompts of each sampling request answered.
    pub sampling: Vec<String>,
}

/// What the client observed, and a signal for each change: the SDK may
/// handle a notification after the result that followed it on the wire.
#[derive(Debug, Default)]
pub struct Observed {
    seen: Mutex<Seen>,
    changed: tokio::sync::Notify,
}

impl Observed {
    pub fn lock(&self) -> LockResult<MutexGuard<'_, Seen>> {
        self.seen.lock()
    }

    /// The number of progress notifications once there are `n` of them,
    /// or however many arrived within [`super::WAIT`].
    pub async fn progress(&self, n: usize) -> usize {
        let deadline = tokio::time::Instant::now() + super::WAIT;
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let count = self.lock().expect("lock").progress.len();
            if count >= n || tokio::time::timeout_at(deadline, changed).await.is_err() {
                return self.lock().expect("lock").progress.len();
            }
        }
    }
}

/// The test client's handler.
#[derive(Clone, Default)]
pub struct TestClient {
    pub seen: Arc<Observed>,
}

impl ClientHandler for TestClient {
    #[allow(
        deprecated,
        reason = "sampling is deprecated in the spec but still what servers send"
    )]
    fn get_info(&self) -> ClientConfig {
        ClientConfig::new(
            ClientCapabilities::builder().enable_sampling().build(),
            Implementation::new("sallyport-e2e", "0.1.0"),
        )
        .with_protocol_version(ProtocolVersion::V_2025_11_25)
    }

    #[allow(
        deprecated,
        reason = "sampling is deprecated in the spec but still what servers send"
    )]
    async fn create_message(
        &self,
        params: CreateMessageRequestParams,
        _ctx: RequestContext<RoleClient>,
    ) -> Result<CreateMessageResult, McpError> {
        let prompt = format!("{:?}", params.messages);
        self.seen.lock().expect("lock").sampling.push(prompt);
        Ok(CreateMessageResult::new(
            SamplingMessage::assistant_text("sampled by the e2e client"),
            "e2e-model".to_string(),
        ))
    }

    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _ctx: NotificationContext<RoleClient>,
    ) {
        self.seen
            .lock()
            .expect("lock")
            .progress
            .push((params.progress, params.total));
        self.seen.changed.notify_waiters();
    }
}

/// A connected session-era client.
pub type Client = RunningService<RoleClient, TestClient>;

fn transport(url: &str, token: &str) -> StreamableHttpClientTransport<reqwest::Client> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder().build().expect("reqwest client");
    let config = StreamableHttpClientTransportConfig::with_uri(url.to_owned())
        .auth_header(token.to_owned())
        .reinit_on_expired_session(false);
    StreamableHttpClientTransport::with_client(http, config)
}

/// Connects in the session era (`initialize`).
pub async fn connect(url: &str, token: &str) -> (Client, Arc<Observed>) {
    let handler = TestClient::default();
    let seen = Arc::clone(&handler.seen);
    let client = handler
        .serve(transport(url, token))
        .await
        .expect("initialize through the relay");
    (client, seen)
}

/// Connects with the given lifecycle (stateless `Discover`, or `Auto`).
pub async fn connect_with(
    url: &str,
    token: &str,
    mode: ClientLifecycleMode,
) -> (Client, Arc<Observed>) {
    let handler = TestClient::default();
    let seen = Arc::clone(&handler.seen);
    let client = handler
        .serve_with_lifecycle(transport(url, token), mode)
        .await
        .expect("connect through the relay");
    (client, seen)
}

/// `tools/call` with JSON arguments and an optional progress token.
pub fn call(name: &str, args: serde_json::Value, progress: Option<i64>) -> CallToolRequestParams {
    let mut p = CallToolRequestParams::new(name.to_owned())
        .with_arguments(args.as_object().cloned().unwrap_or_default());
    if let Some(t) = progress {
        p.set_progress_token(ProgressToken(NumberOrString::Number(t)));
    }
    p
}

/// The text of a tool result's content blocks, joined.
pub fn text(result: &CallToolResult) -> String {
    result
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("")
}
