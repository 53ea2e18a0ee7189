//! OAuth 2.0 Protected Resource Metadata (RFC 9728), which MCP clients
//! read after a 401 to learn how to authenticate.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use sallyport_protocol::ServerName;

use crate::http::state::AppState;

/// `/.well-known/oauth-protected-resource`: the relay as a whole.
pub(crate) async fn root(State(app): State<Arc<AppState>>) -> Response {
    let resource = app.http.public_url.as_str();
    Json(document(resource)).into_response()
}

/// `/.well-known/oauth-protected-resource/mcp/<server>`.
pub(crate) async fn server(
    State(app): State<Arc<AppState>>,
    Path(server): Path<String>,
) -> Response {
    match ServerName::new(server) {
        Ok(s) if app.knows(&s) => {
            let resource = app.http.public_url.resource(&s);
            Json(document(&resource)).into_response()
        }
        _ => (StatusCode::NOT_FOUND, "no such server\n").into_response(),
    }
}

fn document(resource: &str) -> serde_json::Value {
    serde_json::json!({
        "resource": resource,
        "authorization_servers": [],
        "bearer_methods_supported": ["header"],
        "resource_name": "Sallyport relay",
    })
}
