//! The bucket key, and a governor state store that counts its keys (so
//! the limiter can refuse new ones past its cap) and can be asked whether
//! it holds one.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use governor::nanos::Nanos;
use governor::state::keyed::{DashMapStateStore, ShrinkableKeyedStateStore};
use governor::state::{InMemoryState, NotKeyed, StateStore};
use sallyport_protocol::ServerName;

use crate::policy::{RoleName, Target};

/// (principal, role, server, target) in one allocation: each part
/// length-prefixed, so no two tuples share an encoding.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct Key(Box<[u8]>);

/// A DashMap of GCRA states shared between the governor limiter that owns
/// it and the [`RateLimiter`](super::RateLimiter), with a count of keys
/// shared by all the stores of one limiter.
#[derive(Clone)]
pub(super) struct Store {
    map: Arc<DashMapStateStore<Key>>,
    keys: Arc<AtomicUsize>,
}

impl Key {
    pub(super) fn new(
        principal: &str,
        role: &RoleName,
        server: &ServerName,
        target: Target<'_>,
    ) -> Self {
        let (kind, name) = match target {
            Target::Tool(n) => (b't', n),
            Target::Resource(n) => (b'r', n),
            Target::Prompt(n) => (b'p', n),
            Target::Server => (b's', ""),
        };
        let parts = [principal, role.as_str(), server.as_str(), name];
        let len = parts.iter().map(|p| p.len() + 8).sum::<usize>() + 1;
        let mut key = Vec::with_capacity(len);
        for part in parts {
            key.extend_from_slice(&part.len().to_le_bytes());
            key.extend_from_slice(part.as_bytes());
        }
        key.push(kind);
        Key(key.into_boxed_slice())
    }
}

impl Store {
    pub(super) fn new(keys: Arc<AtomicUsize>) -> Self {
        Store {
            map: Arc::new(DashMapStateStore::default()),
            keys,
        }
    }

    pub(super) fn contains(&self, key: &Key) -> bool {
        self.map.contains_key(key)
    }
}

impl StateStore for Store {
    type Key = Key;

    fn measure_and_replace<T, F, E>(&self, key: &Key, f: F) -> Result<T, E>
    where
        F: Fn(Option<Nanos>) -> Result<(T, Nanos), E>,
    {
        if let Some(state) = self.map.get(key) {
            return state.measure_and_replace(&NotKeyed::NonKey, f);
        }
        let state = self.map.entry(key.clone()).or_insert_with(|| {
            self.keys.fetch_add(1, Ordering::Relaxed);
            InMemoryState::default()
        });
        state.measure_and_replace(&NotKeyed::NonKey, f)
    }
}

impl ShrinkableKeyedStateStore<Key> for Store {
    fn retain_recent(&self, drop_below: Nanos) {
        self.map.retain(|_, state| {
            // Read the theoretical arrival time without changing it: a
            // closure that refuses hands it back as the error.
            let tat = state
                .measure_and_replace(&NotKeyed::NonKey, Err::<((), Nanos), _>)
                .err()
                .flatten();
            let keep = tat.is_some_and(|t| t > drop_below);
            if !keep {
                self.keys.fetch_sub(1, Ordering::Relaxed);
            }
            keep
        });
    }

    fn shrink_to_fit(&self) {
        self.map.shrink_to_fit();
    }

    fn len(&self) -> usize {
        self.map.len()
    }

    fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}
