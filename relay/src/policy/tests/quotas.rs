//! The quotas of the roles that allow a call.

use super::*;

#[test]
fn quotas_of_allowing_roles() {
    let p = policy();
    let contracts = server("contracts");
    let quotas = |w: &Who, t: Target<'_>| -> Vec<String> {
        p.quotas(&w.subject(), &contracts, t)
            .iter()
            .map(|(role, rate)| format!("{role} {rate}"))
            .collect()
    };
    let carol = who("carol", &["legal"], "");
    let alice = who("alice", &["legal"], "");
    let dave = who("dave", &["sre"], "");
    // only the roles whose allow matches, each with its own rate
    assert_eq!(
        quotas(&carol, Target::Tool("update_x")),
        ["legal-writer 10/sec"]
    );
    assert_eq!(
        quotas(&carol, Target::Tool("search_x")),
        ["legal-writer 10/sec", "legal-reader 60/min"]
    );
    assert_eq!(
        quotas(&alice, Target::Tool("search_x")),
        ["legal-reader 60/min"]
    );
    // denied: no quota
    assert!(quotas(&carol, Target::Tool("delete_x")).is_empty());
    assert!(quotas(&alice, Target::Tool("update_x")).is_empty());
    // allowed by a role without a rate
    assert!(quotas(&dave, Target::Tool("anything")).is_empty());
    let rate = p.quotas(&alice.subject(), &contracts, Target::Tool("get_x"))[0].1;
    assert_eq!(
        (rate.count.get(), rate.per),
        (60, std::time::Duration::from_secs(60))
    );
}

/// A call allowed by a role without a quota is not limited, even when
/// another allowing role has one.
#[test]
fn an_unlimited_allowing_role_lifts_the_quota() {
    let policy = Policy::from_toml_str(
        r#"
[[role]]
name = "limited"
allow = ["s/*"]
rate = "10/min"

[[role]]
name = "unlimited"
allow = ["s/echo"]

[[binding]]
role = "limited"
users = ["u"]

[[binding]]
role = "unlimited"
users = ["u"]
"#,
    )
    .expect("valid policy");
    let s = ServerName::new("s").expect("name");
    let who = Subject {
        user: Some("u"),
        groups: &[],
        agent: None,
    };
    assert!(policy.quotas(&who, &s, Target::Tool("echo")).is_empty());
    let only_limited = policy.quotas(&who, &s, Target::Tool("other"));
    assert_eq!(only_limited.len(), 1);
    assert_eq!(only_limited[0].0.as_str(), "limited");
}
