//! `HttpBridge`: which client headers reach the upstream in which era, and
//! the heads that are refused before anything is sent (an unknown
//! protocol version, a routing header given twice).

mod http_support;

use http_support::*;

const MCP_HEADERS: [(&str, &str); 3] = [
    ("mcp-method", "tools/call"),
    ("mcp-name", "search"),
    ("mcp-param-region", "us"),
];

fn with(version: Option<&str>, headers: &[(&str, &str)]) -> BridgeRequest {
    let mut req = request(Method::Post, "{}");
    req.head.protocol_version = version.map(str::to_owned);
    for (name, value) in headers {
        req.head.headers.push((name.to_string(), value.to_string()));
    }
    req
}

async fn accepting() -> (HttpBridge, mpsc::UnboundedReceiver<Seen>) {
    let (url, seen) = upstream(|_| async { reply(202, None, None, Body::empty()) }).await;
    (bridge(&url, &[], WAIT), seen)
}

#[tokio::test]
async fn client_mcp_headers_go_upstream_in_the_stateless_era_only() {
    let (bridge, mut seen) = accepting().await;
    for version in [None, Some("2025-06-18"), Some("2025-11-25")] {
        handle(&bridge, with(version, &MCP_HEADERS))
            .await
            .expect("reply");
        let headers = next_seen(&mut seen).await.headers;
        for (name, _) in MCP_HEADERS {
            assert!(
                !headers.contains_key(name),
                "{name} forwarded in {version:?}"
            );
        }
    }
    handle(&bridge, with(Some("2026-07-28"), &MCP_HEADERS))
        .await
        .expect("reply");
    let headers = next_seen(&mut seen).await.headers;
    for (name, value) in MCP_HEADERS {
        assert_eq!(headers[name], value);
    }
}

#[tokio::test]
async fn refused_heads_never_reach_the_upstream() {
    let (bridge, mut seen) = accepting().await;
    let modern = Some("2026-07-28");
    let refused = [
        with(Some("9999"), &[]),
        with(Some("2027-01-01"), &MCP_HEADERS),
        with(modern, &[("mcp-name", "search"), ("Mcp-Name", "secret")]),
        with(
            modern,
            &[("mcp-method", "ping"), ("mcp-method", "tools/call")],
        ),
        with(
            modern,
            &[("mcp-param-region", "us"), ("mcp-param-region", "eu")],
        ),
        with(
            None,
            &[
                ("mcp-protocol-version", "2026-07-28"),
                ("mcp-protocol-version", "x"),
            ],
        ),
        {
            let mut r = with(None, &[("mcp-session-id", "other")]);
            r.head.session = Some("mine".into());
            r
        },
    ];
    for req in refused {
        let what = format!("{:?}", (&req.head.protocol_version, &req.head.headers));
        let Err(e) = handle(&bridge, req).await else {
            panic!("accepted: {what}");
        };
        assert_eq!(e.kind, StreamErrorKind::BadRequest, "{what}");
        assert!(
            e.message.contains("protocol version") || e.message.contains("more than once"),
            "{what}: {}",
            e.message
        );
    }
    // The first request the upstream sees is the next good one.
    handle(&bridge, with(modern, &[("mcp-name", "ok")]))
        .await
        .expect("reply");
    assert_eq!(next_seen(&mut seen).await.headers["mcp-name"], "ok");
}
