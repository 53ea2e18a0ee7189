//! `HttpBridge`, session era: while a request is in flight in an upstream
//! session, a second one whose id the upstream could take for it (the
//! same id, or `"5"` beside `5`) is refused before it is sent, so no
//! answer can land on another request's stream. The id is free again once
//! the first response ends.

mod http_support;

use http_support::*;

fn post(session: &str, body: &'static str) -> BridgeRequest {
    let mut req = request(Method::Post, body);
    req.head.session = Some(session.to_owned());
    req
}

const LIST: &str = r#"{"jsonrpc":"2.0","id":5,"method":"tools/list"}"#;
const PING_SAME: &str = r#"{"jsonrpc":"2.0","id":5,"method":"ping"}"#;
const PING_TEXT: &str = r#"{"jsonrpc":"2.0","id":"5","method":"ping"}"#;
const PING_OTHER: &str = r#"{"jsonrpc":"2.0","id":6,"method":"ping"}"#;

#[tokio::test]
async fn an_id_in_flight_cannot_be_used_again_in_its_session() {
    // The upstream holds the first answer (an event stream) until told.
    let (release_tx, release_rx) = mpsc::channel::<Bytes>(4);
    let held = Arc::new(Mutex::new(Some(release_rx)));
    let (url, mut seen) = upstream(move |s: Seen| {
        let held = Arc::clone(&held);
        async move {
            let first = s.body.windows(10).any(|w| w == b"tools/list");
            match held.lock().expect("lock").take().filter(|_| first) {
                Some(rx) => event_stream(rx),
                None => reply(
                    200,
                    Some("application/json"),
                    None,
                    Body::from(r#"{"jsonrpc":"2.0","id":0,"result":{}}"#),
                ),
            }
        }
    })
    .await;
    let bridge = bridge(&url, &[], WAIT);
    let first = handle(&bridge, post("s1", LIST))
        .await
        .expect("first reply");
    next_seen(&mut seen).await;
    for twin in [PING_SAME, PING_TEXT] {
        let err = handle(&bridge, post("s1", twin))
            .await
            .expect_err("refused");
        assert_eq!(err.kind, StreamErrorKind::BadRequest, "{twin}: {err:?}");
        assert!(err.message.contains("already in flight"), "{}", err.message);
    }
    // Another id, or the same id in another session, goes through.
    handle(&bridge, post("s1", PING_OTHER))
        .await
        .expect("other id");
    handle(&bridge, post("s2", PING_SAME))
        .await
        .expect("other session");
    for _ in 0..2 {
        next_seen(&mut seen).await;
    }
    assert!(
        seen.try_recv().is_err(),
        "a refused request reached the upstream"
    );
    // The first response ends: its id is free again.
    release_tx
        .send(Bytes::from_static(
            b"data: {\"jsonrpc\":\"2.0\",\"id\":5,\"result\":{\"tools\":[]}}\n\n",
        ))
        .await
        .expect("send");
    drop(release_tx);
    let BridgeReply::Sse { mut events, .. } = first else {
        panic!("expected an event stream");
    };
    while next_event(&mut events).await.is_some() {}
    drop(events);
    let again = timeout(WAIT, async {
        loop {
            match handle(&bridge, post("s1", PING_SAME)).await {
                Ok(reply) => break reply,
                // The claim goes when the pump ends, just after the last event.
                Err(e) if e.kind == StreamErrorKind::BadRequest => tokio::task::yield_now().await,
                Err(e) => panic!("{e:?}"),
            }
        }
    })
    .await
    .expect("the id is given back");
    drop(again);
}
