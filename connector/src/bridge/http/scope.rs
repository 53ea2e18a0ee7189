//! Which in-flight upstream requests end when a link closes or the
//! connector stops.
//!
//! Each request holds a [`Lease`] on its link's token for as long as it
//! runs (an SSE stream: until the stream ends). The token of a link is a
//! child of the bridge's shutdown token; `link_closed` cancels it, and an
//! entry disappears with its last lease, so nothing accumulates per link.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio_util::sync::CancellationToken;

use crate::bridge::LinkTag;

#[derive(Debug, Default)]
pub(super) struct Scopes {
    shutdown: CancellationToken,
    state: Arc<Mutex<State>>,
}

#[derive(Debug, Default)]
struct State {
    links: HashMap<LinkTag, Entry>,
    /// Tells a link's entries apart when a closed link's tag comes back.
    next_generation: u64,
}

#[derive(Debug)]
struct Entry {
    token: CancellationToken,
    generation: u64,
    leases: usize,
}

/// A running request's hold on its link; cancelled with the link.
#[derive(Debug)]
pub(super) struct Lease {
    origin: LinkTag,
    generation: u64,
    token: CancellationToken,
    state: Arc<Mutex<State>>,
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    // The state stays consistent even if a holder panicked.
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Scopes {
    /// A lease for a request that came through `origin`.
    pub(super) fn lease(&self, origin: LinkTag) -> Lease {
        let mut state = lock(&self.state);
        let generation = state.next_generation;
        let entry = state.links.entry(origin).or_insert_with(|| Entry {
            token: self.shutdown.child_token(),
            generation,
            leases: 0,
        });
        entry.leases += 1;
        let lease = Lease {
            origin,
            generation: entry.generation,
            token: entry.token.clone(),
            state: Arc::clone(&self.state),
        };
        if lease.generation == generation {
            state.next_generation += 1;
        }
        lease
    }

    /// Ends the requests of link `origin`.
    pub(super) fn link_closed(&self, origin: LinkTag) {
        let removed = lock(&self.state).links.remove(&origin);
        if let Some(entry) = removed {
            entry.token.cancel();
        }
    }

    /// Ends every request, now and later.
    pub(super) fn shutdown(&self) {
        self.shutdown.cancel();
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        lock(&self.state).links.len()
    }
}

impl Lease {
    /// Cancelled when the link closes or the connector stops.
    pub(super) fn token(&self) -> &CancellationToken {
        &self.token
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let mut state = lock(&self.state);
        let Some(entry) = state.links.get_mut(&self.origin) else {
            return;
        };
        if entry.generation != self.generation {
            return; // that entry was closed; this one belongs to a newer link
        }
        entry.leases -= 1;
        if entry.leases == 0 {
            state.links.remove(&self.origin);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leases_follow_their_link() {
        let scopes = Scopes::default();
        let a1 = scopes.lease(1);
        let a2 = scopes.lease(1);
        let b = scopes.lease(2);
        assert_eq!(scopes.tracked(), 2);
        scopes.link_closed(1);
        assert!(a1.token().is_cancelled() && a2.token().is_cancelled());
        assert!(!b.token().is_cancelled());
        // A request that arrives after its link closed is tracked anew
        // and cleaned up with its lease; the old leases do not touch it.
        let late = scopes.lease(1);
        assert!(!late.token().is_cancelled());
        drop(a1);
        drop(a2);
        assert_eq!(scopes.tracked(), 2);
        drop(late);
        drop(b);
        assert_eq!(scopes.tracked(), 0);
    }

    #[test]
    fn shutdown_cancels_every_lease_now_and_later() {
        let scopes = Scopes::default();
        let before = scopes.lease(1);
        scopes.shutdown();
        assert!(before.token().is_cancelled());
        assert!(scopes.lease(2).token().is_cancelled());
    }
}
