//! Session era: the table of live sessions of one server, its limit, and
//! session creation on `initialize`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use sallyport_protocol::data::{StreamError, StreamErrorKind};
use tracing::info;

use super::envelope::Envelope;
use super::session::Session;
use super::{Ctx, lock};
use crate::bridge::{BridgeReply, LinkTag, stream_error};

/// The live sessions of one server.
#[derive(Debug, Default)]
pub(crate) struct Table {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    map: HashMap<String, Arc<Session>>,
    /// Sessions being initialized (they count against the limit).
    starting: usize,
}

impl Table {
    /// Forgets `session` (called by its router when it ends).
    pub fn remove(&self, session: &Arc<Session>) {
        let mut inner = lock(&self.inner);
        if inner
            .map
            .get(&session.id)
            .is_some_and(|s| Arc::ptr_eq(s, session))
        {
            inner.map.remove(&session.id);
        }
    }

    /// The number of live sessions.
    pub fn len(&self) -> usize {
        lock(&self.inner).map.len()
    }
}

/// Releases a reserved slot when initialization ends, however it ends.
struct Reservation<'a>(&'a Table);

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        let mut inner = lock(&self.0.inner);
        inner.starting = inner.starting.saturating_sub(1);
    }
}

/// Creates, finds and ends the sessions of one server.
#[derive(Debug)]
pub(crate) struct Sessions {
    table: Arc<Table>,
}

impl Sessions {
    pub fn new() -> Self {
        Self {
            table: Arc::new(Table::default()),
        }
    }

    /// The live sessions.
    pub fn table(&self) -> &Table {
        &self.table
    }

    /// Starts a child, sends it `initialize`, and answers with its response
    /// and a new session id, or with the response alone when it is an
    /// error (no session then).
    pub async fn initialize(
        &self,
        ctx: &Ctx,
        origin: LinkTag,
        body: Bytes,
        message: &Envelope<'_>,
    ) -> Result<BridgeReply, StreamError> {
        let _slot = self.reserve(ctx)?;
        let id = new_session_id()?;
        let ended = ctx.shutdown.child_token();
        // Ends the session if initialization fails or the client goes away.
        let end_unless_kept = ended.clone().drop_guard();
        let session = Session::start(ctx, id.clone(), origin, ended, Arc::clone(&self.table))?;
        let response = session.initialize(body, message).await?;
        let rejected = std::str::from_utf8(&response)
            .ok()
            .and_then(|t| Envelope::parse(t).ok())
            .is_none_or(|m| m.is_error);
        if rejected {
            return Ok(BridgeReply::Json {
                status: 200,
                session: None,
                body: response,
            });
        }
        {
            let mut inner = lock(&self.table.inner);
            // Checked under the table lock: a router that has already
            // closed the session removes it only after marking it closed.
            if session.is_closed() {
                return Err(stream_error(
                    StreamErrorKind::Upstream,
                    format!("MCP server {} exited right after initialize", ctx.server),
                ));
            }
            inner.map.insert(id.clone(), session);
        }
        end_unless_kept.disarm();
        info!(server = %ctx.server, session = %id, origin, "session started");
        Ok(BridgeReply::Json {
            status: 200,
            session: Some(id),
            body: response,
        })
    }

    fn reserve(&self, ctx: &Ctx) -> Result<Reservation<'_>, StreamError> {
        let mut inner = lock(&self.table.inner);
        let max = ctx.limits.max_sessions;
        if inner.map.len() + inner.starting >= max {
            return Err(stream_error(
                StreamErrorKind::Overloaded,
                format!(
                    "MCP server {} already has {max} sessions (the limit); try again later",
                    ctx.server
                ),
            ));
        }
        inner.starting += 1;
        Ok(Reservation(&self.table))
    }

    /// The live session `id`, or `UnknownSession` (the relay answers 404
    /// and the client re-initializes).
    pub fn get(&self, id: &str) -> Result<Arc<Session>, StreamError> {
        lock(&self.table.inner)
            .map
            .get(id)
            .filter(|s| !s.ended.is_cancelled())
            .cloned()
            .ok_or_else(|| {
                stream_error(
                    StreamErrorKind::UnknownSession,
                    "unknown or expired session",
                )
            })
    }

    /// Ends session `id` and waits (boundedly) for its child to be reaped.
    pub async fn delete(&self, id: &str) -> Result<(), StreamError> {
        let session = self.get(id)?;
        self.table.remove(&session);
        session.end_and_wait().await;
        info!(session = %id, "session deleted");
        Ok(())
    }

    /// Ends the sessions created through link `origin`.
    pub fn link_closed(&self, origin: LinkTag) {
        let gone: Vec<Arc<Session>> = {
            let mut inner = lock(&self.table.inner);
            inner
                .map
                .extract_if(|_, s| s.origin == origin)
                .map(|(_, s)| s)
                .collect()
        };
        for session in gone {
            info!(session = %session.id, origin, "link closed; ending its session");
            session.ended.cancel();
        }
    }
}

/// 128 random bits from the system CSPRNG (through rustls' provider), as
/// 32 lowercase hex digits: visible ASCII, unguessable.
fn new_session_id() -> Result<String, StreamError> {
    let mut bytes = [0u8; 16];
    rustls::crypto::ring::default_provider()
        .secure_random
        .fill(&mut bytes)
        .map_err(|_| stream_error(StreamErrorKind::Internal, "no randomness for a session id"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    #[test]
    fn session_ids_are_long_visible_and_distinct() {
        let a = super::new_session_id().expect("random");
        let b = super::new_session_id().expect("random");
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
