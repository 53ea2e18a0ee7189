//! Both eras end to end: what the client sends reaches the server, and
//! what the server answers reaches the client.

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
    assert_eq!(list.tool_names(), ["echo", "fail", "wait"]);

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
    assert_eq!(list.tool_names(), ["echo", "fail", "wait"]);
    assert_eq!(list.header("mcp-session-id"), None);

    let call = call_tool(2, "echo", json!({"text": "no session"}));
    let reply = alice.stateless("files", &call).await.expect("call");
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(reply.json()["result"]["content"][0]["text"], "no session");

    let seen = files.seen();
    assert_eq!(seen.methods, ["tools/list", "tools/call"]);
    assert_eq!(seen.protocol_version.as_deref(), Some(STATELESS_VERSION));
}
