use super::*;

#[test]
fn request_envelope_and_spans() {
    let text = r#"{"jsonrpc":"2.0","id":"a\u0062","method":"tools/call","params":{"name":"x","_meta":{"progressToken":7}}}"#;
    let env = Envelope::parse(text).expect("parses");
    assert_eq!(env.kind(), Kind::Request);
    assert_eq!(env.method(), "tools/call");
    let id = env.id.expect("id");
    assert_eq!(Key::of(id), Some(Key::Str("ab".into())));
    let token = env.meta_progress_token.expect("token");
    assert_eq!(Key::of(token), Some(Key::Num("7".into())));
    let edits = vec![
        (env.span(token).expect("span"), "42"),
        (env.span(id).expect("span"), "5"),
    ];
    assert_eq!(
        splice(text, edits),
        r#"{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"x","_meta":{"progressToken":42}}}"#
    );
}

#[test]
fn kinds_and_error_codes() {
    let n = Envelope::parse(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#)
        .expect("parses");
    assert_eq!(n.kind(), Kind::Notification);
    let r = Envelope::parse(r#"{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"x"}}"#)
        .expect("parses");
    assert_eq!(
        (r.kind(), r.is_error, r.error_code),
        (Kind::Response, true, Some(-32601))
    );
    let odd = Envelope::parse(r#"{"id":1,"method":"m","params":[1,2]}"#).expect("parses");
    assert!(odd.meta_progress_token.is_none());
    let sub = Envelope::parse(
        r#"{"method":"n","params":{"_meta":{"io.modelcontextprotocol/subscriptionId":3}}}"#,
    )
    .expect("parses");
    assert_eq!(sub.subscription_id.map(|v| v.get()), Some("3"));
    assert!(Envelope::parse(r#"[{"id":1,"method":"m"}]"#).is_err());
    assert!(Envelope::parse(r#"{"id":1,"method":"m"} x"#).is_err());
    assert!(Envelope::parse(r#"{"id":1,"id":2,"method":"m"}"#).is_err());
}

#[test]
fn protocol_version_and_unreadable_params() {
    let v = |text: &str| {
        let env = Envelope::parse(text).expect("parses");
        (
            env.protocol_version().map(Cow::into_owned),
            env.params_unread,
        )
    };
    let meta = r#"{"id":1,"method":"m","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}"#;
    assert_eq!(v(meta), (Some("2026-07-28".into()), false));
    let number =
        r#"{"id":1,"method":"m","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":5}}}"#;
    assert_eq!(v(number), (Some("5".into()), false));
    assert_eq!(v(r#"{"id":1,"method":"m","params":[1]}"#), (None, false));
    assert_eq!(v(r#"{"id":1,"method":"m"}"#), (None, false));
    let twice = r#"{"id":1,"method":"m","params":{"_meta":{"progressToken":1,"progressToken":2}}}"#;
    assert_eq!(v(twice), (None, true));
    let odd_meta = r#"{"id":1,"method":"m","params":{"_meta":7}}"#;
    assert_eq!(v(odd_meta), (None, true));
}

#[test]
fn remap_replaces_id_and_token_and_restore_puts_them_back() {
    let text = r#"{"id":5.0,"method":"tools/call","params":{"_meta":{"progressToken":"t"}}}"#;
    let env = Envelope::parse(text).expect("parses");
    let out = remap(&env, 17).expect("remapped");
    assert_eq!(
        out,
        r#"{"id":17,"method":"tools/call","params":{"_meta":{"progressToken":17}}}"#
    );
    let plain = Envelope::parse(r#"{"id":"x","method":"ping"}"#).expect("parses");
    assert_eq!(
        remap(&plain, 3).expect("remapped"),
        r#"{"id":3,"method":"ping"}"#
    );
    let twice = r#"{"id":1,"method":"m","params":{"_meta":{"progressToken":1,"progressToken":2}}}"#;
    assert!(remap(&Envelope::parse(twice).expect("parses"), 3).is_none());
    let answer = r#"{"id":17,"result":{}}"#;
    let env = Envelope::parse(answer).expect("parses");
    assert_eq!(
        restore(&env, vec![(env.id, "5.0")]),
        r#"{"id":5.0,"result":{}}"#
    );
}

#[test]
fn upstream_ids_are_exact_integers() {
    let raw = |s: &str| RawValue::from_string(s.to_owned()).expect("raw");
    assert_eq!(upstream_id(Some(&raw("5"))), Some(5));
    for other in ["5.0", "5e0", r#""5""#, "-5", "null", "18446744073709551616"] {
        assert_eq!(upstream_id(Some(&raw(other))), None, "{other}");
    }
    assert_eq!(upstream_id(None), None);
}

#[test]
fn keys_compare_by_value() {
    let raw = |s: &str| RawValue::from_string(s.to_owned()).expect("raw");
    assert_eq!(Key::of(&raw("1")), Key::of(&raw("1")));
    assert_ne!(Key::of(&raw("1")), Key::of(&raw(r#""1""#)));
    assert_eq!(Key::of(&raw("{}")), None);
}

#[test]
fn one_line_only_touches_line_breaks() {
    let body = Bytes::from_static(b" {\n  \"id\": 1,\r\n  \"method\": \"m\"\n}\n");
    assert_eq!(
        one_line(&body),
        Bytes::from_static(b"{   \"id\": 1,    \"method\": \"m\" }")
    );
    let flat = Bytes::from_static(b"{\"id\":1}");
    assert_eq!(one_line(&flat), flat);
}

#[test]
fn built_messages_are_valid_json() {
    let e = error_response(r#""x""#, -32603, "MCP server \"a\" exited");
    let v: Value = serde_json::from_slice(&e).expect("json");
    assert_eq!(v["error"]["message"], "MCP server \"a\" exited");
    let c = cancelled_notification("4", "gone");
    let v: Value = serde_json::from_slice(&c).expect("json");
    assert_eq!(v["params"]["requestId"], 4);
}
