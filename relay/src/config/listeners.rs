//! `[http]` and `[admin]`: the relay's two TCP listeners, the `Host`
//! values they accept and their connection timeouts.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::PublicUrl;
use crate::error::ConfigError;

/// Default `header_timeout_ms`: a request head must arrive within it.
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Default `body_timeout_ms`: a request body must arrive within it.
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(30);
/// Default `idle_timeout_ms`: a connection without a request for this
/// long is closed.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// The longest timeout a config may ask for (a day, in milliseconds).
const MAX_TIMEOUT_MS: u64 = 86_400_000;

/// The admin listener.
#[derive(Debug, Clone)]
pub struct AdminConfig {
    /// Address to bind (TCP, plain HTTP; keep it on loopback).
    pub listen: SocketAddr,
    /// Further `Host` values accepted (lowercase `host[:port]`), besides
    /// the listener's own address literal (and `localhost:<port>`,
    /// `127.0.0.1:<port>`, `[::1]:<port>` when bound to loopback).
    pub allowed_hosts: Vec<String>,
    /// A request head must arrive within this.
    pub header_timeout: Duration,
    /// A connection without a request in flight for this long is closed.
    pub idle_timeout: Duration,
}

impl Default for AdminConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 9090)),
            allowed_hosts: Vec::new(),
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
        }
    }
}

/// The endpoint remote MCP clients use.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Address to bind (TCP).
    pub listen: SocketAddr,
    /// The URL clients use to reach this relay (scheme, host, optional
    /// port; no path). Its origin is allowed in `Origin`, its host in
    /// `Host`, and it prefixes every URL the relay advertises.
    pub public_url: PublicUrl,
    /// TLS certificate chain and key; `None` only with
    /// `insecure_plain_http = true`.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Further origins allowed to call (browser-based clients).
    pub allowed_origins: Vec<String>,
    /// Further `Host` values accepted (besides `public_url`'s).
    pub allowed_hosts: Vec<String>,
    /// Largest request body.
    pub max_body: usize,
    /// Time a connector has to start answering a request.
    pub response_timeout: Duration,
    /// Ask HTTPS clients for certificates (`sallyport pki issue client`),
    /// verified with the QUIC trust bundle and CRL.
    pub client_certs: bool,
    /// A request head must arrive within this (from the first byte of a
    /// request, or from the connection's start for its first request).
    pub header_timeout: Duration,
    /// A request body must arrive within this, from the end of its head.
    pub body_timeout: Duration,
    /// A connection without a request in flight for this long is closed.
    pub idle_timeout: Duration,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHttp {
    listen: SocketAddr,
    public_url: String,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    #[serde(default)]
    insecure_plain_http: bool,
    #[serde(default)]
    allowed_origins: Vec<String>,
    #[serde(default)]
    allowed_hosts: Vec<String>,
    max_body_bytes: Option<usize>,
    response_timeout_ms: Option<u64>,
    #[serde(default)]
    client_certs: bool,
    header_timeout_ms: Option<u64>,
    body_timeout_ms: Option<u64>,
    idle_timeout_ms: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAdmin {
    listen: Option<SocketAddr>,
    #[serde(default)]
    allowed_hosts: Vec<String>,
    header_timeout_ms: Option<u64>,
    idle_timeout_ms: Option<u64>,
}

/// `[admin]`, or its defaults when the section is absent.
pub(super) fn admin_config(raw: Option<RawAdmin>) -> Result<AdminConfig, ConfigError> {
    let Some(a) = raw else {
        return Ok(AdminConfig::default());
    };
    let defaults = AdminConfig::default();
    Ok(AdminConfig {
        listen: a.listen.unwrap_or(defaults.listen),
        allowed_hosts: hosts("admin", a.allowed_hosts)?,
        header_timeout: timeout(
            "admin",
            "header_timeout_ms",
            a.header_timeout_ms,
            DEFAULT_HEADER_TIMEOUT,
        )?,
        idle_timeout: timeout(
            "admin",
            "idle_timeout_ms",
            a.idle_timeout_ms,
            DEFAULT_IDLE_TIMEOUT,
        )?,
    })
}

/// `[http]`: validated, paths resolved against `base`.
pub(super) fn http_config(h: RawHttp, base: &Path) -> Result<HttpConfig, ConfigError> {
    let url = PublicUrl::parse(&h.public_url).map_err(|e| ConfigError::invalid(e.to_string()))?;
    if h.client_certs && h.tls_cert.is_none() {
        return Err(ConfigError::invalid(
            "[http] client_certs needs tls_cert and tls_key: certificates are asked for in the TLS handshake",
        ));
    }
    let tls = match (h.tls_cert, h.tls_key) {
        (Some(c), Some(k)) => Some((base.join(c), base.join(k))),
        (None, None) if h.insecure_plain_http => None,
        (None, None) => {
            return Err(ConfigError::invalid(
                "[http] needs tls_cert and tls_key, or insecure_plain_http = true (only behind a TLS-terminating proxy or on loopback)",
            ));
        }
        _ => {
            return Err(ConfigError::invalid(
                "[http] tls_cert and tls_key go together",
            ));
        }
    };
    let max_body = h.max_body_bytes.unwrap_or(4 * 1024 * 1024);
    if max_body == 0 || max_body > sallyport_protocol::codec::HARD_MAX_FRAME_LEN {
        return Err(ConfigError::invalid(format!(
            "[http] max_body_bytes must be between 1 and {}",
            sallyport_protocol::codec::HARD_MAX_FRAME_LEN
        )));
    }
    Ok(HttpConfig {
        listen: h.listen,
        public_url: url,
        tls,
        allowed_origins: h
            .allowed_origins
            .into_iter()
            .map(|o| o.trim_end_matches('/').to_ascii_lowercase())
            .collect(),
        allowed_hosts: hosts("http", h.allowed_hosts)?,
        max_body,
        response_timeout: Duration::from_millis(h.response_timeout_ms.unwrap_or(30_000)),
        client_certs: h.client_certs,
        header_timeout: timeout(
            "http",
            "header_timeout_ms",
            h.header_timeout_ms,
            DEFAULT_HEADER_TIMEOUT,
        )?,
        body_timeout: timeout(
            "http",
            "body_timeout_ms",
            h.body_timeout_ms,
            DEFAULT_BODY_TIMEOUT,
        )?,
        idle_timeout: timeout(
            "http",
            "idle_timeout_ms",
            h.idle_timeout_ms,
            DEFAULT_IDLE_TIMEOUT,
        )?,
    })
}

/// A `*_timeout_ms` key: 1 ms to a day; absent gives `default`.
fn timeout(
    section: &str,
    key: &str,
    ms: Option<u64>,
    default: Duration,
) -> Result<Duration, ConfigError> {
    match ms {
        None => Ok(default),
        Some(ms @ 1..=MAX_TIMEOUT_MS) => Ok(Duration::from_millis(ms)),
        Some(ms) => Err(ConfigError::invalid(format!(
            "[{section}] {key} = {ms} is out of range: give 1 to {MAX_TIMEOUT_MS} milliseconds \
             (default {}; a timeout cannot be turned off)",
            default.as_millis()
        ))),
    }
}

/// `allowed_hosts`: each a `host[:port]` as clients send it in `Host`,
/// lowercased.
fn hosts(section: &str, hosts: Vec<String>) -> Result<Vec<String>, ConfigError> {
    hosts
        .into_iter()
        .map(|h| {
            let valid = !h.contains('@')
                && h.parse::<axum::http::uri::Authority>()
                    .is_ok_and(|a| a.as_str() == h);
            if valid {
                Ok(h.to_ascii_lowercase())
            } else {
                Err(ConfigError::invalid(format!(
                    "[{section}] allowed_hosts entry {h:?} is not a host[:port] (as sent in the Host header)"
                )))
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Config;

    const QUIC: &str = r#"
        [quic]
        listen = "127.0.0.1:4433"
        cert = "relay.pem"
        key = "relay.key"
        trust_bundle = "bundle.pem"
    "#;

    const HTTP: &str = r#"
        [http]
        listen = "127.0.0.1:8443"
        public_url = "https://relay.acme.com"
        insecure_plain_http = true
    "#;

    fn parse(extra: &str) -> Result<Config, String> {
        Config::parse(&format!("{QUIC}\n{extra}"), Path::new(".")).map_err(|e| e.to_string())
    }

    #[test]
    fn http_timeouts_default_and_set() {
        let c = parse(HTTP).expect("valid");
        let h = c.http.expect("[http]");
        assert_eq!(h.header_timeout, Duration::from_secs(10));
        assert_eq!(h.body_timeout, Duration::from_secs(30));
        assert_eq!(h.idle_timeout, Duration::from_secs(60));
        let text = format!(
            "{HTTP}\nheader_timeout_ms = 1500\nbody_timeout_ms = 2500\nidle_timeout_ms = 3500\n"
        );
        let h = parse(&text).expect("valid").http.expect("[http]");
        assert_eq!(h.header_timeout, Duration::from_millis(1500));
        assert_eq!(h.body_timeout, Duration::from_millis(2500));
        assert_eq!(h.idle_timeout, Duration::from_millis(3500));
    }

    #[test]
    fn zero_or_huge_timeouts_refused() {
        for key in ["header_timeout_ms", "body_timeout_ms", "idle_timeout_ms"] {
            for value in ["0", "86400001"] {
                let msg = parse(&format!("{HTTP}\n{key} = {value}\n")).expect_err(key);
                assert!(msg.contains(&format!("[http] {key} = {value}")), "{msg}");
                assert!(msg.contains("1 to 86400000 milliseconds"), "{msg}");
            }
        }
        for key in ["header_timeout_ms", "idle_timeout_ms"] {
            let msg = parse(&format!("[admin]\n{key} = 0\n")).expect_err(key);
            assert!(msg.contains(&format!("[admin] {key} = 0")), "{msg}");
        }
        let msg = parse("[admin]\nbody_timeout_ms = 5\n").expect_err("no admin body key");
        assert!(msg.contains("body_timeout_ms"), "{msg}");
    }

    #[test]
    fn admin_defaults_and_hosts() {
        let a = parse("").expect("valid").admin;
        assert_eq!(a.listen, "127.0.0.1:9090".parse().expect("addr"));
        assert!(a.allowed_hosts.is_empty());
        assert_eq!(a.header_timeout, Duration::from_secs(10));
        assert_eq!(a.idle_timeout, Duration::from_secs(60));
        let a = parse(
            "[admin]\nallowed_hosts = [\"Metrics.Internal:9090\", \"[::1]:9\"]\nidle_timeout_ms = 700\n",
        )
        .expect("valid")
        .admin;
        assert_eq!(a.listen, "127.0.0.1:9090".parse().expect("addr"));
        assert_eq!(a.allowed_hosts, ["metrics.internal:9090", "[::1]:9"]);
        assert_eq!(a.idle_timeout, Duration::from_millis(700));
        for bad in ["user@evil.com", "a b", "http://x", "x/y", ""] {
            let msg = parse(&format!("[admin]\nallowed_hosts = [{bad:?}]\n")).expect_err(bad);
            assert!(msg.contains("[admin] allowed_hosts entry"), "{bad}: {msg}");
        }
        let msg = parse(&format!("{HTTP}\nallowed_hosts = [\"x/y\"]\n")).expect_err("bad");
        assert!(msg.contains("[http] allowed_hosts entry"), "{msg}");
    }
}
