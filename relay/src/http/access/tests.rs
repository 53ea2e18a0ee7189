//! The request's decisions, taken from one bound caller and tested with
//! literal policies.

use axum::http::StatusCode;

use super::*;
use crate::auth::{AuthMethod, Principal};
use crate::policy::Policy;

const POLICY: &str = r#"
    [[role]]
    name = "reader"
    allow = ["docs/search_*", "docs/file:///public/*"]
    deny = ["docs/search_secret"]
    rate = "1/hour"

    [[binding]]
    role = "reader"
    users = ["alice"]
"#;

fn gate(user: &str) -> Bound {
    let policy = Arc::new(Policy::from_toml_str(POLICY).expect("policy"));
    let principal = Principal {
        subject: user.into(),
        groups: Vec::new(),
        agent: None,
        method: AuthMethod::ApiKey,
    };
    Bound::new(policy, &principal)
}

fn docs() -> ServerName {
    ServerName::new("docs").expect("name")
}

fn call(tool: &str) -> String {
    format!(
        r#"{{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{{"name":"{tool}","arguments":{{}}}}}}"#
    )
}

fn decide(gate: &Bound, limiter: &RateLimiter, body: &str) -> Access {
    let env = sallyport_mcp::envelope::parse(body.as_bytes()).expect("envelope");
    check_message(gate, limiter, &docs(), &env)
}

async fn body_of(response: Response) -> serde_json::Value {
    let bytes = axum::body::to_bytes(response.into_body(), 4096)
        .await
        .expect("body");
    serde_json::from_slice(&bytes).expect("json")
}

#[test]
fn an_allowed_call_carries_its_target_rule_and_quota() {
    let limiter = RateLimiter::new(100);
    let Access::Forward(permit) = decide(&gate("alice"), &limiter, &call("search_docs")) else {
        panic!("forwarded");
    };
    assert_eq!(permit.target.as_deref(), Some("search_docs"));
    let rule = permit.rule.expect("rule");
    assert!(
        rule.starts_with("ALLOW docs/search_docs by role reader"),
        "{rule}"
    );
    assert_eq!(permit.quota.as_ref().map(RoleName::as_str), Some("reader"));
    assert_eq!(permit.list, None);
}

#[test]
fn a_list_request_names_its_list_and_no_target() {
    let limiter = RateLimiter::new(100);
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;
    let Access::Forward(permit) = decide(&gate("alice"), &limiter, body) else {
        panic!("forwarded");
    };
    assert_eq!(permit.list, Some(ListKind::Tools));
    assert_eq!(
        (permit.target, permit.rule, permit.quota),
        (None, None, None)
    );
}

#[tokio::test]
async fn a_denied_tool_looks_unknown() {
    let limiter = RateLimiter::new(100);
    let Access::Deny {
        response,
        target,
        rule,
    } = decide(&gate("alice"), &limiter, &call("search_secret"))
    else {
        panic!("denied");
    };
    assert_eq!(target.as_deref(), Some("search_secret"));
    assert!(rule.starts_with("DENY"), "{rule}");
    assert_eq!(response.status(), StatusCode::OK);
    let body = body_of(response).await;
    assert_eq!(body["id"], 7);
    assert_eq!(body["error"]["code"], wire::INVALID_PARAMS);
    assert_eq!(body["error"]["message"], "Unknown tool: search_secret");
}

#[test]
fn what_cannot_be_decided_is_refused() {
    let limiter = RateLimiter::new(100);
    // A tools/call without a name cannot be decided: never forwarded.
    let body = r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{}}"#;
    let Access::Refuse { error, .. } = decide(&gate("alice"), &limiter, body) else {
        panic!("refused");
    };
    assert!(
        matches!(error.kind(), ErrorKind::Undecidable(_)),
        "{error:?}"
    );
    assert_eq!(error.status(), StatusCode::BAD_REQUEST);
    assert!(error.rule().is_some_and(|r| r.starts_with("undecidable")));
}

#[test]
fn a_spent_quota_is_rate_limited() {
    let limiter = RateLimiter::new(100);
    let gate = gate("alice");
    assert!(matches!(
        decide(&gate, &limiter, &call("search_docs")),
        Access::Forward(_)
    ));
    let Access::Refuse { error, target } = decide(&gate, &limiter, &call("search_docs")) else {
        panic!("refused");
    };
    assert_eq!(target.as_deref(), Some("search_docs"));
    assert_eq!(error.kind(), ErrorKind::QuotaExceeded);
    assert_eq!(error.code(), crate::limits::RATE_LIMITED);
    assert!(error.retry_after.is_some_and(|s| s > 0));
}

#[test]
fn the_server_decision_refuses_a_caller_without_roles() {
    let url = PublicUrl::parse("https://relay.example").expect("url");
    assert!(check_server(&gate("alice"), &docs(), &url).is_ok());
    let err = check_server(&gate("mallory"), &docs(), &url).expect_err("no role");
    assert_eq!(err.kind(), ErrorKind::Forbidden);
    assert!(
        err.rule().is_some_and(|r| r.starts_with("DENY")),
        "{:?}",
        err.rule()
    );
    let challenge = err.challenge.expect("challenge");
    assert!(
        challenge.contains("https://relay.example/.well-known/oauth-protected-resource/mcp/docs"),
        "{challenge}"
    );
}

#[test]
fn the_list_filter_asks_the_same_bound_caller() {
    let filter = list_filter(&gate("alice"), &docs(), Some(ListKind::Tools));
    assert!(filter.hold_pieces);
    assert!((filter.keep)(ListKind::Tools, "search_docs"));
    assert!(!(filter.keep)(ListKind::Tools, "search_secret"));
    assert!(!(filter.keep)(ListKind::Tools, "delete"));
    let none = list_filter(&gate("mallory"), &docs(), None);
    assert!(!none.hold_pieces);
    assert!(!(none.keep)(ListKind::Tools, "search_docs"));
}
