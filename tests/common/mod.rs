//! Shared harness of the end-to-end tests: real `sallyport` processes on
//! loopback, real certificates from the pki tool, readiness and assertions
//! driven by the processes' JSON log lines (no sleeps).

#![allow(
    dead_code,
    reason = "each test binary uses a different part of the harness"
)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

pub mod client;
pub mod raw;

/// How long any single wait in a test may take before it fails.
pub const WAIT: Duration = Duration::from_secs(20);

/// The binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_sallyport")
}

/// Runs `sallyport <args>` to completion; panics with its output on failure.
pub fn sallyport(args: &[&str]) -> String {
    let out = Command::new(bin())
        .args(args)
        .output()
        .expect("spawn sallyport");
    assert!(
        out.status.success(),
        "sallyport {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs `sallyport <args>` expecting failure; returns stderr.
pub fn sallyport_fails(args: &[&str]) -> String {
    let out = Command::new(bin())
        .args(args)
        .output()
        .expect("spawn sallyport");
    assert!(
        !out.status.success(),
        "sallyport {args:?} should have failed:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A test PKI directory made with the CLI.
pub struct TestPki {
    pub dir: PathBuf,
}

impl TestPki {
    /// `pki init` + a relay certificate for 127.0.0.1.
    pub fn new(root: &Path, trust_domain: &str) -> Self {
        let dir = root.join(format!("pki-{trust_domain}"));
        let d = dir.to_str().expect("utf-8 path");
        sallyport(&["pki", "init", "--dir", d, "--trust-domain", trust_domain]);
        sallyport(&[
            "pki",
            "issue",
            "relay",
            "--dir",
            d,
            "--ip",
            "127.0.0.1",
            "--dns",
            "localhost",
        ]);
        Self { dir }
    }

    pub fn d(&self) -> &str {
        self.dir.to_str().expect("utf-8 path")
    }

    /// Issues `connector-<name>.{pem,key}` and returns the cert path.
    pub fn connector(&self, name: &str) -> PathBuf {
        sallyport(&["pki", "issue", "connector", name, "--dir", self.d()]);
        self.dir.join(format!("connector-{name}.pem"))
    }

    pub fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }
}

/// Writes a relay config granting `grants` (SPIFFE id, servers) and
/// listening on `quic_port` (0: any) and an ephemeral admin port.
pub fn relay_config(
    root: &Path,
    pki: &TestPki,
    quic_port: u16,
    grants: &[(&str, &[&str])],
) -> PathBuf {
    let mut text = format!(
        r#"name = "test-relay"
[quic]
listen = "127.0.0.1:{quic_port}"
cert = "{dir}/relay.pem"
key = "{dir}/relay.key"
trust_bundle = "{dir}/bundle.pem"
crl = "{dir}/crl.pem"
drain_timeout_ms = 3000

[admin]
listen = "127.0.0.1:0"
"#,
        dir = pki.d()
    );
    for (id, servers) in grants {
        let list: Vec<String> = servers.iter().map(|s| format!("{s:?}")).collect();
        text.push_str(&format!(
            "\n[[connector]]\nid = {id:?}\nservers = [{}]\n",
            list.join(", ")
        ));
    }
    let path = root.join(format!("relay-{}.toml", fastish_id()));
    std::fs::write(&path, text).expect("write relay.toml");
    path
}

/// Writes a connector config for `cert` (its key beside it) dialing
/// `relay`, offering stdio servers named `servers`.
pub fn connector_config(
    root: &Path,
    pki: &TestPki,
    cert: &Path,
    relay: SocketAddr,
    servers: &[&str],
) -> PathBuf {
    let key = cert.with_extension("key");
    let mut text = format!(
        r#"relay = "{relay}"
cert = "{cert}"
key = "{key}"
trust_bundle = "{dir}/bundle.pem"
label = "test-connector"

[link]
keepalive_ms = 500
idle_timeout_ms = 3000
connect_timeout_ms = 2000
backoff_initial_ms = 100
backoff_max_ms = 1000
"#,
        cert = cert.display(),
        key = key.display(),
        dir = pki.d()
    );
    for s in servers {
        text.push_str(&format!(
            "\n[[server]]\nname = {s:?}\ncommand = [\"cat\"]\n"
        ));
    }
    let path = root.join(format!("connector-{}.toml", fastish_id()));
    std::fs::write(&path, text).expect("write connector.toml");
    path
}

fn fastish_id() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

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

    /// Waits for a line whose message is `message` and whose fields contain
    /// every `(key, substring)` pair.
    pub fn wait_msg(&self, message: &str, fields: &[(&str, &str)]) -> Value {
        self.wait_msg_from(0, message, fields).1
    }

    /// [`Proc::wait_msg`] from line index `from`.
    pub fn wait_msg_from(
        &self,
        from: usize,
        message: &str,
        fields: &[(&str, &str)],
    ) -> (usize, Value) {
        self.wait_for_from(from, &format!("{message:?} with {fields:?}"), |v| {
            msg(v) == message
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

/// The `message` of a JSON log line.
pub fn msg(v: &Value) -> &str {
    v["fields"]["message"].as_str().unwrap_or("")
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
        let serving = proc.wait_msg("relay serving", &[]);
        let quic = field(&serving, "quic_addr")
            .expect("quic_addr")
            .parse()
            .expect("addr");
        let admin_line = proc.wait_msg("admin listener serving", &[]);
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

/// An API key made with `sallyport pki apikey`: the key and its TOML entry.
pub struct ApiKey {
    pub key: String,
    pub entry: String,
    pub subject: String,
}

/// `sallyport pki apikey --sub <sub> --groups <groups…>`.
pub fn api_key(sub: &str, groups: &[&str]) -> ApiKey {
    let mut args = vec!["pki", "apikey", "--sub", sub];
    for g in groups {
        args.extend(["--groups", g]);
    }
    let out = sallyport(&args);
    let key = out
        .lines()
        .find(|l| l.starts_with("sp_"))
        .expect("key line")
        .trim()
        .to_owned();
    let entry = out[out.find("[[api_key]]").expect("entry")..].to_owned();
    ApiKey {
        key,
        entry,
        subject: sub.to_owned(),
    }
}

/// A relay config with a plain-HTTP client endpoint on an ephemeral
/// loopback port, the given API keys and `extra` TOML.
pub fn relay_config_http(
    root: &Path,
    pki: &TestPki,
    grants: &[(&str, &[&str])],
    keys: &[&ApiKey],
    extra_http: &str,
) -> PathBuf {
    let path = relay_config(root, pki, 0, grants);
    let mut text = std::fs::read_to_string(&path).expect("read relay config");
    text.push_str(&format!(
        "\n[http]\nlisten = \"127.0.0.1:0\"\npublic_url = \"http://relay.test\"\ninsecure_plain_http = true\n{extra_http}\n"
    ));
    for k in keys {
        text.push('\n');
        text.push_str(&k.entry);
    }
    text.push_str(&allow_all_policy(keys));
    std::fs::write(&path, text).expect("write relay config");
    path
}

/// A role allowing everything, bound to the subjects of `keys`.
pub fn allow_all_policy(keys: &[&ApiKey]) -> String {
    let users: Vec<String> = keys.iter().map(|k| format!("{:?}", k.subject)).collect();
    format!(
        "\n[[role]]\nname = \"everything\"\nallow = [\"*/*\"]\n\n[[binding]]\nrole = \"everything\"\nusers = [{}]\n",
        users.join(", ")
    )
}

/// A connector config whose `[[server]]` entries are given as TOML.
pub fn connector_config_toml(
    root: &Path,
    pki: &TestPki,
    cert: &Path,
    relay: SocketAddr,
    servers_toml: &str,
) -> PathBuf {
    let path = connector_config(root, pki, cert, relay, &[]);
    let mut text = std::fs::read_to_string(&path).expect("read connector config");
    text.push('\n');
    text.push_str(servers_toml);
    std::fs::write(&path, text).expect("write connector config");
    path
}

/// `[[server]]` TOML for the built-in demo MCP server over stdio.
pub fn demo_stdio_server(name: &str) -> String {
    format!(
        "[[server]]\nname = {name:?}\ncommand = [{:?}, \"demo\", \"mcp-server\"]\n",
        bin()
    )
}

/// `[[server]]` TOML for the official `server-everything` over stdio,
/// installed under `tests/peers` by `scripts/test`.
pub fn everything_server(name: &str) -> String {
    let bin = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/peers/node_modules/.bin/mcp-server-everything");
    assert!(
        bin.exists(),
        "{} is missing: run ./scripts/test (it runs npm ci in tests/peers)",
        bin.display()
    );
    format!(
        "[[server]]\nname = {name:?}\ncommand = [{:?}, \"stdio\"]\n",
        bin.display().to_string()
    )
}

impl RelayProc {
    /// The bound client endpoint address.
    pub fn http(&self) -> SocketAddr {
        let line = self.proc.wait_msg("HTTP listener serving", &[]);
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

/// Waits until the relay has registered a connector serving `server`
/// (registration happens before the log line is written).
pub fn wait_served(relay: &RelayProc, server: &str) {
    relay
        .proc
        .wait_for(&format!("a connector serving {server}"), |v| {
            msg(v) == "connector registered" && field(v, "accepted").is_some_and(|a| a != "0")
        });
    let links = relay.connectors();
    assert!(
        links.iter().any(|l| l["servers"]
            .as_array()
            .is_some_and(|s| s.iter().any(|x| x == server))),
        "{server} is not served: {links:?}"
    );
}

/// A connector process for `cert` dialing `relay`, serving `servers_toml`.
pub fn start_connector(
    root: &Path,
    pki: &TestPki,
    cert: &Path,
    relay: &RelayProc,
    servers_toml: &str,
) -> Proc {
    let cfg = connector_config_toml(root, pki, cert, relay.quic, servers_toml);
    Proc::start(
        "connector",
        &["connector", "--config", cfg.to_str().expect("utf-8")],
    )
}

/// A relay with a plain-HTTP client endpoint and one connector
/// (`spiffe://acme.internal/connector/<name>`) serving `servers_toml`;
/// `alice` (group legal) may use everything.
pub struct World {
    pub relay: RelayProc,
    pub connector: Proc,
    pub alice: ApiKey,
    pub pki: TestPki,
    pub tmp: tempfile::TempDir,
}

impl World {
    /// Starts it and waits until every server in `served` is served.
    pub fn start(name: &str, served: &[&str], servers_toml: &str, extra_http: &str) -> World {
        let tmp = tempfile::tempdir().expect("tempdir");
        let pki = TestPki::new(tmp.path(), "acme.internal");
        let cert = pki.connector(name);
        let alice = api_key("alice@acme.com", &["legal"]);
        let id = format!("spiffe://acme.internal/connector/{name}");
        let grants: &[(&str, &[&str])] = &[(&id, served)];
        let relay = RelayProc::start(&relay_config_http(
            tmp.path(),
            &pki,
            grants,
            &[&alice],
            extra_http,
        ));
        let connector = start_connector(tmp.path(), &pki, &cert, &relay, servers_toml);
        for s in served {
            wait_served(&relay, s);
        }
        World {
            relay,
            connector,
            alice,
            pki,
            tmp,
        }
    }
}
