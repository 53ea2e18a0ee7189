//! Shared by the audit tests: a full record and readers of the log file.

#![allow(dead_code, reason = "each test binary uses a different part")]

use std::path::Path;
use std::time::Duration;

use sallyport_relay::audit::{AuditEvent, AuditRecord, AuthMethod, Decision};
use sallyport_relay::auth::Principal;
use serde_json::Value;

pub const FIELDS: [&str; 20] = [
    "time",
    "event",
    "relay",
    "request_id",
    "user",
    "agent",
    "groups",
    "auth",
    "session",
    "server",
    "connector",
    "method",
    "target",
    "decision",
    "rule",
    "status",
    "jsonrpc_error",
    "latency_ms",
    "bytes_in",
    "bytes_out",
];

pub fn alice() -> Principal {
    Principal {
        subject: "alice@acme.com".into(),
        groups: vec!["legal".into(), "staff".into()],
        agent: Some("claude-desktop".into()),
        method: sallyport_relay::auth::AuthMethod::ApiKey,
    }
}

pub fn full_record(request_id: u64) -> AuditRecord {
    AuditRecord::new(AuditEvent::McpRequest, "relay-1", request_id)
        .with_principal(&alice(), AuthMethod::ApiKey)
        .with_session("sealed-session-id-value")
        .with_server("contracts")
        .with_connector("spiffe://acme.internal/connector/legal-dc1")
        .with_method("tools/call", Some("search_contracts".into()))
        .with_decision(
            Decision::Allow,
            Some("legal-reader: contracts/search_*".into()),
        )
        .with_status(200, None)
        .with_latency(Duration::from_micros(12_345))
        .with_bytes(321, 4567)
}

pub fn lines(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).expect("audit file readable");
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad line {l:?}: {e}")))
        .collect()
}

pub fn ids(path: &Path) -> Vec<u64> {
    lines(path)
        .iter()
        .map(|v| v["request_id"].as_u64().expect("request_id"))
        .collect()
}
