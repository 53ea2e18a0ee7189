//! Bearer tokens signed with the PKI's token key: the relay verifies
//! them, and their subject, groups and agent reach policy and the server.

use sallyport_pki::{TokenRequest, Ttl};
use sallyport_testkit::{MemoryServer, World, call_tool};
use serde_json::json;

const LEGAL: &str = r#"
[[role]]
name = "legal"
allow = ["files/*"]

[[binding]]
role = "legal"
groups = ["legal"]
"#;

fn token(world: &World, audience: &str, groups: &[&str]) -> String {
    let request = TokenRequest {
        audiences: vec![audience.to_owned()],
        subject: "carol@acme.com".to_owned(),
        groups: groups.iter().map(|g| (*g).to_owned()).collect(),
        agent: Some("claude".to_owned()),
        ttl: Ttl::from_secs(600).expect("ttl"),
        issuer: None,
    };
    world.pki().mint_token(&request).expect("minted")
}

#[tokio::test]
async fn a_minted_token_names_the_caller_for_policy_and_server() {
    let files = MemoryServer::default();
    let world = World::builder()
        .server("files", files.clone())
        .policy(LEGAL)
        .start()
        .await
        .expect("world");
    let carol = world.client_with_token(&token(&world, "http://relay.test", &["legal"]));
    let session = carol
        .initialize("files")
        .await
        .expect("send")
        .expect("initialized");
    let call = call_tool(2, "echo", json!({"text": "hi"}));
    assert_eq!(carol.call(&session, &call).await.expect("send").status, 200);
    let caller = files.seen().caller.expect("caller");
    assert_eq!(caller.subject, "carol@acme.com");
    assert_eq!(caller.groups, ["legal"]);
    assert_eq!(caller.agent.as_deref(), Some("claude"));

    // Another group: authenticated, but no binding matches.
    let eng = world.client_with_token(&token(&world, "http://relay.test", &["eng"]));
    let refused = eng.initialize("files").await.expect("send");
    assert_eq!(refused.expect_err("not legal").status, 403);
    // Another audience: not a credential for this relay.
    let elsewhere = world.client_with_token(&token(&world, "https://other.test", &["legal"]));
    let refused = elsewhere.initialize("files").await.expect("send");
    assert_eq!(refused.expect_err("wrong audience").status, 401);
}
