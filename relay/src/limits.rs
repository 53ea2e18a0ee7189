//! Per-principal quotas: a role's `rate = "60/min"` (DESIGN §6), enforced
//! with governor's GCRA keyed limiters.
//!
//! **What is counted.** One bucket per (principal, role, server, target):
//! with `rate = "60/min"` each principal may make 60 calls a minute to
//! each tool (resource, prompt; [`Target::Server`] for list and other
//! server-wide calls) that the role allows. GCRA lets a full bucket be
//! spent at once, then refills it at one call every `per / count` (one a
//! second for 60/min).
//!
//! **Several roles.** When more than one of the caller's roles allows a
//! call and has a `rate`, the call is charged to the most generous one
//! only: the highest rate (count/per), then the larger burst, then the
//! first in binding order. A caller never gets more than its best role
//! grants (quotas do not add up), nor less (a stricter second role does
//! not shrink the first). The bucket is per role, so moving a caller to
//! another role starts it a fresh bucket. A role without `rate` is
//! unlimited, and by the same reading makes the call unlimited; `check`
//! only sees the quotas it is given, so the caller passes none in that
//! case ([`Policy::quotas`] as it stands omits rate-less roles rather
//! than reporting them).
//!
//! **Memory.** Buckets indistinguishable from a fresh one (their caller
//! has been idle for the quota's period) are dropped by
//! [`RateLimiter::housekeeping`], which the relay calls on each link
//! re-check (every 60 s, `RECHECK` in `server.rs`): an idle bucket lives
//! at most its period plus a minute. Past `max_keys` live buckets, calls that would
//! need a new bucket are refused with [`Limited::Full`] — a clear 503, not
//! unbounded growth — while callers that have a bucket go on as before.
//! The cap may be overshot by at most the number of calls racing past the
//! check at the same instant.
//!
//! [`Policy::quotas`]: crate::policy::Policy::quotas
//!
//! **Time** comes from a [`Clock`]: [`TokioClock`] in the relay (so tests
//! with tokio's paused time see it), [`FakeRelativeClock`] in unit tests.
//! Nothing here sleeps or waits: a refused call gets a [`RetryAfter`].
//!
//! ```
//! use std::time::Duration;
//! use sallyport_protocol::ServerName;
//! use sallyport_relay::limits::{FakeRelativeClock, RateLimiter};
//! use sallyport_relay::policy::{Policy, Subject, Target};
//!
//! let policy = Policy::from_toml_str(r#"
//!     [[role]]
//!     name = "reader"
//!     allow = ["docs/*"]
//!     rate = "3/min"
//!     [[binding]]
//!     role = "reader"
//!     users = ["alice"]
//! "#)?;
//! let alice = Subject { user: Some("alice"), groups: &[], agent: None };
//! let docs = ServerName::new("docs")?;
//! let target = Target::Tool("search");
//! let quotas = policy.quotas(&alice, &docs, target);
//!
//! let clock = FakeRelativeClock::default();
//! let limiter = RateLimiter::with_clock(100_000, clock.clone());
//! for _ in 0..3 {
//!     limiter.check("alice", &quotas, &docs, target)?;
//! }
//! let refused = limiter.check("alice", &quotas, &docs, target).expect_err("4th call");
//! assert_eq!(refused.retry_after().secs(), 20);
//! clock.advance(Duration::from_secs(20));
//! limiter.check("alice", &quotas, &docs, target)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod store;

use std::collections::HashMap;
use std::fmt;
use std::num::NonZeroU64;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use axum::http::StatusCode;
use governor::Quota;
use governor::middleware::NoOpMiddleware;
use sallyport_protocol::ServerName;

use crate::policy::{Rate, RoleName, Target};
use store::{Key, Store};

pub use governor::clock::{Clock, FakeRelativeClock};

/// A sensible cap on live buckets: about 10 MB of keys.
pub const DEFAULT_MAX_KEYS: usize = 100_000;

/// The JSON-RPC error code the relay uses for a refused call
/// (implementation-defined server error range, mnemonic for 429).
pub const RATE_LIMITED: i64 = -32029;

/// Quota buckets for every (principal, role, server, target). Share it
/// behind an `Arc`; all methods take `&self`.
pub struct RateLimiter<C: Clock = TokioClock> {
    clock: C,
    max_keys: usize,
    /// Live buckets over all rates.
    keys: Arc<AtomicUsize>,
    /// One governor limiter per distinct rate (governor fixes the quota
    /// per limiter); a policy has few distinct rates.
    by_rate: RwLock<HashMap<Rate, Bucket<C>>>,
}

/// Whole seconds to wait before retrying, at least 1: the value of a
/// `Retry-After` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RetryAfter(NonZeroU64);

/// Why a call was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Limited {
    /// The caller spent its quota (HTTP 429).
    #[error("rate limit of role {role} ({rate}) reached; retry in {retry_after}")]
    Exceeded {
        /// The role the call was charged to.
        role: RoleName,
        /// Its quota.
        rate: Rate,
        /// When the next call would be allowed.
        retry_after: RetryAfter,
    },
    /// The call needs a new bucket and `max_keys` are live (HTTP 503).
    #[error("rate limiter is full ({max_keys} callers tracked); retry in {retry_after}")]
    Full {
        /// The cap.
        max_keys: usize,
        /// The quota's period: by then idle buckets can be dropped.
        retry_after: RetryAfter,
    },
}

/// The relay's clock: `tokio::time::Instant`, so that tests with paused
/// time control it; outside a runtime, the system's monotonic clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioClock;

type Gcra<C> = governor::RateLimiter<Key, Store, C, NoOpMiddleware<<C as Clock>::Instant>>;

struct Bucket<C: Clock> {
    limiter: Gcra<C>,
    store: Store,
}

impl RateLimiter<TokioClock> {
    /// A limiter on the relay's clock holding at most `max_keys` buckets.
    pub fn new(max_keys: usize) -> Self {
        Self::with_clock(max_keys, TokioClock)
    }
}

impl<C: Clock + Clone> RateLimiter<C> {
    /// A limiter on `clock` holding at most `max_keys` buckets.
    pub fn with_clock(max_keys: usize, clock: C) -> Self {
        RateLimiter {
            clock,
            max_keys,
            keys: Arc::new(AtomicUsize::new(0)),
            by_rate: RwLock::new(HashMap::new()),
        }
    }

    /// Counts one call by `principal` to `target` on `server`, whose
    /// allowing roles have `quotas` (from [`Policy::quotas`]); charges the
    /// most generous role. No quotas: always allowed, nothing stored.
    ///
    /// `principal` is any stable key for the caller (the relay uses the
    /// authenticated subject); it is kept in memory, never logged.
    ///
    /// [`Policy::quotas`]: crate::policy::Policy::quotas
    pub fn check(
        &self,
        principal: &str,
        quotas: &[(RoleName, Rate)],
        server: &ServerName,
        target: Target<'_>,
    ) -> Result<(), Limited> {
        let Some((role, rate)) = most_generous(quotas) else {
            return Ok(());
        };
        let key = Key::new(principal, role, server, target);
        self.with_bucket(*rate, |bucket| {
            if self.keys.load(Ordering::Relaxed) >= self.max_keys && !bucket.store.contains(&key) {
                return Err(Limited::Full {
                    max_keys: self.max_keys,
                    retry_after: RetryAfter::from_wait(rate.per),
                });
            }
            bucket.limiter.check_key(&key).map_err(|not_until| {
                let wait = not_until.wait_time_from(self.clock.now());
                Limited::Exceeded {
                    role: role.clone(),
                    rate: *rate,
                    retry_after: RetryAfter::from_wait(wait),
                }
            })
        })
    }

    /// Drops the buckets that are as good as fresh, and the per-rate
    /// limiters left empty (rates gone from the policy). Takes time in
    /// proportion to the live buckets; call it every few seconds.
    pub fn housekeeping(&self) {
        {
            let by_rate = self.by_rate.read().unwrap_or_else(PoisonError::into_inner);
            for bucket in by_rate.values() {
                bucket.limiter.retain_recent();
                bucket.limiter.shrink_to_fit();
            }
        }
        let mut by_rate = self.by_rate.write().unwrap_or_else(PoisonError::into_inner);
        by_rate.retain(|_, bucket| !bucket.limiter.is_empty());
    }

    /// Live buckets.
    pub fn len(&self) -> usize {
        self.keys.load(Ordering::Relaxed)
    }

    /// Whether no bucket is live.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Runs `f` on the limiter for `rate`, made on first use. The read
    /// lock is held throughout, so housekeeping cannot drop a limiter
    /// while a call is being counted in it.
    fn with_bucket<R>(&self, rate: Rate, f: impl FnOnce(&Bucket<C>) -> R) -> R {
        loop {
            {
                let by_rate = self.by_rate.read().unwrap_or_else(PoisonError::into_inner);
                if let Some(bucket) = by_rate.get(&rate) {
                    return f(bucket);
                }
            }
            let mut by_rate = self.by_rate.write().unwrap_or_else(PoisonError::into_inner);
            by_rate.entry(rate).or_insert_with(|| {
                let store = Store::new(Arc::clone(&self.keys));
                Bucket {
                    limiter: governor::RateLimiter::new(
                        quota(rate),
                        store.clone(),
                        self.clock.clone(),
                    ),
                    store,
                }
            });
            // Loop: housekeeping may drop the new, empty limiter before
            // the read lock is taken again; then it is made again.
        }
    }
}

impl<C: Clock> fmt::Debug for RateLimiter<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimiter")
            .field("max_keys", &self.max_keys)
            .field("keys", &self.keys.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl RetryAfter {
    /// `wait` rounded up to whole seconds, at least 1.
    pub fn from_wait(wait: Duration) -> Self {
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        RetryAfter(NonZeroU64::new(secs).unwrap_or(NonZeroU64::MIN))
    }

    /// The seconds, for the `Retry-After` header.
    pub fn secs(self) -> u64 {
        self.0.get()
    }
}

impl fmt::Display for RetryAfter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} s", self.0)
    }
}

impl Limited {
    /// The `Retry-After` value.
    pub fn retry_after(&self) -> RetryAfter {
        match self {
            Limited::Exceeded { retry_after, .. } | Limited::Full { retry_after, .. } => {
                *retry_after
            }
        }
    }

    /// The HTTP status: 429 for a spent quota, 503 for a full limiter.
    pub fn status(&self) -> StatusCode {
        match self {
            Limited::Exceeded { .. } => StatusCode::TOO_MANY_REQUESTS,
            Limited::Full { .. } => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The JSON-RPC error code, [`RATE_LIMITED`].
    pub fn code(&self) -> i64 {
        RATE_LIMITED
    }
}

impl Clock for TokioClock {
    type Instant = std::time::Instant;

    fn now(&self) -> std::time::Instant {
        tokio::time::Instant::now().into_std()
    }
}

/// The role a call allowed under `quotas` is charged to: the most
/// generous one (see [`RateLimiter::check`]); `None` when unlimited.
pub(crate) fn charged(quotas: &[(RoleName, Rate)]) -> Option<&RoleName> {
    most_generous(quotas).map(|(role, _)| role)
}

/// The quota of the most generous role: highest rate, then largest
/// burst, then first.
fn most_generous(quotas: &[(RoleName, Rate)]) -> Option<&(RoleName, Rate)> {
    let generosity = |r: &Rate| {
        // count/per compared as count_a * per_b vs count_b * per_a; both
        // products fit in u128 (u32 * u64-ish nanoseconds).
        (u128::from(r.count.get()), r.per.as_nanos(), r.count)
    };
    quotas.iter().reduce(|best, next| {
        let (bc, bp, bn) = generosity(&best.1);
        let (nc, np, nn) = generosity(&next.1);
        let more = (nc * bp).cmp(&(bc * np)).then(nn.cmp(&bn));
        if more.is_gt() { next } else { best }
    })
}

/// Governor's quota for a rate: `count` at once, then one every
/// `per / count` (at least 1 ns).
fn quota(rate: Rate) -> Quota {
    let period = (rate.per / rate.count.get()).max(Duration::from_nanos(1));
    Quota::with_period(period)
        // `period` is at least 1 ns, the only case `with_period` refuses.
        .unwrap_or_else(|| Quota::per_second(rate.count))
        .allow_burst(rate.count)
}

#[cfg(test)]
mod tests;
