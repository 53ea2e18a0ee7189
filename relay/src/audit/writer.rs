//! The audit writer: one OS thread draining the channel into the sink, in
//! batches, rotating the file by size.
//!
//! It runs on its own thread rather than a tokio task so that blocking file
//! I/O never holds a runtime worker and the log can be opened outside a
//! runtime. Records reach the OS at the end of every batch (whatever was
//! queued when the thread woke, up to [`MAX_MSGS`] messages, written in
//! chunks of at most [`MAX_BATCH`] bytes); `close` also syncs the file.
//!
//! After a batch that left the queue far from full, the thread lingers
//! for [`LINGER`] before it looks again, so that under load it wakes a few
//! hundred times a second rather than once per request (a wake-up is a
//! futex call on both sides; measured at ~8% of the relay's CPU at 8,000
//! requests/s). A nearly full queue is drained at once.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use tokio::sync::{mpsc, oneshot};
use tracing::{error, info, warn};

use super::{AuditCounters, AuditError, AuditRecord, AuditSink};

/// Bytes buffered before they are written, even mid-batch.
pub(crate) const MAX_BATCH: usize = 256 * 1024;

/// Most rotated files kept (each rotation renames them all).
pub(crate) const MAX_KEEP: usize = 1000;

/// Messages taken from the channel at once.
const MAX_MSGS: usize = 512;

/// Pause after a small batch; records then reach the OS at most this late.
pub(crate) const LINGER: std::time::Duration = std::time::Duration::from_millis(5);

/// What the channel carries.
pub(crate) enum Msg {
    Record(Box<AuditRecord>),
    /// Write everything queued before this, then answer.
    Flush(oneshot::Sender<()>),
    /// Write everything queued, sync, answer, and stop.
    Close(oneshot::Sender<()>),
}

/// Opens the sink (so a bad path fails now, not on the first record) and
/// starts the writer thread.
pub(crate) fn spawn(
    sink: AuditSink,
    rx: mpsc::Receiver<Msg>,
    capacity: usize,
    counters: AuditCounters,
) -> Result<(), AuditError> {
    let out = match sink {
        AuditSink::Stdout => Out::Stdout,
        AuditSink::Writer(w) => Out::Custom(w),
        AuditSink::File {
            path,
            max_bytes,
            keep,
        } => {
            if max_bytes == 0 {
                return Err(AuditError::MaxBytesZero);
            }
            if keep > MAX_KEEP {
                return Err(AuditError::KeepTooLarge { max: MAX_KEEP });
            }
            let (file, size) = open_file(&path)?;
            Out::File(FileOut {
                path,
                max_bytes,
                keep,
                file: Some(file),
                size,
            })
        }
    };
    let writer = Writer {
        out,
        buf: Vec::with_capacity(MAX_BATCH),
        line: Vec::with_capacity(1024),
        pending: 0,
        broken_line: false,
        failing: None,
        counters,
    };
    std::thread::Builder::new()
        .name("sallyport-audit".into())
        .spawn(move || writer.run(rx, capacity))
        .map(drop)
        .map_err(AuditError::Spawn)
}

/// Opens (creating with mode 0600) the log file for appending; returns it
/// with its current size.
pub(crate) fn open_file(path: &Path) -> Result<(File, u64), AuditError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    match fs::metadata(dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => return Err(AuditError::NotADirectory(dir.to_owned())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(AuditError::MissingDirectory(dir.to_owned()));
        }
        Err(source) => {
            return Err(AuditError::Open {
                path: path.to_owned(),
                source,
            });
        }
    }
    let open = || -> io::Result<(File, u64)> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)?;
        let meta = file.metadata()?;
        if meta.permissions().mode() & 0o077 != 0 {
            // A file made by someone else: tighten it, or say so.
            if let Err(e) = file.set_permissions(fs::Permissions::from_mode(0o600)) {
                warn!(path = %path.display(), error = %e, "audit log is readable by others and cannot be set to 0600");
            }
        }
        Ok((file, meta.len()))
    };
    open().map_err(|source| AuditError::Open {
        path: path.to_owned(),
        source,
    })
}

enum Out {
    Stdout,
    Custom(Box<dyn Write + Send>),
    File(FileOut),
}

struct FileOut {
    path: PathBuf,
    max_bytes: u64,
    keep: usize,
    /// `None` after a failed reopen; retried on the next write.
    file: Option<File>,
    /// Bytes in the current file, counting what is buffered for it.
    size: u64,
}

impl FileOut {
    fn rotated(&self, n: usize) -> PathBuf {
        let mut p = self.path.clone().into_os_string();
        p.push(format!(".{n}"));
        p.into()
    }

    /// `audit.jsonl.{keep-1}` → `.{keep}` (replacing the oldest) … →
    /// `audit.jsonl.1`, then a fresh `audit.jsonl`.
    fn rotate(&mut self) {
        self.file = None;
        let mut result = Ok(());
        for n in (1..self.keep).rev() {
            match fs::rename(self.rotated(n), self.rotated(n + 1)) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => result = Err(e),
                _ => {}
            }
        }
        let last = if self.keep == 0 {
            fs::remove_file(&self.path)
        } else {
            fs::rename(&self.path, self.rotated(1))
        };
        result = result.and(last);
        if let Err(e) = result {
            // Keep appending; try again after another max_bytes.
            error!(path = %self.path.display(), error = %e, "audit log rotation failed");
        }
        self.size = 0;
        self.reopen();
    }

    fn reopen(&mut self) {
        match open_file(&self.path) {
            Ok((file, size)) => {
                self.file = Some(file);
                self.size = size;
            }
            Err(e) => error!(error = %e, "cannot reopen the audit log"),
        }
    }
}

struct Writer {
    out: Out,
    /// Lines not yet written.
    buf: Vec<u8>,
    /// The line being serialized (reused).
    line: Vec<u8>,
    /// Records in `buf`.
    pending: u64,
    /// A failed write may have left half a line: start the next with `\n`.
    broken_line: bool,
    /// Records lost in the current burst of write errors.
    failing: Option<u64>,
    counters: AuditCounters,
}

impl Writer {
    fn run(mut self, mut rx: mpsc::Receiver<Msg>, capacity: usize) {
        let mut acks = Vec::new();
        let mut closing = false;
        let mut msgs = Vec::with_capacity(MAX_MSGS);
        // Taking many messages at once frees their slots in one go, so
        // producers waiting on a full queue wake in bulk.
        loop {
            let n = rx.blocking_recv_many(&mut msgs, MAX_MSGS);
            if n == 0 {
                break;
            }
            for msg in msgs.drain(..) {
                match msg {
                    Msg::Record(rec) => self.push(&rec),
                    Msg::Flush(ack) => acks.push(ack),
                    Msg::Close(ack) => {
                        acks.push(ack);
                        if !closing {
                            closing = true;
                            // No new records; those already queued drain.
                            rx.close();
                        }
                    }
                }
            }
            self.write_out();
            if !acks.is_empty() && !closing {
                self.flush_sink(false);
                answer(&mut acks);
            }
            if !closing && n < MAX_MSGS && n * 4 < capacity {
                std::thread::sleep(LINGER);
            }
        }
        // Every sender is gone, or `Close` was received and the queue is
        // drained.
        self.write_out();
        self.flush_sink(true);
        answer(&mut acks);
    }

    fn push(&mut self, rec: &AuditRecord) {
        self.line.clear();
        if let Err(e) = serde_json::to_writer(&mut self.line, rec) {
            // Not expected: the record has only strings, numbers and enums.
            error!(error = %e, "audit record cannot be serialized");
            self.counters.write_errors.inc();
            return;
        }
        self.line.push(b'\n');
        let len = self.line.len() as u64;
        if let Out::File(f) = &self.out
            && f.size > 0
            && f.size + len > f.max_bytes
        {
            self.write_out();
            if let Out::File(f) = &mut self.out {
                f.rotate();
            }
        }
        if let Out::File(f) = &mut self.out {
            f.size += len;
        }
        self.buf.extend_from_slice(&self.line);
        self.pending += 1;
        if self.buf.len() >= MAX_BATCH {
            self.write_out();
        }
    }

    /// Writes the buffered lines; on failure counts them as lost.
    fn write_out(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        let result = match &mut self.out {
            Out::Stdout => write_lines(&mut io::stdout().lock(), &self.buf, self.broken_line),
            Out::Custom(w) => write_lines(w, &self.buf, self.broken_line),
            Out::File(f) => {
                if f.file.is_none() {
                    f.reopen();
                }
                match &mut f.file {
                    Some(file) => {
                        let r = write_lines(file, &self.buf, self.broken_line);
                        if r.is_err()
                            && let Ok(m) = file.metadata()
                        {
                            f.size = m.len();
                        }
                        r
                    }
                    None => Err(io::Error::other("the audit log file is not open")),
                }
            }
        };
        match result {
            Ok(()) => {
                self.broken_line = false;
                if let Some(lost) = self.failing.take() {
                    info!(lost, "audit log writing again");
                }
            }
            Err(e) => {
                self.broken_line = true;
                self.counters.write_errors.inc_by(self.pending);
                match &mut self.failing {
                    Some(lost) => *lost += self.pending,
                    None => {
                        error!(error = %e, lost = self.pending, "cannot write the audit log; records are lost until it recovers");
                        self.failing = Some(self.pending);
                    }
                }
            }
        }
        self.buf.clear();
        self.pending = 0;
    }

    fn flush_sink(&mut self, sync: bool) {
        let result = match &mut self.out {
            Out::Stdout => io::stdout().lock().flush(),
            Out::Custom(w) => w.flush(),
            Out::File(f) => match &f.file {
                Some(file) if sync => file.sync_all(),
                _ => Ok(()),
            },
        };
        if let Err(e) = result {
            error!(error = %e, "cannot flush the audit log");
        }
    }
}

/// Tells every waiting `flush`/`close` that its records are written.
fn answer(acks: &mut Vec<oneshot::Sender<()>>) {
    for ack in acks.drain(..) {
        // The caller may have stopped waiting; nothing to do then.
        let _ = ack.send(());
    }
}

fn write_lines(w: &mut dyn Write, buf: &[u8], broken_line: bool) -> io::Result<()> {
    if broken_line {
        w.write_all(b"\n")?;
    }
    w.write_all(buf)?;
    w.flush()
}
