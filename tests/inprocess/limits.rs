//! Bounds on the wire: a role's quota and a caller's share of streams
//! answer 429 with Retry-After, a body over the limit 413; none of them
//! reaches the server.

use sallyport_testkit::world::ALLOW_BOTH;
use sallyport_testkit::{MemoryServer, WAIT, World, call_tool};
use serde_json::json;

#[tokio::test]
async fn a_role_over_its_quota_is_429_and_not_forwarded() {
    let files = MemoryServer::default();
    let world = World::builder()
        .server("files", files.clone())
        .policy(
            r#"
[[role]]
name = "metered"
allow = ["files/*"]
rate = "2/min"

[[binding]]
role = "metered"
users = ["alice@acme.com"]
"#,
        )
        .start()
        .await
        .expect("world");
    let alice = world.client(&world.alice);
    let session = alice
        .initialize("files")
        .await
        .expect("send")
        .expect("initialized");
    let mut statuses = Vec::new();
    for id in 2..5 {
        let call = call_tool(id, "echo", json!({"text": "x"}));
        let reply = alice.call(&session, &call).await.expect("send");
        statuses.push((reply.status.as_u16(), reply.header("retry-after").is_some()));
    }
    assert_eq!(statuses, [(200, false), (200, false), (429, true)]);
    let calls = files
        .seen()
        .methods
        .iter()
        .filter(|m| *m == "tools/call")
        .count();
    assert_eq!(calls, 2, "the call over the quota reached the server");
}

#[tokio::test]
async fn a_caller_holding_its_share_of_streams_is_429_until_one_ends() {
    let files = MemoryServer::default();
    let world = World::builder()
        .server("files", files.clone())
        .policy(ALLOW_BOTH)
        .relay("[limits]\nmax_streams_per_principal = 1")
        .start()
        .await
        .expect("world");
    let alice = world.client(&world.alice);
    let session = alice
        .initialize("files")
        .await
        .expect("send")
        .expect("initialized");
    let held = tokio::spawn({
        let (alice, session) = (alice.clone(), session.clone());
        async move { alice.call(&session, &call_tool(2, "wait", json!({}))).await }
    });
    files.wait_until(WAIT, |s| s.waiting == 1).await;

    let echo = call_tool(3, "echo", json!({"text": "second"}));
    let refused = alice.call(&session, &echo).await.expect("send");
    assert_eq!(refused.status, 429, "{:?}", refused.body);
    assert_eq!(refused.header("retry-after"), Some("2"));
    // Another caller has a share of its own.
    let bob = world
        .client(&world.bob)
        .initialize("files")
        .await
        .expect("send");
    assert!(bob.is_ok(), "{:?}", bob.err());

    files.release();
    assert_eq!(held.await.expect("task").expect("send").status, 200);
    let again = alice.call(&session, &echo).await.expect("send");
    assert_eq!(again.status, 200, "{:?}", again.body);
}

#[tokio::test]
async fn a_body_over_the_limit_is_413_and_not_forwarded() {
    let files = MemoryServer::default();
    let world = World::builder()
        .server("files", files.clone())
        .http("max_body_bytes = 1024")
        .start()
        .await
        .expect("world");
    let alice = world.client(&world.alice);
    let session = alice
        .initialize("files")
        .await
        .expect("send")
        .expect("initialized");
    let big = call_tool(2, "echo", json!({"text": "x".repeat(2048)}));
    let reply = alice.call(&session, &big).await.expect("send");
    assert_eq!(reply.status, 413, "{:?}", reply.body);
    let small = call_tool(3, "echo", json!({"text": "x".repeat(512)}));
    assert_eq!(
        alice.call(&session, &small).await.expect("send").status,
        200
    );
    let calls = files
        .seen()
        .methods
        .iter()
        .filter(|m| *m == "tools/call")
        .count();
    assert_eq!(calls, 1, "the body over the limit reached the server");
}
