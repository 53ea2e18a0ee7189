//! Access control on the request path: which policy target a JSON-RPC
//! request names, the decision, the quota, and how a denial looks to the
//! caller (a denied tool, resource or prompt looks unknown).

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use sallyport_protocol::ServerName;

use sallyport_mcp::target::{self, Target as Asked};
use sallyport_mcp::{Envelope, Kind};

use crate::auth::Principal;
use crate::filter::ListKind;
use crate::http::error::{HttpError, jsonrpc_error};
use crate::http::wire::{self, ErrorKind};
use crate::limits::{Limited, RateLimiter};
use crate::policy::{Policy, Subject, Target};

/// What a request may do.
#[derive(Debug)]
pub(crate) enum Access {
    /// Forward it; filter the answer when it is a list.
    Forward {
        /// The list to filter in the response, if any.
        list: Option<ListKind>,
        /// The name the request targets (for audit), if any.
        target: Option<String>,
        /// The rule that allowed it.
        rule: Option<String>,
    },
    /// Refuse it with an error: it cannot be decided, or a quota is spent
    /// (audited as the error's kind says).
    Refuse {
        /// The error, with the reason as its rule.
        error: HttpError,
        /// The name the request seemed to target, if any.
        target: Option<String>,
    },
    /// Answer it here as if the target did not exist (audited as a
    /// denial).
    Deny {
        /// The answer.
        response: Response,
        /// The name the request targeted.
        target: Option<String>,
        /// The rule that decided, or why.
        rule: String,
    },
}

/// The policy target of what a message asks the server to use.
fn policy_target(asked: Asked<'_>) -> Target<'_> {
    match asked {
        Asked::Tool(n) => Target::Tool(n),
        Asked::Resource(u) => Target::Resource(u),
        Asked::Prompt(n) => Target::Prompt(n),
    }
}

/// Decides a POSTed message. `server_allowed` must already hold (checked
/// per request by [`check_server`]).
pub(crate) fn check_message(
    policy: &Policy,
    limiter: &RateLimiter,
    principal: &Principal,
    server: &ServerName,
    env: &Envelope<'_>,
) -> Access {
    let who = Subject::from(principal);
    let list = env
        .method
        .as_deref()
        .filter(|_| env.kind == Kind::Request)
        .and_then(ListKind::for_method);
    let target = match target::target_of(env) {
        Ok(Some(asked)) => policy_target(asked),
        Ok(None) => {
            return Access::Forward {
                list,
                target: None,
                rule: None,
            };
        }
        Err(why) => {
            // Fail closed: what cannot be decided is never forwarded.
            tracing::info!(reason = %why, "refused: the request cannot be decided");
            let error = HttpError::new(ErrorKind::Undecidable(why.code()), why.to_string())
                .with_id(env.id)
                .with_rule(format!("undecidable: {why}"));
            return Access::Refuse {
                error,
                target: env.routing_name().map(str::to_owned),
            };
        }
    };
    let name = target_name(target).to_owned();
    let decision = policy.decide(&who, server, target);
    if !decision.allowed {
        tracing::info!(decision = %decision, "denied");
        return Access::Deny {
            response: looks_unknown(env, target),
            target: Some(name),
            rule: decision.to_string(),
        };
    }
    let quotas = policy.quotas(&who, server, target);
    if let Err(limited) = limiter.check(&principal.subject, &quotas, server, target) {
        let kind = match &limited {
            Limited::Full { .. } => ErrorKind::LimiterFull,
            _ => ErrorKind::QuotaExceeded,
        };
        let mut error = HttpError::new(kind, limited.to_string())
            .with_id(env.id)
            .with_rule(limited.to_string());
        error.retry_after = Some(limited.retry_after().secs());
        return Access::Refuse {
            error,
            target: Some(name),
        };
    }
    Access::Forward {
        list,
        target: Some(name),
        rule: Some(decision.to_string()),
    }
}

/// May the caller use `server` at all? A session whose access was revoked
/// is cut here at its next request.
pub(crate) fn check_server(
    policy: &Policy,
    principal: &Principal,
    server: &ServerName,
    public_url: &str,
) -> Result<(), HttpError> {
    let decision = policy.decide(&Subject::from(principal), server, Target::Server);
    if decision.allowed {
        return Ok(());
    }
    tracing::info!(decision = %decision, "denied");
    let mut err = HttpError::new(
        ErrorKind::Forbidden,
        format!("{} may not use {server}", principal.subject),
    );
    err.challenge = Some(format!(
        "Bearer error=\"insufficient_scope\", resource_metadata=\"{public_url}/.well-known/oauth-protected-resource/mcp/{server}\""
    ));
    Err(err.with_rule(decision.to_string()))
}

fn target_name(target: Target<'_>) -> &str {
    match target {
        Target::Tool(n) | Target::Resource(n) | Target::Prompt(n) => n,
        _ => "",
    }
}

/// The answer an MCP server gives for something that does not exist.
fn looks_unknown(env: &Envelope<'_>, target: Target<'_>) -> Response {
    let (code, message) = match target {
        Target::Tool(n) => (wire::INVALID_PARAMS, format!("Unknown tool: {n}")),
        Target::Prompt(n) => (wire::INVALID_PARAMS, format!("Unknown prompt: {n}")),
        Target::Resource(u) => (wire::RESOURCE_NOT_FOUND, format!("Resource not found: {u}")),
        _ => (wire::METHOD_NOT_FOUND, "Method not found".to_owned()),
    };
    let mut r = jsonrpc_error(env.id, code, &message).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}
