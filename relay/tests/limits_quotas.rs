//! `relay::limits` driven by a real policy: `Policy::quotas` feeds
//! `RateLimiter::check`, time is a fake clock, nothing sleeps. One ignored
//! test times `check`:
//! `cargo test --release -p sallyport-relay --test limits_quotas --
//! --ignored --nocapture`.

use std::time::{Duration, Instant};

use sallyport_protocol::ServerName;
use sallyport_relay::limits::{FakeRelativeClock, Limited, RateLimiter};
use sallyport_relay::policy::{Policy, Subject, Target};

const POLICY: &str = r#"
[[role]]
name = "legal-reader"
allow = ["contracts/search_*", "contracts/get_*"]
rate = "3/min"

[[role]]
name = "legal-power"
allow = ["contracts/*"]
deny = ["contracts/delete_*"]
rate = "10/min"

[[role]]
name = "auditor"
allow = ["contracts/get_*"]
rate = "1/hour"

[[binding]]
role = "legal-reader"
groups = ["legal"]

[[binding]]
role = "legal-power"
users = ["carol"]

[[binding]]
role = "auditor"
groups = ["audit"]
"#;

struct World {
    policy: Policy,
    contracts: ServerName,
    clock: FakeRelativeClock,
    limiter: RateLimiter<FakeRelativeClock>,
}

impl World {
    fn new(max_keys: usize) -> Self {
        let clock = FakeRelativeClock::default();
        World {
            policy: Policy::from_toml_str(POLICY).expect("policy"),
            contracts: ServerName::new("contracts").expect("server"),
            limiter: RateLimiter::with_clock(max_keys, clock.clone()),
            clock,
        }
    }

    /// One call, as the relay makes it: policy first, then the quota.
    fn call(&self, user: &str, groups: &[&str], tool: &str) -> Result<(), Limited> {
        let groups: Vec<String> = groups.iter().map(|g| (*g).to_owned()).collect();
        let who = Subject {
            user: Some(user),
            groups: &groups,
            agent: None,
        };
        let target = Target::Tool(tool);
        assert!(
            self.policy.allows(&who, &self.contracts, target),
            "{user} {tool}"
        );
        let quotas = self.policy.quotas(&who, &self.contracts, target);
        self.limiter.check(user, &quotas, &self.contracts, target)
    }
}

#[test]
fn a_role_quota_per_principal_and_tool() {
    let w = World::new(1000);
    for _ in 0..3 {
        w.call("alice", &["legal"], "search_docs").expect("alice");
    }
    let err = w.call("alice", &["legal"], "search_docs").expect_err("4th");
    assert_eq!(err.retry_after().secs(), 20);
    assert_eq!(err.status().as_u16(), 429);
    assert!(err.to_string().contains("legal-reader (3/min)"), "{err}");

    // Another principal, another tool: their own buckets.
    w.call("bob", &["legal"], "search_docs").expect("bob");
    w.call("alice", &["legal"], "get_contract")
        .expect("another tool");

    w.clock.advance(Duration::from_secs(20));
    w.call("alice", &["legal"], "search_docs")
        .expect("refilled one");
    w.call("alice", &["legal"], "search_docs")
        .expect_err("just one");
}

#[test]
fn several_roles_use_the_most_generous() {
    let w = World::new(1000);
    // dave is a legal reader (3/min) and an auditor (1/hour) for get_*:
    // he gets 3/min, charged to legal-reader.
    for _ in 0..3 {
        w.call("dave", &["legal", "audit"], "get_contract")
            .expect("3/min");
    }
    match w.call("dave", &["legal", "audit"], "get_contract") {
        Err(Limited::Exceeded { role, .. }) => assert_eq!(role, "legal-reader"),
        other => panic!("{other:?}"),
    }
    // carol is bound to legal-power (10/min) directly, and to
    // legal-reader through her group: 10/min.
    for i in 0..10 {
        w.call("carol", &["legal"], "search_docs")
            .unwrap_or_else(|e| panic!("call {i}: {e}"));
    }
    match w.call("carol", &["legal"], "search_docs") {
        Err(Limited::Exceeded {
            role, retry_after, ..
        }) => {
            assert_eq!(role, "legal-power");
            assert_eq!(retry_after.secs(), 6);
        }
        other => panic!("{other:?}"),
    }
    // An auditor alone: 1/hour.
    w.call("erin", &["audit"], "get_contract").expect("first");
    let err = w
        .call("erin", &["audit"], "get_contract")
        .expect_err("hourly");
    assert_eq!(err.retry_after().secs(), 3600);
}

#[test]
fn memory_stays_bounded() {
    let w = World::new(50);
    for i in 0..50 {
        w.call(&format!("user{i}"), &["legal"], "search_docs")
            .expect("room");
    }
    let err = w.call("late", &["legal"], "search_docs").expect_err("full");
    assert!(matches!(err, Limited::Full { max_keys: 50, .. }), "{err:?}");
    assert_eq!(err.status().as_u16(), 503);
    assert_eq!(err.retry_after().secs(), 60);
    w.call("user7", &["legal"], "search_docs")
        .expect("known callers go on");
    assert_eq!(w.limiter.len(), 50);

    w.clock.advance(Duration::from_secs(60));
    w.limiter.housekeeping();
    assert!(w.limiter.len() <= 1, "{}", w.limiter.len());
    w.call("late", &["legal"], "search_docs")
        .expect("room again");
}

#[test]
#[ignore = "timing; run in release with --ignored --nocapture"]
fn measure_check() {
    let contracts = ServerName::new("contracts").expect("server");
    let target = Target::Tool("search_docs");
    let groups = vec!["legal".to_owned()];
    let who = Subject {
        user: Some("alice"),
        groups: &groups,
        agent: None,
    };
    let principals: Vec<String> = (0..100_000)
        .map(|i| format!("user-{i:06}@example.com"))
        .collect();
    let n = 1_000_000u32;

    for (what, rate) in [("allowed", "4000000000/sec"), ("refused", "3/min")] {
        let policy = Policy::from_toml_str(&POLICY.replace("\"3/min\"", &format!("{rate:?}")))
            .expect("policy");
        let quotas = policy.quotas(&who, &contracts, target);
        // The relay's own clock (tokio / std Instant), not the fake one.
        let limiter = RateLimiter::new(200_000);

        let t = Instant::now();
        for _ in 0..n {
            let r = limiter.check("alice@example.com", &quotas, &contracts, target);
            let _ = std::hint::black_box(r);
        }
        let one = t.elapsed() / n;

        let t = Instant::now();
        for i in 0..n {
            let p = &principals[i as usize % principals.len()];
            let _ = std::hint::black_box(limiter.check(p, &quotas, &contracts, target));
        }
        let spread = t.elapsed() / n;

        let t = Instant::now();
        for _ in 0..n / 10 {
            let quotas = policy.quotas(&who, &contracts, target);
            let r = limiter.check("alice@example.com", &quotas, &contracts, target);
            let _ = std::hint::black_box(r);
        }
        let with_policy = t.elapsed() / (n / 10);

        let keys = limiter.len();
        let t = Instant::now();
        limiter.housekeeping();
        let housekeeping = t.elapsed();
        println!(
            "check, {what}: {one:?} one caller; {spread:?} round robin over 100k callers; \
             {with_policy:?} with Policy::quotas; housekeeping over {keys} buckets: {housekeeping:?}"
        );
    }
}
