//! Routing over several connectors: new sessions spread over idle links,
//! a session stays on the connector that holds it, and losing that
//! connector loses only its sessions; only granted servers are routed.

use sallyport_testkit::{MemoryServer, World, call_tool, rpc};
use serde_json::json;

#[tokio::test]
async fn sessions_spread_stick_to_their_connector_and_die_with_it() {
    let (a, b) = (MemoryServer::default(), MemoryServer::default());
    let mut world = World::builder()
        .server("files", a.clone())
        .connector(&[("files", b.clone())])
        .start()
        .await
        .expect("world");
    let alice = world.client(&world.alice);
    let first = alice
        .initialize("files")
        .await
        .expect("send")
        .expect("initialized");
    let second = alice
        .initialize("files")
        .await
        .expect("send")
        .expect("initialized");
    let inits = |s: &MemoryServer| {
        s.seen()
            .methods
            .iter()
            .filter(|m| *m == "initialize")
            .count()
    };
    assert_eq!(
        (inits(&a), inits(&b)),
        (1, 1),
        "two idle links, one session each"
    );

    // Each session's calls reach only the connector that holds it.
    for (id, session) in [(2, &first), (3, &second), (4, &first)] {
        let call = call_tool(id, "echo", json!({"text": "x"}));
        assert_eq!(alice.call(session, &call).await.expect("send").status, 200);
    }
    let calls = |s: &MemoryServer| {
        s.seen()
            .methods
            .iter()
            .filter(|m| *m == "tools/call")
            .count()
    };
    let (on_a, on_b) = (calls(&a), calls(&b));
    assert_eq!(on_a + on_b, 3);
    assert!(
        (on_a, on_b) == (2, 1) || (on_a, on_b) == (1, 2),
        "{on_a} {on_b}"
    );
    // The first session made two calls: its connector is the one with two.
    let (first_on, left) = if on_a == 2 { (0, &b) } else { (1, &a) };

    // The connector holding the first session goes: only that one is lost.
    world.stop_connector_at(first_on).await.expect("stops");
    world.wait_links(1).await.expect("one link left");
    let list = rpc(5, "tools/list", json!({}));
    assert_eq!(alice.call(&first, &list).await.expect("send").status, 404);
    assert_eq!(alice.call(&second, &list).await.expect("send").status, 200);
    let fresh = alice.initialize("files").await.expect("send");
    assert!(fresh.is_ok(), "a new session goes to the connector left");
    assert_eq!(inits(left), 2);
}

#[tokio::test]
async fn only_granted_servers_are_routed() {
    let mut world = World::builder()
        .server("files", MemoryServer::default())
        .server("secret", MemoryServer::default())
        .grants(&["files", "notes"])
        .start()
        .await
        .expect("world");
    let alice = world.client(&world.alice);
    assert!(alice.initialize("files").await.expect("send").is_ok());
    // Offered but not granted: the relay refused it at the link.
    let secret = alice.initialize("secret").await.expect("send");
    let secret = secret.expect_err("not granted");
    // Granted but not offered: a known server with no connector.
    let notes = alice.initialize("notes").await.expect("send");
    let notes = notes.expect_err("not offered");
    assert_eq!((secret.status.as_u16(), notes.status.as_u16()), (404, 503));

    let records = world.audit().await.expect("audit");
    let refused: Vec<_> = records
        .iter()
        .filter(|r| r["event"] == "connector_refused")
        .map(|r| r["server"].clone())
        .collect();
    assert_eq!(refused, [json!("secret")]);
}
