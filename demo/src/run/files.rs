//! What the demo writes: its working directory, a throw-away PKI, and the
//! relay and connector config texts (pure functions, parsed by the real
//! config parsers in the tests below).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use sallyport_pki::{ApiKey, Pki, Validity};

use crate::error::DemoError;

/// The demo CA's trust domain.
pub const TRUST_DOMAIN: &str = "demo.sallyport.local";
/// The demo connector's name (its SPIFFE id ends in `/connector/demo`).
pub const CONNECTOR_NAME: &str = "demo";
/// The stdio server's name at the relay.
pub const STDIO_SERVER: &str = "demo";
/// The HTTP server's name at the relay.
pub const HTTP_SERVER: &str = "demo-http";

/// Where the demo's files live: a temporary directory removed on drop, or a
/// directory the user asked to keep.
#[derive(Debug)]
pub(super) enum Workdir {
    Temp(tempfile::TempDir),
    Kept(PathBuf),
}

impl Workdir {
    pub(super) fn new(keep: Option<&Path>) -> Result<Self, DemoError> {
        match keep {
            Some(dir) => {
                std::fs::create_dir_all(dir)
                    .map_err(|e| DemoError::io(format!("cannot create {}", dir.display()), e))?;
                Ok(Workdir::Kept(dir.to_owned()))
            }
            None => tempfile::Builder::new()
                .prefix("sallyport-demo-")
                .tempdir()
                .map(Workdir::Temp)
                .map_err(|e| DemoError::io("cannot create a temporary directory", e)),
        }
    }

    pub(super) fn path(&self) -> &Path {
        match self {
            Workdir::Temp(t) => t.path(),
            Workdir::Kept(p) => p,
        }
    }

    pub(super) fn is_kept(&self) -> bool {
        matches!(self, Workdir::Kept(_))
    }
}

/// The certificates and the API key the demo made, paths relative to the
/// working directory (so kept configs can be moved together).
#[derive(Debug)]
pub(super) struct Material {
    pub relay_cert: String,
    pub relay_key: String,
    pub connector_cert: String,
    pub connector_key: String,
    pub bundle: String,
    pub crl: String,
    pub connector_id: String,
    pub api_key: ApiKey,
}

/// A CA in `<dir>/pki`, a relay certificate for `127.0.0.1`/`localhost`, a
/// connector certificate `demo`, and an API key for `demo-user`. With
/// `replace`, files of an earlier demo are overwritten.
pub(super) fn create_pki(dir: &Path, replace: bool) -> Result<Material, DemoError> {
    let pki = Pki::init(dir.join("pki"), TRUST_DOMAIN.parse()?, replace)?;
    let validity = || Validity::days(30);
    let relay = pki.issue_relay(
        &["localhost".to_owned()],
        &[IpAddr::V4(Ipv4Addr::LOCALHOST)],
        validity()?,
        replace,
    )?;
    let connector = pki.issue_connector(&CONNECTOR_NAME.parse()?, validity()?, replace)?;
    let api_key = ApiKey::generate("demo-user", &["demo".to_owned()])?;
    let rel = |p: &Path| -> Result<String, DemoError> {
        let p = p.strip_prefix(dir).unwrap_or(p);
        p.to_str()
            .map(str::to_owned)
            .ok_or_else(|| DemoError::NonUtf8Path(p.to_owned()))
    };
    Ok(Material {
        relay_cert: rel(&relay.cert_path)?,
        relay_key: rel(&relay.key_path)?,
        connector_cert: rel(&connector.cert_path)?,
        connector_key: rel(&connector.key_path)?,
        bundle: rel(&pki.bundle_path())?,
        crl: rel(&pki.crl_path())?,
        connector_id: connector.spiffe_id.to_string(),
        api_key,
    })
}

/// The relay's listeners.
#[derive(Debug, Clone, Copy)]
pub(super) struct RelayAddrs {
    pub quic: SocketAddr,
    pub admin: SocketAddr,
    /// The client port on 127.0.0.1 (never 0: `public_url` names it).
    pub http_port: u16,
}

/// `relay.toml`: plain HTTP on loopback, the demo API key, and the demo
/// connector granted both demo servers.
pub(super) fn relay_toml(m: &Material, a: RelayAddrs) -> String {
    let port = a.http_port;
    format!(
        r#"# Written by `sallyport demo`: a relay on loopback with one API key.
name = "sallyport-demo"

[quic]
listen = {quic}
cert = {cert}
key = {key}
trust_bundle = {bundle}
crl = {crl}
drain_timeout_ms = 2000

[admin]
listen = {admin}

[http]
listen = "127.0.0.1:{port}"
public_url = "http://127.0.0.1:{port}"
insecure_plain_http = true   # loopback only
allowed_hosts = ["localhost:{port}"]

[audit]                      # one JSON line per MCP request, beside these files
path = "audit.jsonl"

[[api_key]]
sha256 = {sha}
subject = "demo-user"
groups = ["demo"]

# Default deny: the demo group may use every tool, resource and prompt.
[[role]]
name = "demo"
allow = ["*/*"]

[[binding]]
role = "demo"
groups = ["demo"]

[[connector]]
id = {id}
servers = [{stdio}, {http}]
"#,
        quic = quote(&a.quic.to_string()),
        admin = quote(&a.admin.to_string()),
        cert = quote(&m.relay_cert),
        key = quote(&m.relay_key),
        bundle = quote(&m.bundle),
        crl = quote(&m.crl),
        sha = quote(m.api_key.sha256()),
        id = quote(&m.connector_id),
        stdio = quote(STDIO_SERVER),
        http = quote(HTTP_SERVER),
    )
}

/// `connector.toml`: the demo stdio server (`stdio_command`) and the demo
/// HTTP server at `http_url`.
pub(super) fn connector_toml(
    m: &Material,
    relay: SocketAddr,
    stdio_command: &[String],
    http_url: &str,
) -> String {
    let command: Vec<String> = stdio_command.iter().map(|a| quote(a)).collect();
    format!(
        r#"# Written by `sallyport demo`: one connector offering both demo servers.
relay = {relay}
cert = {cert}
key = {key}
trust_bundle = {bundle}
label = "demo"

[[server]]
name = {stdio}
command = [{command}]

[[server]]
name = {http}
url = {url}
"#,
        relay = quote(&relay.to_string()),
        cert = quote(&m.connector_cert),
        key = quote(&m.connector_key),
        bundle = quote(&m.bundle),
        stdio = quote(STDIO_SERVER),
        command = command.join(", "),
        http = quote(HTTP_SERVER),
        url = quote(http_url),
    )
}

/// Writes a config file into the working directory.
pub(super) fn write(path: &Path, text: &str) -> Result<(), DemoError> {
    std::fs::write(path, text)
        .map_err(|e| DemoError::io(format!("cannot write {}", path.display()), e))
}

/// A TOML basic string: quotes and backslashes escaped, control characters
/// (which TOML forbids raw, DEL included) as `\uXXXX`.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn material(dir: &Path) -> Material {
        create_pki(dir, false).expect("pki")
    }

    #[test]
    fn generated_configs_parse() {
        let dir = tempfile::tempdir().expect("tempdir");
        let m = material(dir.path());
        let addrs = RelayAddrs {
            quic: "127.0.0.1:0".parse().expect("addr"),
            admin: "127.0.0.1:0".parse().expect("addr"),
            http_port: 18080,
        };
        let relay = sallyport_relay::Config::parse(&relay_toml(&m, addrs), dir.path())
            .expect("relay.toml parses");
        let http = relay.http.as_ref().expect("[http]");
        assert_eq!(http.public_url, "http://127.0.0.1:18080");
        assert!(http.tls.is_none());
        assert_eq!(relay.api_keys.len(), 1);
        assert_eq!(relay.api_keys[0].sha256, m.api_key.sha256());
        assert_eq!(
            relay.connectors[0].id.to_string(),
            "spiffe://demo.sallyport.local/connector/demo"
        );
        assert!(
            relay.quic.cert.starts_with(dir.path()),
            "{:?}",
            relay.quic.cert
        );
        assert!(relay.quic.cert.exists());

        let command = vec![
            "/odd path/with \"quotes\", \\ and \u{7f}\t".to_owned(),
            "demo".to_owned(),
            "mcp-server".to_owned(),
        ];
        let text = connector_toml(
            &m,
            "127.0.0.1:4433".parse().expect("addr"),
            &command,
            "http://127.0.0.1:9/mcp",
        );
        let conn = sallyport_connector::Config::parse(&text, dir.path(), &|_| None)
            .expect("connector.toml parses");
        assert_eq!(conn.servers.len(), 2);
        match &conn.servers[0].upstream {
            sallyport_connector::config::Upstream::Stdio { command: c, .. } => {
                assert_eq!(c, &command)
            }
            other => panic!("expected stdio, got {other:?}"),
        }
        assert!(conn.key.exists());
    }

    #[test]
    fn replace_only_when_asked() {
        let dir = tempfile::tempdir().expect("tempdir");
        material(dir.path());
        assert!(create_pki(dir.path(), false).is_err());
        create_pki(dir.path(), true).expect("replaced");
    }
}
