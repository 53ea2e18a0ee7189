//! Test set-up: a PKI made with the CLI, relay and connector config files,
//! API keys, and the usual relay + connector world.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use super::procs::{Proc, RelayProc, field};
use super::{bin, sallyport};

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

/// Waits until the relay has registered a connector serving `server`
/// (registration happens before the log line is written).
pub fn wait_served(relay: &RelayProc, server: &str) {
    relay
        .proc
        .wait_for(&format!("a connector serving {server}"), |v| {
            field(v, "event").as_deref() == Some("link.registered")
                && field(v, "accepted").is_some_and(|a| a != "0")
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
