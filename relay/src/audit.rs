//! The audit log: one JSON line per MCP request, per denial, per rate-limit
//! hit and per connector refusal.
//!
//! [`AuditLog::record`] queues an [`AuditRecord`] on a bounded channel; one
//! writer thread serializes and writes the lines (to stdout or to a file
//! rotated by size). Records are never dropped for lack of room: when the
//! channel is full, `record` waits (backpressure) and the wait is counted in
//! [`AuditCounters::blocked_or_dropped`]. [`AuditLog::close`] writes
//! everything queued and syncs the file, so a relay that drains its
//! requests and then closes the log loses nothing.
//!
//! # Secrets
//!
//! Bearer tokens, API keys, session ids and bodies never reach this module:
//! [`AuditRecord`] has no field meant for them, session ids are reduced to a
//! [`SessionTag`], and the identity fields are filled from an authenticated
//! [`Principal`](crate::auth::Principal) (see
//! [`AuditRecord::with_principal`]).

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use prometheus_client::metrics::counter::Counter;
use serde::Deserialize;
use tokio::sync::mpsc::{self, error::TrySendError};
use tokio::sync::oneshot;

mod record;
mod writer;

pub use record::{AuditEvent, AuditRecord, AuthMethod, Decision, MAX_FIELD_LEN, SessionTag};
use writer::Msg;

/// Records the channel holds before `record` waits.
pub const DEFAULT_CAPACITY: usize = 8192;
/// Default size at which `audit.jsonl` is rotated: 100 MiB.
pub const DEFAULT_MAX_BYTES: u64 = 100 * 1024 * 1024;
/// Default number of rotated files kept.
pub const DEFAULT_KEEP: usize = 5;

/// The `[audit]` section of `relay.toml`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditConfig {
    /// The log file, relative to the config file's directory; none: stdout.
    pub path: Option<PathBuf>,
    /// Size at which the file is rotated (default 100 MiB).
    pub max_bytes: Option<u64>,
    /// Rotated files kept: `audit.jsonl.1` … `.keep` (default 5).
    pub keep: Option<usize>,
}

impl AuditConfig {
    /// Where records go, with relative paths resolved against `base_dir`.
    pub fn sink(&self, base_dir: &Path) -> AuditSink {
        match &self.path {
            None => AuditSink::Stdout,
            Some(p) => AuditSink::File {
                path: base_dir.join(p),
                max_bytes: self.max_bytes.unwrap_or(DEFAULT_MAX_BYTES),
                keep: self.keep.unwrap_or(DEFAULT_KEEP),
            },
        }
    }

    /// Opens the log with default options.
    pub fn open(&self, base_dir: &Path) -> Result<AuditLog, AuditError> {
        self.open_with(base_dir, AuditOptions::default())
    }

    /// Opens the log; pass `Metrics::audit_counters()` in `options` so the
    /// counts appear in the relay's metrics.
    pub fn open_with(
        &self,
        base_dir: &Path,
        options: AuditOptions,
    ) -> Result<AuditLog, AuditError> {
        AuditLog::open(self.sink(base_dir), options)
    }
}

/// Where the records go.
#[non_exhaustive]
pub enum AuditSink {
    /// Standard output, one line per record.
    Stdout,
    /// A file, rotated by size.
    File {
        /// `audit.jsonl`; rotated files are `audit.jsonl.1` … `.keep`.
        path: PathBuf,
        /// The current file is rotated before a record would take it past
        /// this size (a file always holds at least one record).
        max_bytes: u64,
        /// Rotated files kept; the oldest beyond this is deleted. 0 keeps
        /// none.
        keep: usize,
    },
    /// Any writer (tests, or a pipe the caller set up).
    Writer(Box<dyn Write + Send>),
}

impl fmt::Debug for AuditSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuditSink::Stdout => f.write_str("Stdout"),
            AuditSink::File {
                path,
                max_bytes,
                keep,
            } => f
                .debug_struct("File")
                .field("path", path)
                .field("max_bytes", max_bytes)
                .field("keep", keep)
                .finish(),
            AuditSink::Writer(_) => f.write_str("Writer(..)"),
        }
    }
}

/// Counters the log keeps; clones share their values, so the relay's
/// metrics can hand theirs in.
#[derive(Debug, Clone, Default)]
pub struct AuditCounters {
    /// Times a record could not be queued at once (the caller waited, or
    /// `try_record` handed it back) or was refused because the log was
    /// closed.
    pub blocked_or_dropped: Counter,
    /// Records lost to write errors (disk full, file gone).
    pub write_errors: Counter,
}

/// How to open a log.
#[derive(Debug, Clone)]
pub struct AuditOptions {
    /// Records queued before `record` waits (at least 1).
    pub capacity: usize,
    /// Where to count waits and errors.
    pub counters: AuditCounters,
}

impl Default for AuditOptions {
    fn default() -> Self {
        Self {
            capacity: DEFAULT_CAPACITY,
            counters: AuditCounters::default(),
        }
    }
}

/// Why the audit log cannot be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// The log file's directory does not exist (it is not created).
    #[error("audit log directory {} does not exist", .0.display())]
    MissingDirectory(PathBuf),
    /// The log file's "directory" is something else.
    #[error("audit log directory {} is not a directory", .0.display())]
    NotADirectory(PathBuf),
    /// The file cannot be created or opened for appending.
    #[error("cannot open audit log {} for appending", path.display())]
    Open {
        /// The file.
        path: PathBuf,
        /// The I/O error (permission denied: the directory or file is not
        /// writable by the relay's user).
        source: std::io::Error,
    },
    /// `max_bytes` is zero.
    #[error("audit log max_bytes must be at least 1")]
    MaxBytesZero,
    /// `keep` is more than the relay rotates.
    #[error("audit log keep must be at most {max}")]
    KeepTooLarge {
        /// The most files kept.
        max: usize,
    },
    /// The writer thread cannot be started.
    #[error("cannot start the audit writer thread")]
    Spawn(#[source] std::io::Error),
}

/// A record handed back by [`AuditLog::try_record`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TryRecordError {
    /// The channel is full: await [`AuditLog::record`] with it instead.
    #[error("the audit channel is full")]
    Full(Box<AuditRecord>),
    /// The log is closed; the record is counted as dropped.
    #[error("the audit log is closed")]
    Closed(Box<AuditRecord>),
}

impl TryRecordError {
    /// The record that was not queued.
    pub fn into_record(self) -> AuditRecord {
        match self {
            TryRecordError::Full(r) | TryRecordError::Closed(r) => *r,
        }
    }
}

/// A handle to the audit log. Clones are cheap and feed the same writer.
#[derive(Debug, Clone)]
pub struct AuditLog {
    tx: mpsc::Sender<Msg>,
    counters: AuditCounters,
    /// Whether a record refused after `close` was already logged.
    warned_closed: Arc<AtomicBool>,
}

impl AuditLog {
    /// A log to standard output.
    ///
    /// # Panics
    ///
    /// When the OS cannot start a thread, like [`std::thread::spawn`].
    pub fn stdout() -> AuditLog {
        // Only thread creation can fail for stdout.
        Self::open(AuditSink::Stdout, AuditOptions::default())
            .expect("the OS can start the audit writer thread")
    }

    /// A log to `path` (created 0600 in an existing directory), rotated
    /// before it would exceed `max_bytes`, keeping `keep` rotated files.
    pub fn file(
        path: impl Into<PathBuf>,
        max_bytes: u64,
        keep: usize,
    ) -> Result<AuditLog, AuditError> {
        let sink = AuditSink::File {
            path: path.into(),
            max_bytes,
            keep,
        };
        Self::open(sink, AuditOptions::default())
    }

    /// Opens `sink` and starts the writer thread.
    pub fn open(sink: AuditSink, options: AuditOptions) -> Result<AuditLog, AuditError> {
        let (tx, rx) = mpsc::channel(options.capacity.max(1));
        writer::spawn(sink, rx, options.capacity.max(1), options.counters.clone())?;
        Ok(AuditLog {
            tx,
            counters: options.counters,
            warned_closed: Arc::new(AtomicBool::new(false)),
        })
    }

    /// Queues `rec`, waiting for room when the channel is full. Only a
    /// closed log drops it (counted, and logged once).
    pub async fn record(&self, rec: AuditRecord) {
        match self.tx.try_send(Msg::Record(Box::new(rec))) {
            Ok(()) => {}
            Err(TrySendError::Full(msg)) => {
                self.counters.blocked_or_dropped.inc();
                if self.tx.send(msg).await.is_err() {
                    self.dropped();
                }
            }
            Err(TrySendError::Closed(_)) => self.dropped(),
        }
    }

    /// Queues `rec` without waiting, for code that cannot await (a `Drop`
    /// guard). A full channel hands the record back, counted as blocked:
    /// the caller should then `record(..).await` it, e.g. in a spawned task.
    pub fn try_record(&self, rec: AuditRecord) -> Result<(), TryRecordError> {
        self.tx
            .try_send(Msg::Record(Box::new(rec)))
            .map_err(|e| match e {
                TrySendError::Full(Msg::Record(r)) => {
                    self.counters.blocked_or_dropped.inc();
                    TryRecordError::Full(r)
                }
                TrySendError::Closed(Msg::Record(r)) => {
                    self.dropped();
                    TryRecordError::Closed(r)
                }
                // Only records are sent above.
                _ => unreachable!("try_record sends only records"),
            })
    }

    /// Queues `rec` from code that cannot await (a response body's `Drop`):
    /// at once when there is room, else from a spawned task that waits for
    /// room, so the record is not lost. Outside a tokio runtime a full
    /// queue drops it (counted).
    pub fn record_detached(&self, rec: AuditRecord) {
        if let Err(TryRecordError::Full(rec)) = self.try_record(rec) {
            match tokio::runtime::Handle::try_current() {
                Ok(rt) => {
                    let log = self.clone();
                    rt.spawn(async move { log.record(*rec).await });
                }
                Err(_) => self.dropped(),
            }
        }
    }

    /// Returns once every record queued before the call has been written
    /// to the sink (handed to the OS; not synced).
    pub async fn flush(&self) {
        let (ack, done) = oneshot::channel();
        if self.tx.send(Msg::Flush(ack)).await.is_ok() {
            // An error means the writer is gone: nothing left to wait for.
            let _ = done.await;
        }
    }

    /// Writes every queued record, syncs the file and stops the writer.
    /// This closes the log for every clone: records sent afterwards are
    /// dropped and counted. Call it last, after requests have drained.
    pub async fn close(self) {
        let (ack, done) = oneshot::channel();
        if self.tx.send(Msg::Close(ack)).await.is_ok() {
            let _ = done.await;
        }
    }

    /// The log's counters.
    pub fn counters(&self) -> &AuditCounters {
        &self.counters
    }

    fn dropped(&self) {
        self.counters.blocked_or_dropped.inc();
        if !self.warned_closed.swap(true, Ordering::Relaxed) {
            tracing::error!("audit record dropped: the audit log is closed");
        }
    }
}
