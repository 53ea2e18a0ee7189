//! Link identity on the wire: a connector whose certificate is revoked is
//! cut at the relay's next reload and cannot come back.

use std::time::Duration;

use sallyport_pki::{RevocationReason, RevokeTarget};
use sallyport_testkit::{MemoryServer, World, rpc};
use serde_json::json;

#[tokio::test(start_paused = true)]
async fn a_revoked_connector_is_cut_on_reload_and_refused_after() {
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

    let cert = RevokeTarget::Cert(world.connector_cert().to_owned());
    world
        .pki()
        .revoke(&cert, RevocationReason::KeyCompromise)
        .expect("revoke");
    world.reload();
    world
        .wait_served("files", false)
        .await
        .expect("the link is cut");

    let list = rpc(2, "tools/list", json!({}));
    assert_eq!(alice.call(&session, &list).await.expect("send").status, 404);
    let fresh = alice.initialize("files").await.expect("send");
    assert_eq!(fresh.expect_err("no connector").status, 503);
    // The connector keeps redialling (backoff at most 1 s); for 10 s of
    // its attempts, none is let back in.
    let back =
        tokio::time::timeout(Duration::from_secs(10), world.wait_served("files", true)).await;
    assert!(back.is_err(), "a revoked connector was let back in");
}
