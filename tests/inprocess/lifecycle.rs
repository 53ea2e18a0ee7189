//! A request's life: cancelled when its client goes away, finished when
//! the relay drains, cut when the server takes too long (paused time),
//! and an event stream's end, whole or broken.

use std::time::Duration;

use http_body_util::BodyExt;
use sallyport_testkit::{MemoryServer, WAIT, World, call_tool};
use serde_json::json;

#[tokio::test]
async fn a_client_that_goes_away_cancels_the_upstream_call() {
    let files = MemoryServer::default();
    let world = World::builder()
        .server("files", files.clone())
        .start()
        .await
        .expect("world");
    let alice = world.client(&world.alice);
    let session = alice
        .initialize("files")
        .await
        .expect("send")
        .expect("initialized");

    let pending = tokio::spawn({
        let (alice, session) = (alice.clone(), session.clone());
        async move { alice.call(&session, &call_tool(2, "wait", json!({}))).await }
    });
    files.wait_until(WAIT, |s| s.waiting == 1).await;
    pending.abort();
    files.wait_until(WAIT, |s| s.cancelled == 1).await;
    assert_eq!(files.seen().released, 0);

    // The link is fine: the next call in the session answers.
    let echo = call_tool(3, "echo", json!({"text": "after"}));
    assert_eq!(alice.call(&session, &echo).await.expect("send").status, 200);
}

#[tokio::test(start_paused = true)]
async fn a_draining_relay_lets_the_request_in_flight_finish() {
    let files = MemoryServer::default();
    let mut world = World::builder()
        .server("files", files.clone())
        .start()
        .await
        .expect("world");
    let alice = world.client(&world.alice);
    let session = alice
        .initialize("files")
        .await
        .expect("send")
        .expect("initialized");
    let pending = tokio::spawn({
        let (alice, session) = (alice.clone(), session.clone());
        async move { alice.call(&session, &call_tool(2, "wait", json!({}))).await }
    });
    files.wait_until(WAIT, |s| s.waiting == 1).await;

    world.begin_drain();
    // The relay waits for the held call (its drain timeout is 5 s).
    let early = tokio::time::timeout(Duration::from_secs(3), world.relay_stopped()).await;
    assert!(early.is_err(), "the relay stopped with a request in flight");
    files.release();
    let reply = pending.await.expect("task").expect("send");
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(reply.json()["result"]["content"][0]["text"], "released");
    assert_eq!(files.seen().cancelled, 0);
    world.relay_stopped().await.expect("relay stops");
}

#[tokio::test(start_paused = true)]
async fn a_server_that_does_not_answer_in_time_is_504_and_cancelled() {
    let files = MemoryServer::default();
    let world = World::builder()
        .server("files", files.clone())
        .http("response_timeout_ms = 30000")
        .start()
        .await
        .expect("world");
    let alice = world.client(&world.alice);
    let session = alice
        .initialize("files")
        .await
        .expect("send")
        .expect("initialized");

    let started = tokio::time::Instant::now();
    let call = call_tool(2, "wait", json!({}));
    let reply = alice.call(&session, &call).await.expect("send");
    assert_eq!(reply.status, 504, "{:?}", reply.body);
    assert_eq!(reply.json()["id"], 2);
    let waited = started.elapsed();
    assert!(waited >= Duration::from_secs(30), "{waited:?}");
    assert!(waited < Duration::from_secs(31), "{waited:?}");
    files.wait_until(WAIT, |s| s.cancelled == 1).await;
}

#[tokio::test]
async fn an_event_stream_runs_to_its_result_or_is_cancelled_when_dropped() {
    let files = MemoryServer::default();
    let world = World::builder()
        .server("files", files.clone())
        .start()
        .await
        .expect("world");
    let alice = world.client(&world.alice);
    let session = alice
        .initialize("files")
        .await
        .expect("send")
        .expect("initialized");
    let call =
        |id| alice.post_request("files", Some(&session), &call_tool(id, "stream", json!({})));

    // Read to the end: the progress notification, then the result.
    let mut response = alice.open(call(2).expect("request")).await;
    assert_eq!(response.status(), 200);
    let first = next_data(&mut response).await;
    assert!(first.contains("notifications/progress"), "{first}");
    files.release();
    let rest = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    let rest = String::from_utf8_lossy(&rest);
    assert!(rest.contains("released"), "{rest}");

    // Dropped after the first event: the server's call is cancelled.
    let mut response = alice.open(call(3).expect("request")).await;
    assert_eq!(response.status(), 200);
    let _ = next_data(&mut response).await;
    drop(response);
    files.wait_until(WAIT, |s| s.cancelled == 1).await;
    assert_eq!(files.seen().released, 1);
}

/// The next data frame of a response body, as text.
async fn next_data(response: &mut axum::response::Response) -> String {
    for _ in 0..16 {
        let frame = tokio::time::timeout(WAIT, response.body_mut().frame()).await;
        let frame = frame
            .expect("a frame in time")
            .expect("a frame")
            .expect("no error");
        if let Ok(data) = frame.into_data() {
            return String::from_utf8_lossy(&data).into_owned();
        }
    }
    panic!("no data frame in 16 frames");
}

#[tokio::test]
async fn an_event_stream_that_breaks_upstream_ends_with_an_error_for_the_call() {
    let world = World::builder()
        .server("files", MemoryServer::default())
        .start()
        .await
        .expect("world");
    let alice = world.client(&world.alice);
    let session = alice
        .initialize("files")
        .await
        .expect("send")
        .expect("initialized");
    let call = call_tool(2, "broken", json!({}));
    let mut response = alice
        .open(
            alice
                .post_request("files", Some(&session), &call)
                .expect("request"),
        )
        .await;
    assert_eq!(response.status(), 200);
    let first = next_data(&mut response).await;
    assert!(first.contains("notifications/progress"), "{first}");
    let rest = tokio::time::timeout(WAIT, response.into_body().collect()).await;
    let rest = rest
        .expect("the stream ends in time")
        .expect("body")
        .to_bytes();
    // Not a quiet end: the last event answers the call with an error.
    let text = String::from_utf8_lossy(&rest);
    let data = text
        .lines()
        .find_map(|l| l.strip_prefix("data:"))
        .expect("an event");
    let error: serde_json::Value = serde_json::from_str(data.trim()).expect("JSON-RPC");
    assert_eq!(error["id"], 2);
    assert_eq!(error["error"]["code"], -32002, "{error}");
}
