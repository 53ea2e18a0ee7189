//! The admin listener: health, readiness, the live connector list and
//! Prometheus metrics. Plain HTTP; bind it to loopback or a private network.
//! It answers only requests for its own address (DNS rebinding: a web page
//! cannot reach it through a name of its own) and shares the public
//! listener's connection loop and timeouts.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use tracing::info;

use crate::config::AdminConfig;
use crate::http::{self, ConnLimits, Served};
use crate::metrics::Metrics;
use crate::registry::Registry;

/// What the admin handlers read.
#[derive(Debug, Clone)]
pub(crate) struct AdminState {
    pub registry: Arc<Registry>,
    pub metrics: Arc<Metrics>,
    /// Set once the relay starts draining; `/readyz` then answers 503.
    pub draining: Arc<AtomicBool>,
}

/// The `Host` values the admin listener bound to `addr` answers: its
/// address literal; `localhost`, `127.0.0.1` and `[::1]` with its port
/// when bound to loopback (bare, too, on port 80); and `allowed_hosts`.
pub(crate) fn accepted_hosts(addr: SocketAddr, config: &AdminConfig) -> Vec<String> {
    let port = addr.port();
    let mut hosts = Vec::new();
    if !addr.ip().is_unspecified() {
        hosts.push(addr.to_string());
    }
    if addr.ip().is_loopback() {
        for name in ["localhost", "127.0.0.1", "[::1]"] {
            hosts.push(format!("{name}:{port}"));
            if port == 80 {
                hosts.push(name.to_owned());
            }
        }
    }
    hosts.extend(config.allowed_hosts.iter().cloned());
    hosts.sort();
    hosts.dedup();
    hosts
}

/// The admin listener bound to `addr`: its router behind the `Host`
/// check, and the connection timeouts of `[admin]`.
pub(crate) fn served(state: AdminState, config: &AdminConfig, addr: SocketAddr) -> Served {
    let hosts = Arc::new(accepted_hosts(addr, config));
    Served {
        name: "admin",
        router: router(state).layer(middleware::from_fn_with_state(hosts, require_host)),
        limits: ConnLimits {
            header: config.header_timeout,
            // Admin handlers never read a body; one that trickles is cut
            // like a slow head.
            body: config.header_timeout,
            idle: config.idle_timeout,
        },
    }
}

/// The RFC 9112 `Host` rules (400), then the host must be one of `hosts`
/// (403).
async fn require_host(
    State(hosts): State<Arc<Vec<String>>>,
    mut req: Request,
    next: Next,
) -> Response {
    let host = match http::settle_host(&mut req) {
        Ok(host) => host,
        Err(e) => return (e.status(), format!("{}\n", e.message)).into_response(),
    };
    if !hosts.contains(&host) {
        // The accepted names go to the log only: a page that reached this
        // listener through DNS rebinding could read the body.
        info!(remote = %http::remote(&req), %host, accepted = %hosts.join(", "), "admin request refused: not this listener's host");
        let message = format!(
            "Host {host:?} is not this admin listener; \
             to reach it by that name, add it to [admin] allowed_hosts\n"
        );
        return (StatusCode::FORBIDDEN, message).into_response();
    }
    next.run(req).await
}

/// The admin router.
pub(crate) fn router(state: AdminState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/admin/connectors", get(connectors))
        .route("/metrics", get(metrics))
        .fallback(not_found)
        .with_state(state)
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(s): State<AdminState>) -> Response {
    if s.draining.load(Ordering::Relaxed) {
        (StatusCode::SERVICE_UNAVAILABLE, "draining\n").into_response()
    } else {
        (StatusCode::OK, "ready\n").into_response()
    }
}

async fn connectors(State(s): State<AdminState>) -> Response {
    Json(serde_json::json!({ "connectors": s.registry.snapshot() })).into_response()
}

async fn metrics(State(s): State<AdminState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        s.metrics.encode(),
    )
        .into_response()
}

async fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "not found\n").into_response()
}
