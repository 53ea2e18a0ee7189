//! `relay::filter` on realistic MCP list results: exact output bytes for a
//! table of payloads and (ignored) a timing of a 500-tool list; the
//! generated-input check is in `filter_generated.rs`.
//!
//! Timing: `cargo test --release -p sallyport-relay --test filter_lists --
//! --ignored --nocapture`.

use std::time::Instant;

use sallyport_protocol::ServerName;
use sallyport_relay::filter::{FilterError, Filtered, ListKind, filter_response};
use sallyport_relay::policy::{Policy, Subject};
use serde_json::Value;

/// The server-everything style `tools/list` page 1 of 2.
const TOOLS: &str = r#"{"jsonrpc":"2.0","id":2,"result":{"tools":[{"name":"echo","title":"Echo","description":"Echoes back the input","inputSchema":{"type":"object","properties":{"message":{"type":"string","description":"Message to echo"}},"required":["message"],"additionalProperties":false,"$schema":"http://json-schema.org/draft-07/schema#"},"annotations":{"readOnlyHint":true}},{"name":"delete_file","description":"Deletes a file \u2014 irreversibly","inputSchema":{"type":"object","properties":{"path":{"type":"string"}}},"annotations":{"destructiveHint":true,"readOnlyHint":false},"_meta":{"io.example/owner":"ops"}},{"name":"résumé_lookup","description":"Looks up a CV 📄","inputSchema":{"type":"object"},"outputSchema":{"type":"object","properties":{"found":{"type":"boolean"}}},"x-vendor":[1,2.5e3,null,{"deep":[[["\"q\""]]]}]}],"nextCursor":"eyJwYWdlIjoyfQ=="}}"#;

/// Page 2: the cursor is gone, `_meta` on the result, an unknown field.
const TOOLS_PAGE_2: &str = r#"{"result":{"_meta":{"progressToken":null},"tools":[{"inputSchema":{"type":"object"},"name":"delete_all"},{"name":"get_status","inputSchema":{"type":"object","properties":{}}}],"futureField":{"a":[]}},"jsonrpc":"2.0","id":"page-2"}"#;

const RESOURCES: &str = r#"{"jsonrpc":"2.0","id":7,"result":{"resources":[{"uri":"file:///contracts/acme.pdf","name":"acme.pdf","mimeType":"application/pdf","size":48213,"annotations":{"audience":["user"],"priority":0.8}},{"uri":"file:///hr/salaries.csv","name":"salaries.csv","mimeType":"text/csv"},{"uri":"file:///contracts/caf%C3%A9.txt","name":"café.txt","title":"Caf\u00e9"}]}}"#;

const TEMPLATES: &str = r#"{"jsonrpc":"2.0","id":8,"result":{"resourceTemplates":[{"uriTemplate":"db://customers/{id}","name":"customer","description":"A customer record"},{"uriTemplate":"file:///hr/{name}","name":"hr-file"}],"nextCursor":"t2"}}"#;

const PROMPTS: &str = r#"{"jsonrpc":"2.0","id":9,"result":{"prompts":[{"name":"summarize","description":"Summarize a contract","arguments":[{"name":"contract","required":true}]},{"name":"draft_termination","arguments":[{"name":"party","description":"Who"}],"icons":[{"src":"https://x.invalid/i.png","mimeType":"image/png"}]}]}}"#;

struct Case {
    what: &'static str,
    kind: ListKind,
    body: &'static str,
    deny: &'static [&'static str],
    want: Option<&'static str>,
    removed: usize,
}

#[test]
fn table() {
    let cases = [
        Case {
            what: "tools: one denied, cursor kept",
            kind: ListKind::Tools,
            body: TOOLS,
            deny: &["delete_file"],
            want: Some(
                r#"{"jsonrpc":"2.0","id":2,"result":{"tools":[{"name":"echo","title":"Echo","description":"Echoes back the input","inputSchema":{"type":"object","properties":{"message":{"type":"string","description":"Message to echo"}},"required":["message"],"additionalProperties":false,"$schema":"http://json-schema.org/draft-07/schema#"},"annotations":{"readOnlyHint":true}},{"name":"résumé_lookup","description":"Looks up a CV 📄","inputSchema":{"type":"object"},"outputSchema":{"type":"object","properties":{"found":{"type":"boolean"}}},"x-vendor":[1,2.5e3,null,{"deep":[[["\"q\""]]]}]}],"nextCursor":"eyJwYWdlIjoyfQ=="}}"#,
            ),
            removed: 1,
        },
        Case {
            what: "tools: unicode name denied",
            kind: ListKind::Tools,
            body: TOOLS,
            deny: &["résumé_lookup", "echo"],
            want: Some(
                r#"{"jsonrpc":"2.0","id":2,"result":{"tools":[{"name":"delete_file","description":"Deletes a file \u2014 irreversibly","inputSchema":{"type":"object","properties":{"path":{"type":"string"}}},"annotations":{"destructiveHint":true,"readOnlyHint":false},"_meta":{"io.example/owner":"ops"}}],"nextCursor":"eyJwYWdlIjoyfQ=="}}"#,
            ),
            removed: 2,
        },
        Case {
            what: "tools: nothing denied",
            kind: ListKind::Tools,
            body: TOOLS,
            deny: &["not_there"],
            want: None,
            removed: 0,
        },
        Case {
            what: "tools page 2: key order and unknown fields kept",
            kind: ListKind::Tools,
            body: TOOLS_PAGE_2,
            deny: &["delete_all"],
            want: Some(
                r#"{"result":{"_meta":{"progressToken":null},"tools":[{"name":"get_status","inputSchema":{"type":"object","properties":{}}}],"futureField":{"a":[]}},"jsonrpc":"2.0","id":"page-2"}"#,
            ),
            removed: 1,
        },
        Case {
            what: "tools page 2: everything denied",
            kind: ListKind::Tools,
            body: TOOLS_PAGE_2,
            deny: &["delete_all", "get_status"],
            want: Some(
                r#"{"result":{"_meta":{"progressToken":null},"tools":[],"futureField":{"a":[]}},"jsonrpc":"2.0","id":"page-2"}"#,
            ),
            removed: 2,
        },
        Case {
            what: "resources by uri",
            kind: ListKind::Resources,
            body: RESOURCES,
            deny: &["file:///hr/salaries.csv"],
            want: Some(
                r#"{"jsonrpc":"2.0","id":7,"result":{"resources":[{"uri":"file:///contracts/acme.pdf","name":"acme.pdf","mimeType":"application/pdf","size":48213,"annotations":{"audience":["user"],"priority":0.8}},{"uri":"file:///contracts/caf%C3%A9.txt","name":"café.txt","title":"Caf\u00e9"}]}}"#,
            ),
            removed: 1,
        },
        Case {
            what: "resources: a name is not a uri",
            kind: ListKind::Resources,
            body: RESOURCES,
            deny: &["salaries.csv"],
            want: None,
            removed: 0,
        },
        Case {
            what: "resource templates by uriTemplate",
            kind: ListKind::ResourceTemplates,
            body: TEMPLATES,
            deny: &["file:///hr/{name}"],
            want: Some(
                r#"{"jsonrpc":"2.0","id":8,"result":{"resourceTemplates":[{"uriTemplate":"db://customers/{id}","name":"customer","description":"A customer record"}],"nextCursor":"t2"}}"#,
            ),
            removed: 1,
        },
        Case {
            what: "prompts: argument names are not prompt names",
            kind: ListKind::Prompts,
            body: PROMPTS,
            deny: &["draft_termination", "contract"],
            want: Some(
                r#"{"jsonrpc":"2.0","id":9,"result":{"prompts":[{"name":"summarize","description":"Summarize a contract","arguments":[{"name":"contract","required":true}]}]}}"#,
            ),
            removed: 1,
        },
        Case {
            what: "the wrong kind finds no list",
            kind: ListKind::Prompts,
            body: TOOLS,
            deny: &["echo", "delete_file"],
            want: None,
            removed: 0,
        },
        Case {
            what: "error response",
            kind: ListKind::Tools,
            body: r#"{"jsonrpc":"2.0","id":2,"error":{"code":-32603,"message":"tools unavailable","data":{"tools":[{"name":"delete_file"}]}}}"#,
            deny: &["delete_file"],
            want: None,
            removed: 0,
        },
    ];
    for case in cases {
        let out = filter_response(case.body.as_bytes(), case.kind, |n| !case.deny.contains(&n))
            .unwrap_or_else(|e| panic!("{}: {e}", case.what));
        assert_eq!(out.removed(), case.removed, "{}", case.what);
        match (out, case.want) {
            (Filtered::Unchanged, None) => {}
            (Filtered::Rewritten { body, kept, .. }, Some(want)) => {
                assert_eq!(String::from_utf8_lossy(&body), want, "{}", case.what);
                let parsed: Value = serde_json::from_slice(&body).expect("valid JSON");
                let list = &parsed["result"][case.kind.array_key()];
                assert_eq!(list.as_array().map(Vec::len), Some(kept), "{}", case.what);
            }
            (out, want) => panic!("{}: got {out:?}, want {want:?}", case.what),
        }
    }
}

#[test]
fn driven_by_the_policy() {
    let policy = Policy::from_toml_str(
        r#"
        [[role]]
        name = "reader"
        allow = ["everything/echo", "everything/résumé_*", "docs/file:///contracts/*", "docs/summarize"]
        deny = ["everything/delete_*"]

        [[binding]]
        role = "reader"
        groups = ["legal"]
        "#,
    )
    .expect("policy");
    let groups = ["legal".to_owned()];
    let who = Subject {
        user: Some("alice"),
        groups: &groups,
        agent: None,
    };
    let caller = policy.caller(&who);
    let everything = ServerName::new("everything").expect("server");
    let docs = ServerName::new("docs").expect("server");
    let filter = |body: &str, server: &ServerName, kind: ListKind| {
        filter_response(body.as_bytes(), kind, |name| {
            caller.allows(server, kind.target(name))
        })
        .expect("filters")
    };
    let kept = |f: Filtered, body: &str, kind: ListKind| -> Vec<String> {
        let body = match f {
            Filtered::Unchanged => body.as_bytes().to_vec(),
            Filtered::Rewritten { body, .. } => body.to_vec(),
        };
        let v: Value = serde_json::from_slice(&body).expect("json");
        v["result"][kind.array_key()]
            .as_array()
            .expect("array")
            .iter()
            .map(|i| i[kind.name_key()].as_str().expect("name").to_owned())
            .collect()
    };
    let f = filter(TOOLS, &everything, ListKind::Tools);
    assert_eq!(f.removed(), 1);
    assert_eq!(kept(f, TOOLS, ListKind::Tools), ["echo", "résumé_lookup"]);
    let f = filter(RESOURCES, &docs, ListKind::Resources);
    assert_eq!(
        kept(f, RESOURCES, ListKind::Resources),
        [
            "file:///contracts/acme.pdf",
            "file:///contracts/caf%C3%A9.txt"
        ]
    );
    let f = filter(PROMPTS, &docs, ListKind::Prompts);
    assert_eq!(kept(f, PROMPTS, ListKind::Prompts), ["summarize"]);
    // Another server: nothing allowed, everything removed.
    let f = filter(TOOLS, &docs, ListKind::Tools);
    assert_eq!(f.removed(), 3);
    assert_eq!(kept(f, TOOLS, ListKind::Tools), Vec::<String>::new());
}

#[test]
fn refusals_name_the_problem() {
    let err = filter_response(
        br#"{"jsonrpc":"2.0","id":1,"result":{"tools":{"echo":{}}}}"#,
        ListKind::Tools,
        |_| true,
    )
    .expect_err("not an array");
    assert!(
        err.to_string()
            .starts_with("upstream list response has an unreadable result.tools: invalid type: map, expected an array"),
        "{err}"
    );
    let err = filter_response(
        b"{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"tools\":[]}",
        ListKind::Tools,
        |_| true,
    )
    .expect_err("truncated");
    assert!(matches!(err, FilterError::Malformed(_)), "{err:?}");
}

/// A 500-tool list of about 200 KB, half the tools denied.
fn big_list() -> String {
    let tools: Vec<String> = (0..500)
        .map(|i| {
            format!(
                r#"{{"name":"tool_{i:03}_{kind}","title":"Tool {i}","description":"{desc}","inputSchema":{{"type":"object","properties":{{"query":{{"type":"string","description":"What to look for, in plain words"}},"limit":{{"type":"integer","minimum":1,"maximum":100,"default":10}}}},"required":["query"],"additionalProperties":false,"$schema":"http://json-schema.org/draft-07/schema#"}},"annotations":{{"readOnlyHint":{ro},"openWorldHint":false}}}}"#,
                kind = if i % 2 == 0 { "read" } else { "write" },
                desc = "Searches the contract store and returns matching documents.",
                ro = i % 2 == 0,
            )
        })
        .collect();
    format!(
        r#"{{"jsonrpc":"2.0","id":2,"result":{{"tools":[{}],"nextCursor":"eyJwYWdlIjoyfQ=="}}}}"#,
        tools.join(",")
    )
}

#[test]
#[ignore = "timing; run in release with --ignored --nocapture"]
fn measure_500_tools() {
    let body = big_list();
    let runs = 300;
    for (what, keep) in [
        (
            "half denied",
            (|n: &str| n.ends_with("_read")) as fn(&str) -> bool,
        ),
        ("none denied", |_: &str| true),
    ] {
        let mut times = Vec::with_capacity(runs);
        for _ in 0..runs {
            let t = Instant::now();
            let out = filter_response(body.as_bytes(), ListKind::Tools, keep).expect("filters");
            times.push(t.elapsed());
            std::hint::black_box(&out);
        }
        times.sort();
        println!(
            "filter 500 tools, {} bytes, {what}: median {:?}, p90 {:?}, min {:?}",
            body.len(),
            times[runs / 2],
            times[runs * 9 / 10],
            times[0]
        );
    }
}
