//! The HTTPS endpoint remote MCP clients use: `/mcp/<server>` (both
//! protocol eras), the OAuth protected resource metadata, and the listener.

mod access;
mod catalog;
mod error;
mod guard;
mod headers;
mod host;
mod listener;
mod mcp;
mod metadata;
mod relayed;
mod sse;
mod state;
mod trail;
mod wire;

use std::sync::Arc;

use axum::Router;
use axum::middleware;
use axum::routing::{any, get};

pub(crate) use guard::local_hosts;
pub(crate) use host::{remote, settle_host};
pub(crate) use listener::{ClientCert, ClientCertTrust, ConnLimits, Served, serve, tls_acceptor};
pub(crate) use state::{AppState, CertCheck};
pub(crate) use trail::Recorder;

/// The public endpoint: its router, every route behind the `Host` rules
/// (400/403 before any handler), and its connections' timeouts.
pub(crate) fn router(state: Arc<AppState>) -> Served {
    let limits = ConnLimits::of(&state.http);
    let router = Router::new()
        .route("/mcp/{server}", any(mcp::handle))
        .route("/registry/v0/servers", get(catalog::servers))
        .route("/.well-known/oauth-protected-resource", get(metadata::root))
        .route(
            "/.well-known/oauth-protected-resource/mcp/{server}",
            get(metadata::server),
        )
        .layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            host::require_host,
        ))
        .with_state(state);
    Served {
        name: "HTTP",
        router,
        limits,
    }
}
