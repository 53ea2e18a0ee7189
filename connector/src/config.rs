//! The connector's configuration file (`connector.toml`).
//!
//! `RawConfig` (serde, unknown keys refused) → [`Config`] (typed, validated;
//! `${VAR}` references expanded from the environment at load time, so a
//! missing secret is reported before the connector dials).

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sallyport_protocol::{ConnectorLabel, ServerName};
use serde::Deserialize;

use crate::error::ConfigError;

mod limits;
mod upstream;

pub use limits::{DEFAULT_SESSIONS_PER_CALLER, Limits};
use limits::{RawLimits, limits};
pub use upstream::Upstream;
use upstream::{RawServer, upstream};

/// The validated connector configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The relays to hold a link to (one link each).
    pub relays: Vec<RelayAddr>,
    /// The name the relay's certificate must carry; defaults to each relay
    /// address's host.
    pub relay_name: Option<String>,
    /// The connector's certificate chain (PEM).
    pub cert: PathBuf,
    /// The connector's private key (PEM).
    pub key: PathBuf,
    /// CA certificates the relay's certificate must chain to (PEM).
    pub trust_bundle: PathBuf,
    /// This instance's label in the relay's logs and admin API.
    pub label: ConnectorLabel,
    /// Link timing.
    pub link: LinkTiming,
    /// Bounds on requests, sessions and processes.
    pub limits: Limits,
    /// The MCP servers offered through the relay.
    pub servers: Vec<ServerConfig>,
}

/// A relay address: `host:port`, `[v6]:port` or `v4:port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayAddr {
    /// Host name or IP literal (without brackets).
    pub host: String,
    /// UDP port.
    pub port: u16,
}

impl fmt::Display for RelayAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

impl std::str::FromStr for RelayAddr {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("relay address {s:?} must be host:port (e.g. relay.acme.com:4433)");
        let (host, port) = s.rsplit_once(':').ok_or_else(bad)?;
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        if host.is_empty() || host.contains(['/', ' ']) {
            return Err(bad());
        }
        let port: u16 = port.parse().map_err(|_| bad())?;
        if port == 0 {
            return Err(bad());
        }
        Ok(Self {
            host: host.to_owned(),
            port,
        })
    }
}

/// Timing of the link to each relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkTiming {
    /// QUIC keep-alive interval.
    pub keepalive: Duration,
    /// A link silent for this long is dead.
    pub idle_timeout: Duration,
    /// Time allowed to connect and complete `Hello`/`Welcome`.
    pub connect_timeout: Duration,
    /// First reconnect delay.
    pub backoff_initial: Duration,
    /// Longest reconnect delay.
    pub backoff_max: Duration,
    /// The connector's one clock for work that is ending: after the relay
    /// sends `GoAway`, open requests get this long before they are
    /// cancelled; the relay must send a request's head and body within it;
    /// on shutdown, closing the QUIC endpoints waits at most this long.
    pub drain_timeout: Duration,
}

impl Default for LinkTiming {
    fn default() -> Self {
        Self {
            keepalive: Duration::from_secs(2),
            idle_timeout: Duration::from_secs(8),
            connect_timeout: Duration::from_secs(5),
            backoff_initial: Duration::from_millis(200),
            backoff_max: Duration::from_secs(30),
            drain_timeout: Duration::from_secs(10),
        }
    }
}

/// One local MCP server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// The name clients use at the relay.
    pub name: ServerName,
    /// How to reach it.
    pub upstream: Upstream,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    relay: Option<String>,
    #[serde(default)]
    relays: Vec<String>,
    relay_name: Option<String>,
    cert: PathBuf,
    key: PathBuf,
    trust_bundle: PathBuf,
    label: Option<String>,
    #[serde(default)]
    link: RawLink,
    #[serde(default)]
    limits: RawLimits,
    #[serde(default, rename = "server")]
    servers: Vec<RawServer>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLink {
    keepalive_ms: Option<u64>,
    idle_timeout_ms: Option<u64>,
    connect_timeout_ms: Option<u64>,
    backoff_initial_ms: Option<u64>,
    backoff_max_ms: Option<u64>,
    drain_timeout_ms: Option<u64>,
}

impl Config {
    /// Reads and validates a config file; relative paths resolve against
    /// the file's directory and `${VAR}` against the process environment.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        sallyport_config::load(path, |text, base| {
            Self::parse(text, base, &|k| std::env::var(k).ok())
        })
    }

    /// Parses config text with an explicit environment lookup.
    pub fn parse(
        text: &str,
        base: &Path,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let raw: RawConfig = sallyport_config::parse_toml(text)?;
        let mut relays = Vec::new();
        for r in raw.relay.iter().chain(raw.relays.iter()) {
            relays.push(r.parse::<RelayAddr>().map_err(ConfigError::invalid)?);
        }
        if relays.is_empty() {
            return Err(ConfigError::invalid(
                "no relay: set relay = \"host:port\" or relays = [\"host:port\", …]",
            ));
        }
        let label = match raw.label {
            Some(l) => ConnectorLabel::new(l).map_err(ConfigError::invalid)?,
            None => default_label(),
        };
        let mut servers: Vec<ServerConfig> = Vec::new();
        for s in raw.servers {
            if servers.iter().any(|o| o.name == s.name) {
                return Err(ConfigError::invalid(format!(
                    "[[server]] {} is defined twice",
                    s.name
                )));
            }
            let upstream = upstream(&s, base, env)?;
            servers.push(ServerConfig {
                name: s.name,
                upstream,
            });
        }
        Ok(Config {
            relays,
            relay_name: raw.relay_name,
            cert: base.join(raw.cert),
            key: base.join(raw.key),
            trust_bundle: base.join(raw.trust_bundle),
            label,
            link: link_timing(&raw.link)?,
            limits: limits(&raw.limits)?,
            servers,
        })
    }
}

fn link_timing(raw: &RawLink) -> Result<LinkTiming, ConfigError> {
    let d = LinkTiming::default();
    let ms = |v: Option<u64>, default: Duration| v.map(Duration::from_millis).unwrap_or(default);
    let t = LinkTiming {
        keepalive: ms(raw.keepalive_ms, d.keepalive),
        idle_timeout: ms(raw.idle_timeout_ms, d.idle_timeout),
        connect_timeout: ms(raw.connect_timeout_ms, d.connect_timeout),
        backoff_initial: ms(raw.backoff_initial_ms, d.backoff_initial),
        backoff_max: ms(raw.backoff_max_ms, d.backoff_max),
        drain_timeout: ms(raw.drain_timeout_ms, d.drain_timeout),
    };
    if t.keepalive.is_zero() || t.keepalive >= t.idle_timeout {
        return Err(ConfigError::invalid(
            "[link] keepalive_ms must be above 0 and below idle_timeout_ms",
        ));
    }
    if t.backoff_initial.is_zero() || t.backoff_initial > t.backoff_max {
        return Err(ConfigError::invalid(
            "[link] backoff_initial_ms must be above 0 and at most backoff_max_ms",
        ));
    }
    if t.connect_timeout.is_zero() {
        return Err(ConfigError::invalid(
            "[link] connect_timeout_ms must be above 0",
        ));
    }
    if t.drain_timeout.is_zero() {
        return Err(ConfigError::invalid(
            "[link] drain_timeout_ms must be above 0",
        ));
    }
    Ok(t)
}

fn default_label() -> ConnectorLabel {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .and_then(|h| ConnectorLabel::new(h).ok())
        // "connector" is printable ASCII and short: always a valid label.
        .unwrap_or_else(|| ConnectorLabel::new("connector").expect("valid literal label"))
}

#[cfg(test)]
mod tests;
