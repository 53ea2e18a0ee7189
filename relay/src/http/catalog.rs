//! `GET /registry/v0/servers`: the MCP servers this caller may use, their
//! URLs at this relay, whether a connector serving them is live, and the
//! tool patterns the caller's roles allow and deny there.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::http::guard;
use crate::http::state::AppState;
use crate::policy::{Bound, Target};

/// Lists the servers the caller may use.
pub(crate) async fn servers(
    State(app): State<Arc<AppState>>,
    client_cert: Option<axum::Extension<crate::http::ClientCert>>,
    headers: HeaderMap,
) -> Response {
    if let Err(e) = guard::check_host_and_origin(&app.http, &app.local_hosts, &headers) {
        return e.into_response();
    }
    // Authenticate against the relay as a whole (a token for public_url).
    // Without credentials the caller is anonymous: it sees what anonymous
    // bindings grant (often nothing).
    let cert = client_cert.as_ref().map(|c| &c.0);
    let policy = app.policy.load_full();
    let principal = if headers.contains_key(axum::http::header::AUTHORIZATION) || cert.is_some() {
        match app.authenticate(&headers, cert, None, &policy).await {
            Ok(p) => p,
            Err(e) => return e.into_response(),
        }
    } else {
        crate::auth::Principal::anonymous()
    };
    let gate = Bound::new(Arc::clone(&policy), &principal);
    let list: Vec<serde_json::Value> = app
        .servers
        .iter()
        .filter(|s| gate.allows(s, Target::Server))
        .map(|s| {
            let (allow, deny) = policy.patterns_for(&gate.subject(), s);
            serde_json::json!({
                "name": s.as_str(),
                "url": app.http.public_url.resource(s),
                "live": app.registry.serves(s),
                "allow": allow,
                "deny": deny,
            })
        })
        .collect();
    (StatusCode::OK, Json(serde_json::json!({ "servers": list }))).into_response()
}
