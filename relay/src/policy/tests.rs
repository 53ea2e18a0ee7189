//! Decisions against literal policies, one table row per rule.

use super::*;

/// A whole relay.toml: the policy parser must skip the other keys.
const POLICY: &str = r#"
[quic]
listen = "0.0.0.0:4433"

[[connector]]
id = "spiffe://acme.internal/connector/legal-dc1"
servers = ["contracts"]

[[role]]
name = "legal-reader"
allow = ["contracts/search_*", "contracts/get_*"]
deny = ["contracts/get_secret*"]
rate = "60/min"

[[role]]
name = "legal-writer"
allow = ["contracts/*"]
deny = ["contracts/delete_*", "*/drop_*"]
rate = "10/sec"

[[role]]
name = "sre-all"
allow = ["*/*"]

[[role]]
name = "public-docs"
allow = ["docs/file:///public/*", "docs/prompt_?", "docs-?/readme"]

[[role]]
name = "claude-only"
allow = ["wiki/*"]

[[role]]
name = "no-wiki-edits"
deny = ["wiki/edit_*"]

[[role]]
name = "blocked"
allow = ["hr/*"]
deny = ["hr/*"]

[[binding]]
role = "legal-reader"
groups = ["legal"]

[[binding]]
role = "legal-writer"
users = ["carol"]

[[binding]]
role = "sre-all"
groups = ["sre"]

[[binding]]
role = "public-docs"
anonymous = true

[[binding]]
role = "claude-only"
users = ["alice"]
groups = ["eng"]
agents = ["claude"]

[[binding]]
role = "no-wiki-edits"
agents = ["rogue-bot"]

[[binding]]
role = "blocked"
groups = ["hr-blocked"]
"#;

fn policy() -> Policy {
    Policy::from_toml_str(POLICY).expect("test policy is valid")
}

fn server(s: &str) -> ServerName {
    ServerName::new(s).expect("valid server name")
}

/// A caller: user ("" = anonymous), groups, agent ("" = none).
struct Who(&'static str, Vec<String>, &'static str);

fn who(user: &'static str, groups: &[&str], agent: &'static str) -> Who {
    Who(user, groups.iter().map(|g| g.to_string()).collect(), agent)
}

impl Who {
    fn subject(&self) -> Subject<'_> {
        Subject {
            user: Some(self.0).filter(|u| !u.is_empty()),
            groups: &self.1,
            agent: Some(self.2).filter(|a| !a.is_empty()),
        }
    }
}

/// The rule, compactly: `allow <role> <pattern>`, `deny <role> <pattern>`,
/// `none`, or `noallow <role>,<role>`.
fn summary(rule: &Rule) -> String {
    match rule {
        Rule::Allow { role, pattern } => format!("allow {role} {pattern}"),
        Rule::Deny { role, pattern } => format!("deny {role} {pattern}"),
        Rule::NoMatchingRole => "none".into(),
        Rule::NoAllowMatch { roles } => {
            let names: Vec<&str> = roles.iter().map(RoleName::as_str).collect();
            format!("noallow {}", names.join(","))
        }
    }
}

fn check(policy: &Policy, cases: &[(&Who, &str, Target<'_>, &str)]) {
    for (w, srv, target, want) in cases {
        let s = server(srv);
        let subject = w.subject();
        let d = policy.decide(&subject, &s, *target);
        let ctx = format!("{subject:?} {srv} {target:?}");
        assert_eq!(summary(&d.rule), *want, "{ctx}");
        assert_eq!(d.allowed, want.starts_with("allow "), "{ctx}");
        assert_eq!(policy.allows(&subject, &s, *target), d.allowed, "{ctx}");
        // Looking the roles up once gives the same decision.
        let caller = policy.caller(&subject);
        assert_eq!(caller.decide(&s, *target), d, "{ctx}");
        assert_eq!(caller.allows(&s, *target), d.allowed, "{ctx}");
    }
}

#[test]
#[rustfmt::skip]
fn decision_table() {
    use Target::{Prompt, Resource, Server, Tool};
    let alice_legal = who("alice", &["legal"], "");
    let carol = who("carol", &["legal"], "");
    let dave_sre = who("dave", &["sre"], "");
    let eve = who("eve", &[], "");
    let anon = who("", &[], "");
    let anon_claims_sre = who("", &["sre"], "claude");
    let anon_rogue = who("", &[], "rogue-bot");
    let alice_claude = who("alice", &[], "claude");
    let alice_gpt = who("alice", &[], "gpt");
    let alice_no_agent = who("alice", &[], "");
    let bob_eng_claude = who("bob", &["eng"], "claude");
    let bob_eng_other = who("bob", &["eng"], "other");
    let mallory = who("mallory", &["legal", "eng"], "claude");
    let frank_rogue = who("frank", &["sre"], "rogue-bot");
    let grace_rogue = who("grace", &[], "rogue-bot");
    let hr = who("henry", &["hr-blocked"], "");
    check(
        &policy(),
        &[
            // allow, and the pattern that allowed
            (&alice_legal, "contracts", Tool("search_docs"), "allow legal-reader contracts/search_*"),
            (&alice_legal, "contracts", Tool("get_contract"), "allow legal-reader contracts/get_*"),
            // deny inside the same role
            (&alice_legal, "contracts", Tool("get_secret_key"), "deny legal-reader contracts/get_secret*"),
            // bound, but nothing allows it (name, then server mismatch)
            (&alice_legal, "contracts", Tool("delete_contract"), "noallow legal-reader"),
            (&alice_legal, "wiki", Tool("search_docs"), "noallow legal-reader"),
            // user binding; deny wins over the same role's allow
            (&carol, "contracts", Tool("update_clause"), "allow legal-writer contracts/*"),
            (&carol, "contracts", Tool("delete_contract"), "deny legal-writer contracts/delete_*"),
            // deny wins across roles: legal-writer allows, legal-reader denies
            (&carol, "contracts", Tool("get_secret_x"), "deny legal-reader contracts/get_secret*"),
            // a wildcard-server deny applies on a server other patterns name
            (&carol, "contracts", Tool("drop_table"), "deny legal-writer */drop_*"),
            // */* covers every server and every kind
            (&dave_sre, "hr", Tool("fire_everyone"), "allow sre-all */*"),
            (&dave_sre, "docs", Resource("file:///etc/passwd"), "allow sre-all */*"),
            (&dave_sre, "docs", Prompt("anything"), "allow sre-all */*"),
            (&dave_sre, "elsewhere", Tool("x"), "allow sre-all */*"),
            // default deny
            (&eve, "contracts", Tool("search_docs"), "none"),
            (&eve, "docs", Resource("file:///public/a"), "none"),
            // anonymous binding; resource URIs hold '/'
            (&anon, "docs", Resource("file:///public/a/b.txt"), "allow public-docs docs/file:///public/*"),
            (&anon, "docs", Resource("file:///private/x"), "noallow public-docs"),
            (&anon, "docs", Tool("file:///public"), "noallow public-docs"),
            // `?` is exactly one character, in names and in servers
            (&anon, "docs", Prompt("prompt_a"), "allow public-docs docs/prompt_?"),
            (&anon, "docs", Prompt("prompt_ab"), "noallow public-docs"),
            (&anon, "docs", Prompt("prompt_"), "noallow public-docs"),
            (&anon, "docs-1", Tool("readme"), "allow public-docs docs-?/readme"),
            (&anon, "docs-12", Tool("readme"), "noallow public-docs"),
            // anonymous callers' claimed groups and agent are not trusted
            (&anon_claims_sre, "contracts", Tool("x"), "noallow public-docs"),
            (&anon_rogue, "wiki", Tool("edit_page"), "noallow public-docs"),
            // agent restriction: user or group matches AND agent listed
            (&alice_claude, "wiki", Tool("page"), "allow claude-only wiki/*"),
            (&alice_gpt, "wiki", Tool("page"), "none"),
            (&alice_no_agent, "wiki", Tool("page"), "none"),
            (&bob_eng_claude, "wiki", Tool("page"), "allow claude-only wiki/*"),
            (&bob_eng_other, "wiki", Tool("page"), "none"),
            // roles merged: the second role allows, all roles listed
            (&mallory, "contracts", Tool("search_x"), "allow legal-reader contracts/search_*"),
            (&mallory, "wiki", Tool("page"), "allow claude-only wiki/*"),
            (&mallory, "hr", Tool("x"), "noallow legal-reader,claude-only"),
            // agent-only binding applies to any user with that agent, and a
            // deny-only role subtracts from another role's allow
            (&frank_rogue, "wiki", Tool("read"), "allow sre-all */*"),
            (&frank_rogue, "wiki", Tool("edit_page"), "deny no-wiki-edits wiki/edit_*"),
            (&grace_rogue, "wiki", Tool("read"), "noallow no-wiki-edits"),
            // Server target: some allow on the server, no deny of all of it
            (&alice_legal, "contracts", Server, "allow legal-reader contracts/search_*"),
            (&alice_legal, "wiki", Server, "noallow legal-reader"),
            (&carol, "contracts", Server, "allow legal-writer contracts/*"),
            (&eve, "contracts", Server, "none"),
            (&anon, "docs", Server, "allow public-docs docs/file:///public/*"),
            (&anon, "contracts", Server, "noallow public-docs"),
            (&hr, "hr", Server, "deny blocked hr/*"),
            (&hr, "hr", Tool("x"), "deny blocked hr/*"),
            (&frank_rogue, "wiki", Server, "allow sre-all */*"),
        ],
    );
}

#[test]
fn anonymous_binding_is_opt_in() {
    let without = POLICY.replace("anonymous = true", "groups = [\"docs-readers\"]");
    let policy = Policy::from_toml_str(&without).expect("valid");
    let anon = who("", &[], "");
    let reader = who("rita", &["docs-readers"], "");
    check(
        &policy,
        &[
            (&anon, "docs", Target::Resource("file:///public/a"), "none"),
            (&anon, "docs", Target::Server, "none"),
            (
                &reader,
                "docs",
                Target::Resource("file:///public/a"),
                "allow public-docs docs/file:///public/*",
            ),
        ],
    );
}

#[test]
fn anonymous_binding_does_not_apply_to_authenticated_callers() {
    let eve = who("eve", &[], "");
    check(
        &policy(),
        &[(&eve, "docs", Target::Resource("file:///public/a"), "none")],
    );
}

#[test]
fn empty_policy_denies_everything() {
    let sre = who("dave", &["sre"], "claude");
    for policy in [Policy::default(), Policy::from_toml_str("").expect("empty")] {
        check(
            &policy,
            &[
                (&sre, "contracts", Target::Tool("x"), "none"),
                (&sre, "contracts", Target::Server, "none"),
            ],
        );
    }
}

#[test]
fn display_lines() {
    let p = policy();
    let contracts = server("contracts");
    let line = |w: &Who, s: &ServerName, t: Target<'_>| p.decide(&w.subject(), s, t).to_string();
    let alice = who("alice", &["legal"], "claude");
    let zed = who("zed", &["legal", "ops"], "claude");
    let nobody = who("nobody", &[], "");
    assert_eq!(
        line(&alice, &contracts, Target::Tool("search_docs")),
        r#"ALLOW contracts/search_docs by role legal-reader (allow "contracts/search_*")"#
    );
    assert_eq!(
        line(
            &who("carol", &[], ""),
            &contracts,
            Target::Tool("delete_contract")
        ),
        r#"DENY contracts/delete_contract by role legal-writer (deny "contracts/delete_*")"#
    );
    assert_eq!(
        line(
            &who("amy", &["finance"], "claude"),
            &contracts,
            Target::Tool("delete_contract")
        ),
        "DENY contracts/delete_contract: no role is bound to user amy (groups: finance; agent: claude)"
    );
    assert_eq!(
        line(&nobody, &contracts, Target::Server),
        "DENY server contracts: no role is bound to user nobody (groups: none; agent: none)"
    );
    assert_eq!(
        line(&zed, &contracts, Target::Tool("delete_contract")),
        "DENY contracts/delete_contract: no allow pattern matches in role legal-reader of user zed (groups: legal, ops; agent: claude)"
    );
    assert_eq!(
        line(
            &who("", &[], ""),
            &server("docs"),
            Target::Resource("file:///public/x")
        ),
        r#"ALLOW resource docs/file:///public/x by role public-docs (allow "docs/file:///public/*")"#
    );
    assert_eq!(
        line(&who("", &[], ""), &server("docs"), Target::Prompt("secret")),
        "DENY prompt docs/secret: no allow pattern matches in role public-docs of anonymous callers"
    );
    let mallory = who("mallory", &["legal", "eng"], "claude");
    assert!(
        line(&mallory, &server("hr"), Target::Tool("x"))
            .contains("in roles legal-reader, claude-only of user mallory")
    );
}

#[test]
fn display_escapes_caller_chosen_names() {
    let p = policy();
    let docs = server("docs");
    let forger = who("eve\nALLOW", &["g\u{202e}x"], "a\tb");
    let d = p.decide(&forger.subject(), &docs, Target::Tool("x\nALLOW docs/y"));
    assert_eq!(
        d.to_string(),
        r"DENY docs/x\nALLOW docs/y: no role is bound to user eve\nALLOW (groups: g\u{202e}x; agent: a\tb)"
    );
}

#[test]
fn repeated_bindings_list_a_role_once() {
    let text = r#"
        [[role]]
        name = "r"
        allow = ["a/x"]
        [[binding]]
        role = "r"
        users = ["u", "u"]
        groups = ["g1", "g2"]
        [[binding]]
        role = "r"
        groups = ["g1"]
    "#;
    let p = Policy::from_toml_str(text).expect("valid");
    let u = who("u", &["g1", "g2"], "");
    check(&p, &[(&u, "a", Target::Tool("y"), "noallow r")]);
}

mod bench;
mod quotas;
