//! Policy on the wire: a denied tool looks unknown, a denied server is
//! 403, and lists are filtered in JSON and in event-stream answers.

use sallyport_testkit::world::ALLOW_ALICE;
use sallyport_testkit::{MemoryServer, Reply, World, call_tool, rpc};
use serde_json::json;

/// Alice may use `echo` and `ghost` (which the server does not have);
/// `fail` and `wait` exist but are not hers.
const ECHO_ONLY: &str = r#"
[[role]]
name = "echo"
allow = ["files/echo", "files/ghost"]

[[binding]]
role = "echo"
users = ["alice@acme.com"]
"#;

/// The error of a reply, with the tool's name taken out.
fn error_without(reply: &Reply, tool: &str) -> (u16, serde_json::Value) {
    let mut error = reply.json()["error"].clone();
    let message = error["message"]
        .as_str()
        .unwrap_or_default()
        .replace(tool, "<tool>");
    error["message"] = json!(message);
    (reply.status.as_u16(), error)
}

#[tokio::test]
async fn a_denied_tool_looks_like_one_that_does_not_exist() {
    let files = MemoryServer::default();
    let world = World::builder()
        .server("files", files.clone())
        .policy(ECHO_ONLY)
        .start()
        .await
        .expect("world");
    let alice = world.client(&world.alice);
    let session = alice
        .initialize("files")
        .await
        .expect("send")
        .expect("initialized");

    let unknown = alice
        .call(&session, &call_tool(2, "ghost", json!({})))
        .await
        .expect("call");
    let denied = alice
        .call(&session, &call_tool(3, "fail", json!({})))
        .await
        .expect("call");
    // The server answered for `ghost`; the relay answered for `fail`.
    assert_eq!(
        unknown.json()["error"]["code"],
        -32602,
        "{:?}",
        unknown.body
    );
    assert_eq!(
        error_without(&denied, "fail"),
        error_without(&unknown, "ghost")
    );
    assert_eq!(denied.json()["id"], 3);
    let calls = files
        .seen()
        .methods
        .iter()
        .filter(|m| *m == "tools/call")
        .count();
    assert_eq!(calls, 1, "the denied call reached the server");
}

#[tokio::test]
async fn a_server_the_caller_may_not_use_is_403_and_never_reached() {
    let files = MemoryServer::default();
    let world = World::builder()
        .server("files", files.clone())
        .start()
        .await
        .expect("world");
    // Bob is authenticated, but no binding names him.
    let refused = world
        .client(&world.bob)
        .initialize("files")
        .await
        .expect("send");
    let refused = refused.expect_err("bob may not use files");
    assert_eq!(refused.status, 403);
    assert!(
        refused
            .header("www-authenticate")
            .is_some_and(|c| c.contains("insufficient_scope"))
    );
    let anonymous = world.anonymous().initialize("files").await.expect("send");
    assert_eq!(anonymous.expect_err("no credentials").status, 401);
    assert!(files.seen().methods.is_empty(), "{:?}", files.seen());
}

async fn listed(sse: bool, policy: &str) -> (bool, Vec<String>) {
    let world = World::builder()
        .server("files", MemoryServer::with_tools(&["extra"], sse))
        .policy(policy)
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
    assert_eq!(list.status, 200, "{:?}", list.body);
    assert_eq!(list.json()["id"], 2);
    (list.is_sse(), list.tool_names())
}

#[tokio::test]
async fn lists_show_only_allowed_tools_in_json() {
    assert_eq!(
        listed(false, ECHO_ONLY).await,
        (false, vec!["echo".to_owned()])
    );
    // The control: with everything allowed, nothing is taken out.
    let all = listed(false, ALLOW_ALICE).await;
    assert_eq!(all.1, ["echo", "fail", "wait", "stream", "extra"]);
}

#[tokio::test]
async fn lists_show_only_allowed_tools_in_event_streams() {
    assert_eq!(
        listed(true, ECHO_ONLY).await,
        (true, vec!["echo".to_owned()])
    );
    let all = listed(true, ALLOW_ALICE).await;
    assert_eq!(
        all,
        (
            true,
            ["echo", "fail", "wait", "stream", "extra"]
                .map(String::from)
                .to_vec()
        )
    );
}

#[tokio::test]
async fn denials_are_audited_with_the_rule_that_decided() {
    let mut world = World::builder()
        .server("files", MemoryServer::default())
        .policy(ECHO_ONLY)
        .start()
        .await
        .expect("world");
    let alice = world.client(&world.alice);
    let session = alice
        .initialize("files")
        .await
        .expect("send")
        .expect("initialized");
    let denied = alice
        .call(&session, &call_tool(2, "fail", json!({})))
        .await
        .expect("call");
    let echo = alice
        .call(&session, &call_tool(3, "echo", json!({})))
        .await
        .expect("call");
    assert_eq!(echo.status, 200);
    let bob = world
        .client(&world.bob)
        .initialize("files")
        .await
        .expect("send");
    let bob = bob.expect_err("bob may not");
    assert_eq!(bob.status, 403);
    let records = world.audit().await.expect("audit");
    let record = |reply: &Reply| {
        let id: u64 = reply
            .header("x-request-id")
            .and_then(|v| v.parse().ok())
            .expect("id");
        records
            .iter()
            .find(|r| r["request_id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("no audit record {id} in {records:?}"))
    };
    let tool = record(&denied);
    assert_eq!(
        (
            &tool["event"],
            &tool["decision"],
            &tool["target"],
            &tool["user"]
        ),
        (
            &json!("denial"),
            &json!("deny"),
            &json!("fail"),
            &json!("alice@acme.com")
        )
    );
    let rule = tool["rule"].as_str().unwrap_or_default();
    assert!(rule.starts_with("DENY files/fail"), "{rule}");
    assert_eq!(
        tool["connector"],
        json!(null),
        "a denial never reaches a connector"
    );
    let allowed = record(&echo);
    assert_eq!(
        (&allowed["decision"], &allowed["target"]),
        (&json!("allow"), &json!("echo"))
    );
    let server = record(&bob);
    assert_eq!(
        (&server["decision"], &server["status"]),
        (&json!("deny"), &json!(403))
    );
    let rule = server["rule"].as_str().unwrap_or_default();
    assert!(rule.starts_with("DENY server files"), "{rule}");
}

#[tokio::test]
async fn a_policy_reload_cuts_a_live_session_at_its_next_request() {
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
    let list = rpc(2, "tools/list", json!({}));
    assert_eq!(alice.call(&session, &list).await.expect("send").status, 200);

    // Alice keeps her binding, but to a role without `files`.
    let narrowed = ALLOW_ALICE.replace(r#"allow = ["*/*"]"#, r#"allow = ["other/*"]"#);
    world
        .set_policy(ALLOW_ALICE, &narrowed)
        .expect("policy replaced");
    // The reload is applied by the relay's own task and nothing outside
    // the admin API tells when: bounded retries of the request itself.
    let (mut status, mut served) = (0, 0);
    for _ in 0..200 {
        status = alice
            .call(&session, &list)
            .await
            .expect("send")
            .status
            .as_u16();
        if status != 200 {
            break;
        }
        served += 1;
        tokio::task::yield_now().await;
    }
    assert_eq!(
        status, 403,
        "the session outlived the policy that allowed it"
    );
    let lists = files
        .seen()
        .methods
        .iter()
        .filter(|m| *m == "tools/list")
        .count();
    assert_eq!(lists, 1 + served, "the refused request reached the server");
}
