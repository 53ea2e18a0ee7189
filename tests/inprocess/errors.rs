//! Errors on the wire: each failure has its own status, never a hang.

use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderValue, Method};
use sallyport_testkit::world::{ALLOW_BOTH, CONNECTOR_ADDR};
use sallyport_testkit::{MemoryServer, Session, WAIT, World, call_tool, rpc};
use serde_json::json;

async fn world(files: &MemoryServer) -> World {
    World::builder()
        .server("files", files.clone())
        .start()
        .await
        .expect("world")
}

#[tokio::test]
async fn an_unknown_session_is_404() {
    let files = MemoryServer::default();
    let world = world(&files).await;
    let alice = world.client(&world.alice);
    let forged = Session {
        id: "not-a-session".to_owned(),
        server: "files".to_owned(),
    };
    let reply = alice
        .call(&forged, &rpc(2, "tools/list", json!({})))
        .await
        .expect("send");
    assert_eq!(reply.status, 404, "{:?}", reply.body);
    assert!(
        files.seen().methods.is_empty(),
        "a forged id reached the server"
    );

    // A real session the server has ended: the connector's answer is 404 too.
    let session = alice
        .initialize("files")
        .await
        .expect("send")
        .expect("initialized");
    assert_eq!(alice.delete(&session).await.expect("delete").status, 200);
    let reply = alice
        .call(&session, &rpc(3, "tools/list", json!({})))
        .await
        .expect("send");
    assert_eq!(reply.status, 404, "{:?}", reply.body);
    assert_eq!(
        files.seen().methods.last().map(String::as_str),
        Some("tools/list")
    );
}

#[tokio::test]
async fn a_session_of_another_caller_is_404() {
    let files = MemoryServer::default();
    let world = World::builder()
        .server("files", files.clone())
        .policy(ALLOW_BOTH)
        .start()
        .await
        .expect("world");
    let session = world
        .client(&world.alice)
        .initialize("files")
        .await
        .expect("send");
    let session = session.expect("initialized");
    let bob = world.client(&world.bob);
    let reply = bob
        .call(&session, &rpc(2, "tools/list", json!({})))
        .await
        .expect("send");
    assert_eq!(reply.status, 404, "{:?}", reply.body);
}

#[tokio::test]
async fn no_connector_is_503_and_its_sessions_are_404() {
    let files = MemoryServer::default();
    let mut world = world(&files).await;
    let alice = world.client(&world.alice);
    let session = alice
        .initialize("files")
        .await
        .expect("send")
        .expect("initialized");

    world.stop_connector().await.expect("connector stops");
    world.wait_served("files", false).await.expect("link gone");

    let fresh = alice.initialize("files").await.expect("send");
    let fresh = fresh.expect_err("no connector");
    assert_eq!(fresh.status, 503, "{:?}", fresh.body);
    assert!(fresh.header("retry-after").is_some());
    let old = alice
        .call(&session, &rpc(2, "tools/list", json!({})))
        .await
        .expect("send");
    assert_eq!(old.status, 404, "{:?}", old.body);
}

#[tokio::test]
async fn an_upstream_failure_is_502_with_the_request_id() {
    let files = MemoryServer::default();
    let world = world(&files).await;
    let alice = world.client(&world.alice);
    let session = alice
        .initialize("files")
        .await
        .expect("send")
        .expect("initialized");
    let reply = alice
        .call(&session, &call_tool(7, "fail", json!({})))
        .await
        .expect("send");
    assert_eq!(reply.status, 502, "{:?}", reply.body);
    let body = reply.json();
    assert_eq!(body["id"], 7);
    assert_eq!(body["error"]["data"]["category"], "upstream_failed");
    // The session survives a failed call.
    let echo = call_tool(8, "echo", json!({"text": "still here"}));
    let reply = alice.call(&session, &echo).await.expect("send");
    assert_eq!(reply.status, 200, "{:?}", reply.body);
}

#[tokio::test(start_paused = true)]
async fn a_link_lost_mid_request_fails_it_and_unroutes_the_server() {
    let files = MemoryServer::default();
    let world = world(&files).await;
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

    world.net.cut(CONNECTOR_ADDR.parse().expect("addr"));
    let started = tokio::time::Instant::now();
    let reply = pending.await.expect("task").expect("send");
    // The relay notices at its QUIC idle timeout (10 s by default).
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(10) && waited < Duration::from_secs(11),
        "{waited:?}"
    );
    assert_eq!(reply.status, 502, "{:?}", reply.body);
    assert_eq!(
        reply.json()["error"]["message"],
        "the connector link failed"
    );
    assert_eq!(reply.json()["id"], 2);
    world.wait_served("files", false).await.expect("link gone");
    let fresh = alice.initialize("files").await.expect("send");
    assert_eq!(fresh.expect_err("no link").status, 503);
}

#[tokio::test]
async fn a_foreign_host_or_origin_is_403_before_anything_else() {
    let files = MemoryServer::default();
    let world = world(&files).await;
    let alice = world.client(&world.alice);
    let message = rpc(1, "tools/list", json!({}));
    let send = |name: &'static str, value: &'static str| {
        let mut request = alice
            .request(Method::POST, "files", Some(&message))
            .body(Body::from(message.to_string()))
            .expect("request");
        let value = HeaderValue::from_static(value);
        request.headers_mut().insert(name, value);
        alice.send(request)
    };
    let host = send("host", "evil.test").await.expect("send");
    assert_eq!(host.status, 403, "{:?}", host.body);
    let origin = send("origin", "http://evil.test").await.expect("send");
    assert_eq!(origin.status, 403, "{:?}", origin.body);
    // The control: the relay's own origin passes these rules (and, without
    // a session, is then refused for that).
    let own = send("origin", "http://relay.test").await.expect("send");
    assert_eq!(own.status, 400, "{:?}", own.body);
    assert!(files.seen().methods.is_empty(), "{:?}", files.seen());
}
