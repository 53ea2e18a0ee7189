//! Data streams: the relay opens one bidirectional stream per client
//! request; this module reads the request, hands it to the server's
//! [`Bridge`], and writes the reply back as frames.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::{FutureExt, SinkExt, StreamExt};
use quinn::{Connection, RecvStream, SendStream, VarInt};
use sallyport_protocol::data::{
    BodyKind, DataFrame, RequestHead, ResponseHead, StreamError, StreamErrorKind,
};
use sallyport_protocol::framed::{DataCodec, FramedError};
use sallyport_protocol::version::EVENT_DATA;
use sallyport_protocol::{CloseCode, ServerName};
use tokio::sync::{mpsc, oneshot};
use tokio_util::codec::{FramedRead, FramedWrite};
use tracing::{Instrument, debug, info_span, warn};

use crate::bridge::{
    BodyStream, Bridge, BridgeReply, BridgeRequest, LinkTag, SseItem, stream_error,
};
use crate::scope::{LinkScope, RequestScope};

mod feed;

use feed::{feed_chunks, feed_event, feed_piece, join};

/// The bridges of every configured server, by name.
#[derive(Debug, Default)]
pub(crate) struct Bridges {
    pub map: HashMap<ServerName, Arc<dyn Bridge>>,
    /// Largest request body accepted from the relay.
    pub max_body: usize,
    /// Largest frame accepted or sent.
    pub max_frame: usize,
}

impl Bridges {
    /// Tells every bridge that a link is gone.
    pub fn link_closed(&self, origin: LinkTag) {
        for bridge in self.map.values() {
            bridge.link_closed(origin);
        }
    }

    /// Stops every bridge.
    pub fn shutdown(&self) {
        for bridge in self.map.values() {
            bridge.shutdown();
        }
    }
}

type Write = FramedWrite<SendStream, DataCodec>;

/// The link the streams arrive on.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Peer {
    /// Tags the link's requests for the bridges.
    pub origin: LinkTag,
    /// The protocol version agreed with the relay.
    pub version: u16,
    /// Time the relay has to send a request's head and body (the link's
    /// drain timeout).
    pub request_timeout: Duration,
}

/// Serves the data streams the relay opens on `conn` until the link ends;
/// each request runs in its own scope inside `link`.
pub(crate) async fn accept(conn: Connection, peer: Peer, bridges: Arc<Bridges>, link: LinkScope) {
    loop {
        let (send, recv) = tokio::select! {
            accepted = conn.accept_bi() => match accepted {
                Ok(streams) => streams,
                Err(_) => break,
            },
            () = link.cancelled() => break,
        };
        let bridges = Arc::clone(&bridges);
        link.spawn_request(|scope| serve(send, recv, peer, bridges, scope));
    }
    bridges.link_closed(peer.origin);
}

async fn serve(
    send: SendStream,
    recv: RecvStream,
    peer: Peer,
    bridges: Arc<Bridges>,
    scope: RequestScope,
) {
    let codec = DataCodec::new(bridges.max_frame);
    let mut write = FramedWrite::new(send, codec.clone());
    let mut read = FramedRead::new(recv, codec);
    let receive = tokio::time::timeout(
        peer.request_timeout,
        read_request(&mut read, bridges.max_body),
    );
    let request = tokio::select! {
        request = receive => request,
        () = scope.cancelled() => return cancel(&mut write),
    };
    let (head, body) = match request {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => return fail(&mut write, e).await,
        Err(_) => {
            return fail(
                &mut write,
                stream_error(StreamErrorKind::BadRequest, "request not received in time"),
            )
            .await;
        }
    };
    let span = info_span!("stream", request.id = head.request_id, server = %head.server, method = ?head.method);
    async move {
        let Some(bridge) = bridges.map.get(&head.server).cloned() else {
            let msg = format!("this connector does not serve {}", head.server);
            return fail(
                &mut write,
                stream_error(StreamErrorKind::UnknownServer, msg),
            )
            .await;
        };
        let request = BridgeRequest {
            origin: peer.origin,
            head,
            body,
        };
        let reply = tokio::select! {
            reply = bridge.handle(request, scope.token().clone()) => reply,
            _ = write.get_ref().stopped() => {
                debug!("relay cancelled the request");
                return;
            }
            () = scope.cancelled() => return cancel(&mut write),
        };
        match reply {
            Err(e) => fail(&mut write, e).await,
            Ok(reply) => {
                let pieces = peer.version >= EVENT_DATA;
                let sent = tokio::select! {
                    sent = send_reply(&mut write, reply, pieces) => sent,
                    () = scope.cancelled() => return cancel(&mut write),
                };
                if let Err(e) = sent {
                    debug!(error = %e, "reply not delivered");
                    cancel(&mut write);
                }
            }
        }
    }
    .instrument(span)
    .await
}

async fn read_request(
    read: &mut FramedRead<RecvStream, DataCodec>,
    max_body: usize,
) -> Result<(RequestHead, Bytes), StreamError> {
    let head = match read.next().await {
        Some(Ok(DataFrame::RequestHead(h))) => h,
        Some(Ok(_)) => {
            return Err(stream_error(
                StreamErrorKind::BadRequest,
                "expected RequestHead",
            ));
        }
        Some(Err(e)) => return Err(stream_error(StreamErrorKind::BadRequest, e.to_string())),
        None => {
            return Err(stream_error(
                StreamErrorKind::BadRequest,
                "stream ended before RequestHead",
            ));
        }
    };
    let mut body = BytesMut::new();
    loop {
        match read.next().await {
            Some(Ok(DataFrame::Body(chunk))) => {
                if body.len() + chunk.len() > max_body {
                    return Err(stream_error(
                        StreamErrorKind::Overloaded,
                        format!("request body exceeds {max_body} bytes"),
                    ));
                }
                body.extend_from_slice(&chunk);
            }
            Some(Ok(DataFrame::BodyEnd)) => return Ok((head, body.freeze())),
            Some(Ok(_)) => {
                return Err(stream_error(
                    StreamErrorKind::BadRequest,
                    "expected Body or BodyEnd",
                ));
            }
            Some(Err(e)) => return Err(stream_error(StreamErrorKind::BadRequest, e.to_string())),
            None => {
                return Err(stream_error(
                    StreamErrorKind::BadRequest,
                    "stream ended inside the request body",
                ));
            }
        }
    }
}

/// Sends `reply`; with `pieces` (protocol 2), an event's data sent ahead by
/// the bridge goes ahead as `EventData` frames.
async fn send_reply(
    write: &mut Write,
    reply: BridgeReply,
    pieces: bool,
) -> Result<(), FramedError> {
    match reply {
        BridgeReply::Empty { status, session } => {
            write.send(head(status, BodyKind::Empty, session)).await?;
        }
        BridgeReply::Json {
            status,
            session,
            body,
        } => {
            write.feed(head(status, BodyKind::Json, session)).await?;
            feed_chunks(write, body).await?;
        }
        BridgeReply::JsonStream {
            status,
            session,
            body,
        } => {
            write.feed(head(status, BodyKind::Json, session)).await?;
            if !relay_body(write, body).await? {
                return Ok(());
            }
        }
        BridgeReply::Sse {
            status,
            session,
            events,
            failure,
        } => {
            write
                .send(head(status, BodyKind::EventStream, session))
                .await?;
            if !relay_events(write, events, failure, pieces).await? {
                return Ok(());
            }
        }
    }
    write.send(DataFrame::End).await?;
    let _ = write.get_mut().finish();
    Ok(())
}

/// The `ResponseHead` frame of a reply.
fn head(status: u16, kind: BodyKind, session: Option<String>) -> DataFrame {
    DataFrame::ResponseHead(ResponseHead {
        status,
        kind,
        session,
    })
}

/// What `next` gives; if it is not ready at once, what is queued on
/// `write` is flushed while waiting. `None` when the relay stops reading
/// first. (`next` must be cancel-safe.)
async fn flush_unless_ready<T>(
    write: &mut Write,
    next: impl Future<Output = T>,
) -> Result<Option<T>, FramedError> {
    let mut next = std::pin::pin!(next);
    if let Some(item) = next.as_mut().now_or_never() {
        return Ok(Some(item));
    }
    write.flush().await?;
    tokio::select! {
        item = next => Ok(Some(item)),
        _ = write.get_ref().stopped() => Ok(None),
    }
}

/// Sends a streamed body as `Body` frames, flushing only when the next
/// chunk is not ready yet. `Ok(false)` when the stream is already closed:
/// the body failed (its error was sent) or the relay stopped reading.
async fn relay_body(write: &mut Write, mut body: BodyStream) -> Result<bool, FramedError> {
    loop {
        let Some(next) = flush_unless_ready(write, body.next()).await? else {
            debug!("relay stopped reading the body");
            return Ok(false);
        };
        match next {
            None => return Ok(true),
            Some(Ok(chunk)) => feed_chunks(write, chunk).await?,
            Some(Err(error)) => {
                warn!(event = "body.failed_after_head", error = %error.message, "body failed after the response started");
                write.send(DataFrame::Error(error)).await?;
                let _ = write.get_mut().finish();
                return Ok(false);
            }
        }
    }
}

/// Sends an event stream, flushing only when the next item is not ready
/// yet. Without `pieces` (a protocol 1 relay), data pieces are joined to
/// their event here. `Ok(false)` when the stream is already closed: it
/// failed (its error was sent) or the relay stopped reading.
async fn relay_events(
    write: &mut Write,
    mut events: mpsc::Receiver<SseItem>,
    failure: Option<oneshot::Receiver<StreamError>>,
    pieces: bool,
) -> Result<bool, FramedError> {
    let mut held: Vec<Bytes> = Vec::new();
    loop {
        let Some(item) = flush_unless_ready(write, events.recv()).await? else {
            debug!("relay closed the event stream");
            return Ok(false);
        };
        match item {
            Some(SseItem::Data(piece)) if pieces => feed_piece(write, piece).await?,
            Some(SseItem::Data(piece)) => held.push(piece),
            Some(SseItem::Event(mut event)) => {
                if !held.is_empty() {
                    held.push(event.data);
                    event.data = join(&std::mem::take(&mut held));
                }
                feed_event(write, event).await?;
            }
            None => {
                // The events ended: because the stream did, or because it
                // broke (the error arrives first).
                if let Some(error) = failure.and_then(|mut f| f.try_recv().ok()) {
                    warn!(error = %error.message, "event stream failed");
                    write.send(DataFrame::Error(error)).await?;
                    let _ = write.get_mut().finish();
                    return Ok(false);
                }
                return Ok(true);
            }
        }
    }
}

/// Ends the stream early with `cancelled`: the link is ending, or the reply
/// cannot be delivered.
fn cancel(write: &mut Write) {
    let _ = write
        .get_mut()
        .reset(VarInt::from_u32(CloseCode::Cancelled.to_u32()));
}

async fn fail(write: &mut Write, error: StreamError) {
    warn!(event = "request.failed", kind = ?error.kind, error = %error.message, "request failed");
    if write.send(DataFrame::Error(error)).await.is_ok() {
        let _ = write.get_mut().finish();
    }
}
