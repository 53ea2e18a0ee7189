//! Cancellation scopes: one per relay link, one per request on it.
//!
//! The tree is a single one: connector shutdown → link scope → request
//! scope. A [`LinkScope`] is a child of the shutdown token, so shutdown
//! cancels every link; ending a link cancels every request on it; a
//! [`RequestScope`] is cancelled when its task ends, for whatever reason,
//! so work a bridge started for it stops too. The bridge sees the request
//! scope's token as its `cancel` argument.

use std::future::Future;
use std::time::Duration;

use tokio_util::sync::{CancellationToken, DropGuard, WaitForCancellationFuture};
use tokio_util::task::TaskTracker;

/// The requests of one link, cancelled together.
#[derive(Debug, Clone)]
pub(crate) struct LinkScope {
    token: CancellationToken,
    requests: TaskTracker,
}

/// How a link's requests ended when the link did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ended {
    /// Requests still open when the scope was cancelled.
    pub cut_short: usize,
    /// Requests that had not finished even after the cancellation and a
    /// second grace period (a bridge that ignores `cancel`).
    pub stuck: usize,
}

impl LinkScope {
    /// A link scope inside `shutdown`.
    pub fn new(shutdown: &CancellationToken) -> Self {
        Self {
            token: shutdown.child_token(),
            requests: TaskTracker::new(),
        }
    }

    /// Resolves once the link is to end (it was ended, or the connector is
    /// shutting down).
    pub fn cancelled(&self) -> WaitForCancellationFuture<'_> {
        self.token.cancelled()
    }

    /// Runs `request` as a task of this link, with its own scope.
    pub fn spawn_request<F>(&self, request: impl FnOnce(RequestScope) -> F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let token = self.token.child_token();
        let scope = RequestScope {
            _cancel_on_exit: token.clone().drop_guard(),
            token,
        };
        self.requests.spawn(request(scope));
    }

    /// Ends the link: with `grace`, open requests first get that long to
    /// finish; then the rest are cancelled and get up to `bound` to stop.
    pub async fn end(&self, grace: Option<Duration>, bound: Duration) -> Ended {
        self.requests.close();
        if let Some(grace) = grace {
            let _ = tokio::time::timeout(grace, self.requests.wait()).await;
        }
        let cut_short = self.requests.len();
        self.token.cancel();
        let _ = tokio::time::timeout(bound, self.requests.wait()).await;
        Ended {
            cut_short,
            stuck: self.requests.len(),
        }
    }
}

/// One request's scope: cancelled when the link ends or the request's task
/// does.
#[derive(Debug)]
pub(crate) struct RequestScope {
    token: CancellationToken,
    _cancel_on_exit: DropGuard,
}

impl RequestScope {
    /// The token handed to the bridge.
    pub fn token(&self) -> &CancellationToken {
        &self.token
    }

    /// Resolves once the request is to stop.
    pub fn cancelled(&self) -> WaitForCancellationFuture<'_> {
        self.token.cancelled()
    }
}

#[cfg(test)]
mod tests;
