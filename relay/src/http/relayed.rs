//! A request on its way to a connector: the request head built from the
//! client's request, the forwarding, and the connector's answer turned
//! into the client's response (session minting, list filtering, errors).

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use sallyport_protocol::ServerName;
use sallyport_protocol::data::{self, BodyKind, Caller, RequestHead, StreamErrorKind};
use tracing::{info, warn};

use super::mcp::{SESSION_HEADER, VERSION_HEADER};
use crate::auth::Principal;
use crate::forward::{self, ForwardError};
use crate::http::envelope::Envelope;
use crate::http::error::{HttpError, UNAVAILABLE};
use crate::http::sse::{self, ListFilter};
use crate::http::state::AppState;
use crate::http::trail::Trail;
use crate::registry::Route;
use crate::session::{SessionClaims, principal_hash};

/// How to answer a relayed request.
pub(super) struct How<'e, 'p> {
    /// The request's envelope (POST).
    pub env: Option<&'e Envelope<'e>>,
    /// Mint a session for this principal on success (`initialize`).
    pub mint_for: Option<&'p Principal>,
    /// Filter a list result.
    pub list: Option<ListFilter>,
}

/// A request on its way to a connector.
pub(super) struct Relayed {
    pub head: RequestHead,
}

impl Relayed {
    pub(super) fn new(
        request_id: u64,
        method: data::Method,
        server: &ServerName,
        principal: &Principal,
        headers: &HeaderMap,
        version: Option<String>,
    ) -> Self {
        let forwarded = headers
            .iter()
            .filter(|(name, _)| {
                let n = name.as_str();
                (n.starts_with("mcp-") && n != SESSION_HEADER && n != VERSION_HEADER)
                    || n == "accept"
            })
            .filter_map(|(name, value)| {
                Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned()))
            })
            .collect();
        Self {
            head: RequestHead {
                request_id,
                method,
                server: server.clone(),
                session: None,
                protocol_version: version,
                last_event_id: None,
                caller: Caller {
                    subject: principal.subject.clone(),
                    groups: principal.groups.clone(),
                    agent: principal.agent.clone(),
                },
                headers: forwarded,
            },
        }
    }
}

/// Forwards the request and turns the connector's answer into a response.
/// With `mint_for`, a successful answer gets a new sealed session id.
pub(super) async fn relay(
    app: &AppState,
    route: Route,
    req: Relayed,
    body: Bytes,
    how: How<'_, '_>,
    trail: &mut Trail,
) -> Result<Response, HttpError> {
    let How {
        env,
        mint_for,
        list,
    } = how;
    let id = env.and_then(|e| e.id);
    trail.connector = Some(route.identity.clone());
    let instance = route.instance;
    let server = req.head.server.clone();
    let response = forward::forward(
        route,
        req.head,
        body,
        app.max_frame,
        app.http.response_timeout,
    )
    .await
    .map_err(|e| forward_error(e).with_id(id))?;
    let status = StatusCode::from_u16(response.head.status).unwrap_or(StatusCode::BAD_GATEWAY);
    let session = match mint_for {
        Some(principal) if status.is_success() => Some(app.seal(SessionClaims {
            server,
            instance,
            upstream: response.head.session.clone(),
            principal: principal_hash(&principal.subject, principal.agent.as_deref()),
            expires: app.session_expiry(),
        })?),
        _ => None,
    };
    let mut out = match response.head.kind {
        BodyKind::Empty => {
            response.finish().await;
            Response::new(Body::empty())
        }
        BodyKind::Json => {
            let body = match list {
                Some(filter) => sse::filtered_json_body(response, filter),
                None => sse::json_body(response),
            };
            let mut r = Response::new(body);
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            r
        }
        BodyKind::EventStream => {
            let mut r = Response::new(sse::sse_body(response, id.map(|i| i.to_owned()), list));
            let h = r.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/event-stream"),
            );
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            h.insert("x-accel-buffering", HeaderValue::from_static("no"));
            r
        }
    };
    *out.status_mut() = status;
    if let Some(session) = session {
        if let Ok(value) = HeaderValue::from_str(&session) {
            out.headers_mut().insert(SESSION_HEADER, value);
        }
        trail.session = Some(session);
    }
    info!(status = status.as_u16(), "relayed");
    Ok(out)
}

/// The filter that removes from a list result what the caller may not use.
pub(super) fn list_filter(
    policy: &Arc<crate::policy::Policy>,
    principal: &Principal,
    server: &ServerName,
    kind: crate::filter::ListKind,
) -> ListFilter {
    use crate::filter::ListKind;
    use crate::policy::{Subject, Target};
    let policy = Arc::clone(policy);
    let principal = principal.clone();
    let server = server.clone();
    ListFilter {
        kind,
        keep: Arc::new(move |name: &str| {
            let target = match kind {
                ListKind::Tools => Target::Tool(name),
                ListKind::Prompts => Target::Prompt(name),
                _ => Target::Resource(name),
            };
            policy.allows(&Subject::from(&principal), &server, target)
        }),
    }
}

fn forward_error(e: ForwardError) -> HttpError {
    match &e {
        ForwardError::Link(_) => {
            HttpError::new(StatusCode::BAD_GATEWAY, UNAVAILABLE, e.to_string())
        }
        ForwardError::Timeout(_) => {
            HttpError::new(StatusCode::GATEWAY_TIMEOUT, UNAVAILABLE, e.to_string())
        }
        ForwardError::Overloaded => {
            let mut err =
                HttpError::new(StatusCode::SERVICE_UNAVAILABLE, UNAVAILABLE, e.to_string());
            err.retry_after = Some(1);
            err
        }
        ForwardError::Upstream(se) => {
            let (status, code) = match se.kind {
                StreamErrorKind::UnknownSession => (StatusCode::NOT_FOUND, -32001),
                StreamErrorKind::UnknownServer => (StatusCode::SERVICE_UNAVAILABLE, UNAVAILABLE),
                StreamErrorKind::Upstream => (StatusCode::BAD_GATEWAY, UNAVAILABLE),
                StreamErrorKind::Overloaded => (StatusCode::SERVICE_UNAVAILABLE, UNAVAILABLE),
                StreamErrorKind::BadRequest => (StatusCode::BAD_REQUEST, -32600),
                _ => (StatusCode::INTERNAL_SERVER_ERROR, -32603),
            };
            warn!(kind = ?se.kind, error = %se.message, "connector refused the request");
            HttpError::new(status, code, se.message.clone())
        }
    }
}
