//! Per-principal shares of open streams: `[limits]
//! max_streams_per_principal`.
//!
//! Every request to `/mcp/<server>` holds a [`StreamPermit`] from the
//! moment its caller is known until its response ends (the last body
//! byte, or the client going away): requests in flight, long calls and
//! open GET / SSE streams all count. A caller (subject + agent) holding
//! its whole share is refused further ones, so one caller cannot take
//! every stream of a connector link and lock everyone else out.
//!
//! Counters live in a few mutex-guarded shards keyed by the principal; an
//! entry is removed when its last permit drops, so memory follows the
//! callers with something open.
//!
//! ```
//! use sallyport_relay::shares::StreamShares;
//!
//! let shares = StreamShares::new(2);
//! let a = shares.try_acquire("alice", Some("claude"))?;
//! let _b = shares.try_acquire("alice", Some("claude"))?;
//! assert!(shares.try_acquire("alice", Some("claude")).is_err());
//! assert!(shares.try_acquire("bob", None).is_ok());
//! drop(a);
//! assert!(shares.try_acquire("alice", Some("claude")).is_ok());
//! # Ok::<(), sallyport_relay::shares::ShareExhausted>(())
//! ```

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex, PoisonError};

/// The default `[limits] max_streams_per_principal`.
pub const DEFAULT_MAX_STREAMS_PER_PRINCIPAL: u32 = 64;

const SHARDS: usize = 16;

/// A caller: its subject and the agent acting for it.
type Key = (String, Option<String>);

/// The open streams of every principal, each capped at the same share.
/// Cheap to clone (shared).
#[derive(Debug, Clone)]
pub struct StreamShares {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    max: u32,
    hasher: RandomState,
    shards: [Mutex<HashMap<Key, u32>>; SHARDS],
}

/// One open stream of a principal; dropping it gives the share back.
#[derive(Debug)]
pub struct StreamPermit {
    inner: Arc<Inner>,
    shard: usize,
    key: Key,
}

/// The caller holds its whole share.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{held} requests and streams open, the share of one caller is {max}")]
pub struct ShareExhausted {
    /// How many the caller holds.
    pub held: u32,
    /// The share.
    pub max: u32,
}

impl StreamShares {
    /// Shares of `max` streams per principal (at least 1; 0 is taken as 1,
    /// the config refuses it before).
    pub fn new(max: u32) -> Self {
        Self {
            inner: Arc::new(Inner {
                max: max.max(1),
                hasher: RandomState::new(),
                shards: std::array::from_fn(|_| Mutex::new(HashMap::new())),
            }),
        }
    }

    /// The share of one principal.
    pub fn max(&self) -> u32 {
        self.inner.max
    }

    /// Takes one stream of `subject` (acting through `agent`), or refuses
    /// when it holds its whole share.
    pub fn try_acquire(
        &self,
        subject: &str,
        agent: Option<&str>,
    ) -> Result<StreamPermit, ShareExhausted> {
        let key: Key = (subject.to_owned(), agent.map(str::to_owned));
        let shard = self.inner.shard_of(&key);
        let mut map = self.inner.lock(shard);
        let held = map.get(&key).copied().unwrap_or(0);
        if held >= self.inner.max {
            return Err(ShareExhausted {
                held,
                max: self.inner.max,
            });
        }
        map.insert(key.clone(), held + 1);
        drop(map);
        Ok(StreamPermit {
            inner: Arc::clone(&self.inner),
            shard,
            key,
        })
    }

    /// How many streams `subject` (with `agent`) holds.
    pub fn held(&self, subject: &str, agent: Option<&str>) -> u32 {
        let key: Key = (subject.to_owned(), agent.map(str::to_owned));
        let shard = self.inner.shard_of(&key);
        self.inner.lock(shard).get(&key).copied().unwrap_or(0)
    }

    /// How many principals hold at least one stream.
    pub fn principals(&self) -> usize {
        (0..SHARDS).map(|s| self.inner.lock(s).len()).sum()
    }
}

impl Inner {
    fn shard_of(&self, key: &Key) -> usize {
        // The remainder is below SHARDS, so it fits in usize.
        usize::try_from(self.hasher.hash_one(key) % SHARDS as u64).unwrap_or(0)
    }

    fn lock(&self, shard: usize) -> std::sync::MutexGuard<'_, HashMap<Key, u32>> {
        self.shards[shard]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for StreamPermit {
    fn drop(&mut self) {
        let mut map = self.inner.lock(self.shard);
        if let Some(held) = map.get_mut(&self.key) {
            *held = held.saturating_sub(1);
            if *held == 0 {
                map.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn share_is_per_subject_and_agent() {
        let shares = StreamShares::new(2);
        let _a1 = shares.try_acquire("alice", None).expect("1st");
        let _a2 = shares.try_acquire("alice", None).expect("2nd");
        let refused = shares.try_acquire("alice", None).expect_err("3rd");
        assert_eq!(refused, ShareExhausted { held: 2, max: 2 });
        // Another agent of the same user, and another user, have their own.
        let _c = shares.try_acquire("alice", Some("claude")).expect("agent");
        let _b = shares.try_acquire("bob", None).expect("bob");
        assert_eq!(shares.held("alice", None), 2);
        assert_eq!(shares.held("alice", Some("claude")), 1);
        assert_eq!(shares.principals(), 3);
    }

    #[test]
    fn dropping_a_permit_frees_its_share_and_forgets_idle_callers() {
        let shares = StreamShares::new(1);
        let p = shares.try_acquire("alice", None).expect("1st");
        assert!(shares.try_acquire("alice", None).is_err());
        drop(p);
        assert_eq!(shares.held("alice", None), 0);
        assert_eq!(shares.principals(), 0, "no entry kept for an idle caller");
        let _p = shares.try_acquire("alice", None).expect("freed");
    }

    #[test]
    fn zero_is_taken_as_one() {
        let shares = StreamShares::new(0);
        assert_eq!(shares.max(), 1);
        let _p = shares.try_acquire("a", None).expect("one");
        assert!(shares.try_acquire("a", None).is_err());
    }

    #[test]
    fn concurrent_callers_never_exceed_the_share() {
        let shares = StreamShares::new(5);
        let barrier = std::sync::Barrier::new(8);
        // Eight threads each try to take three streams at once and hold
        // what they got: exactly the share is granted.
        let granted: Vec<Vec<StreamPermit>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    s.spawn(|| {
                        barrier.wait();
                        (0..3)
                            .filter_map(|_| shares.try_acquire("alice", None).ok())
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("thread"))
                .collect()
        });
        assert_eq!(granted.iter().map(Vec::len).sum::<usize>(), 5);
        assert_eq!(shares.held("alice", None), 5);
        drop(granted);
        assert_eq!(shares.held("alice", None), 0);
        assert_eq!(shares.principals(), 0);
    }
}
