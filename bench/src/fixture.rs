//! The throw-away world every scenario runs in: a temporary directory, a
//! CA with a relay certificate (127.0.0.1) and one connector certificate,
//! an API key, and the relay and connector config texts.
//!
//! Configs are written with absolute paths and parsed by the real config
//! parsers before use, so a bench config that drifts from the product's
//! format fails loudly at set-up.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use sallyport_pki::{ApiKey, Pki, Validity};

use crate::error::{BenchError, Result};

/// The bench CA's trust domain.
pub const TRUST_DOMAIN: &str = "bench.sallyport.local";
/// The API key's subject and group.
pub const API_SUBJECT: &str = "bench";

/// PKI, API key and working directory.
#[derive(Debug)]
pub struct Fixture {
    dir: tempfile::TempDir,
    /// The relay's certificate (SANs 127.0.0.1, localhost).
    pub relay_cert: PathBuf,
    /// The relay's key.
    pub relay_key: PathBuf,
    /// The CA bundle both sides trust.
    pub bundle: PathBuf,
    /// The CRL the relay checks.
    pub crl: PathBuf,
    /// The connector certificate (one identity; any number of links may
    /// present it).
    pub connector_cert: PathBuf,
    /// Its key.
    pub connector_key: PathBuf,
    /// Its SPIFFE id.
    pub connector_id: String,
    /// The API key clients send as a bearer token.
    pub api_key: String,
    api_sha256: String,
}

/// Which optional relay config sections to write: newer relays need the
/// policy (default deny), would print audit records on stdout without
/// `[audit] path`, and cap one caller's open streams (the bench is one
/// caller with up to thousands of sessions); older ones refuse the keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dialect {
    /// A role allowing `*/*`, bound to the bench key's group.
    pub policy: bool,
    /// `[audit] path` in the working directory.
    pub audit: bool,
    /// `[limits] max_streams_per_principal` = [`CALLER_STREAMS`].
    pub limits: bool,
}

/// The bench caller's share of open streams at the relay: above every
/// scenario's sessions and streams.
pub const CALLER_STREAMS: u32 = 1 << 20;

impl Dialect {
    /// Newest first: the order to try them in.
    pub const ALL: [Dialect; 4] = [
        Dialect::of(true, true, true),
        Dialect::of(true, true, false),
        Dialect::of(true, false, false),
        Dialect::of(false, false, false),
    ];

    const fn of(policy: bool, audit: bool, limits: bool) -> Self {
        Self {
            policy,
            audit,
            limits,
        }
    }
}

/// What a relay config needs besides the fixture.
#[derive(Debug, Clone)]
pub struct RelaySpec {
    /// QUIC listener.
    pub quic: SocketAddr,
    /// Admin listener.
    pub admin: SocketAddr,
    /// Client listener (plain HTTP).
    pub http: SocketAddr,
    /// Servers the bench connector identity may serve.
    pub servers: Vec<String>,
    /// `quic.max_links`.
    pub max_links: usize,
    /// A session key file, so sessions survive a relay restart.
    pub session_key: Option<PathBuf>,
}

impl RelaySpec {
    /// Every listener on an ephemeral loopback port.
    pub fn ephemeral(servers: &[&str]) -> Self {
        let any = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        Self {
            quic: any,
            admin: any,
            http: any,
            servers: servers.iter().map(|s| (*s).to_owned()).collect(),
            max_links: 100,
            session_key: None,
        }
    }
}

/// One upstream server offered by a connector.
#[derive(Debug, Clone)]
pub enum UpstreamSpec {
    /// A Streamable HTTP endpoint.
    Http {
        /// Name at the relay.
        name: String,
        /// Endpoint URL.
        url: String,
    },
    /// A stdio child process.
    Stdio {
        /// Name at the relay.
        name: String,
        /// Program and arguments.
        command: Vec<String>,
    },
}

impl UpstreamSpec {
    /// The server's name at the relay.
    pub fn name(&self) -> &str {
        match self {
            UpstreamSpec::Http { name, .. } | UpstreamSpec::Stdio { name, .. } => name,
        }
    }
}

/// Link timing of a connector (milliseconds); `None` keeps the product
/// default.
#[derive(Debug, Clone, Copy, Default)]
pub struct LinkSpec {
    /// `[link] idle_timeout_ms`.
    pub idle_timeout_ms: Option<u64>,
    /// `[link] keepalive_ms`.
    pub keepalive_ms: Option<u64>,
    /// `[link] backoff_max_ms`.
    pub backoff_max_ms: Option<u64>,
}

impl Fixture {
    /// Creates the temporary directory, the CA, the certificates and the
    /// API key.
    pub fn new() -> Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("sallyport-bench-")
            .tempdir()
            .map_err(|e| BenchError::io("create a temporary directory", e))?;
        let td = TRUST_DOMAIN
            .parse()
            .map_err(|e| BenchError::Setup(format!("trust domain: {e}")))?;
        let pki = Pki::init(dir.path().join("pki"), td, false)?;
        let relay = pki.issue_relay(
            &["localhost".to_owned()],
            &[IpAddr::V4(Ipv4Addr::LOCALHOST)],
            Validity::days(2)?,
            false,
        )?;
        let name = "bench"
            .parse()
            .map_err(|e| BenchError::Setup(format!("connector name: {e}")))?;
        let connector = pki.issue_connector(&name, Validity::days(2)?, false)?;
        let key = ApiKey::generate(API_SUBJECT, &[API_SUBJECT.to_owned()])?;
        Ok(Self {
            relay_cert: relay.cert_path,
            relay_key: relay.key_path,
            bundle: pki.bundle_path(),
            crl: pki.crl_path(),
            connector_cert: connector.cert_path,
            connector_key: connector.key_path,
            connector_id: connector.spiffe_id.to_string(),
            api_key: key.key().to_owned(),
            api_sha256: key.sha256().to_owned(),
            dir,
        })
    }

    /// The working directory (removed on drop).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// `Authorization` header value.
    pub fn bearer(&self) -> String {
        format!("Bearer {}", self.api_key)
    }

    /// The relay config text in `dialect`.
    pub fn relay_toml(&self, spec: &RelaySpec, dialect: Dialect) -> String {
        let servers: Vec<String> = spec.servers.iter().map(|s| quote(s)).collect();
        let sessions = match &spec.session_key {
            Some(k) => format!("\n[sessions]\nkeys = [{}]\n", quote_path(k)),
            None => String::new(),
        };
        let audit = if dialect.audit {
            format!(
                "\n[audit]\npath = {}\n",
                quote_path(&self.dir().join("audit.jsonl"))
            )
        } else {
            String::new()
        };
        let limits = if dialect.limits {
            format!("\n[limits]\nmax_streams_per_principal = {CALLER_STREAMS}\n")
        } else {
            String::new()
        };
        let policy = if dialect.policy {
            format!(
                "\n[[role]]\nname = \"bench-all\"\nallow = [\"*/*\"]\n\n[[binding]]\nrole = \"bench-all\"\ngroups = [{}]\n",
                quote(API_SUBJECT)
            )
        } else {
            String::new()
        };
        format!(
            r#"# Written by sallyport-bench.
name = "sallyport-bench"

[quic]
listen = {quic}
cert = {cert}
key = {key}
trust_bundle = {bundle}
crl = {crl}
max_links = {max_links}
drain_timeout_ms = 1000

[admin]
listen = {admin}

[http]
listen = {http}
public_url = "http://127.0.0.1:{port}"
insecure_plain_http = true
max_body_bytes = 4194304
{sessions}{audit}{limits}
[[api_key]]
sha256 = {sha}
subject = {subject}
groups = [{subject}]
{policy}
[[connector]]
id = {id}
servers = [{servers}]
"#,
            quic = quote(&spec.quic.to_string()),
            admin = quote(&spec.admin.to_string()),
            http = quote(&spec.http.to_string()),
            port = spec.http.port(),
            cert = quote_path(&self.relay_cert),
            key = quote_path(&self.relay_key),
            bundle = quote_path(&self.bundle),
            crl = quote_path(&self.crl),
            max_links = spec.max_links,
            sha = quote(&self.api_sha256),
            subject = quote(API_SUBJECT),
            id = quote(&self.connector_id),
            servers = servers.join(", "),
        )
    }

    /// The relay config text this relay build accepts (the newest
    /// [`Dialect`] it parses), and its parse.
    pub fn relay_config(&self, spec: &RelaySpec) -> Result<(String, sallyport_relay::Config)> {
        let mut first = None;
        for dialect in Dialect::ALL {
            let text = self.relay_toml(spec, dialect);
            match sallyport_relay::Config::parse(&text, self.dir()) {
                Ok(c) => return Ok((text, c)),
                Err(e) => {
                    first.get_or_insert(e);
                }
            }
        }
        Err(first.map_or_else(
            || BenchError::Setup("no relay config dialect".into()),
            BenchError::RelayConfig,
        ))
    }

    /// The connector config text.
    pub fn connector_toml(
        &self,
        relay: SocketAddr,
        upstreams: &[UpstreamSpec],
        link: LinkSpec,
    ) -> String {
        let mut out = format!(
            r#"# Written by sallyport-bench.
relay = {relay}
cert = {cert}
key = {key}
trust_bundle = {bundle}
label = "bench"

[limits]
max_body_bytes = 33554432
max_sessions_per_server = 4096
# The bench is one caller holding every session.
max_sessions_per_caller = 4096
"#,
            relay = quote(&relay.to_string()),
            cert = quote_path(&self.connector_cert),
            key = quote_path(&self.connector_key),
            bundle = quote_path(&self.bundle),
        );
        let mut timing = String::new();
        for (k, v) in [
            ("idle_timeout_ms", link.idle_timeout_ms),
            ("keepalive_ms", link.keepalive_ms),
            ("backoff_max_ms", link.backoff_max_ms),
        ] {
            if let Some(v) = v {
                timing.push_str(&format!("{k} = {v}\n"));
            }
        }
        if !timing.is_empty() {
            out.push_str("\n[link]\nbackoff_initial_ms = 100\n");
            out.push_str(&timing);
        }
        for u in upstreams {
            match u {
                UpstreamSpec::Http { name, url } => {
                    out.push_str(&format!(
                        "\n[[server]]\nname = {}\nurl = {}\n",
                        quote(name),
                        quote(url)
                    ));
                }
                UpstreamSpec::Stdio { name, command } => {
                    let cmd: Vec<String> = command.iter().map(|c| quote(c)).collect();
                    out.push_str(&format!(
                        "\n[[server]]\nname = {}\ncommand = [{}]\n",
                        quote(name),
                        cmd.join(", ")
                    ));
                }
            }
        }
        out
    }

    /// The connector config, parsed.
    pub fn connector_config(
        &self,
        relay: SocketAddr,
        upstreams: &[UpstreamSpec],
        link: LinkSpec,
    ) -> Result<(String, sallyport_connector::Config)> {
        let text = self.connector_toml(relay, upstreams, link);
        let config = sallyport_connector::Config::parse(&text, self.dir(), &|_| None)
            .map_err(BenchError::ConnectorConfig)?;
        Ok((text, config))
    }

    /// Writes `text` to `<dir>/<name>` and returns the path.
    pub fn write(&self, name: &str, text: &str) -> Result<PathBuf> {
        let path = self.dir().join(name);
        std::fs::write(&path, text)
            .map_err(|e| BenchError::io(format!("write {}", path.display()), e))?;
        Ok(path)
    }
}

/// A TOML basic string.
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

fn quote_path(p: &Path) -> String {
    quote(&p.to_string_lossy())
}

#[cfg(test)]
mod tests;
