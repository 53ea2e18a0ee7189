//! Both eras end to end: what the client sends reaches the server, and
//! what the server answers reaches the client.

use axum::body::Body;
use axum::http::Method;
use sallyport_mcp::era::{HEADER_MISMATCH, META_PROTOCOL_VERSION, UNSUPPORTED_VERSION};
use sallyport_testkit::{MemoryServer, STATELESS_VERSION, World, call_tool, rpc};
use serde_json::json;

#[tokio::test]
async fn a_session_era_round_trip() {
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
    let list = alice
        .call(&session, &rpc(2, "tools/list", json!({})))
        .await
        .expect("list");
    assert_eq!(list.status, 200);
    assert_eq!(list.tool_names(), ["echo", "fail", "wait", "stream"]);

    let call = call_tool(3, "echo", json!({"text": "hello"}));
    let reply = alice.call(&session, &call).await.expect("call");
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["result"]["content"][0]["text"], "hello");
    assert_eq!(reply.json()["id"], 3);

    let deleted = alice.delete(&session).await.expect("delete");
    assert_eq!(deleted.status, 200);
    let seen = files.seen();
    assert_eq!(
        seen.methods,
        [
            "initialize",
            "notifications/initialized",
            "tools/list",
            "tools/call",
            "DELETE"
        ]
    );
    let caller = seen.caller.expect("caller");
    assert_eq!(caller.subject, "alice@acme.com");
    assert_eq!(caller.groups, ["legal"]);
    // The relay's session id is its own sealed token, not the upstream's.
    assert!(!session.id.contains("upstream-"), "{}", session.id);
}

#[tokio::test]
async fn a_stateless_era_round_trip() {
    let files = MemoryServer::default();
    let world = World::builder()
        .server("files", files.clone())
        .start()
        .await
        .expect("world");
    let alice = world.client(&world.alice);

    let list = alice
        .stateless("files", &rpc(1, "tools/list", json!({})))
        .await
        .expect("list");
    assert_eq!(list.status, 200, "{:?}", list.body);
    assert_eq!(list.tool_names(), ["echo", "fail", "wait", "stream"]);
    assert_eq!(list.header("mcp-session-id"), None);

    let call = call_tool(2, "echo", json!({"text": "no session"}));
    let reply = alice.stateless("files", &call).await.expect("call");
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(reply.json()["result"]["content"][0]["text"], "no session");

    let seen = files.seen();
    assert_eq!(seen.methods, ["tools/list", "tools/call"]);
    assert_eq!(seen.protocol_version.as_deref(), Some(STATELESS_VERSION));
}

#[tokio::test]
async fn era_conflicts_and_unknown_versions_are_400_and_never_forwarded() {
    let files = MemoryServer::default();
    let world = World::builder()
        .server("files", files.clone())
        .start()
        .await
        .expect("world");
    let alice = world.client(&world.alice);
    let send = |version: &str, body_version: &str| {
        let meta = json!({ "_meta": { META_PROTOCOL_VERSION: body_version } });
        let message = rpc(1, "tools/list", meta);
        let request = alice
            .request(Method::POST, "files", Some(&message))
            .header("mcp-protocol-version", version)
            .body(Body::from(message.to_string()))
            .expect("request");
        alice.send(request)
    };
    let mismatch = send(STATELESS_VERSION, "2025-06-18").await.expect("send");
    assert_eq!(mismatch.status, 400, "{:?}", mismatch.body);
    assert_eq!(mismatch.json()["error"]["code"], HEADER_MISMATCH);
    let unknown = send("2099-01-01", "2099-01-01").await.expect("send");
    assert_eq!(unknown.status, 400, "{:?}", unknown.body);
    assert_eq!(unknown.json()["error"]["code"], UNSUPPORTED_VERSION);
    assert!(files.seen().methods.is_empty(), "{:?}", files.seen());
    // The control: the same request with agreeing versions is served.
    let agreed = send(STATELESS_VERSION, STATELESS_VERSION)
        .await
        .expect("send");
    assert_eq!(agreed.status, 200, "{:?}", agreed.body);
}
