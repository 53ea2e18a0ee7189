//! `POST|GET|DELETE /mcp/<server>`: the Streamable HTTP endpoint, in both
//! protocol eras, relayed to a connector.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use sallyport_protocol::ServerName;
use sallyport_protocol::data;
use tracing::{Instrument, info, info_span};

use sallyport_mcp::era::STATELESS_ERA;
use sallyport_mcp::headers::{PROTOCOL_VERSION as VERSION_HEADER, SESSION_ID as SESSION_HEADER};
use sallyport_mcp::{Era, Kind, envelope};

use crate::audit::{AuditEvent, Decision as AuditDecision};
use crate::auth::Principal;
use crate::http::access::{self, Access};
use crate::http::error::{HttpError, REQUEST_ID_HEADER};
use crate::http::guard;
use crate::http::headers;
use crate::http::relayed::{How, Relayed, relay};
use crate::http::sse::ListFilter;
use crate::http::state::AppState;
use crate::http::trail::{Counted, Trail};
use crate::http::wire::ErrorKind;
use crate::policy::Bound;

/// Handles one request to `/mcp/<server>`.
pub(crate) async fn handle(
    State(app): State<Arc<AppState>>,
    Path(server): Path<String>,
    client_cert: Option<axum::Extension<crate::http::ClientCert>>,
    method: Method,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let request_id = app.next_request_id();
    let span = info_span!("request", request.id = request_id, %server, %method, user = tracing::field::Empty);
    async move {
        let mut trail = Trail::new(request_id, &server, method.as_str());
        let incoming = Incoming {
            request_id,
            server: &server,
            method: &method,
            headers: &headers,
            client_cert: client_cert.as_ref().map(|c| &c.0),
        };
        match serve(&app, incoming, body, &mut trail).await {
            Ok(response) => {
                let status = response.status().as_u16();
                let (mut parts, body) = response.into_parts();
                parts.headers.insert(REQUEST_ID_HEADER, HeaderValue::from(request_id));
                Response::from_parts(parts, Counted::wrap(body, status, trail, app.recorder.clone()))
            }
            Err(mut e) => {
                info!(status = e.status().as_u16(), code = e.code(), error = %e.message, detail = e.detail(), "request refused");
                trail.error = e.for_request(request_id);
                match e.kind().wire().event {
                    Some(event) => trail.deny(event, e.rule()),
                    None => trail.decision = AuditDecision::Error,
                }
                trail.finish(&app.recorder, e.status().as_u16(), Some(e.code()), 0);
                let mut response = e.into_response();
                response.headers_mut().insert(REQUEST_ID_HEADER, HeaderValue::from(request_id));
                response
            }
        }
    }
    .instrument(span)
    .await
}

/// What arrived, before any of it is trusted.
struct Incoming<'a> {
    request_id: u64,
    server: &'a str,
    method: &'a Method,
    headers: &'a HeaderMap,
    client_cert: Option<&'a crate::http::ClientCert>,
}

async fn serve(
    app: &AppState,
    incoming: Incoming<'_>,
    body: Body,
    trail: &mut Trail,
) -> Result<Response, HttpError> {
    let Incoming {
        request_id,
        server,
        method,
        headers,
        client_cert,
    } = incoming;
    guard::check_host_and_origin(&app.http, &app.local_hosts, headers)?;
    headers::refuse_repeated(headers)?;
    // Authentication comes before the server is looked up: without
    // credentials, an unknown name and a real one both get 401.
    let known = ServerName::new(server).ok().filter(|s| app.knows(s));
    // One policy snapshot for the whole request, even if a reload swaps
    // it: the anonymous check, the server, the message and the list
    // filter are all decided by it.
    let policy = app.policy.load_full();
    let principal = app
        .authenticate(headers, client_cert, known.as_ref(), &policy)
        .await?;
    tracing::Span::current().record("user", principal.subject.as_str());
    trail.principal = Some(principal.clone());
    trail.permit = Some(app.admit(&principal)?);
    let Some(server) = known else {
        return Err(HttpError::new(
            ErrorKind::UnknownServer,
            format!("no MCP server named {server:?} at this relay"),
        ));
    };
    trail.session = headers::text(headers, SESSION_HEADER)?;
    let gate = Bound::new(policy, &principal);
    access::check_server(&gate, &server, &app.http.public_url)?;
    trail.decision = AuditDecision::Allow;
    let version = headers::text(headers, VERSION_HEADER)?;
    let request = Request {
        request_id,
        server: &server,
        principal: &principal,
        gate: &gate,
        headers,
        version,
    };
    match *method {
        Method::POST => post(app, request, body, trail).await,
        Method::GET | Method::DELETE => get_or_delete(app, request, method, trail).await,
        _ => Err(HttpError::new(
            ErrorKind::MethodNotAllowed,
            format!("{method} is not allowed: use POST, GET or DELETE"),
        )),
    }
}

/// An authenticated request for a known server the caller may use.
struct Request<'a> {
    request_id: u64,
    server: &'a ServerName,
    principal: &'a Principal,
    /// The caller bound to the request's policy snapshot.
    gate: &'a Bound,
    headers: &'a HeaderMap,
    /// `MCP-Protocol-Version`, as sent.
    version: Option<String>,
}

async fn post(
    app: &AppState,
    request: Request<'_>,
    body: Body,
    trail: &mut Trail,
) -> Result<Response, HttpError> {
    let Request {
        request_id,
        server,
        principal,
        gate,
        headers,
        version,
    } = request;
    let body = guard::read_body(body, app.http.max_body).await?;
    let env = envelope::parse(&body)
        .map_err(|e| HttpError::new(ErrorKind::Malformed(e.code()), e.to_string()))?;
    trail.bytes_in = body.len() as u64;
    if let Some(m) = &env.method {
        trail.method = m.clone();
    }
    // One era decision, carried to the connector as the version it names;
    // routing headers are checked against the body before any decision, so
    // they can never steer one.
    let era = Era::decide(version.as_deref(), env.meta_version.as_deref()).map_err(|e| {
        HttpError::new(ErrorKind::Malformed(e.code()), e.to_string()).with_id(env.id)
    })?;
    if era == Era::Stateless {
        headers::check_stateless(headers, &env)?;
    }
    let list = match access::check_message(gate, &app.limiter, server, &env) {
        Access::Refuse { error, target } => {
            trail.target = target;
            return Err(error);
        }
        Access::Deny {
            response,
            target,
            rule,
        } => {
            trail.target = target;
            trail.deny(AuditEvent::Denial, Some(rule));
            return Ok(response);
        }
        Access::Forward(permit) => {
            if let Some(role) = &permit.quota {
                tracing::debug!(quota = %role, "charged to the quota of role");
            }
            trail.target = permit.target;
            trail.rule = permit.rule;
            Some(access::list_filter(gate, server, permit.list))
        }
    };
    let version = version.or_else(|| env.meta_version.clone());
    let forwarded = headers::forwarded(headers, era, &body);
    let mut req = Relayed::new(
        request_id,
        data::Method::Post,
        server,
        principal,
        forwarded,
        version,
    );
    let initialize = env.kind == Kind::Request && env.method.as_deref() == Some("initialize");
    let route = match era {
        Era::Stateless => app.pick(server)?,
        Era::Session if initialize => {
            trail.session_opened = true;
            app.pick(server)?
        }
        Era::Session => {
            let (route, claims) = app.resume(headers, server, principal)?;
            req.head.session = claims.upstream.clone();
            route
        }
    };
    let how = How {
        env: Some(&env),
        mint_for: (era == Era::Session && initialize).then_some(principal),
        list,
    };
    relay(app, route, req, body.clone(), how, trail).await
}

async fn get_or_delete(
    app: &AppState,
    request: Request<'_>,
    method: &Method,
    trail: &mut Trail,
) -> Result<Response, HttpError> {
    let Request {
        request_id,
        server,
        principal,
        gate,
        headers,
        version,
    } = request;
    let era = Era::decide(version.as_deref(), None)
        .map_err(|e| HttpError::new(ErrorKind::Malformed(e.code()), e.to_string()))?;
    if era == Era::Stateless {
        return Err(HttpError::new(
            ErrorKind::MethodNotAllowed,
            format!("{method} is not part of MCP {STATELESS_ERA}: use POST"),
        ));
    }
    let (route, claims) = app.resume(headers, server, principal)?;
    let m = if *method == Method::GET {
        data::Method::Get
    } else {
        data::Method::Delete
    };
    let forwarded = headers::forwarded(headers, era, b"");
    let mut req = Relayed::new(request_id, m, server, principal, forwarded, version);
    req.head.session = claims.upstream.clone();
    req.head.last_event_id = headers::text(headers, "last-event-id")?;
    trail.session_closed = *method == Method::DELETE;
    // A GET stream carries the server's own messages, and answers only as
    // replays (Last-Event-ID): any list result there is filtered, large
    // events included.
    let how = How {
        env: None,
        mint_for: None,
        list: Some(ListFilter {
            hold_pieces: true,
            ..access::list_filter(gate, server, None)
        }),
    };
    relay(app, route, req, Bytes::new(), how, trail).await
}
