//! What one connection is doing, for its timeouts: requests in flight
//! (counted by the service, a [`Ticket`] per request held until its
//! response body is done), when its last request ended, when the bytes of
//! a next request head began to arrive, and whether writing is stuck.
//! [`Tracked`] notes the reads and writes; [`Activity::expired`] resolves
//! when a deadline passes.
//!
//! The rules, Go's `net/http` model:
//! - the first request head must arrive within `header` of the start of
//!   the connection (after TLS), whatever the protocol (a client sending
//!   nothing, or trickling a preface or a request line, is cut);
//! - HTTP/1: after a request, the connection may wait `idle` for the next;
//!   from its first byte, that request's head must arrive within `header`;
//! - HTTP/2: no stream in flight for `idle` closes it (PINGs and
//!   WINDOW_UPDATEs do not keep it open; a dead peer under a long request
//!   is found by hyper's keep-alive PINGs);
//! - a request in flight is never idle (a slow upstream, an SSE stream);
//! - a write that cannot progress for `idle` (a peer that stopped
//!   reading) closes the connection, request in flight or not.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::http::Version;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;
use tokio::time::Instant;

use super::ConnLimits;

/// "Not set" for the millisecond stamps below.
const NONE: u64 = u64::MAX;

/// Why a connection's time is up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expiry {
    /// No complete first request within `header` of the start.
    FirstRequest,
    /// A later HTTP/1 request head began but did not complete in `header`.
    Head,
    /// No request in flight for `idle`.
    Idle,
    /// A write made no progress for `idle`.
    WriteStalled,
}

impl Expiry {
    /// For the log.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Expiry::FirstRequest => "no request head within header_timeout of connecting",
            Expiry::Head => "request head not received within header_timeout",
            Expiry::Idle => "idle for idle_timeout",
            Expiry::WriteStalled => "peer not reading: a write stalled for idle_timeout",
        }
    }
}

/// The connection's state. Stamps are milliseconds since `start`.
#[derive(Debug)]
pub(crate) struct Activity {
    start: Instant,
    in_flight: AtomicUsize,
    requests: AtomicU64,
    http2: AtomicBool,
    idle_since: AtomicU64,
    head_started: AtomicU64,
    write_blocked: AtomicU64,
    changed: Notify,
}

/// One request in flight; dropping it ends the request.
#[derive(Debug)]
pub(crate) struct Ticket(Arc<Activity>);

impl Drop for Ticket {
    fn drop(&mut self) {
        let a = &self.0;
        // Stamped before the count drops, so whoever sees no request in
        // flight sees this end (with others still in flight, both are
        // unused until the last one ends and stamps them again).
        a.head_started.store(NONE, Ordering::Release);
        a.idle_since.store(a.now(), Ordering::Release);
        a.in_flight.fetch_sub(1, Ordering::AcqRel);
        a.changed.notify_one();
    }
}

impl Activity {
    /// A connection starting now.
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self {
            start: Instant::now(),
            in_flight: AtomicUsize::new(0),
            requests: AtomicU64::new(0),
            http2: AtomicBool::new(false),
            idle_since: AtomicU64::new(0),
            head_started: AtomicU64::new(NONE),
            write_blocked: AtomicU64::new(NONE),
            changed: Notify::new(),
        })
    }

    fn now(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(NONE - 1)
    }

    /// A request's head arrived; it is in flight until the ticket drops.
    pub(crate) fn request_started(self: &Arc<Self>, version: Version) -> Ticket {
        if version >= Version::HTTP_2 {
            self.http2.store(true, Ordering::Release);
        }
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.requests.fetch_add(1, Ordering::AcqRel);
        self.head_started.store(NONE, Ordering::Release);
        self.changed.notify_one();
        Ticket(Arc::clone(self))
    }

    /// Bytes arrived: with nothing in flight, a request head has begun.
    fn read(&self, bytes: usize) {
        if bytes > 0
            && self.in_flight.load(Ordering::Acquire) == 0
            && self
                .head_started
                .compare_exchange(NONE, self.now(), Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            self.changed.notify_one();
        }
    }

    /// A write (or flush) returned: `blocked` when it could not progress.
    fn wrote(&self, blocked: bool) {
        let was = self.write_blocked.load(Ordering::Acquire);
        if blocked && was == NONE {
            self.write_blocked.store(self.now(), Ordering::Release);
            self.changed.notify_one();
        } else if !blocked && was != NONE {
            self.write_blocked.store(NONE, Ordering::Release);
        }
    }

    /// The next deadline and what passing it means; `None` while nothing
    /// can expire (a request in flight, writes moving).
    fn deadline(&self, limits: &ConnLimits) -> Option<(u64, Expiry)> {
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(NONE / 4);
        let stalled = match self.write_blocked.load(Ordering::Acquire) {
            NONE => None,
            since => Some((since.saturating_add(ms(limits.idle)), Expiry::WriteStalled)),
        };
        let waiting = if self.in_flight.load(Ordering::Acquire) > 0 {
            None
        } else if self.requests.load(Ordering::Acquire) == 0 {
            Some((ms(limits.header), Expiry::FirstRequest))
        } else {
            let head = self.head_started.load(Ordering::Acquire);
            if head != NONE && !self.http2.load(Ordering::Acquire) {
                Some((head.saturating_add(ms(limits.header)), Expiry::Head))
            } else {
                let since = self.idle_since.load(Ordering::Acquire);
                Some((since.saturating_add(ms(limits.idle)), Expiry::Idle))
            }
        };
        stalled.into_iter().chain(waiting).min_by_key(|(at, _)| *at)
    }

    /// Resolves when a deadline of `limits` passes. One pass per state
    /// change or deadline, so its passes are bounded by the connection's
    /// own requests and I/O.
    pub(crate) async fn expired(&self, limits: &ConnLimits) -> Expiry {
        loop {
            let changed = self.changed.notified();
            match self.deadline(limits) {
                Some((at, why)) => {
                    if self.now() >= at {
                        return why;
                    }
                    let at = self.start + Duration::from_millis(at);
                    tokio::select! {
                        () = tokio::time::sleep_until(at) => {}
                        () = changed => {}
                    }
                }
                None => changed.await,
            }
        }
    }
}

/// A byte stream whose reads and writes are noted in an [`Activity`].
#[derive(Debug)]
pub(crate) struct Tracked<T> {
    inner: T,
    activity: Arc<Activity>,
}

impl<T> Tracked<T> {
    pub(crate) fn new(inner: T, activity: Arc<Activity>) -> Self {
        Self { inner, activity }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Tracked<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if polled.is_ready() {
            self.activity
                .read(buf.filled().len().saturating_sub(before));
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Tracked<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.activity.wrote(polled.is_pending());
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.activity.wrote(polled.is_pending());
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let polled = Pin::new(&mut self.inner).poll_flush(cx);
        self.activity.wrote(polled.is_pending());
        polled
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let polled = Pin::new(&mut self.inner).poll_shutdown(cx);
        self.activity.wrote(polled.is_pending());
        polled
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> ConnLimits {
        ConnLimits {
            header: Duration::from_millis(100),
            body: Duration::from_millis(100),
            idle: Duration::from_millis(300),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn deadlines_follow_the_state() {
        let a = Activity::new();
        let l = limits();
        assert_eq!(a.deadline(&l), Some((100, Expiry::FirstRequest)));
        a.read(5);
        assert_eq!(a.deadline(&l), Some((100, Expiry::FirstRequest)));
        let ticket = a.request_started(Version::HTTP_11);
        assert_eq!(a.deadline(&l), None, "a request in flight is never idle");
        tokio::time::advance(Duration::from_millis(1000)).await;
        assert_eq!(a.deadline(&l), None);
        drop(ticket);
        assert_eq!(a.deadline(&l), Some((1300, Expiry::Idle)));
        tokio::time::advance(Duration::from_millis(50)).await;
        a.read(1);
        assert_eq!(a.deadline(&l), Some((1150, Expiry::Head)));
        a.wrote(true);
        assert_eq!(a.deadline(&l), Some((1150, Expiry::Head)));
        let _second = a.request_started(Version::HTTP_11);
        assert_eq!(a.deadline(&l), Some((1350, Expiry::WriteStalled)));
        a.wrote(false);
        assert_eq!(a.deadline(&l), None);
    }

    #[tokio::test(start_paused = true)]
    async fn http2_bytes_do_not_hold_an_idle_connection() {
        let a = Activity::new();
        let l = limits();
        drop(a.request_started(Version::HTTP_2));
        a.read(17);
        assert_eq!(a.deadline(&l), Some((300, Expiry::Idle)));
        let started = Instant::now();
        let expired = tokio::time::timeout(Duration::from_secs(5), a.expired(&l)).await;
        assert_eq!(expired, Ok(Expiry::Idle));
        assert_eq!(started.elapsed(), Duration::from_millis(300));
    }
}
