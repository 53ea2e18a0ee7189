//! `HttpBridge`, stateless era: the upstream sees ids and progress tokens
//! of the connector's own, unique across callers, and each client gets its
//! own back — in a JSON answer, a long streamed JSON answer, and an event
//! stream whose large event comes in pieces.

mod http_support;

use http_support::*;

const MODERN: &str = "2026-07-28";
const CALL: &str = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","_meta":{"progressToken":"tok","io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}"#;

fn stateless(body: &'static str) -> BridgeRequest {
    let mut req = request(Method::Post, body);
    req.head.protocol_version = Some(MODERN.into());
    req
}

/// The `id` and progress token the upstream saw.
fn seen_ids(seen: &Seen) -> (serde_json::Value, serde_json::Value) {
    let v: serde_json::Value = serde_json::from_slice(&seen.body).expect("json");
    (
        v["id"].clone(),
        v["params"]["_meta"]["progressToken"].clone(),
    )
}

/// An answer as a JavaScript server writes it (the id last), padded to
/// `pad` bytes of text.
fn answer(id: &serde_json::Value, pad: usize) -> String {
    format!(
        r#"{{"result":{{"content":[{{"type":"text","text":"{}"}}]}},"jsonrpc":"2.0","id":{id}}}"#,
        "x".repeat(pad)
    )
}

#[tokio::test]
async fn two_callers_with_the_same_id_are_told_apart_upstream() {
    let (url, mut seen) = upstream(|s: Seen| async move {
        let (id, _) = seen_ids(&s);
        reply(
            200,
            Some("application/json"),
            None,
            Body::from(answer(&id, 3)),
        )
    })
    .await;
    let bridge = bridge(&url, &[], WAIT);
    let (a, b) = tokio::join!(
        handle(&bridge, stateless(CALL)),
        handle(&bridge, stateless(CALL))
    );
    let upstream_ids = [
        seen_ids(&next_seen(&mut seen).await),
        seen_ids(&next_seen(&mut seen).await),
    ];
    assert_ne!(
        upstream_ids[0].0, upstream_ids[1].0,
        "two requests looked alike upstream"
    );
    for (id, token) in &upstream_ids {
        assert!(id.as_str().is_some_and(|s| s.starts_with("sp-")), "{id}");
        assert!(
            token.as_str().is_some_and(|s| s.ends_with("-progress")),
            "{token}"
        );
    }
    for reply in [a, b] {
        let Ok(BridgeReply::Json { body, .. }) = reply else {
            panic!("expected JSON: {reply:?}");
        };
        let v: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(v["id"], 1, "the client's id is back: {v}");
    }
}

#[tokio::test]
async fn a_long_streamed_answer_gets_the_clients_id_back() {
    let (url, _seen) = upstream(|s: Seen| async move {
        let (id, _) = seen_ids(&s);
        let text = answer(&id, 200_000);
        // The end in small chunks, so the id is cut across several.
        let (head, tail) = text.as_bytes().split_at(text.len() - 100);
        let (tx, rx) = mpsc::channel(64);
        for piece in head.chunks(16 * 1024).chain(tail.chunks(7)) {
            tx.try_send(Ok(Bytes::copy_from_slice(piece)))
                .expect("room");
        }
        streamed("application/json", rx)
    })
    .await;
    let bridge = bridge(&url, &[], WAIT);
    let Ok(BridgeReply::JsonStream { mut body, .. }) = handle(&bridge, stateless(CALL)).await
    else {
        panic!("expected a streamed JSON answer");
    };
    let mut whole = Vec::new();
    while let Some(chunk) = timeout(WAIT, body.next()).await.expect("bounded") {
        whole.extend_from_slice(&chunk.expect("chunk"));
    }
    let v: serde_json::Value = serde_json::from_slice(&whole).expect("json");
    assert_eq!(v["id"], 1);
    assert_eq!(
        v["result"]["content"][0]["text"].as_str().map(str::len),
        Some(200_000)
    );
}

#[tokio::test]
async fn an_event_stream_gets_the_clients_id_and_token_back() {
    let (url, _seen) = upstream(|s: Seen| async move {
        let (id, token) = seen_ids(&s);
        let (tx, rx) = mpsc::channel(16);
        let progress = format!(
            r#"{{"jsonrpc":"2.0","method":"notifications/progress","params":{{"progressToken":{token},"progress":1}}}}"#
        );
        // A large event: its data goes on in pieces.
        let events = format!("data: {progress}\n\ndata: {}\n\n", answer(&id, 150_000));
        tokio::spawn(async move {
            for piece in events.as_bytes().chunks(40_000) {
                let _ = tx.send(Bytes::copy_from_slice(piece)).await;
            }
        });
        event_stream(rx)
    })
    .await;
    let bridge = bridge(&url, &[], WAIT);
    let Ok(BridgeReply::Sse { mut events, .. }) = handle(&bridge, stateless(CALL)).await else {
        panic!("expected an event stream");
    };
    let progress = next_event(&mut events).await.expect("progress");
    let v: serde_json::Value = serde_json::from_slice(&progress.data).expect("json");
    assert_eq!(v["params"]["progressToken"], "tok");
    let (last, pieces) = next_event_pieces(&mut events).await.expect("answer");
    assert!(pieces > 0, "the large event came in pieces");
    let v: serde_json::Value = serde_json::from_slice(&last.data).expect("json");
    assert_eq!(v["id"], 1);
}
