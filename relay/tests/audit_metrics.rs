//! The request metrics: every family in the exposition, with its labels,
//! values and cardinality caps.

use std::time::{Duration, Instant};

use sallyport_relay::audit::{AuditLog, AuditOptions, AuditSink, Decision};
use sallyport_relay::metrics::{HandshakeOutcome, MAX_TOOL_SERIES, Metrics, tool_label};

/// The exposition line of `series` (name and labels), parsed as a number.
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.parse().ok())
}

#[test]
fn every_family_is_exposed_with_its_labels() {
    let m = Metrics::new();
    let ms = Duration::from_millis;
    m.request(
        "contracts",
        tool_label("tools/call", Some("search")),
        Decision::Allow,
        200,
        ms(3),
        100,
        2000,
    );
    m.request(
        "contracts",
        "search",
        Decision::Allow,
        200,
        ms(40),
        50,
        1000,
    );
    m.request(
        "contracts",
        tool_label("tools/list", None),
        Decision::Allow,
        200,
        ms(1),
        10,
        10,
    );
    m.request("contracts", "delete", Decision::Deny, 403, ms(0), 30, 60);
    m.request("docs", "GET", Decision::Error, 502, ms(2000), 0, 0);
    m.rate_limited("contracts");
    m.rate_limited("contracts");
    m.policy_reload(true);
    m.policy_reload(false);
    m.policy_reload(true);
    m.session_opened();
    m.session_opened();
    m.session_closed();
    m.audit_counters().blocked_or_dropped.inc_by(3);
    m.handshake(HandshakeOutcome::Ok);
    let text = m.encode();
    let v = |series: &str| value(&text, series).unwrap_or_else(|| panic!("{series}\n{text}"));

    assert_eq!(
        v(
            r#"sallyport_requests_total{server="contracts",tool="search",decision="allow",status="200"}"#
        ),
        2.0
    );
    assert_eq!(
        v(
            r#"sallyport_requests_total{server="contracts",tool="tools/list",decision="allow",status="200"}"#
        ),
        1.0
    );
    assert_eq!(
        v(
            r#"sallyport_requests_total{server="contracts",tool="delete",decision="deny",status="403"}"#
        ),
        1.0
    );
    assert_eq!(
        v(r#"sallyport_requests_total{server="docs",tool="GET",decision="error",status="502"}"#),
        1.0
    );
    assert_eq!(
        v(r#"sallyport_request_duration_seconds_count{server="contracts"}"#),
        4.0
    );
    assert_eq!(
        v(r#"sallyport_request_duration_seconds_bucket{le="0.0005",server="contracts"}"#),
        1.0
    );
    assert_eq!(
        v(r#"sallyport_request_duration_seconds_bucket{le="0.005",server="contracts"}"#),
        3.0
    );
    assert_eq!(
        v(r#"sallyport_request_duration_seconds_bucket{le="60.0",server="docs"}"#),
        1.0
    );
    assert!((v(r#"sallyport_request_duration_seconds_sum{server="docs"}"#) - 2.0).abs() < 1e-9);
    assert_eq!(
        v(r#"sallyport_bytes_total{direction="in",server="contracts"}"#),
        190.0
    );
    assert_eq!(
        v(r#"sallyport_bytes_total{direction="out",server="contracts"}"#),
        3070.0
    );
    assert_eq!(
        v(r#"sallyport_bytes_total{direction="out",server="docs"}"#),
        0.0
    );
    assert_eq!(
        v(r#"sallyport_rate_limited_total{server="contracts"}"#),
        2.0
    );
    assert_eq!(v(r#"sallyport_policy_reloads_total{outcome="ok"}"#), 2.0);
    assert_eq!(v(r#"sallyport_policy_reloads_total{outcome="error"}"#), 1.0);
    assert_eq!(v("sallyport_active_sessions"), 1.0);
    assert_eq!(v("sallyport_audit_dropped_or_blocked_total"), 3.0);
    assert_eq!(v("sallyport_audit_write_errors_total"), 0.0);
    assert!(text.contains("# TYPE sallyport_request_duration_seconds histogram"));
    assert!(text.contains("# UNIT sallyport_request_duration_seconds seconds"));
    // The existing families are still there.
    assert!(text.contains("sallyport_connectors_connected 0"), "{text}");
    assert_eq!(v(r#"sallyport_link_handshakes_total{outcome="ok"}"#), 1.0);
}

#[test]
fn active_sessions_never_go_negative() {
    let m = Metrics::new();
    m.session_closed();
    m.session_opened();
    assert_eq!(value(&m.encode(), "sallyport_active_sessions"), Some(1.0));
}

#[test]
fn tool_label_is_the_tool_only_for_tools_call() {
    assert_eq!(tool_label("tools/call", Some("search")), "search");
    assert_eq!(tool_label("tools/call", None), "tools/call");
    assert_eq!(
        tool_label("resources/read", Some("file:///a")),
        "resources/read"
    );
    assert_eq!(tool_label("DELETE", None), "DELETE");
}

#[test]
fn tool_cardinality_is_capped() {
    let m = Metrics::new();
    let n = MAX_TOOL_SERIES + 50;
    for i in 0..n {
        m.request(
            "s",
            &format!("tool_{i}"),
            Decision::Allow,
            200,
            Duration::ZERO,
            0,
            0,
        );
    }
    // A tool seen before the cap keeps its own series.
    m.request("s", "tool_0", Decision::Allow, 200, Duration::ZERO, 0, 0);
    // Over-long values never become labels.
    let long = "x".repeat(500);
    m.request("s", &long, Decision::Allow, 200, Duration::ZERO, 0, 0);
    let text = m.encode();
    let series = text
        .lines()
        .filter(|l| l.starts_with("sallyport_requests_total{"))
        .count();
    assert_eq!(series, MAX_TOOL_SERIES + 1, "capped, plus tool=\"other\"");
    assert_eq!(
        value(
            &text,
            r#"sallyport_requests_total{server="s",tool="other",decision="allow",status="200"}"#
        ),
        Some(51.0)
    );
    assert_eq!(
        value(
            &text,
            r#"sallyport_requests_total{server="s",tool="tool_0",decision="allow",status="200"}"#
        ),
        Some(2.0)
    );
    assert!(!text.contains(&long));
}

#[test]
fn server_labels_are_capped_too() {
    let m = Metrics::new();
    let long = "s".repeat(200);
    m.rate_limited(&long);
    m.request(&long, "GET", Decision::Deny, 404, Duration::ZERO, 0, 0);
    let text = m.encode();
    assert!(!text.contains(&long));
    assert_eq!(
        value(&text, r#"sallyport_rate_limited_total{server="other"}"#),
        Some(1.0)
    );
}

#[tokio::test]
async fn audit_waits_are_exported() {
    let m = Metrics::new();
    let options = AuditOptions {
        capacity: 1,
        counters: m.audit_counters(),
    };
    let log = AuditLog::open(AuditSink::Writer(Box::new(std::io::sink())), options).expect("open");
    log.counters().blocked_or_dropped.inc();
    log.close().await;
    assert_eq!(
        value(&m.encode(), "sallyport_audit_dropped_or_blocked_total"),
        Some(1.0)
    );
}

/// `cargo test -p sallyport-relay --release --test audit_metrics -- --ignored --nocapture`
#[test]
#[ignore = "hot-path cost measurement"]
fn bench_request_cost() {
    let m = Metrics::new();
    let tools: Vec<String> = (0..20).map(|i| format!("tool_{i}")).collect();
    for t in &tools {
        m.request("contracts", t, Decision::Allow, 200, Duration::ZERO, 0, 0);
    }
    const N: usize = 2_000_000;
    let start = Instant::now();
    for i in 0..N {
        m.request(
            "contracts",
            &tools[i % tools.len()],
            Decision::Allow,
            200,
            Duration::from_micros(1500),
            100,
            1000,
        );
    }
    let ns = start.elapsed().as_nanos() as f64 / N as f64;
    println!("metrics.request: {ns:.0} ns/call (existing label set, one thread)");
}
