//! `HttpBridge::new` refuses unusable URLs and headers with messages that
//! name the server and the header but never show a credential. (A URL that
//! does not parse is refused earlier, by the config: `config/tests.rs`.)

use std::collections::BTreeMap;

use sallyport_connector::bridge::http::{CallerHeaders, HttpBridge};
use sallyport_connector::config::Limits;
use sallyport_protocol::ServerName;
use url::Url;

const SECRET: &str = "s3cr3t-value";

fn new(url: &str, headers: &[(&str, &str)]) -> Result<HttpBridge, String> {
    let headers: BTreeMap<String, String> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let server = ServerName::new("wiki").expect("valid name");
    let url = Url::parse(url).expect("the test's URLs parse");
    HttpBridge::new(server, url, headers, Limits::default()).map_err(|e| e.to_string())
}

#[test]
fn a_valid_bridge_hides_its_credentials() {
    let bridge = new(
        "http://wiki.internal:8080/mcp?x=1",
        &[
            ("Authorization", &format!("Bearer {SECRET}")),
            ("X-Team", "a b"),
        ],
    )
    .expect("valid");
    let debug = format!("{bridge:?}");
    assert!(debug.contains("wiki.internal:8080"), "{debug}");
    assert!(debug.contains("authorization"), "{debug}");
    assert!(!debug.contains(SECRET), "{debug}");
}

#[test]
fn bad_urls_are_refused() {
    let cases = [
        ("ftp://wiki.internal/mcp", "scheme \"ftp\""),
        (
            "http://user:s3cr3t-value@wiki.internal/mcp",
            "user:password",
        ),
    ];
    for (url, expected) in cases {
        let error = new(url, &[]).expect_err(url);
        assert!(error.contains("wiki"), "{error}");
        assert!(error.contains(expected), "{url}: {error}");
        assert!(!error.contains(SECRET), "{error}");
    }
}

#[test]
fn bad_headers_are_refused_without_showing_values() {
    let line_break = format!("Bearer {SECRET}\r\nX-Evil: 1");
    let non_ascii = format!("{SECRET}\u{e9}");
    let cases: [(&[(&str, &str)], &str); 7] = [
        (&[("Bad Header", SECRET)], "not a valid HTTP token"),
        (&[("Authorization", &line_break)], "printable ASCII"),
        (&[("Authorization", &non_ascii)], "printable ASCII"),
        (&[("Authorization", " ")], "is empty"),
        (&[("Host", SECRET)], "set by the connector"),
        (&[("Mcp-Session-Id", SECRET)], "set by the connector"),
        (
            &[("Authorization", SECRET), ("authorization", SECRET)],
            "configured twice",
        ),
    ];
    for (headers, expected) in cases {
        let error = new("http://127.0.0.1:1/mcp", headers).expect_err(expected);
        assert!(error.contains("[[server]] wiki"), "{error}");
        assert!(error.contains(expected), "{error}");
        assert!(!error.contains(SECRET), "{error}");
    }
}

#[test]
fn https_uses_the_system_trust_store_or_says_why_not() {
    // Building must not panic for want of a process-wide rustls provider;
    // without system CA certificates the message says what is missing.
    match new("https://wiki.internal/mcp", &[]) {
        Ok(_) => {}
        Err(error) => assert!(error.contains("trust store"), "{error}"),
    }
}

#[test]
fn caller_header_names_are_validated() {
    let bridge = new("http://127.0.0.1:1/mcp", &[]).expect("valid");
    let error = bridge
        .with_caller_headers(CallerHeaders {
            subject: "X User".into(),
            groups: None,
            agent: None,
        })
        .expect_err("bad name");
    assert!(error.to_string().contains("caller header name"), "{error}");
}
