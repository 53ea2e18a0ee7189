//! The two bodies the listener wraps around every request and response:
//! [`TimedBody`] ends a request body that has not fully arrived within
//! `body_timeout` with [`BodyTimeout`] (the handler answers 408), and
//! [`InFlight`] keeps its request counted as in flight until the response
//! body is done.

use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::time::Sleep;
use tracing::info;

use super::activity::Ticket;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A request body did not fully arrive in time.
#[derive(Debug, Clone, thiserror::Error)]
#[error("request body not received within {} ms", after.as_millis())]
pub(crate) struct BodyTimeout {
    after: Duration,
}

/// A request body with a deadline for its whole arrival, counted from
/// the moment its head was received, whatever its trickle rate.
#[derive(Debug)]
pub(crate) struct TimedBody<B> {
    inner: B,
    deadline: Pin<Box<Sleep>>,
    after: Duration,
    remote: Option<SocketAddr>,
    done: bool,
}

impl<B> TimedBody<B> {
    /// `inner` must end within `after` from now.
    pub(crate) fn new(inner: B, after: Duration) -> Self {
        Self {
            inner,
            deadline: Box::pin(tokio::time::sleep(after)),
            after,
            remote: None,
            done: false,
        }
    }

    /// Names the peer in the log line of a timeout.
    pub(crate) fn with_peer(mut self, remote: SocketAddr) -> Self {
        self.remote = Some(remote);
        self
    }
}

impl<B> Body for TimedBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        // What has arrived is handed on even after the deadline (a handler
        // may start reading late); only waiting for more is cut.
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(None) => {
                this.done = true;
                Poll::Ready(None)
            }
            Poll::Ready(Some(frame)) => Poll::Ready(Some(frame.map_err(Into::into))),
            Poll::Pending => {
                if this.deadline.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                this.done = true;
                let remote = this
                    .remote
                    .map_or_else(|| "unknown".to_owned(), |r| r.to_string());
                info!(%remote, timeout_ms = this.after.as_millis() as u64,
                    "request body too slow: answering 408");
                Poll::Ready(Some(Err(Box::new(BodyTimeout { after: this.after }))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A response body whose request stays in flight until it is done or
/// dropped.
#[derive(Debug)]
pub(crate) struct InFlight<B> {
    inner: B,
    _ticket: Ticket,
}

impl<B> InFlight<B> {
    pub(crate) fn new(inner: B, ticket: Ticket) -> Self {
        Self {
            inner,
            _ticket: ticket,
        }
    }
}

impl<B: Body + Unpin> Body for InFlight<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use http_body_util::{BodyExt, StreamBody};

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_trickle_is_cut_at_the_deadline() {
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, Infallible>>(1);
        let stream = tokio_stream_from(rx);
        let mut body = TimedBody::new(StreamBody::new(stream), Duration::from_millis(500));
        let started = tokio::time::Instant::now();
        // One byte every 100 ms, for 2 s: far longer than the deadline.
        tokio::spawn(async move {
            for _ in 0..20 {
                if tx
                    .send(Ok(Frame::data(Bytes::from_static(b"x"))))
                    .await
                    .is_err()
                {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        let mut got = 0;
        // Bounded: 20 bytes at most, then the stream ends.
        for _ in 0..21 {
            match body.frame().await {
                Some(Ok(_)) => got += 1,
                Some(Err(e)) => {
                    assert!(e.is::<BodyTimeout>(), "{e}");
                    assert_eq!(started.elapsed(), Duration::from_millis(500));
                    assert!((4..=6).contains(&got), "{got}");
                    assert!(body.is_end_stream());
                    return;
                }
                None => break,
            }
        }
        panic!("a trickling body was never cut");
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_in_time_ends_normally() {
        let frames: Vec<Result<Frame<Bytes>, Infallible>> =
            vec![Ok(Frame::data(Bytes::from_static(b"abc")))];
        let body = TimedBody::new(
            StreamBody::new(futures_util::stream::iter(frames)),
            Duration::from_millis(10),
        );
        tokio::time::advance(Duration::from_millis(50)).await;
        let bytes = body.collect().await.expect("in time").to_bytes();
        assert_eq!(&bytes[..], b"abc");
    }

    fn tokio_stream_from<T>(
        mut rx: tokio::sync::mpsc::Receiver<T>,
    ) -> impl futures_util::Stream<Item = T> + Unpin {
        Box::pin(futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx)))
    }
}
