//! The admin listener: health, readiness, the live connector list and
//! Prometheus metrics. Plain HTTP; bind it to loopback or a private network.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;

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
