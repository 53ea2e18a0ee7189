//! Checks an HTTP server's configuration (URL, credential headers) and
//! builds its `reqwest` client. Errors name the server and the header but
//! never print a header value: those are credentials.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use reqwest::Url;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use sallyport_protocol::ServerName;

use crate::error::ConfigError;

/// Headers the bridge sets itself (framing, MCP transport): configuring
/// them would break the protocol, so the config may not name them.
const RESERVED: &[&str] = &[
    "host",
    "content-length",
    "content-type",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "upgrade",
    "accept",
    "mcp-session-id",
    "mcp-protocol-version",
    "last-event-id",
];

/// Longest time spent opening a TCP connection (the request's own
/// deadline may be shorter).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// TCP keep-alive, so that a silently dead upstream ends a quiet stream.
const TCP_KEEPALIVE: Duration = Duration::from_secs(30);

/// A validated upstream URL and the `host:port` used in messages.
#[derive(Debug, Clone)]
pub(super) struct Endpoint {
    pub url: Url,
    pub authority: String,
}

fn invalid(server: &ServerName, message: impl std::fmt::Display) -> ConfigError {
    ConfigError::invalid(format!("[[server]] {server}: {message}"))
}

/// Parses the upstream URL: `http` or `https`, with a host, without
/// `user:password@` (credentials belong in headers, where `${VAR}` works
/// and nothing prints them).
pub(super) fn endpoint(server: &ServerName, url: &str) -> Result<Endpoint, ConfigError> {
    let parsed = Url::parse(url).map_err(|e| invalid(server, format!("url is not valid: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(invalid(
            server,
            format!(
                "url scheme {:?} is not supported (use http:// or https://)",
                parsed.scheme()
            ),
        ));
    }
    let host = match parsed.host_str() {
        Some(h) if !h.is_empty() => h.to_owned(),
        _ => return Err(invalid(server, "url has no host")),
    };
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(invalid(
            server,
            "url must not hold user:password@; put credentials in headers \
             (e.g. Authorization = \"Basic ${TOKEN}\")",
        ));
    }
    let port = parsed.port_or_known_default().unwrap_or(80);
    Ok(Endpoint {
        authority: format!("{host}:{port}"),
        url: parsed,
    })
}

/// Validates the configured headers; values are marked sensitive.
pub(super) fn headers(
    server: &ServerName,
    configured: &BTreeMap<String, String>,
) -> Result<HeaderMap, ConfigError> {
    let mut map = HeaderMap::new();
    for (name, value) in configured {
        let header = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
            invalid(
                server,
                format!("header name {name:?} is not a valid HTTP token"),
            )
        })?;
        if RESERVED.contains(&header.as_str()) {
            return Err(invalid(
                server,
                format!("header {name} is set by the connector and cannot be configured"),
            ));
        }
        if map.contains_key(&header) {
            return Err(invalid(
                server,
                format!("header {name} is configured twice (names ignore case)"),
            ));
        }
        if value.trim().is_empty() {
            return Err(invalid(
                server,
                format!("header {name} is empty (is its environment variable set?)"),
            ));
        }
        let not_printable = || {
            invalid(
                server,
                format!("header {name}: the value must be printable ASCII without line breaks"),
            )
        };
        // `HeaderValue` would take bytes above 0x7F (obs-text); a credential
        // never needs them.
        if !value.is_ascii() {
            return Err(not_printable());
        }
        let mut value = HeaderValue::from_str(value).map_err(|_| not_printable())?;
        value.set_sensitive(true);
        map.insert(header, value);
    }
    Ok(map)
}

/// Builds the bridge's client: HTTP/1.1, no redirects (credentials must
/// not follow one to another host), no ambient proxy, nothing decompressed.
///
/// TLS is rustls with the ring provider. Plain `http://` endpoints get a
/// preconfigured rustls config with no roots (it is never used: without
/// redirects or proxies the client makes no TLS connection). `https://`
/// endpoints use reqwest's rustls-platform-verifier, i.e. the system trust
/// store; that path takes the process-wide rustls provider, so ring is
/// installed as the default if none is (the binary already does so).
pub(super) fn client(
    server: &ServerName,
    endpoint: &Endpoint,
    upstream_timeout: Duration,
) -> Result<reqwest::Client, ConfigError> {
    let builder = reqwest::Client::builder()
        .user_agent(concat!("sallyport-connector/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .connect_timeout(CONNECT_TIMEOUT.min(upstream_timeout))
        .tcp_keepalive(TCP_KEEPALIVE)
        .tcp_nodelay(true);
    let builder = if endpoint.url.scheme() == "https" {
        if rustls::crypto::CryptoProvider::get_default().is_none() {
            // Err means another thread installed one first: also fine.
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
        builder.tls_backend_rustls()
    } else {
        builder.tls_backend_preconfigured(unused_tls_config().map_err(|e| invalid(server, e))?)
    };
    builder.build().map_err(|e| {
        let cause = root_cause(&e);
        if endpoint.url.scheme() == "https" {
            invalid(
                server,
                format!(
                    "cannot set up TLS for {} ({cause}); https upstreams need the system \
                     trust store (e.g. the ca-certificates package)",
                    endpoint.authority
                ),
            )
        } else {
            invalid(server, format!("cannot build the HTTP client: {cause}"))
        }
    })
}

fn unused_tls_config() -> Result<rustls::ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS configuration: {e}"))?
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth())
}

/// The innermost cause of an error: the part that says what happened
/// (`Connection refused`, `invalid peer certificate: …`), without the URL
/// that reqwest's own message carries.
pub(super) fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}
