//! Session era: the table of live sessions of one server, its limits, and
//! session creation on `initialize`.
//!
//! A server has `max_sessions` slots, and one caller (subject and agent)
//! may hold at most `max_sessions_per_caller` of them, so that one caller
//! opening idle sessions cannot lock everyone else out. A slot is taken
//! when `initialize` starts and freed when the session leaves the table
//! (DELETE, idleness, the child's exit, the loss of its link) or its
//! initialization fails.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use sallyport_protocol::data::{Caller, StreamError, StreamErrorKind};
use tracing::{info, warn};

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
    /// Slots held per caller: live sessions and those being initialized.
    per_caller: HashMap<CallerKey, usize>,
}

impl Inner {
    fn release(&mut self, caller: &CallerKey) {
        if let Some(held) = self.per_caller.get_mut(caller) {
            *held = held.saturating_sub(1);
            if *held == 0 {
                self.per_caller.remove(caller);
            }
        }
    }
}

impl Table {
    /// Forgets `session` (called by its router when it ends) and frees its
    /// caller's slot.
    pub fn remove(&self, session: &Arc<Session>) {
        let mut inner = lock(&self.inner);
        if inner
            .map
            .get(&session.id)
            .is_some_and(|s| Arc::ptr_eq(s, session))
        {
            inner.map.remove(&session.id);
            inner.release(&session.caller);
        }
    }

    /// The number of live sessions.
    pub fn len(&self) -> usize {
        lock(&self.inner).map.len()
    }
}

/// Who holds a session slot: the caller's subject and, when known, the
/// agent acting for it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct CallerKey {
    subject: String,
    agent: Option<String>,
}

impl CallerKey {
    /// The key of `caller` (its groups do not count).
    pub fn of(caller: &Caller) -> Self {
        CallerKey {
            subject: caller.subject.clone(),
            agent: caller.agent.clone(),
        }
    }
}

impl fmt::Display for CallerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.agent {
            Some(agent) => write!(f, "{:?} (agent {agent:?})", self.subject),
            None => write!(f, "{:?}", self.subject),
        }
    }
}

/// A slot reserved for an initialization: released when it ends, however
/// it ends; its caller's share passes to the session when [`kept`]
/// (the table then releases it with the session).
///
/// [`kept`]: Reservation::kept
struct Reservation<'a> {
    table: &'a Table,
    caller: CallerKey,
    kept: bool,
}

impl Reservation<'_> {
    /// The session is in the table: it holds the caller's slot now (set
    /// in the same critical section as the insertion).
    fn kept(&mut self) {
        self.kept = true;
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        let mut inner = lock(&self.table.inner);
        inner.starting = inner.starting.saturating_sub(1);
        if !self.kept {
            inner.release(&self.caller);
        }
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
        caller: &Caller,
        message: &Envelope<'_>,
    ) -> Result<BridgeReply, StreamError> {
        let caller = CallerKey::of(caller);
        let mut slot = self.reserve(ctx, caller.clone())?;
        let id = new_session_id()?;
        let ended = ctx.shutdown.child_token();
        // Ends the session if initialization fails or the client goes away.
        let end_unless_kept = ended.clone().drop_guard();
        let table = Arc::clone(&self.table);
        let session = Session::start(ctx, id.clone(), origin, caller, ended, table)?;
        let response = session.initialize(message).await?;
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
            slot.kept();
        }
        end_unless_kept.disarm();
        info!(event = "session.started", server = %ctx.server, session = %id, origin, "session started");
        Ok(BridgeReply::Json {
            status: 200,
            session: Some(id),
            body: response,
        })
    }

    /// Takes a slot of the server and one of `caller`'s share, or refuses
    /// with `Overloaded`.
    fn reserve(&self, ctx: &Ctx, caller: CallerKey) -> Result<Reservation<'_>, StreamError> {
        let mut inner = lock(&self.table.inner);
        let max = ctx.limits.max_sessions;
        if inner.map.len() + inner.starting >= max {
            warn!(server = %ctx.server, caller = %caller, limit = max, "session limit reached; initialize refused");
            return Err(stream_error(
                StreamErrorKind::Overloaded,
                format!(
                    "MCP server {} already has {max} sessions (the limit); try again later",
                    ctx.server
                ),
            ));
        }
        let share = ctx.limits.max_sessions_per_caller;
        let held = inner.per_caller.get(&caller).copied().unwrap_or(0);
        if held >= share {
            warn!(server = %ctx.server, caller = %caller, held, share, "caller's session share used up; initialize refused");
            return Err(stream_error(
                StreamErrorKind::Overloaded,
                format!(
                    "this caller already holds {held} sessions of MCP server {} (the per-caller share is {share}); end one (DELETE) or try again later",
                    ctx.server
                ),
            ));
        }
        inner.starting += 1;
        *inner.per_caller.entry(caller.clone()).or_default() += 1;
        Ok(Reservation {
            table: &self.table,
            caller,
            kept: false,
        })
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
            let gone: Vec<Arc<Session>> = inner
                .map
                .extract_if(|_, s| s.origin == origin)
                .map(|(_, s)| s)
                .collect();
            for session in &gone {
                inner.release(&session.caller);
            }
            gone
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
