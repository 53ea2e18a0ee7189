//! The relay's configuration file (`relay.toml`).
//!
//! Parsing goes `RawConfig` (serde, unknown keys refused) → [`Config`]
//! (typed, validated), so every typo is reported with its line and column
//! and nothing half-valid reaches the running relay.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sallyport_pki::identity::SpiffeId;
use sallyport_protocol::ServerName;
use serde::Deserialize;

use crate::audit::AuditConfig;
use crate::auth::{ApiKeyEntry, AuthConfig, Authenticator};
use crate::error::ConfigError;
use crate::policy::Policy;

mod limits;
mod listeners;
mod policy_source;
mod public_url;

pub use limits::RelayLimits;
use limits::{RawLimits, relay_limits};
pub use listeners::{AdminConfig, HttpConfig};
use listeners::{RawAdmin, RawHttp, http_config};
pub use policy_source::{PolicySource, load_policy_file};
pub use public_url::{PublicUrl, PublicUrlError};

/// The validated relay configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// This relay's name in logs, `Welcome` frames and audit records.
    pub name: String,
    /// The QUIC listener that connectors dial.
    pub quic: QuicConfig,
    /// The admin listener (health, readiness, metrics, admin API).
    pub admin: AdminConfig,
    /// The HTTPS endpoint for remote MCP clients, if enabled.
    pub http: Option<HttpConfig>,
    /// Session id keys; `None`: one ephemeral key.
    pub session_keys: Option<Vec<PathBuf>>,
    /// How long a session id stays valid.
    pub session_ttl: Duration,
    /// Static API keys.
    pub api_keys: Vec<ApiKeyEntry>,
    /// `[auth]`: trusted JWT issuers, paths resolved against the config
    /// file's directory.
    pub auth: AuthConfig,
    /// Where the roles and bindings live: this file, or the
    /// `policy = "…"` file.
    pub policy_source: PolicySource,
    /// Roles and bindings (default deny).
    pub policy: Policy,
    /// The audit log (`[audit]`; no path: stdout).
    pub audit: AuditConfig,
    /// The config file's directory, for paths resolved at start.
    pub base_dir: PathBuf,
    /// Which connector identities may serve which servers.
    pub connectors: Vec<ConnectorGrant>,
    /// `[limits]`: the relay's per-caller shares.
    pub limits: RelayLimits,
    /// The file this config was read from (empty when parsed from text):
    /// re-read on reload for the credentials.
    pub path: PathBuf,
}

/// The QUIC listener.
#[derive(Debug, Clone)]
pub struct QuicConfig {
    /// Address to bind (UDP).
    pub listen: SocketAddr,
    /// The relay's certificate chain (PEM).
    pub cert: PathBuf,
    /// The relay's private key (PEM).
    pub key: PathBuf,
    /// CA certificates that connector certificates must chain to (PEM).
    pub trust_bundle: PathBuf,
    /// Certificate revocation lists (PEM), if any.
    pub crl: Option<PathBuf>,
    /// Most connector links at once; further handshakes are refused.
    pub max_links: usize,
    /// Time allowed for the TLS handshake and for the connector's `Hello`.
    pub handshake_timeout: Duration,
    /// A link with no traffic (keep-alives included) for this long is dead.
    pub idle_timeout: Duration,
    /// On shutdown, how long links may drain after `GoAway`.
    pub drain_timeout: Duration,
}

/// One `[[connector]]` entry: an identity and the servers it may serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectorGrant {
    /// The connector's SPIFFE id.
    pub id: SpiffeId,
    /// Server names it may serve.
    pub servers: BTreeSet<ServerName>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    name: Option<String>,
    quic: RawQuic,
    #[serde(default)]
    admin: Option<RawAdmin>,
    #[serde(default, rename = "connector")]
    connectors: Vec<RawConnector>,
    http: Option<RawHttp>,
    sessions: Option<RawSessions>,
    #[serde(default, rename = "api_key")]
    api_keys: Vec<ApiKeyEntry>,
    #[serde(default)]
    auth: AuthConfig,
    /// A separate policy file; else `[[role]]`/`[[binding]]` live here.
    policy: Option<PathBuf>,
    /// Parsed by [`Policy`]; declared so unknown-key checking accepts them.
    #[serde(default)]
    role: Vec<toml::Value>,
    #[serde(default)]
    binding: Vec<toml::Value>,
    #[serde(default)]
    audit: AuditConfig,
    limits: Option<RawLimits>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSessions {
    keys: Vec<PathBuf>,
    ttl_hours: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawQuic {
    listen: SocketAddr,
    cert: PathBuf,
    key: PathBuf,
    trust_bundle: PathBuf,
    crl: Option<PathBuf>,
    max_links: Option<usize>,
    handshake_timeout_ms: Option<u64>,
    idle_timeout_ms: Option<u64>,
    drain_timeout_ms: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConnector {
    id: SpiffeId,
    servers: Vec<ServerName>,
}

impl Config {
    /// Reads and validates a config file. Relative paths inside it are
    /// resolved against the file's directory.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let mut config = sallyport_config::load(path, Self::parse)?;
        if config.policy_source == PolicySource::Text {
            config.policy_source = PolicySource::Inline(path.to_owned());
        }
        config.path = path.to_owned();
        Ok(config)
    }

    /// Parses config text; relative paths are resolved against `base`.
    pub fn parse(text: &str, base: &Path) -> Result<Self, ConfigError> {
        let raw: RawConfig = sallyport_config::parse_toml(text)?;
        Self::from_raw(raw, base, text)
    }

    fn from_raw(raw: RawConfig, base: &Path, text: &str) -> Result<Self, ConfigError> {
        let q = raw.quic;
        let ms = |v: Option<u64>, default: u64| Duration::from_millis(v.unwrap_or(default));
        let quic = QuicConfig {
            listen: q.listen,
            cert: base.join(q.cert),
            key: base.join(q.key),
            trust_bundle: base.join(q.trust_bundle),
            crl: q.crl.map(|c| base.join(c)),
            max_links: q.max_links.unwrap_or(10_000),
            handshake_timeout: ms(q.handshake_timeout_ms, 10_000),
            idle_timeout: ms(q.idle_timeout_ms, 10_000),
            drain_timeout: ms(q.drain_timeout_ms, 10_000),
        };
        if quic.max_links == 0 {
            return Err(ConfigError::invalid("quic.max_links must be at least 1"));
        }
        if quic.idle_timeout < Duration::from_secs(1) {
            return Err(ConfigError::invalid(
                "quic.idle_timeout_ms must be at least 1000",
            ));
        }
        let admin = listeners::admin_config(raw.admin)?;
        let mut connectors: Vec<ConnectorGrant> = Vec::new();
        for c in raw.connectors {
            if c.id.connector_name().is_none() {
                return Err(ConfigError::invalid(format!(
                    "[[connector]] id {} is not a connector identity (expected spiffe://<trust-domain>/connector/<name>)",
                    c.id
                )));
            }
            if connectors.iter().any(|g| g.id == c.id) {
                return Err(ConfigError::invalid(format!(
                    "[[connector]] id {} is listed twice; merge its servers into one entry",
                    c.id
                )));
            }
            connectors.push(ConnectorGrant {
                id: c.id,
                servers: c.servers.into_iter().collect(),
            });
        }
        let (policy_source, policy) = match &raw.policy {
            Some(file) => {
                if !raw.role.is_empty() || !raw.binding.is_empty() {
                    return Err(ConfigError::invalid(
                        "roles and bindings are both inline and in `policy = …`: keep them in one place",
                    ));
                }
                let path = base.join(file);
                let policy = load_policy_file(&path)?;
                (PolicySource::File(path), policy)
            }
            None => (
                PolicySource::Text,
                Policy::from_toml_str(text).map_err(ConfigError::invalid)?,
            ),
        };
        let http = raw.http.map(|h| http_config(h, base)).transpose()?;
        // API keys and [auth] are checked here; key files are read and JWKS
        // endpoints fetched when the relay starts (Authenticator::load).
        Authenticator::new(&raw.api_keys, &AuthConfig::default(), None)
            .map_err(ConfigError::invalid)?;
        let auth = raw.auth.resolve(base);
        auth.validate().map_err(ConfigError::invalid)?;
        let limits = relay_limits(raw.limits)?;
        let (session_keys, session_ttl) = match raw.sessions {
            Some(s) => {
                if s.keys.is_empty() {
                    return Err(ConfigError::invalid(
                        "[sessions] keys must list at least one key file",
                    ));
                }
                let hours = s.ttl_hours.unwrap_or(24);
                if hours == 0 {
                    return Err(ConfigError::invalid(
                        "[sessions] ttl_hours must be at least 1",
                    ));
                }
                (
                    Some(s.keys.into_iter().map(|k| base.join(k)).collect()),
                    Duration::from_secs(hours * 3600),
                )
            }
            None => (None, Duration::from_secs(24 * 3600)),
        };
        Ok(Config {
            name: raw.name.unwrap_or_else(|| "sallyport-relay".to_owned()),
            quic,
            admin,
            http,
            session_keys,
            session_ttl,
            api_keys: raw.api_keys,
            auth,
            policy_source,
            policy,
            audit: raw.audit,
            base_dir: base.to_owned(),
            connectors,
            limits,
            path: PathBuf::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
        [quic]
        listen = "127.0.0.1:4433"
        cert = "pki/relay.pem"
        key = "pki/relay.key"
        trust_bundle = "pki/bundle.pem"
        crl = "pki/crl.pem"

        [[connector]]
        id = "spiffe://acme.internal/connector/legal-dc1"
        servers = ["contracts", "wiki"]
    "#;

    #[test]
    fn parses_and_resolves_paths() {
        let c = Config::parse(MINIMAL, Path::new("/etc/sallyport")).expect("valid");
        assert_eq!(c.quic.cert, Path::new("/etc/sallyport/pki/relay.pem"));
        assert_eq!(c.admin.listen, "127.0.0.1:9090".parse().expect("addr"));
        assert_eq!(c.connectors.len(), 1);
        assert_eq!(c.connectors[0].servers.len(), 2);
    }

    #[test]
    fn typo_names_key_and_line() {
        let text = MINIMAL.replace("trust_bundle", "trust_bundel");
        let err = Config::parse(&text, Path::new(".")).expect_err("typo");
        let msg = err.to_string();
        assert!(msg.contains("trust_bundel"), "{msg}");
        assert!(msg.contains("line"), "{msg}");
    }

    #[test]
    fn bad_values_refused() {
        for (from, to, needle) in [
            (
                "connector/legal-dc1",
                "client/x",
                "not a connector identity",
            ),
            ("\"wiki\"", "\"Wiki\"", "server name"),
            ("spiffe://", "https://", "spiffe"),
            ("127.0.0.1:4433", "127.0.0.1", "socket address"),
        ] {
            let text = MINIMAL.replace(from, to);
            let msg = Config::parse(&text, Path::new("."))
                .expect_err(needle)
                .to_string();
            assert!(msg.contains(needle), "{to}: {msg}");
        }
    }

    #[test]
    fn limits_default_and_zero_refused() {
        let c = Config::parse(MINIMAL, Path::new(".")).expect("valid");
        assert_eq!(c.limits.max_streams_per_principal, 64);
        let text = format!("{MINIMAL}\n[limits]\nmax_streams_per_principal = 3\n");
        let c = Config::parse(&text, Path::new(".")).expect("valid");
        assert_eq!(c.limits.max_streams_per_principal, 3);
        let text = format!("{MINIMAL}\n[limits]\nmax_streams_per_principal = 0\n");
        let msg = Config::parse(&text, Path::new("."))
            .expect_err("zero")
            .to_string();
        assert!(msg.contains("max_streams_per_principal"), "{msg}");
        let text = format!("{MINIMAL}\n[limits]\nmax_stream_per_principal = 3\n");
        let msg = Config::parse(&text, Path::new("."))
            .expect_err("typo")
            .to_string();
        assert!(msg.contains("max_stream_per_principal"), "{msg}");
    }

    #[test]
    fn duplicate_connector_refused() {
        let text = format!(
            "{MINIMAL}\n[[connector]]\nid = \"spiffe://acme.internal/connector/legal-dc1\"\nservers = []\n"
        );
        let msg = Config::parse(&text, Path::new("."))
            .expect_err("dup")
            .to_string();
        assert!(msg.contains("listed twice"), "{msg}");
    }
}
