//! One MCP server child process: spawn, stdin writer, stdout pump, stderr
//! logger, and reaping.
//!
//! The child is driven by three tasks. The writer sends queued messages to
//! stdin, one per line, in queue order. The pump reads stdout lines into an
//! [`Event`] channel; when stdout ends, the line limit is broken, stdin
//! breaks or `stop` fires, it makes sure the process is gone, reaps it, and
//! sends a last [`Event::Exited`]. The stderr task logs every line.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use bytes::Bytes;
use sallyport_protocol::ServerName;
use tokio::io::AsyncWriteExt;
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::lines::{Line, Lines};

/// How long a child may take to exit by itself once its stdin is closed
/// or its stdout ended, before it is killed.
const EXIT_GRACE: Duration = Duration::from_millis(500);
/// Longest stderr line logged (longer ones are cut).
const MAX_STDERR_LINE: usize = 8 * 1024;
/// Messages queued for stdin.
const STDIN_QUEUE: usize = 64;
/// Stdout lines queued for the router.
const EVENT_QUEUE: usize = 64;

/// What to run.
#[derive(Debug, Clone)]
pub(crate) struct Spec {
    /// Program and arguments.
    pub command: Vec<String>,
    /// Added to the inherited environment.
    pub env: BTreeMap<String, String>,
    /// Working directory.
    pub cwd: Option<PathBuf>,
}

/// What the child did.
#[derive(Debug)]
pub(crate) enum Event {
    /// One non-empty stdout line.
    Line(Bytes),
    /// The process is gone (always the last event); how it ended.
    Exited(Exit),
}

/// How a child ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Exit {
    /// For logs and for the relay: may carry an OS error.
    pub detail: String,
    /// For the JSON-RPC error a client gets: an exit status or a fixed
    /// phrase, never an OS error, a path or the command.
    pub public: String,
}

impl Exit {
    /// An end whose description is safe for clients as it is.
    pub fn plain(how: impl Into<String>) -> Self {
        let how = how.into();
        Exit {
            detail: how.clone(),
            public: how,
        }
    }

    /// An end whose detail only logs and the relay see.
    fn hidden(detail: String, public: &str) -> Self {
        Exit {
            detail,
            public: public.to_owned(),
        }
    }
}

/// The handle the session keeps.
#[derive(Debug)]
pub(crate) struct Handle {
    /// Queue of messages for stdin.
    pub stdin: mpsc::Sender<Bytes>,
    /// Fires once the process has been reaped.
    pub reaped: CancellationToken,
}

/// Spawns `spec`; logs go out with `server` and `label` (the session id or
/// the pool slot). Firing `stop` closes stdin, then kills the process if it
/// does not exit within a grace period.
pub(crate) fn spawn(
    spec: &Spec,
    server: &ServerName,
    label: &str,
    max_line: usize,
    stop: CancellationToken,
) -> std::io::Result<(Handle, mpsc::Receiver<Event>)> {
    let (program, args) = spec
        .command
        .split_first()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "empty command"))?;
    let mut command = Command::new(program);
    command
        .args(args)
        .envs(&spec.env)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(cwd) = &spec.cwd {
        command.current_dir(cwd);
    }
    let mut child = command.spawn()?;
    let missing = || std::io::Error::other("child pipe missing");
    let stdin = child.stdin.take().ok_or_else(missing)?;
    let stdout = child.stdout.take().ok_or_else(missing)?;
    let stderr = child.stderr.take().ok_or_else(missing)?;
    debug!(server = %server, session = label, pid = child.id(), "MCP server started");

    let (stdin_tx, stdin_rx) = mpsc::channel(STDIN_QUEUE);
    let (event_tx, event_rx) = mpsc::channel(EVENT_QUEUE);
    let broken = CancellationToken::new();
    let reaped = CancellationToken::new();
    tokio::spawn(write_stdin(stdin, stdin_rx, stop.clone(), broken.clone()));
    tokio::spawn(log_stderr(stderr, server.clone(), label.to_owned()));
    let pump = Pump {
        child,
        stdout: Lines::new(stdout, max_line),
        events: event_tx,
        stop,
        broken,
        reaped: reaped.clone(),
        server: server.clone(),
        label: label.to_owned(),
    };
    tokio::spawn(pump.run());
    Ok((
        Handle {
            stdin: stdin_tx,
            reaped,
        },
        event_rx,
    ))
}

async fn write_stdin(
    mut stdin: ChildStdin,
    mut queue: mpsc::Receiver<Bytes>,
    stop: CancellationToken,
    broken: CancellationToken,
) {
    loop {
        let message = tokio::select! {
            m = queue.recv() => m,
            _ = stop.cancelled() => None,
        };
        let Some(message) = message else { break };
        let written = async {
            stdin.write_all(&message).await?;
            stdin.write_all(b"\n").await?;
            stdin.flush().await
        };
        if let Err(e) = written.await {
            debug!(error = %e, "stdin of MCP server closed");
            broken.cancel();
            break;
        }
    }
    // Dropping stdin closes it: well-behaved servers exit on EOF.
}

async fn log_stderr(stderr: tokio::process::ChildStderr, server: ServerName, label: String) {
    let mut lines = Lines::new(stderr, MAX_STDERR_LINE);
    loop {
        match lines.next().await {
            Ok(Line::Full(line)) => {
                info!(server = %server, session = %label, line = %String::from_utf8_lossy(&line), "MCP server stderr");
            }
            Ok(Line::TooLong(head)) => {
                info!(server = %server, session = %label, line = %String::from_utf8_lossy(&head), truncated = true, "MCP server stderr");
            }
            Ok(Line::Eof) | Err(_) => break,
        }
    }
}

/// Why the pump stopped reading.
enum Stopped {
    /// stdout ended: the server is exiting.
    Eof,
    /// `stop` fired or nobody listens any more.
    Asked,
    /// Protocol error or broken stdin: kill at once.
    Kill(Exit),
}

struct Pump {
    child: Child,
    stdout: Lines<ChildStdout>,
    events: mpsc::Sender<Event>,
    stop: CancellationToken,
    broken: CancellationToken,
    reaped: CancellationToken,
    server: ServerName,
    label: String,
}

impl Pump {
    async fn run(mut self) {
        let why = loop {
            let line = tokio::select! {
                line = self.stdout.next() => line,
                _ = self.stop.cancelled() => break Stopped::Asked,
                _ = self.broken.cancelled() => break Stopped::Kill(Exit::plain("its stdin broke")),
            };
            match line {
                Ok(Line::Full(line)) if line.trim_ascii().is_empty() => {}
                Ok(Line::Full(line)) => {
                    if self.events.send(Event::Line(line)).await.is_err() {
                        break Stopped::Asked;
                    }
                }
                Ok(Line::TooLong(_)) => {
                    let limit = self.stdout_limit();
                    warn!(server = %self.server, session = %self.label, limit, "MCP server wrote a stdout line over the limit; ending it");
                    break Stopped::Kill(Exit::plain(format!(
                        "stdout line longer than {limit} bytes"
                    )));
                }
                Ok(Line::Eof) => break Stopped::Eof,
                Err(e) => {
                    break Stopped::Kill(Exit::hidden(
                        format!("stdout failed: {e}"),
                        "its output could not be read",
                    ));
                }
            }
        };
        let outcome = match why {
            Stopped::Eof | Stopped::Asked => self.exit_within(EXIT_GRACE).await,
            Stopped::Kill(reason) => {
                let _ = self.child.start_kill();
                let _ = self.child.wait().await;
                reason
            }
        };
        self.reaped.cancel();
        debug!(server = %self.server, session = %self.label, outcome = %outcome.detail, "MCP server reaped");
        let _ = self.events.send(Event::Exited(outcome)).await;
    }

    fn stdout_limit(&self) -> usize {
        self.stdout.max()
    }

    /// Waits up to `grace` for the process to exit (closing stdin first,
    /// which `stop` does in the writer), then kills it; describes the end.
    async fn exit_within(&mut self, grace: Duration) -> Exit {
        let failed = |e: std::io::Error| {
            Exit::hidden(format!("wait failed: {e}"), "its end could not be observed")
        };
        match tokio::time::timeout(grace, self.child.wait()).await {
            Ok(Ok(status)) => Exit::plain(status.to_string()),
            Ok(Err(e)) => failed(e),
            Err(_) => {
                let _ = self.child.start_kill();
                match self.child.wait().await {
                    Ok(status) => Exit::plain(format!("killed after closing its pipes: {status}")),
                    Err(e) => failed(e),
                }
            }
        }
    }
}
