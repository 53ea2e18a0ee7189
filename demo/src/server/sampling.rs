//! `ask_llm`'s two ways of reaching the client's language model: a
//! `sampling/createMessage` request in the session era, an
//! `InputRequiredResult` (multi round-trip request) in the stateless era.

#![allow(
    deprecated,
    reason = "rmcp marks sampling deprecated (SEP-2577), but it is what today's clients support"
)]

use rmcp::model::{
    CallToolResponse, CallToolResult, ClientCapabilities, ContentBlock, CreateMessageRequest,
    CreateMessageRequestParams, CreateMessageResult, InputRequest, InputRequests,
    InputRequiredResult, InputResponses, SamplingMessage,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer};

/// The key of the sampling request inside the `InputRequiredResult`.
const LLM_INPUT: &str = "llm";
/// The `requestState` of the second round. It only marks the round: the
/// answer travels in `inputResponses`, so there is nothing to protect.
const ASKED_STATE: &str = "sallyport-demo/ask_llm/asked";

/// Whether the client declared sampling (in this request's `_meta` in the
/// stateless era, at `initialize` in the session era).
pub(super) fn client_can_sample(ctx: &RequestContext<RoleServer>) -> bool {
    ctx.client_capabilities()
        .is_some_and(|c| c.sampling.is_some())
}

/// `-32021`: the stateless-era answer to a client without sampling.
pub(super) fn missing_capability() -> McpError {
    McpError::missing_required_client_capability(
        ClientCapabilities::builder().enable_sampling().build(),
    )
}

fn params(question: String) -> CreateMessageRequestParams {
    CreateMessageRequestParams::new(vec![SamplingMessage::user_text(question)], 200)
        .with_system_prompt("Answer briefly.")
}

/// Session era: ask the client on the same session and wait for its answer.
pub(super) async fn ask_in_session(
    question: String,
    ctx: &RequestContext<RoleServer>,
) -> Result<CallToolResult, McpError> {
    let answer = ctx
        .peer
        .create_message(params(question))
        .await
        .map_err(|e| McpError::internal_error(format!("sampling failed: {e}"), None))?;
    Ok(text_of(&answer))
}

/// Stateless era: the first round returns the sampling request; the retry
/// carries the client's answer in `inputResponses`.
pub(super) fn ask_stateless(
    question: String,
    state: Option<&str>,
    responses: Option<InputResponses>,
) -> Result<CallToolResponse, McpError> {
    match state {
        None => {
            let mut requests = InputRequests::new();
            requests.insert(
                LLM_INPUT.to_owned(),
                InputRequest::CreateMessage(CreateMessageRequest::new(params(question))),
            );
            Ok(InputRequiredResult::new(Some(requests), Some(ASKED_STATE.to_owned())).into())
        }
        Some(ASKED_STATE) => {
            let raw = responses
                .and_then(|mut r| r.remove(LLM_INPUT))
                .ok_or_else(|| McpError::invalid_params("inputResponses.llm is missing", None))?;
            let answer: CreateMessageResult = serde_json::from_value(raw).map_err(|e| {
                McpError::invalid_params(
                    format!("inputResponses.llm is not a sampling result: {e}"),
                    None,
                )
            })?;
            Ok(text_of(&answer).into())
        }
        Some(_) => Err(McpError::invalid_params("unknown requestState", None)),
    }
}

/// The model's text as the tool's result.
fn text_of(answer: &CreateMessageResult) -> CallToolResult {
    let text = answer
        .message
        .content
        .first()
        .and_then(|c| c.as_text())
        .map(|t| t.text.clone())
        .unwrap_or_default();
    CallToolResult::success(vec![ContentBlock::text(text)])
}
