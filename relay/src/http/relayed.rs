//! A request on its way to a connector: the request head built from the
//! client's request, the forwarding, and the connector's answer turned
//! into the client's response (session minting, list filtering, errors).

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use sallyport_protocol::ServerName;
use sallyport_protocol::data::{self, BodyKind, Caller, RequestHead};
use tracing::info;

use crate::auth::Principal;
use crate::forward;
use crate::http::error::{HttpError, forward_error};
use crate::http::sse::{self, ListFilter};
use crate::http::state::AppState;
use crate::http::trail::Trail;
use crate::registry::Route;
use crate::session::NewSession;
use sallyport_mcp::Envelope;
use sallyport_mcp::headers::SESSION_ID as SESSION_HEADER;

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
        forwarded: Vec<(String, String)>,
        version: Option<String>,
    ) -> Self {
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
        Some(principal) if status.is_success() => Some(app.mint(
            NewSession {
                server,
                instance,
                upstream: response.head.session.clone(),
            },
            principal,
        )?),
        _ => None,
    };
    let mut out = match response.head.kind {
        BodyKind::Empty => {
            response.finish().await;
            Response::new(Body::empty())
        }
        BodyKind::Json => {
            let body = match list {
                Some(filter) if filter.kind.is_some() => sse::filtered_json_body(response, filter),
                guard => sse::json_body(response, guard),
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
    info!(
        event = "request.relayed",
        status = status.as_u16(),
        "relayed"
    );
    Ok(out)
}
