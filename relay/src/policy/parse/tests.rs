//! Every way a policy text is refused, with the exact message.

use crate::policy::{Entry, EntryKind, PatternError, Policy, PolicyError, Problem, RateError};

/// Two valid roles and a binding; each case below breaks one thing.
const BASE: &str = r#"[[role]]
name = "a"
allow = ["contracts/search_*"]
rate = "60/min"

[[role]]
name = "b"
allow = ["wiki/*"]

[[binding]]
role = "a"
groups = ["legal"]
"#;

fn err(text: &str) -> PolicyError {
    match Policy::from_toml_str(text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e,
    }
}

#[test]
fn base_policy_is_valid() {
    Policy::from_toml_str(BASE).expect("valid");
    Policy::from_standalone_toml_str(BASE).expect("valid");
}

#[test]
fn invalid_content_messages() {
    let bind = |body: &str| format!("{BASE}\n[[binding]]\n{body}\n");
    // Lines: BASE is 12 lines, then a blank line, so an appended
    // [[binding]] header is line 14 and its first key line 15.
    let cases: Vec<(String, &str)> = vec![
        (
            BASE.replace("name = \"b\"", "name = \"a\""),
            r#"line 7: [[role]] #2 "a": role "a" is already defined at line 2"#,
        ),
        (
            BASE.replace("name = \"b\"", "name = \"\""),
            r#"line 7: [[role]] #2 "": role name "" is empty"#,
        ),
        (
            BASE.replace("name = \"b\"", "name = \" b\""),
            r#"line 7: [[role]] #2 " b": role name " b" has leading or trailing whitespace"#,
        ),
        (
            BASE.replace("\"wiki/*\"", "\"wiki\""),
            r#"line 8: [[role]] #2 "b": allow pattern "wiki" has no '/': write <server>/<tool|resource|prompt>, e.g. "contracts/*""#,
        ),
        (
            BASE.replace("allow = [\"wiki/*\"]", "deny = [\"/wiki\"]"),
            r#"line 8: [[role]] #2 "b": deny pattern "/wiki" has an empty server part (use "*" for every server)"#,
        ),
        (
            BASE.replace("\"wiki/*\"", "\"wiki/\""),
            r#"line 8: [[role]] #2 "b": allow pattern "wiki/" has an empty name part (use "*" for every tool, resource and prompt)"#,
        ),
        (
            BASE.replace("\"wiki/*\"", "\"Wiki/*\""),
            r#"line 8: [[role]] #2 "b": allow pattern "Wiki/*" server part "Wiki" can never match: server names hold only a-z, 0-9, '-' and '_' (plus the wildcards '*' and '?')"#,
        ),
        (
            BASE.replace("60/min", "60/fortnight"),
            r#"line 4: [[role]] #1 "a": rate "60/fortnight": unknown unit "fortnight" (expected sec, min or hour)"#,
        ),
        (
            BASE.replace("60/min", "0/min"),
            r#"line 4: [[role]] #1 "a": rate "0/min": count "0" must be a whole number from 1 to 4294967295"#,
        ),
        (
            BASE.replace("60/min", "60"),
            r#"line 4: [[role]] #1 "a": rate "60": expected N/sec, N/min or N/hour"#,
        ),
        (
            bind("role = \"ghost\"\nusers = [\"x\"]"),
            r#"line 15: [[binding]] #2 (role "ghost"): role "ghost" is not defined by any [[role]]"#,
        ),
        (
            bind("role = \"b\""),
            r#"line 14: [[binding]] #2 (role "b"): binding lists no users, groups or agents and is not anonymous = true, so it matches nobody"#,
        ),
        (
            bind("role = \"b\"\nanonymous = false\nusers = []"),
            r#"line 14: [[binding]] #2 (role "b"): binding lists no users, groups or agents and is not anonymous = true, so it matches nobody"#,
        ),
        (
            bind("role = \"b\"\nanonymous = true\nusers = [\"alice\"]"),
            r#"line 17: [[binding]] #2 (role "b"): anonymous = true cannot be combined with users: an unauthenticated caller has no verified users; write a separate binding"#,
        ),
        (
            bind("role = \"b\"\nanonymous = true\ngroups = [\"legal\"]"),
            r#"line 17: [[binding]] #2 (role "b"): anonymous = true cannot be combined with groups: an unauthenticated caller has no verified groups; write a separate binding"#,
        ),
        (
            bind("role = \"b\"\nanonymous = true\nagents = [\"claude\"]"),
            r#"line 17: [[binding]] #2 (role "b"): anonymous = true cannot be combined with agents: an unauthenticated caller has no verified agents; write a separate binding"#,
        ),
        (
            bind("role = \"b\"\ngroups = [\"legal\"]\nagents = []"),
            r#"line 17: [[binding]] #2 (role "b"): agents = [] matches no agent; remove the key to allow any agent"#,
        ),
        (
            bind("role = \"b\"\nusers = [\"alice\", \"\"]"),
            r#"line 16: [[binding]] #2 (role "b"): users holds an empty string"#,
        ),
    ];
    for (text, want) in &cases {
        assert_eq!(err(text).to_string(), *want, "\n{text}");
    }
}

#[test]
fn invalid_content_is_typed() {
    let e = err(&BASE.replace("60/min", "60/fortnight"));
    assert_eq!(
        e,
        PolicyError::Invalid {
            line: 4,
            entry: Entry {
                kind: EntryKind::Role,
                number: 1,
                name: Some("a".into()),
            },
            problem: Problem::BadRate {
                rate: "60/fortnight".into(),
                error: RateError::Unit {
                    unit: "fortnight".into()
                },
            },
        }
    );
    let e = err(&BASE.replace("\"wiki/*\"", "\"wiki\""));
    assert!(matches!(
        e,
        PolicyError::Invalid {
            problem: Problem::BadPattern {
                key: "allow",
                error: PatternError::NoSlash,
                ..
            },
            ..
        }
    ));
}

#[test]
fn syntax_messages_name_entry_and_line() {
    let cases: Vec<(String, &str)> = vec![
        // unknown key in the second role
        (
            BASE.replace("allow = [\"wiki/*\"]", "alow = [\"wiki/*\"]"),
            r#"line 8, column 1: [[role]] #2 "b": unknown field `alow`, expected one of `name`, `allow`, `deny`, `rate`"#,
        ),
        // unknown key in a binding
        (
            BASE.replace("groups = [\"legal\"]", "group = [\"legal\"]"),
            r#"line 12, column 1: [[binding]] #1 (role "a"): unknown field `group`, expected one of `role`, `users`, `groups`, `agents`, `anonymous`"#,
        ),
        // wrong type
        (
            BASE.replace("rate = \"60/min\"", "rate = 60"),
            r#"line 4, column 8: [[role]] #1 "a": invalid type: integer `60`, expected a string"#,
        ),
        // inline-table form is attributed too
        (
            "role = [{ name = \"a\" }, { name = \"b\", allow = [\"x/y\"], colour = 1 }]".to_owned(),
            r#"line 1, column 56: [[role]] #2 "b": unknown field `colour`, expected one of `name`, `allow`, `deny`, `rate`"#,
        ),
        // not TOML at all
        (
            format!("{BASE}\nthis is not toml\n"),
            "line 14, column 6: key with no value, expected `=`",
        ),
    ];
    for (text, want) in &cases {
        assert_eq!(err(text).to_string(), *want, "\n{text}");
    }
}

#[test]
fn missing_name_is_a_syntax_error_in_that_role() {
    let e = err(&BASE.replace("name = \"b\"\n", ""));
    let PolicyError::Syntax { entry, message, .. } = &e else {
        panic!("{e:?}");
    };
    assert!(message.contains("missing field `name`"), "{e}");
    assert_eq!(
        entry.as_ref().map(|e| (e.kind, e.number)),
        Some((EntryKind::Role, 2)),
        "{e}"
    );
}

#[test]
fn other_keys_ignored_unless_standalone() {
    let relay_toml = format!("[quic]\nlisten = \"x\"\n\n{BASE}");
    Policy::from_toml_str(&relay_toml).expect("other tables ignored");
    // A misspelt array would silently grant nothing; a policy file says so.
    let typo = format!("{BASE}\n[[bindings]]\nrole = \"a\"\n");
    Policy::from_toml_str(&typo).expect("ignored in relay.toml");
    let e = Policy::from_standalone_toml_str(&typo).expect_err("standalone refuses");
    assert_eq!(
        e.to_string(),
        "line 14, column 3: unknown field `bindings`, expected `role` or `binding`"
    );
    let e = Policy::from_standalone_toml_str(&relay_toml).expect_err("standalone refuses");
    assert!(e.to_string().contains("unknown field `quic`"), "{e}");
}
