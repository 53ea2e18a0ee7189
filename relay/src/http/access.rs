//! Access control on the request path: which policy target a JSON-RPC
//! request names, the decision, the quota, and how a denial looks to the
//! caller (a denied tool, resource or prompt looks unknown).

use std::sync::Arc;

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use sallyport_protocol::ServerName;

use sallyport_mcp::target::{self, Target as Asked};
use sallyport_mcp::{Envelope, Kind};

use crate::config::PublicUrl;
use crate::filter::ListKind;
use crate::http::error::{HttpError, jsonrpc_error};
use crate::http::sse::ListFilter;
use crate::http::wire::{self, ErrorKind};
use crate::limits::{Limited, RateLimiter};
use crate::policy::{Bound, RoleName, Target};

/// What a request may do.
#[derive(Debug)]
pub(crate) enum Access {
    /// Forward it, as the permit says.
    Forward(Permit),
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

/// The one decision that lets a message through: what it targets, the
/// rule that allowed it, the quota it was charged to, and the list its
/// answer is filtered as.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Permit {
    /// The list to filter in the response, if any.
    pub list: Option<ListKind>,
    /// The name the request targets (for audit), if any.
    pub target: Option<String>,
    /// The rule that allowed it; `None` for a message that names no
    /// target (only the server decision applies).
    pub rule: Option<String>,
    /// The role whose quota the call was charged to, if any.
    pub quota: Option<RoleName>,
}

/// The policy target of what a message asks the server to use.
fn policy_target(asked: Asked<'_>) -> Target<'_> {
    match asked {
        Asked::Tool(n) => Target::Tool(n),
        Asked::Resource(u) => Target::Resource(u),
        Asked::Prompt(n) => Target::Prompt(n),
    }
}

/// Decides a POSTed message for the caller `gate` binds. The server
/// decision must already hold (checked per request by [`check_server`]).
pub(crate) fn check_message(
    gate: &Bound,
    limiter: &RateLimiter,
    server: &ServerName,
    env: &Envelope<'_>,
) -> Access {
    let list = env
        .method
        .as_deref()
        .filter(|_| env.kind == Kind::Request)
        .and_then(ListKind::for_method);
    let target = match target::target_of(env) {
        Ok(Some(asked)) => policy_target(asked),
        Ok(None) => {
            return Access::Forward(Permit {
                list,
                ..Permit::default()
            });
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
    let decision = gate.decide(server, target);
    if !decision.allowed {
        tracing::info!(event = "request.denied", decision = %decision, "denied");
        return Access::Deny {
            response: looks_unknown(env, target),
            target: Some(name),
            rule: decision.to_string(),
        };
    }
    let quotas = gate.quotas(server, target);
    if let Err(limited) = limiter.check(&gate.principal().subject, &quotas, server, target) {
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
    Access::Forward(Permit {
        list,
        target: Some(name),
        rule: Some(decision.to_string()),
        quota: crate::limits::charged(&quotas).cloned(),
    })
}

/// May the caller use `server` at all? A session whose access was revoked
/// is cut here at its next request.
pub(crate) fn check_server(
    gate: &Bound,
    server: &ServerName,
    public_url: &PublicUrl,
) -> Result<(), HttpError> {
    let decision = gate.decide(server, Target::Server);
    if decision.allowed {
        return Ok(());
    }
    tracing::info!(event = "request.denied", decision = %decision, "denied");
    let mut err = HttpError::new(
        ErrorKind::Forbidden,
        format!("{} may not use {server}", gate.principal().subject),
    );
    err.challenge = Some(format!(
        "Bearer error=\"insufficient_scope\", resource_metadata=\"{}\"",
        public_url.metadata_url(Some(server))
    ));
    Err(err.with_rule(decision.to_string()))
}

/// The filter that removes from list results what the caller may not use:
/// the answer of a list request (`kind`), or any list result that shows up
/// on the stream of another request (`kind: None`). It asks the same
/// bound caller as the request's other decisions.
pub(crate) fn list_filter(gate: &Bound, server: &ServerName, kind: Option<ListKind>) -> ListFilter {
    let gate = gate.clone();
    let server = server.clone();
    ListFilter {
        kind,
        hold_pieces: kind.is_some(),
        keep: Arc::new(move |kind: ListKind, name: &str| gate.allows(&server, kind.target(name))),
    }
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

#[cfg(test)]
mod tests;
