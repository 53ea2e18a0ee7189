//! `HttpBridge` when things go wrong: upstream down, slow, broken
//! mid-stream, TLS failures, and cancellation from the client's side.

mod http_support;

use http_support::*;

/// A raw-socket upstream that reads requests and never answers.
struct Silent {
    url: String,
    /// Fires when the first bytes of a request arrived.
    received: oneshot::Receiver<()>,
    /// Fires when the client closed the connection.
    closed: oneshot::Receiver<()>,
}

async fn silent_upstream() -> Silent {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    let (received_tx, received) = oneshot::channel();
    let (closed_tx, closed) = oneshot::channel();
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.expect("accept");
        let mut buf = [0u8; 4096];
        let mut received_tx = Some(received_tx);
        while let Ok(n) = socket.read(&mut buf).await {
            if n == 0 {
                break;
            }
            if let Some(tx) = received_tx.take() {
                let _ = tx.send(());
            }
        }
        let _ = closed_tx.send(());
    });
    Silent {
        url: format!("http://{addr}/mcp"),
        received,
        closed,
    }
}

#[tokio::test]
async fn upstream_down_is_an_upstream_error() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("address").port()
    };
    let url = format!("http://127.0.0.1:{port}/mcp");
    let bridge = bridge(
        &url,
        &[("Authorization", "Bearer svc-secret")],
        Duration::from_secs(60),
    );
    let error = handle(&bridge, request(Method::Post, "{}"))
        .await
        .expect_err("refused");
    assert_upstream(&error, "wiki");
    assert!(
        error.message.contains(&format!("127.0.0.1:{port}")),
        "{}",
        error.message
    );
    assert!(!error.message.contains("svc-secret"), "{}", error.message);
}

#[tokio::test]
async fn slow_upstream_times_out_and_is_disconnected() {
    let upstream = silent_upstream().await;
    let bridge = bridge(&upstream.url, &[], Duration::from_millis(200));
    let error = handle(&bridge, request(Method::Post, "{}"))
        .await
        .expect_err("timeout");
    assert_upstream(&error, "did not answer within 200ms");
    timeout(WAIT, upstream.closed)
        .await
        .expect("upstream saw the disconnect")
        .expect("closed");
}

#[tokio::test]
async fn cancel_before_the_answer_drops_the_request() {
    let upstream = silent_upstream().await;
    let bridge = bridge(&upstream.url, &[], Duration::from_secs(60));
    let cancel = CancellationToken::new();
    let pending = bridge.handle(request(Method::Post, "{}"), cancel.clone());
    let canceller = async {
        upstream.received.await.expect("request sent");
        cancel.cancel();
    };
    let (result, ()) = timeout(WAIT, async { tokio::join!(pending, canceller) })
        .await
        .expect("in time");
    assert!(result.is_err());
    timeout(WAIT, upstream.closed)
        .await
        .expect("upstream saw the disconnect")
        .expect("closed");
}

/// An upstream event stream: one event, then keep-alive comments until the
/// connection is gone, which it reports.
async fn endless_stream() -> (String, oneshot::Receiver<()>) {
    let (closed_tx, closed_rx) = oneshot::channel();
    let closed_tx = Arc::new(Mutex::new(Some(closed_tx)));
    let (url, _seen) = upstream(move |_| {
        let closed_tx = closed_tx.lock().expect("lock").take().expect("called once");
        async move {
            let (tx, rx) = mpsc::channel(1);
            tokio::spawn(async move {
                let mut chunk = Bytes::from("data: first\n\n");
                while tx.send(chunk).await.is_ok() {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    chunk = Bytes::from(": keep-alive\n\n");
                }
                let _ = closed_tx.send(());
            });
            event_stream(rx)
        }
    })
    .await;
    (url, closed_rx)
}

#[tokio::test]
async fn cancel_closes_the_upstream_stream() {
    let (url, closed) = endless_stream().await;
    let bridge = bridge(&url, &[], WAIT);
    let cancel = CancellationToken::new();
    let reply = timeout(
        WAIT,
        bridge.handle(request(Method::Post, "{}"), cancel.clone()),
    )
    .await;
    let Ok(Ok(BridgeReply::Sse { mut events, .. })) = reply else {
        panic!("expected an event stream");
    };
    assert_eq!(
        next_event(&mut events).await.expect("first").data,
        "first".as_bytes()
    );
    cancel.cancel();
    assert_eq!(next_event(&mut events).await, None);
    timeout(WAIT, closed)
        .await
        .expect("upstream saw the disconnect")
        .expect("closed");
}

#[tokio::test]
async fn link_closed_and_shutdown_close_upstream_streams() {
    for end in ["link_closed", "shutdown"] {
        let (url, closed) = endless_stream().await;
        let bridge = bridge(&url, &[], WAIT);
        let Ok(BridgeReply::Sse { mut events, .. }) =
            handle(&bridge, request(Method::Post, "{}")).await
        else {
            panic!("expected an event stream");
        };
        next_event(&mut events).await.expect("first");
        // Another link's closing does not touch the stream.
        bridge.link_closed(8);
        if end == "link_closed" {
            bridge.link_closed(7);
        } else {
            bridge.shutdown();
        }
        assert_eq!(next_event(&mut events).await, None, "{end}");
        timeout(WAIT, closed)
            .await
            .expect("upstream saw the disconnect")
            .expect("closed");
    }
}

#[tokio::test]
async fn a_broken_upstream_stream_ends_the_events() {
    let (break_tx, break_rx) = oneshot::channel::<()>();
    let break_rx = Arc::new(Mutex::new(Some(break_rx)));
    let (url, _seen) = upstream(move |_| {
        let break_rx = break_rx.lock().expect("lock").take().expect("called once");
        async move {
            let first = futures_util::stream::once(async { Ok(Bytes::from("data: one\n\n")) });
            // After the test saw the first event, the body fails: hyper
            // aborts the connection mid-body.
            let failure = futures_util::stream::once(async move {
                let _ = break_rx.await;
                Err(std::io::Error::other("upstream crashed"))
            });
            let body = Body::from_stream(futures_util::StreamExt::chain(first, failure));
            reply(200, Some("text/event-stream"), None, body)
        }
    })
    .await;
    let bridge = bridge(&url, &[], WAIT);
    let (mut events, failure) =
        event_stream_reply(handle(&bridge, request(Method::Post, "{}")).await);
    assert_eq!(
        next_event(&mut events).await.expect("one").data,
        "one".as_bytes()
    );
    break_tx.send(()).expect("upstream waiting");
    assert_eq!(next_event(&mut events).await, None);
    // The break is reported, so the client gets an error, not a quiet end.
    assert_upstream_failure(failure, "event stream failed");
}

#[tokio::test]
async fn a_stream_that_ends_inside_a_streamed_event_is_a_failure() {
    let (url, _seen) = upstream(|_| async {
        // A clean end of the body, but inside an event whose first 100 kB
        // already went on.
        let mut text = b"data: ".to_vec();
        text.extend([b'x'; 100_000]);
        reply(200, Some("text/event-stream"), None, Body::from(text))
    })
    .await;
    let bridge = bridge(&url, &[], WAIT);
    let (mut events, failure) =
        event_stream_reply(handle(&bridge, request(Method::Post, "{}")).await);
    let mut pieces = 0;
    while let Some(item) = timeout(WAIT, events.recv()).await.expect("in time") {
        assert!(matches!(item, SseItem::Data(_)), "{item:?}");
        pieces += 1;
    }
    assert!(pieces > 0, "the event's start went on");
    assert_upstream_failure(failure, "ended inside an event");
}

/// The events and the failure channel of an event-stream reply.
fn event_stream_reply(
    reply: Result<BridgeReply, StreamError>,
) -> (mpsc::Receiver<SseItem>, oneshot::Receiver<StreamError>) {
    match reply {
        Ok(BridgeReply::Sse {
            events,
            failure: Some(failure),
            ..
        }) => (events, failure),
        other => panic!("expected an HTTP event stream, got {other:?}"),
    }
}

/// The stream's end was reported as an upstream failure saying `what`,
/// before the events closed.
fn assert_upstream_failure(mut failure: oneshot::Receiver<StreamError>, what: &str) {
    let error = failure
        .try_recv()
        .expect("the failure arrives before the events close");
    assert_upstream(&error, what);
}

/// `error` is an upstream error saying `what`.
fn assert_upstream(error: &StreamError, what: &str) {
    assert_eq!(error.kind, StreamErrorKind::Upstream);
    assert!(error.message.contains(what), "{}", error.message);
}

#[tokio::test]
async fn a_tls_failure_is_an_upstream_error() {
    // An https URL pointing at a plain-HTTP server: the handshake fails.
    let (url, _seen) = upstream(|_| async { reply(200, None, None, Body::empty()) }).await;
    let url = url.replace("http://", "https://");
    let limits = Limits {
        upstream_timeout: WAIT,
        ..Limits::default()
    };
    let Ok(bridge) = HttpBridge::new(server(), parse_url(&url), BTreeMap::new(), limits) else {
        return; // no system trust store here: covered by http_bridge_config
    };
    let error = handle(&bridge, request(Method::Post, "{}"))
        .await
        .expect_err("TLS fails");
    let authority = url.trim_start_matches("https://").trim_end_matches("/mcp");
    assert_upstream(&error, authority);
}

#[tokio::test]
async fn a_garbled_answer_is_an_upstream_error() {
    use tokio::io::AsyncWriteExt;
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.expect("accept");
        let mut buf = [0u8; 4096];
        let _ = socket.read(&mut buf).await;
        let _ = socket.write_all(b"SSH-2.0-OpenSSH_9.6\r\n\r\n").await;
        // Held open: the bridge must fail on what it got, not wait.
        let _ = socket.read(&mut buf).await;
    });
    let bridge = bridge(&format!("http://{addr}/mcp"), &[], WAIT);
    let error = handle(&bridge, request(Method::Post, "{}"))
        .await
        .expect_err("not HTTP");
    assert_upstream(&error, "request failed");
    assert!(
        error.message.contains(&addr.to_string()),
        "{}",
        error.message
    );
}
