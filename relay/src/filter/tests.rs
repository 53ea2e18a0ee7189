use super::*;

fn rewritten(out: Result<Filtered, FilterError>) -> (String, usize, usize) {
    match out {
        Ok(Filtered::Rewritten {
            body,
            kept,
            removed,
        }) => (
            String::from_utf8(body.to_vec()).expect("utf-8"),
            kept,
            removed,
        ),
        other => panic!("expected a rewrite, got {other:?}"),
    }
}

fn deny_delete(name: &str) -> bool {
    !name.starts_with("delete")
}

#[test]
fn kinds() {
    for (method, kind, array, name) in [
        ("tools/list", ListKind::Tools, "tools", "name"),
        ("resources/list", ListKind::Resources, "resources", "uri"),
        (
            "resources/templates/list",
            ListKind::ResourceTemplates,
            "resourceTemplates",
            "uriTemplate",
        ),
        ("prompts/list", ListKind::Prompts, "prompts", "name"),
    ] {
        assert_eq!(ListKind::for_method(method), Some(kind));
        assert_eq!(kind.method(), method);
        assert_eq!((kind.array_key(), kind.name_key()), (array, name));
    }
    for other in [
        "tools/call",
        "resources/read",
        "Tools/list",
        "",
        "tools/list ",
    ] {
        assert_eq!(ListKind::for_method(other), None, "{other:?}");
    }
}

#[test]
fn removes_denied_and_keeps_the_rest_verbatim() {
    let body = br#"{"jsonrpc":"2.0","id":"a","result":{"_meta":{"x":1},"tools":[{"name":"search","description":"caf\u00e9"},{"name":"delete_all"},{"name":"get"}],"nextCursor":"c2"},"extra":[1,2]}"#;
    let (out, kept, removed) = rewritten(filter_response(body, ListKind::Tools, deny_delete));
    assert_eq!(
        out,
        r#"{"jsonrpc":"2.0","id":"a","result":{"_meta":{"x":1},"tools":[{"name":"search","description":"caf\u00e9"},{"name":"get"}],"nextCursor":"c2"},"extra":[1,2]}"#
    );
    assert_eq!((kept, removed), (2, 1));
}

#[test]
fn keep_all_and_no_list_are_unchanged() {
    let keep_all = |_: &str| true;
    for body in [
        &br#"{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"a"},{"name":"b"}]}}"#[..],
        br#"{"jsonrpc":"2.0","id":1,"result":{"tools":[]}}"#,
        br#"{"jsonrpc":"2.0","id":1,"result":{"tools":null}}"#,
        br#"{"jsonrpc":"2.0","id":1,"result":{}}"#,
        br#"{"jsonrpc":"2.0","id":1,"result":null}"#,
        br#"{"jsonrpc":"2.0","id":1,"result":[{"name":"x"}]}"#,
        br#"{"jsonrpc":"2.0","id":1,"result":"tools"}"#,
        br#"{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"no"}}"#,
        br#"{"jsonrpc":"2.0","method":"notifications/progress","params":{"tools":[{"name":"delete"}]}}"#,
        br#"{"jsonrpc":"2.0","id":1,"result":{"prompts":[{"name":"delete"}]}}"#,
    ] {
        let text = String::from_utf8_lossy(body);
        assert_eq!(
            filter_response(body, ListKind::Tools, keep_all),
            Ok(Filtered::Unchanged),
            "{text}"
        );
        if !text.contains("\"name\":\"a\"") {
            assert_eq!(
                filter_response(body, ListKind::Tools, deny_delete),
                Ok(Filtered::Unchanged),
                "{text}"
            );
        }
    }
}

#[test]
fn unreadable_items_are_dropped() {
    let body = br#"{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"ok"},1,"name",null,[{"name":"x"}],{"title":"no name"},{"name":7},{"name":null},{"name":"ok","name":"delete"},{"name":"ok2"}]}}"#;
    let (out, kept, removed) = rewritten(filter_response(body, ListKind::Tools, |_| true));
    assert_eq!(
        out,
        r#"{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"ok"},{"name":"ok2"}]}}"#
    );
    assert_eq!((kept, removed), (2, 8));
}

#[test]
fn names_and_keys_are_compared_decoded() {
    let body = br#"{"jsonrpc":"2.0","id":1,"result":{"t\u006fols":[{"n\u0061me":"d\u0065lete"},{"name":"\u00e9t\u00e9"},{"name":"\ud83d\ude00"}]}}"#;
    let mut seen = Vec::new();
    let (out, _, removed) = rewritten(filter_response(body, ListKind::Tools, |n| {
        seen.push(n.to_owned());
        deny_delete(n)
    }));
    assert_eq!(seen, ["delete", "été", "😀"]);
    assert_eq!(removed, 1);
    assert_eq!(
        out,
        r#"{"jsonrpc":"2.0","id":1,"result":{"t\u006fols":[{"name":"\u00e9t\u00e9"},{"name":"\ud83d\ude00"}]}}"#
    );
}

#[test]
fn each_kind_reads_its_own_name() {
    let cases = [
        (
            ListKind::Resources,
            r#"{"jsonrpc":"2.0","id":1,"result":{"resources":[{"uri":"file:///a","name":"delete"},{"uri":"file:///delete","name":"a"}]}}"#,
            r#"{"jsonrpc":"2.0","id":1,"result":{"resources":[{"uri":"file:///a","name":"delete"}]}}"#,
        ),
        (
            ListKind::ResourceTemplates,
            r#"{"jsonrpc":"2.0","id":1,"result":{"resourceTemplates":[{"uriTemplate":"file:///{p}","name":"delete"},{"uriTemplate":"db://delete/{id}","name":"a"},{"uri":"x"}]}}"#,
            r#"{"jsonrpc":"2.0","id":1,"result":{"resourceTemplates":[{"uriTemplate":"file:///{p}","name":"delete"}]}}"#,
        ),
        (
            ListKind::Prompts,
            r#"{"jsonrpc":"2.0","id":1,"result":{"prompts":[{"name":"delete"},{"name":"summarize"}],"tools":[{"name":"delete"}]}}"#,
            r#"{"jsonrpc":"2.0","id":1,"result":{"prompts":[{"name":"summarize"}],"tools":[{"name":"delete"}]}}"#,
        ),
    ];
    for (kind, body, want) in cases {
        let (out, _, _) = rewritten(filter_response(body.as_bytes(), kind, |n| {
            !n.contains("delete")
        }));
        assert_eq!(out, want, "{kind:?}");
    }
}

#[test]
fn whitespace_outside_the_array_is_kept() {
    let body = b"{\n  \"jsonrpc\" : \"2.0\",\n  \"id\" : 3,\n  \"result\" : {\n    \"tools\" : [\n      { \"name\" : \"a\" },\n      { \"name\" : \"delete\" }\n    ] ,\n    \"nextCursor\" : null\n  }\n}\n";
    let (out, _, _) = rewritten(filter_response(body, ListKind::Tools, deny_delete));
    assert_eq!(
        out,
        "{\n  \"jsonrpc\" : \"2.0\",\n  \"id\" : 3,\n  \"result\" : {\n    \"tools\" : [{ \"name\" : \"a\" }] ,\n    \"nextCursor\" : null\n  }\n}\n"
    );
}

#[test]
fn all_removed_leaves_an_empty_array() {
    let body =
        br#"{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"delete"}],"nextCursor":"n"}}"#;
    let (out, kept, removed) = rewritten(filter_response(body, ListKind::Tools, deny_delete));
    assert_eq!(
        out,
        r#"{"jsonrpc":"2.0","id":1,"result":{"tools":[],"nextCursor":"n"}}"#
    );
    assert_eq!((kept, removed), (0, 1));
}

#[test]
fn malformed_bodies_fail_closed() {
    let mut bad_utf8 =
        br#"{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"a"},{"name":"b"#.to_vec();
    bad_utf8.extend_from_slice(b"\xff\"}]}}");
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"".to_vec(), "empty"),
        (b"{nope".to_vec(), "not json"),
        (bad_utf8, "invalid utf-8"),
        (
            br#"[{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"delete"}]}}]"#.to_vec(),
            "batch",
        ),
        (b"\"result\"".to_vec(), "scalar"),
        (
            br#"{"jsonrpc":"2.0","id":1,"result":{"tools":[]}} {"x":1}"#.to_vec(),
            "trailing",
        ),
        (
            br#"{"jsonrpc":"2.0","id":1,"result":{"tools":[]},"result":{"tools":[{"name":"delete"}]}}"#
                .to_vec(),
            "duplicate result",
        ),
    ];
    for (body, what) in cases {
        let err = filter_response(&body, ListKind::Tools, |_| true).expect_err(what);
        assert!(matches!(err, FilterError::Malformed(_)), "{what}: {err:?}");
        assert_eq!(
            (err.status(), err.code()),
            (StatusCode::BAD_GATEWAY, -32603)
        );
    }
}

#[test]
fn deep_nesting_is_skipped_without_recursion() {
    // Values the filter does not read are skipped by serde_json without
    // recursion (`IgnoredAny`, `RawValue`), so no depth limit applies and
    // the stack is safe.
    let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
    let body = format!(
        r#"{{"jsonrpc":"2.0","id":1,"result":{{"tools":[{{"name":"a","x":{d}}},{{"name":"delete","x":{d}}}],"y":{d}}},"z":{d}}}"#,
        d = deep(200_000)
    );
    let out = filter_response(body.as_bytes(), ListKind::Tools, deny_delete).expect("filtered");
    let Filtered::Rewritten {
        body: out, removed, ..
    } = out
    else {
        panic!("rewritten")
    };
    assert_eq!(removed, 1);
    assert_eq!(
        out.len(),
        body.len() - r#",{"name":"delete","x":}"#.len() - 400_000
    );
    // A name that is deeply nested is not a string: dropped.
    let body = format!(
        r#"{{"jsonrpc":"2.0","id":1,"result":{{"tools":[{{"name":{}}}]}}}}"#,
        deep(100_000)
    );
    assert_eq!(
        filter_response(body.as_bytes(), ListKind::Tools, |_| true).map(|f| f.removed()),
        Ok(1)
    );
}

#[test]
fn bad_lists_fail_closed() {
    for body in [
        &br#"{"jsonrpc":"2.0","id":1,"result":{"tools":[],"tools":[{"name":"delete"}]}}"#[..],
        br#"{"jsonrpc":"2.0","id":1,"result":{"tools":[],"t\u006fols":[{"name":"delete"}]}}"#,
        br#"{"jsonrpc":"2.0","id":1,"result":{"tools":{"delete":{"name":"delete"}}}}"#,
        br#"{"jsonrpc":"2.0","id":1,"result":{"tools":"delete"}}"#,
    ] {
        let err = filter_response(body, ListKind::Tools, |_| true)
            .expect_err(&String::from_utf8_lossy(body));
        assert!(
            matches!(err, FilterError::BadList { key: "tools", .. }),
            "{err:?}"
        );
    }
}

#[test]
fn sse_events() {
    let keep = deny_delete;
    for data in [&b""[..], b"  \n", br#"{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"delete"}}"#, br#"{"jsonrpc":"2.0","id":"s1","method":"sampling/createMessage","params":{}}"#] {
        assert_eq!(
            filter_event_data(data, ListKind::Tools, keep),
            Ok(Filtered::Unchanged)
        );
    }
    // Whatever id the response carries, it is filtered.
    for id in ["1", "1.0", "\"1\"", "null", "\"other\""] {
        let data = format!(
            r#"{{"jsonrpc":"2.0","id":{id},"result":{{"tools":[{{"name":"delete"}},{{"name":"a"}}]}}}}"#
        );
        let (out, _, removed) =
            rewritten(filter_event_data(data.as_bytes(), ListKind::Tools, keep));
        assert_eq!(removed, 1);
        assert_eq!(
            out,
            format!(r#"{{"jsonrpc":"2.0","id":{id},"result":{{"tools":[{{"name":"a"}}]}}}}"#)
        );
    }
    assert!(filter_event_data(b"not json", ListKind::Tools, keep).is_err());
}

#[test]
fn removed_counts() {
    assert_eq!(Filtered::Unchanged.removed(), 0);
    let body =
        br#"{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"delete"},{"name":"delete2"}]}}"#;
    let out = filter_response(body, ListKind::Tools, deny_delete).expect("filtered");
    assert_eq!(out.removed(), 2);
}
