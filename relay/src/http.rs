//! The HTTPS endpoint remote MCP clients use: `/mcp/<server>` (both
//! protocol eras), the OAuth protected resource metadata, and the listener.

mod access;
mod catalog;
mod envelope;
mod error;
mod guard;
mod listener;
mod mcp;
mod metadata;
mod relayed;
mod sse;
mod state;
mod trail;

use std::sync::Arc;

use axum::Router;
use axum::routing::{any, get};

pub(crate) use guard::local_hosts;
pub(crate) use listener::{ClientCert, ClientCertTrust, serve, tls_acceptor};
pub(crate) use state::AppState;
pub(crate) use trail::Recorder;

/// The router of the public endpoint.
pub(crate) fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/mcp/{server}", any(mcp::handle))
        .route("/registry/v0/servers", get(catalog::servers))
        .route("/.well-known/oauth-protected-resource", get(metadata::root))
        .route(
            "/.well-known/oauth-protected-resource/mcp/{server}",
            get(metadata::server),
        )
        .with_state(state)
}
