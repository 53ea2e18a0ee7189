//! The session's router task and request watchers: what happens after a
//! request was written.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::bridge::stdio::child::{Event, Exit};
use crate::bridge::stdio::envelope::{self, restore, upstream_id};
use crate::bridge::stdio::route::{Entry, Target, target};
use crate::bridge::stdio::sessions::Table;
use crate::bridge::stdio::{event, lock, log_head, server_message};

use super::{BACKLOG, DELIVER_GRACE, INTERNAL_ERROR, REQUEST_TIMEOUT, Session};

impl Session {
    /// Follows one request: detaches it when its client goes away, and
    /// times it out after the upstream timeout.
    pub(super) async fn watch(
        self: Arc<Self>,
        n: u64,
        cancel: CancellationToken,
        done: CancellationToken,
    ) {
        let deadline = tokio::time::sleep(self.timeout);
        tokio::pin!(deadline);
        let mut detached = false;
        loop {
            tokio::select! {
                _ = done.cancelled() => return,
                _ = cancel.cancelled(), if !detached => {
                    detached = true;
                    let mut state = lock(&self.state);
                    if let Some(entry) = state.entries.iter_mut().find(|e| e.upstream == n) {
                        debug!(request = log_head(&entry.client_id), "client went away; its request keeps running");
                        entry.tx = None;
                        state.last_used = Instant::now();
                    }
                }
                _ = &mut deadline => break,
            }
        }
        let Some(entry) = self.remove(n) else {
            return;
        };
        warn!(request = log_head(&entry.client_id), upstream_id = n, timeout = ?self.timeout, "MCP server did not answer in time");
        let note = envelope::cancelled_notification(&n.to_string(), "timed out");
        let _ = self.stdin.try_send(note);
        if let Some(tx) = entry.tx {
            let msg = format!(
                "MCP server {} did not answer within {:?}",
                self.server, self.timeout
            );
            let error = envelope::error_response(&entry.client_id, REQUEST_TIMEOUT, &msg);
            let _ = tokio::time::timeout(DELIVER_GRACE, tx.send(event(error))).await;
        }
    }

    /// The router: reads the child's messages until the session ends.
    pub(super) async fn run(
        self: Arc<Self>,
        mut events: mpsc::Receiver<Event>,
        idle: Duration,
        table: Arc<Table>,
    ) {
        loop {
            let deadline = {
                let state = lock(&self.state);
                if state.busy() {
                    Instant::now() + idle
                } else {
                    state.last_used + idle
                }
            };
            tokio::select! {
                biased;
                _ = self.ended.cancelled() => {
                    self.close(None);
                    break;
                }
                event = events.recv() => match event {
                    Some(Event::Line(line)) => self.route(line).await,
                    Some(Event::Exited(how)) => {
                        self.exited(how, &table).await;
                        break;
                    }
                    None => {
                        self.exited(Exit::plain("its output ended"), &table).await;
                        break;
                    }
                },
                _ = tokio::time::sleep_until(deadline) => {
                    let state = lock(&self.state);
                    if !state.busy() && state.last_used.elapsed() >= idle {
                        info!(idle = ?idle, "session idle; ending it");
                        self.ended.cancel();
                    }
                }
            }
        }
        table.remove(&self);
    }

    async fn route(&self, line: Bytes) {
        let Some(message) = server_message(&line) else {
            return;
        };
        let delivery = {
            let mut state = lock(&self.state);
            let get_open = state.get_open();
            match target(&message, &state.entries, get_open) {
                Target::Final(i) => {
                    let entry = state.entries.remove(i);
                    entry.done.cancel();
                    state.last_used = Instant::now();
                    let restored = restore(&message, vec![(message.id, &entry.client_id)]);
                    entry.tx.map(|tx| (tx, restored))
                }
                Target::Progress(i) => {
                    let entry = &state.entries[i];
                    let token = entry.client_token.as_deref().unwrap_or("null");
                    let restored = restore(&message, vec![(message.progress_token, token)]);
                    entry.tx.clone().map(|tx| (tx, restored))
                }
                Target::Stream(i) => state.entries[i].tx.clone().map(|tx| (tx, line)),
                Target::Get => state.get.clone().map(|tx| (tx, line)),
                Target::Backlog => {
                    if state.backlog.len() >= BACKLOG {
                        state.backlog.pop_front();
                        warn!(
                            limit = BACKLOG,
                            "no stream for server messages; dropped the oldest"
                        );
                    }
                    state.backlog.push_back(line);
                    None
                }
                Target::Unmatched => {
                    let id = log_head(message.id.map_or("null", |id| id.get()));
                    if upstream_id(message.id).is_some_and(|n| state.cancelled.contains(&n)) {
                        debug!(id, "answer to a request the client cancelled; dropped");
                    } else {
                        warn!(
                            id,
                            "MCP server answered no request in flight (not an id the connector gave it); dropped"
                        );
                    }
                    None
                }
                Target::Drop => {
                    debug!(
                        method = message.method(),
                        "progress for a request whose client went away; dropped"
                    );
                    None
                }
            }
        };
        if let Some((tx, line)) = delivery {
            tokio::select! {
                _ = tx.send(event(line)) => {}
                _ = self.ended.cancelled() => {}
            }
        }
    }

    /// The child exited on its own: the session leaves the table, then
    /// every request in flight gets an error response for its id.
    async fn exited(self: &Arc<Self>, how: Exit, table: &Table) {
        let entries = self.close(Some(how.detail.clone()));
        self.ended.cancel();
        table.remove(self);
        warn!(status = %how.detail, in_flight = entries.len(), "MCP server exited; session ended");
        let message = format!("MCP server {} exited ({})", self.server, how.public);
        for entry in entries {
            if let Some(tx) = entry.tx {
                let error = envelope::error_response(&entry.client_id, INTERNAL_ERROR, &message);
                let _ = tokio::time::timeout(DELIVER_GRACE, tx.send(event(error))).await;
            }
        }
    }

    /// Marks the session closed and takes its requests; dropping them ends
    /// their streams, and the GET stream ends too.
    fn close(&self, exit: Option<String>) -> Vec<Entry> {
        let mut state = lock(&self.state);
        state.closed = true;
        state.exit = exit;
        state.get = None;
        state.backlog.clear();
        let entries = std::mem::take(&mut state.entries);
        for entry in &entries {
            entry.done.cancel();
        }
        entries
    }
}
