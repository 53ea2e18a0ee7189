//! The oracle upstream (`tests/oracle/oracle.py`): a JSON-RPC 2.0 server
//! that executes whatever reaches it and logs every call, and a world in
//! which a restricted caller reaches it through the relay and a connector,
//! over stdio and over HTTP.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;

use serde_json::Value;

use super::wait_served;
use super::{ApiKey, Proc, RelayProc, TestPki, WAIT, api_key, connector_config_toml, relay_config};

/// The oracle's stdio server: a child per session, as the connector runs it.
pub const STDIO: &str = "oracle";
/// The oracle over Streamable HTTP, started by the test.
pub const HTTP: &str = "oracle-http";
/// An HTTP server whose upstream port is closed (errors must not show it).
pub const DOWN: &str = "oracle-down";
/// A stdio server whose command does not exist (errors must not show it).
pub const MISSING: &str = "oracle-missing";
/// The command of [`MISSING`].
pub const MISSING_COMMAND: &str = "/nonexistent/sallyport-oracle/bin/oracle";
/// The restricted caller's subject.
pub const CALLER: &str = "mallory";

/// Names the restricted role allows on every oracle server.
pub const ALLOWED_NAMES: [&str; 3] = ["echo", "add", "greeting"];
/// The resource prefix it allows (`file:///public/*`).
pub const ALLOWED_PREFIX: &str = "file:///public/";
/// Targets the oracle offers that the caller may not use.
pub const DENIED: [&str; 4] = [
    "secret-delete",
    "secret-dump",
    "secret-prompt",
    "file:///secret/keys",
];

/// Whether the caller's policy allows `target` on an oracle server: the
/// relay's globs are over `<server>/<name>`, whatever the kind of target.
pub fn allowed(target: &str) -> bool {
    ALLOWED_NAMES.contains(&target) || target.starts_with(ALLOWED_PREFIX)
}

/// `tests/oracle/oracle.py`.
pub fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oracle/oracle.py")
}

/// The oracle serving HTTP, killed on drop.
pub struct OracleHttp {
    child: Child,
    pub port: u16,
}

impl OracleHttp {
    /// Starts it and waits for the port it prints.
    pub fn start(log: &Path) -> Self {
        let mut child = Command::new("python3")
            .arg(script())
            .args(["--http", "--log"])
            .arg(log)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn python3 (the oracle needs Python 3.11)");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(WAIT).expect("the oracle prints its port");
        let v: Value = serde_json::from_str(&line).expect("a JSON line with the port");
        let port = v["port"].as_u64().expect("port") as u16;
        Self { child, port }
    }
}

impl Drop for OracleHttp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The oracle's execution log (one JSON object per line, all processes).
pub struct OracleLog {
    pub path: PathBuf,
}

impl OracleLog {
    /// Every complete line so far.
    pub fn records(&self) -> Vec<Value> {
        let text = std::fs::read_to_string(&self.path).unwrap_or_default();
        let complete = text.rfind('\n').map_or("", |end| &text[..end]);
        complete
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    pub fn len(&self) -> usize {
        self.records().len()
    }

    /// Lines from index `from` on.
    pub fn since(&self, from: usize) -> Vec<Value> {
        self.records().into_iter().skip(from).collect()
    }
}

/// What in `records` the caller may not have caused: a call of a target
/// its policy denies, and `Mcp-*` headers that reached an HTTP upstream
/// unchecked (session era: none at all; stateless: one value, equal to
/// the body).
pub fn violations(records: &[Value]) -> Vec<String> {
    let mut out = Vec::new();
    for r in records {
        if r["ev"] == "call" {
            let target = r["target"].as_str().unwrap_or("<none>");
            if !allowed(target) {
                out.push(format!("the oracle executed a denied call: {r}"));
            }
        }
        let Some(headers) = r["mcp_headers"].as_object() else {
            continue;
        };
        for (name, values) in headers {
            let values: Vec<&str> = values
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            let body = match name.as_str() {
                "mcp-method" => r["method"].as_str(),
                "mcp-name" => r["asked"].as_str().or(r["target"].as_str()),
                _ => None,
            };
            let agrees = values.len() == 1 && body == Some(values[0]);
            if r["era"] == "session" || !agrees {
                out.push(format!(
                    "{name}: {values:?} reached the upstream ({} era): {r}",
                    r["era"]
                ));
            }
        }
    }
    out
}

/// Started oracle processes or sessions in `records` (a stdio child, or a
/// session the HTTP oracle opened).
pub fn starts(records: &[Value]) -> Vec<&Value> {
    records
        .iter()
        .filter(|r| r["ev"] == "start" || r["ev"] == "session")
        .collect()
}

/// The restricted role, for every oracle server.
pub fn restricted_policy() -> String {
    let mut allow = Vec::new();
    for server in [STDIO, HTTP, DOWN, MISSING] {
        for name in ["echo", "add", "file:///public/*", "greeting"] {
            allow.push(format!("{:?}", format!("{server}/{name}")));
        }
    }
    format!(
        "\n[[role]]\nname = \"restricted\"\nallow = [{}]\n\n[[binding]]\nrole = \"restricted\"\nusers = [{CALLER:?}]\n",
        allow.join(", ")
    )
}

/// A port that was free a moment ago and has nothing listening.
fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// A relay (plain HTTP on loopback), one connector serving the four
/// oracle servers, the HTTP oracle, and the restricted caller's key.
pub struct OracleWorld {
    pub relay: RelayProc,
    pub connector: Proc,
    pub http_oracle: OracleHttp,
    pub down_port: u16,
    pub caller: ApiKey,
    pub log: OracleLog,
    pub http: SocketAddr,
    pub pki: TestPki,
    pub tmp: tempfile::TempDir,
}

impl OracleWorld {
    pub fn start() -> Self {
        let tmp = tempfile::tempdir().expect("tempdir");
        let log = OracleLog {
            path: tmp.path().join("oracle.jsonl"),
        };
        let http_oracle = OracleHttp::start(&log.path);
        let pki = TestPki::new(tmp.path(), "acme.internal");
        let cert = pki.connector("oracle");
        let caller = api_key(CALLER, &[]);
        let servers = [STDIO, HTTP, DOWN, MISSING];
        let id = "spiffe://acme.internal/connector/oracle";
        let config = relay_config(tmp.path(), &pki, 0, &[(id, &servers)]);
        let mut text = std::fs::read_to_string(&config).expect("read relay config");
        text.push_str("\n[http]\nlisten = \"127.0.0.1:0\"\npublic_url = \"http://relay.test\"\ninsecure_plain_http = true\n\n");
        text.push_str(&caller.entry);
        text.push_str(&restricted_policy());
        std::fs::write(&config, text).expect("write relay config");
        let relay = RelayProc::start(&config);
        let down_port = closed_port();
        let servers_toml = format!(
            "[limits]\nmax_sessions_per_server = 512\nupstream_timeout_ms = 10000\n\n\
             [[server]]\nname = {STDIO:?}\ncommand = [\"python3\", {script:?}, \"--log\", {log:?}]\n\n\
             [[server]]\nname = {HTTP:?}\nurl = \"http://127.0.0.1:{port}/mcp\"\n\n\
             [[server]]\nname = {DOWN:?}\nurl = \"http://127.0.0.1:{down_port}/mcp\"\n\n\
             [[server]]\nname = {MISSING:?}\ncommand = [{MISSING_COMMAND:?}]\n",
            script = script().display().to_string(),
            log = log.path.display().to_string(),
            port = http_oracle.port,
        );
        let cfg = connector_config_toml(tmp.path(), &pki, &cert, relay.quic, &servers_toml);
        let connector = Proc::start(
            "connector",
            &["connector", "--config", cfg.to_str().expect("utf-8")],
        );
        for s in servers {
            wait_served(&relay, s);
        }
        let http = relay.http();
        Self {
            relay,
            connector,
            http_oracle,
            down_port,
            caller,
            log,
            http,
            pki,
            tmp,
        }
    }

    /// Text an error body must never show: the upstreams' addresses, the
    /// stdio commands, OS error text.
    pub fn secrets(&self) -> Vec<String> {
        let mut out = vec![
            script().display().to_string(),
            "oracle.py".to_owned(),
            "python3".to_owned(),
            MISSING_COMMAND.to_owned(),
            "/nonexistent".to_owned(),
            "os error".to_owned(),
            "No such file".to_owned(),
            "onnection refused".to_owned(),
        ];
        for port in [self.http_oracle.port, self.down_port] {
            out.push(format!("127.0.0.1:{port}"));
            out.push(format!("localhost:{port}"));
        }
        out
    }
}
