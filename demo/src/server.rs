//! The built-in demo MCP server: a small but complete MCP server that
//! speaks both protocol eras (the session era, `initialize` up to
//! 2025-11-25, and the stateless 2026-07-28 era), over stdio
//! ([`serve_stdio`]) or Streamable HTTP ([`http_router`]).
//!
//! Tools: `echo`, `add`, `count` (progress notifications), `ask_llm`
//! (sampling in the session era, an `InputRequiredResult` in the stateless
//! era) and `big` (a large result, for benchmarks). Resources:
//! `demo://readme` and the template `demo://sized/{n}`. Prompt: `greeting`.

mod content;
mod sampling;

use std::sync::Arc;
use std::time::Duration;

use rmcp::handler::server::tool::{InputResponses, RequestState};
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{
    CallToolResponse, CallToolResult, ContentBlock, Implementation, ListResourceTemplatesResult,
    ListResourcesResult, PaginatedRequestParams, ProgressNotificationParam, PromptMessage,
    ReadResourceRequestParams, ReadResourceResponse, ReadResourceResult, Role, ServerCapabilities,
    ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{
    ErrorData as McpError, RoleServer, ServerHandler, ServiceExt, prompt, prompt_handler,
    prompt_router, tool, tool_handler, tool_router,
};
use schemars::JsonSchema;
use serde::Deserialize;
use tokio_util::sync::CancellationToken;
use tracing::debug;

use crate::error::DemoError;

pub use content::MAX_TEXT_BYTES;

/// Most steps `count` takes.
pub const MAX_COUNT: u32 = 100;
/// Longest pause between two `count` steps.
pub const MAX_DELAY_MS: u64 = 1000;

/// Serves the demo MCP server on this process's stdin and stdout until the
/// client closes stdin. Both eras: an `initialize` first selects the session
/// era, a request carrying full 2026-07-28 `_meta` the stateless era.
pub async fn serve_stdio() -> Result<(), DemoError> {
    let running = match DemoServer
        .serve((tokio::io::stdin(), tokio::io::stdout()))
        .await
    {
        Ok(running) => running,
        // stdin closed before the first request: a clean, if short, session.
        Err(rmcp::service::ServerInitializeError::ConnectionClosed(_)) => return Ok(()),
        Err(e) => return Err(DemoError::Mcp(Box::new(e))),
    };
    let reason = running
        .waiting()
        .await
        .map_err(|e| DemoError::Mcp(Box::new(e)))?;
    debug!(?reason, "stdio MCP session ended");
    Ok(())
}

/// An axum router serving the demo MCP server with Streamable HTTP at
/// `/mcp`: sessions (`Mcp-Session-Id`) for session-era clients, stateless
/// requests for 2026-07-28 clients, `Host` restricted to loopback names.
/// Cancelling `cancel` ends every session and open stream.
pub fn http_router(cancel: CancellationToken) -> axum::Router {
    let config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(true)
        .with_allowed_hosts(["localhost", "127.0.0.1", "::1"])
        .with_sse_keep_alive(Some(Duration::from_secs(15)))
        .with_cancellation_token(cancel.child_token());
    let service: StreamableHttpService<DemoServer, LocalSessionManager> =
        StreamableHttpService::new(
            || Ok(DemoServer),
            Arc::new(LocalSessionManager::default()),
            config,
        );
    axum::Router::new().nest_service("/mcp", service)
}

/// The demo MCP server's handler (stateless: every session gets a copy).
#[derive(Debug, Clone, Copy, Default)]
pub struct DemoServer;

#[derive(Debug, Deserialize, JsonSchema)]
struct EchoArgs {
    /// The text to send back.
    message: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
struct AddArgs {
    /// First addend.
    a: f64,
    /// Second addend.
    b: f64,
}

#[derive(Debug, Deserialize, JsonSchema)]
struct CountArgs {
    /// Count from 1 up to this number (at most 100).
    to: u32,
    /// Pause before each step, in milliseconds (at most 1000; default 100).
    #[serde(default = "default_delay_ms")]
    delay_ms: u64,
}

fn default_delay_ms() -> u64 {
    100
}

#[derive(Debug, Deserialize, JsonSchema)]
struct AskArgs {
    /// The question for the client's language model.
    question: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
struct BigArgs {
    /// Size of the returned text in bytes (at most 32 MiB).
    bytes: usize,
}

#[derive(Debug, Deserialize, JsonSchema)]
struct GreetingArgs {
    /// Who to greet.
    name: String,
}

fn text_result(text: impl Into<String>) -> CallToolResult {
    CallToolResult::success(vec![ContentBlock::text(text.into())])
}

#[tool_router]
impl DemoServer {
    #[tool(description = "Echo the message back.")]
    async fn echo(
        &self,
        Parameters(args): Parameters<EchoArgs>,
    ) -> Result<CallToolResult, McpError> {
        Ok(text_result(args.message))
    }

    #[tool(description = "Add two numbers.")]
    async fn add(&self, Parameters(args): Parameters<AddArgs>) -> Result<CallToolResult, McpError> {
        Ok(text_result((args.a + args.b).to_string()))
    }

    #[tool(
        description = "Count from 1 to `to`, pausing `delay_ms` before each step; sends a progress notification per step when the call carries a progress token."
    )]
    async fn count(
        &self,
        Parameters(args): Parameters<CountArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, McpError> {
        if args.to > MAX_COUNT || args.delay_ms > MAX_DELAY_MS {
            return Err(McpError::invalid_params(
                format!("count allows to <= {MAX_COUNT} and delay_ms <= {MAX_DELAY_MS}"),
                None,
            ));
        }
        let token = ctx.meta.get_progress_token();
        let delay = Duration::from_millis(args.delay_ms);
        for step in 1..=args.to {
            tokio::select! {
                () = ctx.ct.cancelled() => {
                    return Err(McpError::internal_error("count cancelled by the client", None));
                }
                () = tokio::time::sleep(delay) => {}
            }
            if let Some(token) = &token {
                let progress = ProgressNotificationParam::new(token.clone(), f64::from(step))
                    .with_total(f64::from(args.to))
                    .with_message(format!("{step}/{}", args.to));
                if let Err(e) = ctx.peer.notify_progress(progress).await {
                    debug!(error = %e, "progress notification not delivered");
                }
            }
        }
        Ok(text_result(format!("counted to {}", args.to)))
    }

    #[tool(
        description = "Ask the client's language model a question (sampling) and return its answer."
    )]
    async fn ask_llm(
        &self,
        Parameters(args): Parameters<AskArgs>,
        ctx: RequestContext<RoleServer>,
        RequestState(state): RequestState,
        InputResponses(responses): InputResponses,
    ) -> Result<CallToolResponse, McpError> {
        let stateless = ctx.protocol_version().is_some_and(|v| !v.has_initialize());
        let can_sample = sampling::client_can_sample(&ctx);
        if stateless {
            if !can_sample {
                return Err(sampling::missing_capability());
            }
            sampling::ask_stateless(args.question, state.as_deref(), responses)
        } else {
            if !can_sample {
                return Ok(CallToolResult::error(vec![ContentBlock::text(
                    "ask_llm needs a client that supports sampling",
                )])
                .into());
            }
            sampling::ask_in_session(args.question, &ctx)
                .await
                .map(Into::into)
        }
    }

    #[tool(description = "Return a text of exactly `bytes` bytes (at most 32 MiB).")]
    async fn big(&self, Parameters(args): Parameters<BigArgs>) -> Result<CallToolResult, McpError> {
        Ok(text_result(content::sized_text(args.bytes)?))
    }
}

#[allow(
    missing_docs,
    reason = "#[prompt] generates an undocumented public `*_prompt_attr` function"
)]
#[prompt_router]
impl DemoServer {
    /// A greeting for someone.
    #[prompt(name = "greeting", description = "Greet someone by name.")]
    async fn greeting(&self, Parameters(args): Parameters<GreetingArgs>) -> Vec<PromptMessage> {
        vec![PromptMessage::new_text(
            Role::User,
            format!("Please write a short, friendly greeting for {}.", args.name),
        )]
    }
}

#[tool_handler]
#[prompt_handler]
impl ServerHandler for DemoServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_prompts()
                .enable_resources()
                .build(),
        )
        .with_server_info(Implementation::new(
            "sallyport-demo",
            env!("CARGO_PKG_VERSION"),
        ))
        .with_instructions(
            "Sallyport's demo server: echo, add, count (progress), ask_llm (sampling), big; \
             resources demo://readme and demo://sized/{n}; prompt greeting.",
        )
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _ctx: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, McpError> {
        Ok(ListResourcesResult::with_all_items(vec![
            content::readme_resource(),
        ]))
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _ctx: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, McpError> {
        Ok(ListResourceTemplatesResult::with_all_items(vec![
            content::sized_template(),
        ]))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _ctx: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, McpError> {
        let contents = content::read(&request.uri)?;
        Ok(ReadResourceResult::new(vec![contents]).into())
    }
}
