use std::sync::Arc;
use std::thread;

use super::*;
use crate::policy::{Policy, Subject};

/// Role names are made by parsing a policy; `quotas` hands them back in
/// binding order.
fn roles(names: &[&str]) -> Vec<RoleName> {
    let text: String = names
        .iter()
        .map(|n| {
            format!(
                "[[role]]\nname = {n:?}\nallow = [\"s/*\"]\nrate = \"1/sec\"\n\
                 [[binding]]\nrole = {n:?}\nusers = [\"u\"]\n"
            )
        })
        .collect();
    let policy = Policy::from_toml_str(&text).expect("policy");
    let who = Subject {
        user: Some("u"),
        groups: &[],
        agent: None,
    };
    let server = ServerName::new("s").expect("server");
    let quotas = policy.quotas(&who, &server, Target::Tool("t"));
    let found: Vec<RoleName> = quotas.into_iter().map(|(n, _)| n).collect();
    assert_eq!(found.len(), names.len());
    found
}

fn rate(text: &str) -> Rate {
    text.parse().expect("rate")
}

fn setup(
    max_keys: usize,
) -> (
    RateLimiter<FakeRelativeClock>,
    FakeRelativeClock,
    ServerName,
) {
    let clock = FakeRelativeClock::default();
    let limiter = RateLimiter::with_clock(max_keys, clock.clone());
    (limiter, clock, ServerName::new("s").expect("server"))
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

#[test]
fn three_per_minute() {
    let (limiter, clock, s) = setup(100);
    let r = roles(&["reader"]);
    let q = [(r[0].clone(), rate("3/min"))];
    let call = || limiter.check("alice", &q, &s, Target::Tool("search"));
    for _ in 0..3 {
        call().expect("within quota");
    }
    let err = call().expect_err("4th");
    assert_eq!(
        err,
        Limited::Exceeded {
            role: r[0].clone(),
            rate: rate("3/min"),
            retry_after: RetryAfter::from_wait(secs(20)),
        }
    );
    assert_eq!(err.retry_after().secs(), 20);
    assert_eq!(err.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(err.code(), RATE_LIMITED);
    assert_eq!(
        err.to_string(),
        "rate limit of role reader (3/min) reached; retry in 20 s"
    );

    clock.advance(Duration::from_millis(19_500));
    assert_eq!(call().expect_err("still early").retry_after().secs(), 1);
    clock.advance(Duration::from_millis(500));
    call().expect("one refilled");
    assert_eq!(call().expect_err("spent again").retry_after().secs(), 20);

    clock.advance(secs(60));
    for _ in 0..3 {
        call().expect("full again after a minute");
    }
    call().expect_err("not more than the burst");
}

#[test]
fn buckets_are_independent() {
    let (limiter, _clock, s) = setup(100);
    let r = roles(&["a", "b"]);
    let one = rate("1/hour");
    let other_server = ServerName::new("s2").expect("server");
    let qa = [(r[0].clone(), one)];
    let qb = [(r[1].clone(), one)];
    type Call<'a> = (&'a str, &'a [(RoleName, Rate)], &'a ServerName, Target<'a>);
    let calls: [Call<'_>; 8] = [
        ("alice", &qa, &s, Target::Tool("x")),
        ("bob", &qa, &s, Target::Tool("x")),
        ("alice", &qb, &s, Target::Tool("x")),
        ("alice", &qa, &other_server, Target::Tool("x")),
        ("alice", &qa, &s, Target::Tool("y")),
        ("alice", &qa, &s, Target::Prompt("x")),
        ("alice", &qa, &s, Target::Resource("x")),
        ("alice", &qa, &s, Target::Server),
    ];
    for (p, q, server, t) in calls {
        limiter
            .check(p, q, server, t)
            .expect("first call of its bucket");
    }
    for (p, q, server, t) in calls {
        limiter
            .check(p, q, server, t)
            .expect_err("second call of its bucket");
    }
    assert_eq!(limiter.len(), 8);
}

#[test]
fn keys_do_not_collide() {
    let r = roles(&["r"]);
    let s = ServerName::new("s").expect("server");
    let k = |p: &str, t: &str| Key::new(p, &r[0], &s, Target::Tool(t));
    assert_ne!(k("ab", "c"), k("a", "bc"));
    assert_ne!(k("", "x"), k("x", ""));
    assert_ne!(
        Key::new("p", &r[0], &s, Target::Tool("")),
        Key::new("p", &r[0], &s, Target::Server)
    );
}

#[test]
fn the_most_generous_role_is_charged() {
    let (limiter, _clock, s) = setup(100);
    let r = roles(&["slow", "fast", "fast-too", "bursty"]);
    let t = Target::Tool("x");

    let q = [(r[0].clone(), rate("1/min")), (r[1].clone(), rate("5/min"))];
    for _ in 0..5 {
        limiter.check("p1", &q, &s, t).expect("5/min applies");
    }
    match limiter.check("p1", &q, &s, t) {
        Err(Limited::Exceeded { role, .. }) => assert_eq!(role, "fast"),
        other => panic!("{other:?}"),
    }

    // Equal rates: the first in binding order.
    let q = [(r[1].clone(), rate("5/min")), (r[2].clone(), rate("5/min"))];
    for _ in 0..5 {
        limiter.check("p2", &q, &s, t).expect("5/min");
    }
    match limiter.check("p2", &q, &s, t) {
        Err(Limited::Exceeded { role, .. }) => assert_eq!(role, "fast"),
        other => panic!("{other:?}"),
    }

    // Same long-run rate, larger burst wins: 60/min over 1/sec.
    let q = [
        (r[0].clone(), rate("1/sec")),
        (r[3].clone(), rate("60/min")),
    ];
    for _ in 0..60 {
        limiter.check("p3", &q, &s, t).expect("burst of 60");
    }
    match limiter.check("p3", &q, &s, t) {
        Err(Limited::Exceeded {
            role, rate: got, ..
        }) => {
            assert_eq!((role.as_str(), got), ("bursty", rate("60/min")));
        }
        other => panic!("{other:?}"),
    }

    // 3600/hour beats 59/min.
    assert_eq!(
        most_generous(&[
            (r[0].clone(), rate("59/min")),
            (r[1].clone(), rate("3600/hour"))
        ])
        .map(|(n, _)| n.as_str()),
        Some("fast")
    );
    assert_eq!(most_generous(&[]), None);
}

#[test]
fn no_quota_no_bucket() {
    let (limiter, _clock, s) = setup(1);
    for _ in 0..1000 {
        limiter
            .check("p", &[], &s, Target::Tool("x"))
            .expect("unlimited");
    }
    assert!(limiter.is_empty());
}

#[test]
fn housekeeping_evicts_idle_buckets_only() {
    let (limiter, clock, s) = setup(100);
    let r = roles(&["r", "r2"]);
    let per_min = [(r[0].clone(), rate("2/min"))];
    let per_hour = [(r[1].clone(), rate("1/hour"))];
    for p in ["a", "b", "c"] {
        limiter
            .check(p, &per_min, &s, Target::Tool("x"))
            .expect("first");
    }
    limiter
        .check("a", &per_min, &s, Target::Tool("x"))
        .expect("a's second");
    limiter
        .check("a", &per_hour, &s, Target::Tool("x"))
        .expect("hourly");
    assert_eq!(limiter.len(), 4);

    // Governor drops a bucket one emission interval after it is full
    // again: b and c (one call, 30 s interval) at 60 s, a at 120 s.
    clock.advance(secs(30));
    limiter.housekeeping();
    assert_eq!(limiter.len(), 4);
    limiter
        .check("a", &per_min, &s, Target::Tool("x"))
        .expect("a got one back");
    limiter
        .check("a", &per_min, &s, Target::Tool("x"))
        .expect_err("only one");

    clock.advance(secs(30));
    limiter.housekeeping();
    assert_eq!(limiter.len(), 2, "b and c dropped");
    clock.advance(secs(60));
    limiter.housekeeping();
    assert_eq!(limiter.len(), 1, "a dropped, the hourly bucket stays");
    assert_eq!(limiter.by_rate.read().expect("lock").len(), 1);
    clock.advance(secs(7200 - 120));
    limiter.housekeeping();
    assert!(limiter.is_empty());
    assert!(limiter.by_rate.read().expect("lock").is_empty());

    // An evicted bucket starts afresh, as it would have anyway.
    limiter
        .check("a", &per_hour, &s, Target::Tool("x"))
        .expect("fresh");
}

#[test]
fn the_cap_refuses_new_keys_only() {
    let (limiter, clock, s) = setup(2);
    let r = roles(&["r"]);
    let q = [(r[0].clone(), rate("10/min"))];
    limiter.check("a", &q, &s, Target::Tool("x")).expect("a");
    limiter.check("b", &q, &s, Target::Tool("x")).expect("b");
    let err = limiter
        .check("c", &q, &s, Target::Tool("x"))
        .expect_err("full");
    assert_eq!(
        err,
        Limited::Full {
            max_keys: 2,
            retry_after: RetryAfter::from_wait(secs(60)),
        }
    );
    assert_eq!(err.status(), StatusCode::SERVICE_UNAVAILABLE);
    limiter
        .check("a", &q, &s, Target::Tool("x"))
        .expect("a still served");
    assert_eq!(limiter.len(), 2);

    clock.advance(secs(60));
    limiter.housekeeping();
    limiter
        .check("c", &q, &s, Target::Tool("x"))
        .expect("room again");
}

#[test]
fn concurrent_calls_are_counted_exactly() {
    let (limiter, _clock, s) = setup(100);
    let limiter = Arc::new(limiter);
    let r = roles(&["r"]);
    let q = Arc::new([(r[0].clone(), rate("100/hour"))]);
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let (limiter, q, s) = (Arc::clone(&limiter), Arc::clone(&q), s.clone());
            thread::spawn(move || {
                (0..200)
                    .filter(|_| limiter.check("p", &q[..], &s, Target::Tool("x")).is_ok())
                    .count()
            })
        })
        .collect();
    let allowed: usize = threads.into_iter().map(|t| t.join().expect("thread")).sum();
    assert_eq!(allowed, 100);
    assert_eq!(limiter.len(), 1);
}

#[test]
fn retry_after_rounds_up() {
    for (wait, want) in [
        (Duration::ZERO, 1),
        (Duration::from_nanos(1), 1),
        (Duration::from_millis(1000), 1),
        (Duration::from_millis(1001), 2),
        (secs(20), 20),
        (secs(3600), 3600),
    ] {
        assert_eq!(RetryAfter::from_wait(wait).secs(), want, "{wait:?}");
    }
    assert_eq!(RetryAfter::from_wait(secs(3)).to_string(), "3 s");
}

#[test]
fn extreme_rates() {
    let (limiter, _clock, s) = setup(100);
    let r = roles(&["r"]);
    let q = [(r[0].clone(), rate("4294967295/sec"))];
    for _ in 0..1000 {
        limiter.check("p", &q, &s, Target::Tool("x")).expect("huge");
    }
    let q = [(r[0].clone(), rate("1/hour"))];
    limiter
        .check("p", &q, &s, Target::Tool("x"))
        .expect("first");
    let err = limiter
        .check("p", &q, &s, Target::Tool("x"))
        .expect_err("second");
    assert_eq!(err.retry_after().secs(), 3600);
}

#[test]
fn tokio_clock_reads_tokio_time() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let a = TokioClock.now();
        let b = TokioClock.now();
        assert!(b >= a);
    });
    assert!(format!("{:?}", RateLimiter::new(5)).contains("max_keys: 5"));
}
