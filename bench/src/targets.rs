//! The [`Target`]s the scenarios load: MCP over HTTP (direct or relayed)
//! calling `echo` or reading a resource, a whole session per call, and a
//! stdio server driven directly over its pipes.

use std::path::PathBuf;
use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use crate::client::{Client, Session};
use crate::error::{BenchError, Result};
use crate::load::Target;

/// The small argument every echo call sends.
pub const ECHO_MESSAGE: &str = "hello from sallyport-bench";

/// What an HTTP target does with each call.
#[derive(Debug, Clone)]
pub enum Op {
    /// `tools/call` of `echo`.
    Echo,
    /// `resources/read` of this URI.
    Read(String),
}

/// MCP over Streamable HTTP.
#[derive(Debug)]
pub struct Http {
    /// The endpoint.
    pub client: Client,
    /// The operation.
    pub op: Op,
}

impl Target for Http {
    type Session = Session;

    async fn open(&self) -> Result<Session> {
        self.client.initialize().await
    }

    async fn call(&self, s: &mut Session) -> Result<u64> {
        match &self.op {
            Op::Echo => self.client.echo(s, ECHO_MESSAGE).await.map(|()| 0),
            Op::Read(uri) => self.client.read_resource(s, uri).await,
        }
    }

    async fn close(&self, s: Session) {
        let _ = self.client.delete(&s).await;
    }
}

/// A new session per call, as some clients do for every tool call: one
/// operation is `initialize` → `notifications/initialized` → `tools/call`
/// of `echo` → `DELETE`, timed as a whole.
#[derive(Debug)]
pub struct FreshSession {
    /// The endpoint.
    pub client: Client,
}

impl Target for FreshSession {
    type Session = ();

    async fn open(&self) -> Result<()> {
        Ok(())
    }

    async fn call(&self, (): &mut ()) -> Result<u64> {
        let mut s = self.client.initialize().await?;
        self.client.echo(&mut s, ECHO_MESSAGE).await?;
        self.client.delete(&s).await?;
        Ok(0)
    }

    async fn close(&self, (): ()) {}
}

/// The stdio server driven directly: one child per session, one JSON-RPC
/// line out, one line back. The baseline of the relayed stdio case.
#[derive(Debug)]
pub struct StdioDirect {
    /// The server program.
    pub program: PathBuf,
}

/// A directly driven stdio child.
#[derive(Debug)]
pub struct StdioSession {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    line: String,
    next: u64,
}

impl StdioSession {
    async fn exchange(&mut self, request: String) -> Result<()> {
        let io = |e| BenchError::io("stdio server pipe", e);
        self.stdin.write_all(request.as_bytes()).await.map_err(io)?;
        self.stdin.flush().await.map_err(io)?;
        self.line.clear();
        let n = self.stdout.read_line(&mut self.line).await.map_err(io)?;
        if n == 0 {
            return Err(BenchError::Process("stdio server closed its stdout".into()));
        }
        if self.line.contains("\"result\"") {
            Ok(())
        } else {
            Err(BenchError::Mcp(format!(
                "stdio answer: {}",
                self.line.trim_end()
            )))
        }
    }
}

impl Target for StdioDirect {
    type Session = StdioSession;

    async fn open(&self) -> Result<StdioSession> {
        let mut child = Command::new(&self.program)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| BenchError::io(format!("spawn {}", self.program.display()), e))?;
        let missing = || BenchError::Process("stdio child without pipes".into());
        let stdin = child.stdin.take().ok_or_else(missing)?;
        let stdout = BufReader::new(child.stdout.take().ok_or_else(missing)?);
        let mut s = StdioSession {
            child,
            stdin,
            stdout,
            line: String::new(),
            next: 1,
        };
        s.exchange(format!(
            "{{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{{\"protocolVersion\":\"{}\",\"capabilities\":{{}},\"clientInfo\":{{\"name\":\"sallyport-bench\",\"version\":\"0\"}}}}}}\n",
            crate::client::PROTOCOL_VERSION
        ))
        .await?;
        let note = "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n";
        s.stdin
            .write_all(note.as_bytes())
            .await
            .map_err(|e| BenchError::io("stdio server pipe", e))?;
        Ok(s)
    }

    async fn call(&self, s: &mut StdioSession) -> Result<u64> {
        s.next += 1;
        let id = s.next;
        s.exchange(format!(
            "{{\"jsonrpc\":\"2.0\",\"id\":{id},\"method\":\"tools/call\",\"params\":{{\"name\":\"echo\",\"arguments\":{{\"message\":\"{ECHO_MESSAGE}\"}}}}}}\n"
        ))
        .await
        .map(|()| 0)
    }

    async fn close(&self, mut s: StdioSession) {
        drop(s.stdin);
        let _ = tokio::time::timeout(std::time::Duration::from_secs(2), s.child.wait()).await;
        let _ = s.child.start_kill();
    }
}
