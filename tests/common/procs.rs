//! Running `sallyport` processes: their JSON log lines, readiness, admin
//! requests.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{WAIT, bin};

#[derive(Default)]
struct Lines {
    lines: Vec<Value>,
    closed: bool,
}

/// A running `sallyport` process whose JSON log lines are collected.
pub struct Proc {
    pub name: String,
    child: Child,
    log: Arc<(Mutex<Lines>, Condvar)>,
}

impl Proc {
    /// Starts `sallyport --log-format json <args>`.
    pub fn start(name: &str, args: &[&str]) -> Self {
        let mut child = Command::new(bin())
            .args(["--log-format", "json", "--log", "info"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn sallyport");
        let stderr = child.stderr.take().expect("piped stderr");
        let log: Arc<(Mutex<Lines>, Condvar)> = Arc::default();
        let sink = Arc::clone(&log);
        let label = name.to_owned();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if std::env::var_os("SALLYPORT_TEST_ECHO").is_some() {
                    eprintln!("[{label}] {line}");
                }
                let value = serde_json::from_str(&line)
                    .unwrap_or_else(|_| serde_json::json!({ "fields": { "message": line } }));
                let (lock, cvar) = &*sink;
                lock.lock().expect("log lock").lines.push(value);
                cvar.notify_all();
            }
            let (lock, cvar) = &*sink;
            lock.lock().expect("log lock").closed = true;
            cvar.notify_all();
        });
        Self {
            name: name.to_owned(),
            child,
            log,
        }
    }

    /// Waits until a log line satisfies `pred`; returns it. Panics with the
    /// whole log after [`WAIT`].
    pub fn wait_for(&self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        self.wait_for_from(0, what, pred).1
    }

    /// Like [`Proc::wait_for`], considering only lines from index `from`;
    /// returns the index of the matching line too.
    pub fn wait_for_from(
        &self,
        from: usize,
        what: &str,
        pred: impl Fn(&Value) -> bool,
    ) -> (usize, Value) {
        let deadline = Instant::now() + WAIT;
        let (lock, cvar) = &*self.log;
        let mut guard = lock.lock().expect("log lock");
        loop {
            if let Some((i, v)) = guard
                .lines
                .iter()
                .enumerate()
                .skip(from)
                .find(|(_, v)| pred(v))
            {
                return (i, v.clone());
            }
            let now = Instant::now();
            if guard.closed || now >= deadline {
                let dump: Vec<String> = guard.lines.iter().map(|v| v.to_string()).collect();
                panic!(
                    "{}: no log line {what} ({}); log:\n{}",
                    self.name,
                    if guard.closed {
                        "process exited"
                    } else {
                        "timed out"
                    },
                    dump.join("\n")
                );
            }
            guard = cvar
                .wait_timeout(guard, deadline - now)
                .expect("log lock")
                .0;
        }
    }

    /// Waits for a line whose `event` field is `event` and whose fields
    /// contain every `(key, substring)` pair. Events are the stable names
    /// the README's "Logs" lists; messages are prose and may change.
    pub fn wait_event(&self, event: &str, fields: &[(&str, &str)]) -> Value {
        self.wait_event_from(0, event, fields).1
    }

    /// [`Proc::wait_event`] from line index `from`.
    pub fn wait_event_from(
        &self,
        from: usize,
        event: &str,
        fields: &[(&str, &str)],
    ) -> (usize, Value) {
        self.wait_for_from(from, &format!("event {event:?} with {fields:?}"), |v| {
            field(v, "event").as_deref() == Some(event)
                && fields
                    .iter()
                    .all(|(k, want)| field(v, k).is_some_and(|got| got.contains(want)))
        })
    }

    /// Every line logged so far, as one string.
    pub fn all_lines(&self) -> String {
        let guard = self.log.0.lock().expect("log lock");
        guard
            .lines
            .iter()
            .map(|v| v.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// How many lines were logged so far.
    pub fn line_count(&self) -> usize {
        self.log.0.lock().expect("log lock").lines.len()
    }

    /// Sends SIGTERM and waits for exit; returns whether it exited 0.
    pub fn terminate(&mut self) -> bool {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status.success();
            }
            assert!(Instant::now() < deadline, "{} ignored SIGTERM", self.name);
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends a signal (`"HUP"`, `"KILL"`…).
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{name} failed");
    }

    /// Whether the process is still running.
    pub fn running(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_none()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A field of a JSON log line, from the event or any enclosing span.
pub fn field(v: &Value, key: &str) -> Option<String> {
    let as_text = |x: &Value| match x {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if let Some(x) = v["fields"].get(key) {
        return Some(as_text(x));
    }
    v["spans"]
        .as_array()
        .into_iter()
        .flatten()
        .find_map(|s| s.get(key).map(as_text))
}

/// A relay process started on `config`, with its bound addresses.
pub struct RelayProc {
    pub proc: Proc,
    pub quic: SocketAddr,
    pub admin: SocketAddr,
}

impl RelayProc {
    pub fn start(config: &Path) -> Self {
        let proc = Proc::start(
            "relay",
            &["relay", "--config", config.to_str().expect("utf-8")],
        );
        let serving = proc.wait_event("relay.serving", &[]);
        let quic = field(&serving, "quic_addr")
            .expect("quic_addr")
            .parse()
            .expect("addr");
        let admin_line = proc.wait_event("admin.serving", &[]);
        let admin = field(&admin_line, "admin_addr")
            .expect("admin_addr")
            .parse()
            .expect("addr");
        Self { proc, quic, admin }
    }

    /// GET on the admin listener; returns (status, body).
    pub fn admin_get(&self, path: &str) -> (u16, String) {
        http_get(self.admin, path)
    }

    /// `/admin/connectors` as JSON.
    pub fn connectors(&self) -> Vec<Value> {
        let (status, body) = self.admin_get("/admin/connectors");
        assert_eq!(status, 200, "{body}");
        let v: Value = serde_json::from_str(&body).expect("json");
        v["connectors"].as_array().cloned().unwrap_or_default()
    }
}

/// A minimal HTTP/1.1 GET for the admin listener (plain HTTP, loopback).
pub fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect_timeout(&addr, WAIT).expect("connect admin");
    s.set_read_timeout(Some(WAIT)).expect("timeout");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("write");
    let mut raw = String::new();
    s.read_to_string(&mut raw).expect("read");
    let status = raw
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("status line");
    let body = raw
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

impl RelayProc {
    /// The bound client endpoint address.
    pub fn http(&self) -> SocketAddr {
        let line = self.proc.wait_event("http.serving", &[]);
        field(&line, "http_addr")
            .expect("http_addr")
            .parse()
            .expect("addr")
    }

    /// `http://<addr>/mcp/<server>`.
    pub fn mcp_url(&self, server: &str) -> String {
        format!("http://{}/mcp/{server}", self.http())
    }
}
