//! Carries one client request over a connector link: opens a data stream,
//! sends the request head and body, and returns the response head with the
//! stream of frames that follow.

use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use quinn::{RecvStream, SendStream, VarInt};
use sallyport_protocol::data::{DataFrame, RequestHead, ResponseHead, StreamError};
use sallyport_protocol::framed::{DataCodec, FramedError};
use sallyport_protocol::{BODY_CHUNK, CloseCode};
use tokio_util::codec::{FramedRead, FramedWrite};

use crate::registry::Route;

/// Why a request could not be carried.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ForwardError {
    /// The link failed (lost, closed, or the stream was reset).
    #[error("connector link failed")]
    Link(#[source] LinkError),
    /// The connector answered with an error instead of a response.
    #[error("{}", .0.message)]
    Upstream(StreamError),
    /// No response head within the timeout.
    #[error("the connector did not answer within {0:?}")]
    Timeout(Duration),
    /// The link carries as many requests as the connector accepts.
    #[error("the connector link is at its limit of concurrent requests")]
    Overloaded,
}

/// How a connector link failed a request.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LinkError {
    /// No stream could be opened: the connection is gone.
    #[error("cannot open a stream")]
    Open(#[source] quinn::ConnectionError),
    /// The stream failed or carried an undecodable frame.
    #[error("the stream failed")]
    Stream(#[source] FramedError),
    /// A frame arrived where another was due.
    #[error("expected {0}, got another frame")]
    Unexpected(&'static str),
    /// The stream ended early.
    #[error("the stream ended before {0}")]
    Ended(&'static str),
}

/// A response in flight: its head, and the frames of its body.
#[derive(Debug)]
pub struct Response {
    /// Status, body kind and upstream session.
    pub head: ResponseHead,
    frames: FramedRead<RecvStream, DataCodec>,
    send: SendStream,
    done: bool,
    _route: Route,
}

/// The next piece of a response body.
#[derive(Debug)]
pub enum Piece {
    /// A chunk of a JSON body.
    Body(Bytes),
    /// The next piece of the data of the event that follows (protocol 2).
    EventData(Bytes),
    /// One server-sent event; with pieces before it, the rest of its data.
    Event(sallyport_protocol::data::SseEvent),
}

impl Response {
    /// The next body piece; `Ok(None)` at the end of the body.
    pub async fn next(&mut self) -> Result<Option<Piece>, ForwardError> {
        if self.done {
            return Ok(None);
        }
        let frame = self.frames.next().await;
        match frame {
            Some(Ok(DataFrame::Body(b))) => Ok(Some(Piece::Body(b))),
            Some(Ok(DataFrame::EventData(b))) => Ok(Some(Piece::EventData(b))),
            Some(Ok(DataFrame::Event(e))) => Ok(Some(Piece::Event(e))),
            Some(Ok(DataFrame::End)) => {
                self.done = true;
                Ok(None)
            }
            Some(Ok(DataFrame::Error(e))) => {
                self.done = true;
                Err(ForwardError::Upstream(e))
            }
            Some(Ok(_)) => {
                self.done = true;
                Err(ForwardError::Link(LinkError::Unexpected("a body frame")))
            }
            Some(Err(e)) => {
                self.done = true;
                Err(link_error(e))
            }
            None => {
                self.done = true;
                Err(ForwardError::Link(LinkError::Ended("the response did")))
            }
        }
    }
}

impl Response {
    /// The largest frame the link accepts: the bound on anything the relay
    /// must hold whole.
    pub fn max_frame(&self) -> usize {
        self.frames.decoder().0.max_len()
    }

    /// Reads a bodiless response to its end, so the stream closes cleanly
    /// instead of being reset as cancelled.
    pub async fn finish(mut self) {
        let limit = Duration::from_secs(5);
        let _ = tokio::time::timeout(limit, async {
            while let Ok(Some(_)) = self.next().await {}
        })
        .await;
    }
}

impl Drop for Response {
    fn drop(&mut self) {
        if !self.done {
            // The client went away: tell the connector to stop the work.
            let code = VarInt::from_u32(CloseCode::Cancelled.to_u32());
            let _ = self.send.reset(code);
            let _ = self.frames.get_mut().stop(code);
        }
    }
}

/// Sends `head` and `body` over a new stream of `route`'s link and waits
/// (at most `timeout`) for the response head.
pub async fn forward(
    route: Route,
    head: RequestHead,
    body: Bytes,
    max_frame: usize,
    timeout: Duration,
) -> Result<Response, ForwardError> {
    // Waiting for stream credit is bounded: a saturated link answers 503
    // rather than holding the client.
    let (send, recv) = tokio::time::timeout(timeout, route.conn.open_bi())
        .await
        .map_err(|_| ForwardError::Overloaded)?
        .map_err(|e| ForwardError::Link(LinkError::Open(e)))?;
    let codec = DataCodec::new(max_frame);
    let mut write = FramedWrite::new(send, codec.clone());
    let mut frames = FramedRead::new(recv, codec);
    let sent = async {
        write.feed(DataFrame::RequestHead(head)).await?;
        let mut rest = body;
        while !rest.is_empty() {
            let chunk = rest.split_to(rest.len().min(BODY_CHUNK));
            write.feed(DataFrame::Body(chunk)).await?;
        }
        write.send(DataFrame::BodyEnd).await?;
        // Nothing more goes this way: the FIN rides in the packet that
        // carries the request, not in one of its own when the response is
        // dropped. Cancelling later uses STOP_SENDING (see `Drop`).
        let _ = write.get_mut().finish();
        Ok::<(), FramedError>(())
    };
    sent.await.map_err(link_error)?;
    let first = tokio::time::timeout(timeout, frames.next())
        .await
        .map_err(|_| ForwardError::Timeout(timeout))?;
    let send = write.into_inner();
    let head = match first {
        Some(Ok(DataFrame::ResponseHead(h))) => h,
        Some(Ok(DataFrame::Error(e))) => return Err(ForwardError::Upstream(e)),
        Some(Ok(_)) => return Err(ForwardError::Link(LinkError::Unexpected("a response head"))),
        Some(Err(e)) => return Err(link_error(e)),
        None => return Err(ForwardError::Link(LinkError::Ended("a response"))),
    };
    Ok(Response {
        head,
        frames,
        send,
        done: false,
        _route: route,
    })
}

fn link_error(e: FramedError) -> ForwardError {
    ForwardError::Link(LinkError::Stream(e))
}
