//! Writing `Body`, `EventData` and `Event` frames; large payloads go to
//! quinn as they are, without a copy into the frame buffer.

use bytes::{Bytes, BytesMut};
use futures_util::SinkExt;
use sallyport_protocol::BODY_CHUNK;
use sallyport_protocol::body::{body_frame_head, event_data_frame_head, event_frame_parts};
use sallyport_protocol::data::{DataFrame, SseEvent};
use sallyport_protocol::framed::FramedError;

use super::Write;

/// Body chunks from this size on are sent without copying (`feed_body`).
const SHARE_BODY_FROM: usize = 4096;

/// `parts` in one buffer of exactly their size.
pub(super) fn join(parts: &[Bytes]) -> Bytes {
    let mut all = BytesMut::with_capacity(parts.iter().map(Bytes::len).sum());
    for part in parts {
        all.extend_from_slice(part);
    }
    all.freeze()
}

/// Queues `body` as `Body` frames of at most [`BODY_CHUNK`] bytes.
pub(super) async fn feed_chunks(write: &mut Write, mut body: Bytes) -> Result<(), FramedError> {
    while !body.is_empty() {
        let chunk = body.split_to(body.len().min(BODY_CHUNK));
        feed_body(write, chunk).await?;
    }
    Ok(())
}

/// Queues one `Body` frame. A large chunk is not copied into the frame
/// buffer: see [`write_shared`].
async fn feed_body(write: &mut Write, chunk: Bytes) -> Result<(), FramedError> {
    if chunk.len() < SHARE_BODY_FROM {
        return write.feed(DataFrame::Body(chunk)).await;
    }
    let head = body_frame_head(&write.encoder().0, chunk.len())?;
    write_shared(write, &mut [head, chunk]).await
}

/// Queues one `EventData` frame; a large piece is not copied.
pub(super) async fn feed_piece(write: &mut Write, piece: Bytes) -> Result<(), FramedError> {
    if piece.len() < SHARE_BODY_FROM {
        return write.feed(DataFrame::EventData(piece)).await;
    }
    let head = event_data_frame_head(&write.encoder().0, piece.len())?;
    write_shared(write, &mut [head, piece]).await
}

/// Queues one `Event` frame; large data is not copied (see
/// [`write_shared`]).
pub(super) async fn feed_event(write: &mut Write, event: SseEvent) -> Result<(), FramedError> {
    if event.data.len() < SHARE_BODY_FROM {
        return write.feed(DataFrame::Event(event)).await;
    }
    let (head, tail) = event_frame_parts(&write.encoder().0, &event)?;
    write_shared(write, &mut [head, event.data, tail]).await
}

/// Writes one frame given as parts: what is buffered goes first, then the
/// parts as they are (quinn takes `Bytes` without a copy).
async fn write_shared(write: &mut Write, parts: &mut [Bytes]) -> Result<(), FramedError> {
    write.flush().await?;
    write
        .get_mut()
        .write_all_chunks(parts)
        .await
        .map_err(|e| FramedError::Io(e.into()))
}
