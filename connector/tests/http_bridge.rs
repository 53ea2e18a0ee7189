//! `HttpBridge` against a fake upstream MCP server on 127.0.0.1, driven
//! through the `Bridge` trait as the link drives it: what passes through.

mod http_support;

use http_support::*;

#[tokio::test]
async fn initialize_returns_json_and_the_session_id() {
    let (url, mut seen) = upstream(|_| async {
        reply(
            200,
            Some("application/json"),
            Some("sess-1"),
            Body::from(INIT_RESULT),
        )
    })
    .await;
    let bridge = bridge(&url, &[], WAIT);
    match handle(&bridge, request(Method::Post, INITIALIZE)).await {
        Ok(BridgeReply::Json {
            status,
            session,
            body,
        }) => {
            assert_eq!(status, 200);
            assert_eq!(session.as_deref(), Some("sess-1"));
            assert_eq!(body, INIT_RESULT.as_bytes());
        }
        other => panic!("expected JSON, got {other:?}"),
    }
    let first = next_seen(&mut seen).await;
    assert_eq!(first.method, HttpMethod::POST);
    assert_eq!(first.body, INITIALIZE.as_bytes());
    assert_eq!(first.headers["content-type"], "application/json");
    assert_eq!(
        first.headers["accept"],
        "application/json, text/event-stream"
    );
    assert!(!first.headers.contains_key("mcp-session-id"));
    assert!(!first.headers.contains_key("mcp-protocol-version"));

    // The next request carries the session and the negotiated version.
    let mut next = request(
        Method::Post,
        r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
    );
    next.head.session = Some("sess-1".into());
    next.head.protocol_version = Some("2025-11-25".into());
    handle(&bridge, next).await.expect("reply");
    let second = next_seen(&mut seen).await;
    assert_eq!(second.headers["mcp-session-id"], "sess-1");
    assert_eq!(second.headers["mcp-protocol-version"], "2025-11-25");
}

#[tokio::test]
async fn event_stream_is_relayed_live_and_in_order() {
    let (go_tx, go_rx) = oneshot::channel::<()>();
    let go = Arc::new(Mutex::new(Some(go_rx)));
    let (url, _seen) = upstream(move |_| {
        let go = go.lock().expect("lock").take().expect("called once");
        async move {
            let (tx, rx) = mpsc::channel(4);
            tokio::spawn(async move {
                let progress = ": priming\nid: 1\nevent: message\ndata: {\"method\":\"notifications/progress\"}\n\n";
                tx.send(Bytes::from(progress)).await.expect("send");
                // The response only once the test saw the progress event.
                go.await.expect("go");
                tx.send(Bytes::from("id: 2\r\ndata: {\"id\":1,\r\ndata: \"result\"")).await.expect("send");
                tx.send(Bytes::from(":{}}\r\n\r\n")).await.expect("send");
            });
            event_stream(rx)
        }
    })
    .await;
    let bridge = bridge(&url, &[], WAIT);
    let Ok(BridgeReply::Sse {
        status,
        session,
        mut events,
        ..
    }) = handle(&bridge, request(Method::Post, "{}")).await
    else {
        panic!("expected an event stream");
    };
    assert_eq!((status, session), (200, None));
    let progress = next_event(&mut events).await.expect("progress event");
    assert_eq!(progress.id.as_deref(), Some("1"));
    assert_eq!(progress.event.as_deref(), Some("message"));
    assert_eq!(
        progress.data,
        r#"{"method":"notifications/progress"}"#.as_bytes()
    );
    go_tx.send(()).expect("upstream waiting");
    let result = next_event(&mut events).await.expect("result event");
    assert_eq!(result.id.as_deref(), Some("2"));
    assert_eq!(result.data, "{\"id\":1,\n\"result\":{}}".as_bytes());
    assert_eq!(
        next_event(&mut events).await,
        None,
        "the stream ends with the upstream's"
    );
}

#[tokio::test]
async fn a_large_event_is_relayed_in_pieces_as_it_arrives() {
    let (tx, rx) = mpsc::channel::<Bytes>(4);
    let rx = Arc::new(Mutex::new(Some(rx)));
    let (url, _seen) = upstream(move |_| {
        let rx = rx.lock().expect("lock").take().expect("called once");
        async move { event_stream(rx) }
    })
    .await;
    let bridge = bridge(&url, &[], WAIT);
    let Ok(BridgeReply::Sse { mut events, .. }) =
        handle(&bridge, request(Method::Post, "{}")).await
    else {
        panic!("expected an event stream");
    };
    let part = vec![b'x'; 100_000];
    let mut start = b"id: 9\ndata: ".to_vec();
    start.extend_from_slice(&part);
    tx.send(Bytes::from(start)).await.expect("send");
    // The first 100 kB go on before the rest of the event exists.
    let first = timeout(WAIT, events.recv()).await.expect("a piece in time");
    let Some(SseItem::Data(first)) = first else {
        panic!("expected a data piece, got {first:?}");
    };
    assert!(first.iter().all(|b| *b == b'x'));
    for _ in 0..2 {
        tx.send(Bytes::from(part.clone())).await.expect("send");
    }
    tx.send(Bytes::from_static(b"yz\nevent: big\n\n"))
        .await
        .expect("send");
    drop(tx);
    let (rest, pieces) = next_event_pieces(&mut events).await.expect("the event");
    assert!(pieces >= 1, "the rest came whole");
    assert_eq!(rest.id.as_deref(), Some("9"));
    assert_eq!(rest.event.as_deref(), Some("big"));
    assert_eq!(first.len() + rest.data.len(), 300_002);
    assert!(rest.data.ends_with(b"xyz"));
    assert_eq!(next_event(&mut events).await, None);
}

#[tokio::test]
async fn credentials_and_mcp_headers_reach_upstream_but_nothing_of_the_caller() {
    let (url, mut seen) = upstream(|_| async { reply(202, None, None, Body::empty()) }).await;
    let configured = [
        ("Authorization", "Bearer svc-secret"),
        ("X-Api-Key", "key-1"),
        ("Mcp-Param-Region", "eu"),
    ];
    let bridge = bridge(&url, &configured, WAIT);
    let mut req = request(Method::Post, "{}");
    req.head.protocol_version = Some("2026-07-28".into());
    for (name, value) in [
        ("authorization", "Bearer client-token"),
        ("cookie", "sid=client-cookie"),
        ("x-forwarded-for", "203.0.113.9"),
        ("accept", "text/html"),
        ("mcp-method", "tools/call"),
        ("mcp-name", "search"),
        ("mcp-param-region", "us"),
        ("mcp-param-limit", "5"),
    ] {
        req.head.headers.push((name.into(), value.into()));
    }
    let reply = handle(&bridge, req).await.expect("reply");
    assert!(matches!(
        reply,
        BridgeReply::Empty {
            status: 202,
            session: None
        }
    ));

    let headers = next_seen(&mut seen).await.headers;
    assert_eq!(
        headers.get_all("authorization").iter().collect::<Vec<_>>(),
        ["Bearer svc-secret"]
    );
    assert_eq!(headers["x-api-key"], "key-1");
    assert_eq!(headers["mcp-method"], "tools/call");
    assert_eq!(headers["mcp-name"], "search");
    assert_eq!(headers["mcp-param-limit"], "5");
    // The configured header wins over the client's.
    assert_eq!(
        headers
            .get_all("mcp-param-region")
            .iter()
            .collect::<Vec<_>>(),
        ["eu"]
    );
    assert_eq!(headers["accept"], "application/json, text/event-stream");
    assert_eq!(headers["mcp-protocol-version"], "2026-07-28");
    let allowed = [
        "host",
        "content-type",
        "content-length",
        "accept",
        "user-agent",
        "mcp-protocol-version",
        "authorization",
        "x-api-key",
        "mcp-method",
        "mcp-name",
        "mcp-param-region",
        "mcp-param-limit",
    ];
    for (name, value) in &headers {
        assert!(allowed.contains(&name.as_str()), "unexpected header {name}");
        let value = value.to_str().expect("ASCII");
        for secret in [
            "alice",
            "staff-group",
            "claude-agent",
            "client-token",
            "client-cookie",
        ] {
            assert!(!value.contains(secret), "{name} carries {secret}");
        }
    }
}

#[tokio::test]
async fn get_resumes_with_last_event_id() {
    let (url, mut seen) = upstream(|_| async {
        let (tx, rx) = mpsc::channel(1);
        tx.send(Bytes::from("id: ev-42\ndata: {\"replayed\":true}\n\n"))
            .await
            .expect("send");
        event_stream(rx)
    })
    .await;
    let bridge = bridge(&url, &[], WAIT);
    let mut req = request(Method::Get, "");
    req.head.session = Some("sess-9".into());
    req.head.last_event_id = Some("ev-41".into());
    let Ok(BridgeReply::Sse { mut events, .. }) = handle(&bridge, req).await else {
        panic!("expected an event stream");
    };
    let event = next_event(&mut events).await.expect("replayed event");
    assert_eq!(event.id.as_deref(), Some("ev-42"));
    assert_eq!(next_event(&mut events).await, None);
    let get = next_seen(&mut seen).await;
    assert_eq!(get.method, HttpMethod::GET);
    assert_eq!(get.headers["accept"], "text/event-stream");
    assert_eq!(get.headers["last-event-id"], "ev-41");
    assert_eq!(get.headers["mcp-session-id"], "sess-9");
    assert!(!get.headers.contains_key("content-type"));
}

#[tokio::test]
async fn bodiless_answers_are_empty() {
    let (url, mut seen) = upstream(|s: Seen| async move {
        match s.method {
            HttpMethod::POST => reply(202, None, None, Body::empty()),
            HttpMethod::DELETE => reply(200, None, None, Body::empty()),
            _ => reply(405, None, None, Body::empty()),
        }
    })
    .await;
    let bridge = bridge(&url, &[], WAIT);
    let cases = [
        (Method::Post, 202),
        (Method::Delete, 200),
        (Method::Get, 405),
    ];
    for (method, expected) in cases {
        let mut req = request(method, "");
        req.head.session = Some("sess-1".into());
        match handle(&bridge, req).await {
            Ok(BridgeReply::Empty {
                status,
                session: None,
            }) => assert_eq!(status, expected),
            other => panic!("{method:?}: expected Empty, got {other:?}"),
        }
    }
    next_seen(&mut seen).await;
    let delete = next_seen(&mut seen).await;
    assert_eq!(delete.method, HttpMethod::DELETE);
    assert_eq!(delete.headers["mcp-session-id"], "sess-1");
}

#[tokio::test]
async fn other_content_types_pass_when_small() {
    let (url, _seen) = upstream(|s: Seen| async move {
        let size = if s.body.is_empty() { 100 } else { 100 * 1024 };
        reply(400, Some("text/plain"), None, Body::from("x".repeat(size)))
    })
    .await;
    let bridge = bridge(&url, &[], WAIT);
    match handle(&bridge, request(Method::Post, "")).await {
        Ok(BridgeReply::Json {
            status: 400, body, ..
        }) => assert_eq!(body.len(), 100),
        other => panic!("expected the small body, got {other:?}"),
    }
    let error = handle(&bridge, request(Method::Post, "{}"))
        .await
        .expect_err("too big");
    assert_eq!(error.kind, StreamErrorKind::Overloaded);
}

/// A JSON upstream answering in chunks without a length, each released by
/// the test: returns the URL and the sender of the chunks.
async fn chunked_json() -> (String, mpsc::Sender<std::io::Result<Bytes>>) {
    let (tx, rx) = mpsc::channel(4);
    let rx = Arc::new(Mutex::new(Some(rx)));
    let (url, _seen) = upstream(move |_| {
        let rx = rx.lock().expect("lock").take().expect("called once");
        async move { streamed("application/json", rx) }
    })
    .await;
    (url, tx)
}

async fn next_chunk(body: &mut BodyStream) -> Option<Result<Bytes, StreamError>> {
    timeout(WAIT, body.next()).await.expect("chunk in time")
}

#[tokio::test]
async fn large_json_is_relayed_as_it_arrives() {
    let (url, chunks) = chunked_json().await;
    let bridge = bridge(&url, &[], WAIT);
    let Ok(BridgeReply::JsonStream {
        status, mut body, ..
    }) = handle(&bridge, request(Method::Post, "{}")).await
    else {
        panic!("a JSON body of unknown length is streamed");
    };
    assert_eq!(status, 200);
    let first = Bytes::from(format!("{{\"result\":\"{}", "a".repeat(100_000)));
    chunks.send(Ok(first.clone())).await.expect("upstream");
    // The first part arrives while the upstream still holds the rest.
    let mut got = Vec::new();
    while got.len() < first.len() {
        got.extend_from_slice(&next_chunk(&mut body).await.expect("chunk").expect("ok"));
    }
    assert_eq!(got, first);
    chunks.send(Ok(Bytes::from("\"}"))).await.expect("upstream");
    drop(chunks);
    while let Some(chunk) = next_chunk(&mut body).await {
        got.extend_from_slice(&chunk.expect("ok"));
    }
    assert_eq!(got.len(), first.len() + 2);
    assert!(got.ends_with(b"\"}"));
}

#[tokio::test]
async fn a_json_body_broken_midway_ends_with_an_error() {
    let (url, chunks) = chunked_json().await;
    let bridge = bridge(&url, &[], WAIT);
    let Ok(BridgeReply::JsonStream { mut body, .. }) =
        handle(&bridge, request(Method::Post, "{}")).await
    else {
        panic!("a JSON body of unknown length is streamed");
    };
    chunks
        .send(Ok(Bytes::from_static(b"{\"result\":")))
        .await
        .expect("upstream");
    let first = next_chunk(&mut body).await.expect("chunk").expect("ok");
    assert_eq!(first, b"{\"result\":".as_slice());
    chunks
        .send(Err(std::io::Error::other("upstream crashed")))
        .await
        .expect("upstream");
    let error = match next_chunk(&mut body).await {
        Some(Err(error)) => error,
        Some(Ok(chunk)) => panic!("nothing more was sent, got {chunk:?}"),
        None => panic!("a broken body must not end like a complete one"),
    };
    assert_eq!(error.kind, StreamErrorKind::Upstream);
    assert!(error.message.contains("body failed"), "{}", error.message);
    assert!(
        next_chunk(&mut body).await.is_none(),
        "the error is the last item"
    );
}
