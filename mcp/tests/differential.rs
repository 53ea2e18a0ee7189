//! Property test: many generated hostile messages, each checked against
//! the model of a permissive upstream (`model::check`): whatever the relay
//! forwards, the upstream runs only what the caller may use, and exactly
//! what the relay decided. `SALLYPORT_SEED` replays one seed.

mod model;

const METHODS: [&str; 9] = [
    "tools/call",
    "resources/read",
    "resources/subscribe",
    "prompts/get",
    "completion/complete",
    "tools/list",
    "ping",
    "tools\\/call",
    "Tools/Call",
];
const NAMES: [&str; 6] = [
    r#""echo""#,
    r#""secret-dump""#,
    r#""s\u0065cret-dump""#,
    r#"["secret-dump"]"#,
    r#"["echo","secret-dump"]"#,
    "7",
];
const IDS: [&str; 9] = [
    "1",
    "null",
    "5.0",
    "-0",
    r#""a""#,
    "true",
    "{}",
    "9007199254740993",
    "",
];

fn pick<'a>(rng: &mut fastrand::Rng, from: &[&'a str]) -> &'a str {
    from[rng.usize(..from.len())]
}

/// One message built from hostile pieces: repeated or escaped keys, odd
/// ids, odd targets, missing or extra members.
fn message(rng: &mut fastrand::Rng) -> String {
    let mut members = vec![r#""jsonrpc":"2.0""#.to_owned()];
    // Half the messages have a good id, so they reach the decision.
    let id = if rng.bool() { "1" } else { pick(rng, &IDS) };
    if !id.is_empty() {
        members.push(format!(r#""id":{id}"#));
    }
    members.push(format!(r#""method":"{}""#, pick(rng, &METHODS)));
    let mut params = Vec::new();
    for _ in 0..rng.usize(0..4) {
        let key = pick(
            rng,
            &["name", "n\\u0061me", "uri", "ref", "_meta", "arguments"],
        );
        let value = match key {
            "ref" => {
                let kind = pick(rng, &[r#""ref/prompt""#, r#""ref/resource""#, r#""x""#]);
                let mut parts = vec![format!(r#""type":{kind}"#)];
                for member in ["name", "uri", "type"] {
                    if rng.u8(..3) != 0 {
                        parts.push(format!(r#""{member}":{}"#, pick(rng, &NAMES)));
                    }
                }
                rng.shuffle(&mut parts);
                format!("{{{}}}", parts.join(","))
            }
            "_meta" => r#"{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}"#.to_owned(),
            _ => pick(rng, &NAMES).to_owned(),
        };
        params.push(format!(r#""{key}":{value}"#));
    }
    match rng.u8(..10) {
        0 => {}
        1 => members.push(r#""params":["secret-dump"]"#.to_owned()),
        _ => members.push(format!(r#""params":{{{}}}"#, params.join(","))),
    }
    if rng.u8(..8) == 0 {
        let dup = members[rng.usize(..members.len())].clone();
        members.push(dup);
    }
    rng.shuffle(&mut members[1..]);
    format!("{{{}}}", members.join(","))
}

#[test]
fn forwarded_messages_run_only_what_the_caller_may_use() {
    let seed = std::env::var("SALLYPORT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| fastrand::u64(..));
    let mut rng = fastrand::Rng::with_seed(seed);
    for _ in 0..20_000 {
        let body = message(&mut rng);
        let outcome = std::panic::catch_unwind(|| model::check(body.as_bytes()));
        assert!(outcome.is_ok(), "seed {seed}: {body}");
    }
}

#[test]
fn the_known_holes_are_closed() {
    for body in [
        r#"{"jsonrpc":"2.0","id":null,"method":"tools/call","params":{"name":"secret-dump"}}"#,
        r#"{"jsonrpc":"2.0","method":"tools/call","params":{"name":"secret-dump"}}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":["secret-dump"]}}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"completion/complete","params":{"ref":{"type":"ref/resource","name":"echo","uri":"file:///secret"}}}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","name":"secret-dump"}}"#,
    ] {
        model::check(body.as_bytes());
    }
}

#[test]
fn the_model_catches_an_undecided_forward() {
    // The oracle itself must be able to fail: a notification it runs.
    let body = br#"{"jsonrpc":"2.0","method":"tools/call","params":{"name":"secret-dump"}}"#;
    let executed = model::upstream_executes(body).expect("the model runs notifications");
    assert!(!model::allowed(&executed.target));
}
