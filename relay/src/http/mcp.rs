//! `POST|GET|DELETE /mcp/<server>`: the Streamable HTTP endpoint, in both
//! protocol eras, relayed to a connector.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use sallyport_protocol::ServerName;
use sallyport_protocol::data;
use tracing::{Instrument, info, info_span};

use crate::audit::{AuditEvent, Decision as AuditDecision};
use crate::http::access::{self, Access};
use crate::http::envelope::{self, Envelope, Kind};
use crate::http::error::{HEADER_MISMATCH, HttpError};
use crate::http::guard;
use crate::http::relayed::{How, Relayed, list_filter, relay};
use crate::http::state::AppState;
use crate::http::trail::{Counted, Trail};

/// The first protocol version of the stateless era.
pub const STATELESS_ERA: &str = "2026-07-28";
pub(super) const SESSION_HEADER: &str = "mcp-session-id";
pub(super) const VERSION_HEADER: &str = "mcp-protocol-version";

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
                let (parts, body) = response.into_parts();
                Response::from_parts(parts, Counted::wrap(body, status, trail, app.recorder.clone()))
            }
            Err(e) => {
                info!(status = e.status.as_u16(), code = e.code, error = %e.message, "request refused");
                match e.status.as_u16() {
                    401 | 403 => trail.deny(AuditEvent::Denial, e.rule.clone()),
                    429 => trail.deny(AuditEvent::RateLimited, e.rule.clone()),
                    _ => trail.decision = AuditDecision::Error,
                }
                trail.finish(&app.recorder, e.status.as_u16(), Some(e.code), 0);
                e.into_response()
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
    let server = match ServerName::new(server) {
        Ok(s) if app.knows(&s) => s,
        _ => {
            return Err(HttpError::new(
                StatusCode::NOT_FOUND,
                -32601,
                format!("no MCP server named {server:?} at this relay"),
            ));
        }
    };
    let principal = app.authenticate(headers, client_cert, &server).await?;
    tracing::Span::current().record("user", principal.subject.as_str());
    trail.principal = Some(principal.clone());
    trail.permit = Some(app.admit(&principal)?);
    trail.session = header_str(headers, SESSION_HEADER);
    let policy = app.policy.load_full();
    access::check_server(&policy, &principal, &server, &app.http.public_url)?;
    trail.decision = AuditDecision::Allow;
    let version = header_str(headers, VERSION_HEADER);
    match *method {
        Method::POST => {
            let body = guard::read_body(body, app.http.max_body).await?;
            let env = envelope::parse(&body)
                .map_err(|e| HttpError::new(StatusCode::BAD_REQUEST, e.code(), e.to_string()))?;
            trail.bytes_in = body.len() as u64;
            if let Some(m) = &env.method {
                trail.method = m.clone();
            }
            // Routing headers are checked against the body before any
            // decision, so they can never steer one.
            let stateless = is_stateless(version.as_deref(), &env);
            if stateless {
                check_stateless_headers(headers, &env)?;
            }
            let list = match access::check_message(&policy, &app.limiter, &principal, &server, &env)
            {
                Access::Deny {
                    response,
                    target,
                    rule,
                    event,
                    ..
                } => {
                    trail.target = target;
                    trail.deny(event, Some(rule));
                    return Ok(response);
                }
                Access::Forward { list, target, rule } => {
                    trail.target = target;
                    trail.rule = rule;
                    list.map(|kind| list_filter(&policy, &principal, &server, kind))
                }
            };
            let mut req = Relayed::new(
                request_id,
                data::Method::Post,
                &server,
                &principal,
                headers,
                version,
            );
            if stateless {
                let route = app.pick(&server)?;
                return relay(
                    app,
                    route,
                    req,
                    body.clone(),
                    How {
                        env: Some(&env),
                        mint_for: None,
                        list,
                    },
                    trail,
                )
                .await;
            }
            if env.kind == Kind::Request && env.method.as_deref() == Some("initialize") {
                let route = app.pick(&server)?;
                trail.session_opened = true;
                let how = How {
                    env: Some(&env),
                    mint_for: Some(&principal),
                    list,
                };
                return relay(app, route, req, body.clone(), how, trail).await;
            }
            let (route, claims) = app.resume(headers, &server, &principal)?;
            req.head.session = claims.upstream.clone();
            relay(
                app,
                route,
                req,
                body.clone(),
                How {
                    env: Some(&env),
                    mint_for: None,
                    list,
                },
                trail,
            )
            .await
        }
        Method::GET | Method::DELETE => {
            if version.as_deref().is_some_and(|v| v >= STATELESS_ERA) {
                return Err(HttpError::new(
                    StatusCode::METHOD_NOT_ALLOWED,
                    -32600,
                    format!("{method} is not part of MCP {STATELESS_ERA}: use POST"),
                ));
            }
            let (route, claims) = app.resume(headers, &server, &principal)?;
            let m = if *method == Method::GET {
                data::Method::Get
            } else {
                data::Method::Delete
            };
            let mut req = Relayed::new(request_id, m, &server, &principal, headers, version);
            req.head.session = claims.upstream.clone();
            req.head.last_event_id = header_str(headers, "last-event-id");
            trail.session_closed = *method == Method::DELETE;
            relay(
                app,
                route,
                req,
                Bytes::new(),
                How {
                    env: None,
                    mint_for: None,
                    list: None,
                },
                trail,
            )
            .await
        }
        _ => Err(HttpError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            -32600,
            format!("{method} is not allowed: use POST, GET or DELETE"),
        )),
    }
}

fn is_stateless(header_version: Option<&str>, env: &Envelope<'_>) -> bool {
    match header_version {
        Some(v) => v >= STATELESS_ERA,
        None => env
            .meta_version
            .as_deref()
            .is_some_and(|v| v >= STATELESS_ERA),
    }
}

/// Stateless-era routing headers must agree with the body; a mismatch is a
/// 400 (`HeaderMismatch`), never a policy bypass.
fn check_stateless_headers(headers: &HeaderMap, env: &Envelope<'_>) -> Result<(), HttpError> {
    let mismatch = |what: &str, header: &str, body: Option<&str>| {
        HttpError::new(
            StatusCode::BAD_REQUEST,
            HEADER_MISMATCH,
            format!("header {what} {header:?} does not match the body ({body:?})"),
        )
        .with_id(env.id)
    };
    let version = header_str(headers, VERSION_HEADER);
    if let (Some(h), Some(b)) = (version.as_deref(), env.meta_version.as_deref())
        && h != b
    {
        return Err(mismatch("MCP-Protocol-Version", h, Some(b)));
    }
    if let Some(h) = header_str(headers, "mcp-method")
        && Some(h.as_str()) != env.method.as_deref()
    {
        return Err(mismatch("Mcp-Method", &h, env.method.as_deref()));
    }
    let body_name = env.name.as_deref().or(env.uri.as_deref());
    if let Some(h) = header_str(headers, "mcp-name")
        && Some(h.as_str()) != body_name
    {
        return Err(mismatch("Mcp-Name", &h, body_name));
    }
    Ok(())
}

/// A header value as text; values of the form `=?base64?…?=` (how MCP
/// carries non-ASCII or padded values) are decoded.
fn header_str(headers: &HeaderMap, name: &str) -> Option<String> {
    let raw = headers.get(name).and_then(|v| v.to_str().ok())?;
    match raw
        .strip_prefix("=?base64?")
        .and_then(|r| r.strip_suffix("?="))
    {
        Some(encoded) => {
            use base64::Engine;
            // A malformed encoding stays as sent, so it matches nothing in
            // the body and is refused as a mismatch.
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .ok()
                .and_then(|b| String::from_utf8(b).ok());
            Some(decoded.unwrap_or_else(|| raw.to_owned()))
        }
        None => Some(raw.to_owned()),
    }
}
