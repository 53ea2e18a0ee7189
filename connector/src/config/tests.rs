use super::*;
use crate::bridge::http::CallerHeaders;

const EXAMPLE: &str = r#"
relay = "relay.acme.com:4433"
cert = "pki/connector-legal-dc1.pem"
key = "pki/connector-legal-dc1.key"
trust_bundle = "pki/bundle.pem"

[[server]]
name = "contracts"
command = ["npx", "-y", "@acme/contracts-mcp"]
env = { CONTRACTS_DB = "${CONTRACTS_DB}" }

[[server]]
name = "wiki"
url = "http://10.0.0.5:3000/mcp"
headers = { Authorization = "Bearer ${WIKI_SERVICE_TOKEN}" }
"#;

fn env(k: &str) -> Option<String> {
    match k {
        "CONTRACTS_DB" => Some("postgres://db".into()),
        "WIKI_SERVICE_TOKEN" => Some("wiki-token".into()),
        _ => None,
    }
}

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(text, Path::new("/etc/sallyport"), &env)
}

fn err(text: &str) -> String {
    parse(text).expect_err("should be refused").to_string()
}

#[test]
fn design_example_parses() {
    let c = parse(EXAMPLE).expect("valid");
    assert_eq!(
        c.relays,
        vec![RelayAddr {
            host: "relay.acme.com".into(),
            port: 4433
        }]
    );
    assert_eq!(
        c.cert,
        Path::new("/etc/sallyport/pki/connector-legal-dc1.pem")
    );
    assert_eq!(c.servers.len(), 2);
    match &c.servers[0].upstream {
        Upstream::Stdio { command, env, .. } => {
            assert_eq!(command[0], "npx");
            assert_eq!(env["CONTRACTS_DB"], "postgres://db");
        }
        other => panic!("expected stdio, got {other:?}"),
    }
    match &c.servers[1].upstream {
        Upstream::Http { headers, .. } => {
            assert_eq!(headers["Authorization"], "Bearer wiki-token")
        }
        other => panic!("expected http, got {other:?}"),
    }
    assert_eq!(c.link, LinkTiming::default());
}

#[test]
fn caller_headers_are_off_unless_configured() {
    let c = parse(EXAMPLE).expect("valid");
    let Upstream::Http { url, caller, .. } = &c.servers[1].upstream else {
        panic!("wiki is an HTTP server");
    };
    assert_eq!(url.as_str(), "http://10.0.0.5:3000/mcp");
    assert_eq!(caller, &None);

    let text = format!(
        "{EXAMPLE}caller_headers = {{ subject = \"X-Sallyport-Subject\", agent = \"X-Sallyport-Agent\" }}\n"
    );
    let c = parse(&text).expect("valid");
    let Upstream::Http { caller, .. } = &c.servers[1].upstream else {
        panic!("wiki is an HTTP server");
    };
    assert_eq!(
        caller,
        &Some(CallerHeaders {
            subject: "X-Sallyport-Subject".into(),
            groups: None,
            agent: Some("X-Sallyport-Agent".into()),
        })
    );
}

#[test]
fn drain_timeout_defaults_to_ten_seconds_and_can_be_set() {
    let c = parse(EXAMPLE).expect("valid");
    assert_eq!(c.link.drain_timeout, Duration::from_secs(10));
    let c = parse(&format!("{EXAMPLE}\n[link]\ndrain_timeout_ms = 2500\n")).expect("valid");
    assert_eq!(c.link.drain_timeout, Duration::from_millis(2500));
}

#[test]
fn relay_addresses() {
    for (s, host, port) in [
        ("relay.acme.com:4433", "relay.acme.com", 4433),
        ("127.0.0.1:1", "127.0.0.1", 1),
        ("[::1]:4433", "::1", 4433),
    ] {
        let a: RelayAddr = s.parse().expect(s);
        assert_eq!((a.host.as_str(), a.port), (host, port));
        assert_eq!(a.to_string(), s);
    }
    for bad in [
        "relay",
        "relay:",
        "relay:0",
        ":4433",
        "relay:99999",
        "a b:1",
    ] {
        assert!(bad.parse::<RelayAddr>().is_err(), "{bad}");
    }
}

#[test]
fn relays_list_and_missing_relay() {
    let text = EXAMPLE.replace(
        "relay = \"relay.acme.com:4433\"",
        "relays = [\"a:1\", \"b:2\"]",
    );
    assert_eq!(parse(&text).expect("valid").relays.len(), 2);
    let text = EXAMPLE.replace("relay = \"relay.acme.com:4433\"", "");
    assert!(err(&text).contains("no relay"));
}

#[test]
fn refusals_are_precise() {
    let cases = [
        (
            EXAMPLE.replace("trust_bundle", "trustbundle"),
            "trustbundle",
        ),
        (EXAMPLE.replace("${WIKI_SERVICE_TOKEN}", "${NOPE}"), "NOPE"),
        (
            EXAMPLE.replace("name = \"wiki\"", "name = \"contracts\""),
            "defined twice",
        ),
        (
            EXAMPLE.replace("url = \"http://", "url = \"ftp://"),
            "http://",
        ),
        (
            EXAMPLE.replace("url = \"http://10.0.0.5:3000/mcp\"", ""),
            "exactly one of",
        ),
        (
            EXAMPLE.replace("http://10.0.0.5:3000/mcp", "10.0.0.5:3000/mcp"),
            "is not a valid URL",
        ),
        (
            EXAMPLE.replace("http://10.0.0.5:3000/mcp", "http://"),
            "is not a valid URL",
        ),
        (
            EXAMPLE.replace(
                "[[server]]\nname = \"wiki\"",
                "caller_headers = { subject = \"X-Subject\" }\n[[server]]\nname = \"wiki\"",
            ),
            "apply to url servers only",
        ),
        (
            format!("{EXAMPLE}caller_headers = {{ subject = \"X Subject\" }}\n"),
            "\"X Subject\" is not a valid HTTP header name",
        ),
        (
            format!("{EXAMPLE}caller_headers = {{ subjet = \"X-Subject\" }}\n"),
            "subjet",
        ),
        (
            EXAMPLE.replace("\"npx\", ", "\"\", "),
            "must name a program",
        ),
        (
            format!("{EXAMPLE}\n[link]\nkeepalive_ms = 9000\n"),
            "keepalive_ms",
        ),
        (
            EXAMPLE.replace("name = \"wiki\"", "name = \"Wiki\""),
            "server name",
        ),
        (
            format!("{EXAMPLE}\n[link]\ndrain_timeout_ms = 0\n"),
            "drain_timeout_ms must be above 0",
        ),
    ];
    for (text, needle) in cases {
        let msg = err(&text);
        assert!(msg.contains(needle), "wanted {needle:?} in {msg}");
    }
}

#[test]
fn sessions_per_caller_default_and_bounds() {
    let c = parse(EXAMPLE).expect("valid");
    assert_eq!(c.limits.max_sessions, 64);
    assert_eq!(
        c.limits.max_sessions_per_caller,
        DEFAULT_SESSIONS_PER_CALLER
    );
    assert_eq!(DEFAULT_SESSIONS_PER_CALLER, 8);
    let with = |limits: &str| format!("{EXAMPLE}\n[limits]\n{limits}\n");
    let small = parse(&with("max_sessions_per_server = 3")).expect("valid");
    assert_eq!(
        (
            small.limits.max_sessions,
            small.limits.max_sessions_per_caller
        ),
        (3, 3),
        "the default share never exceeds the server's limit"
    );
    let set = parse(&with(
        "max_sessions_per_server = 10\nmax_sessions_per_caller = 10",
    ))
    .expect("valid");
    assert_eq!(set.limits.max_sessions_per_caller, 10);
    for bad in [
        "max_sessions_per_caller = 0",
        "max_sessions_per_caller = 65",
        "max_sessions_per_server = 4\nmax_sessions_per_caller = 5",
    ] {
        let msg = err(&with(bad));
        assert!(msg.contains("max_sessions_per_caller"), "{bad}: {msg}");
    }
}
