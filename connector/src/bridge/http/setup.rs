//! Checks an HTTP server's configuration (URL, credential headers) and
//! builds its client. Errors name the server and the header but
//! never print a header value: those are credentials.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use http::header::{HeaderMap, HeaderName, HeaderValue};
use sallyport_protocol::ServerName;
use url::Url;

use super::client::Client;
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
pub(super) fn endpoint(server: &ServerName, parsed: Url) -> Result<Endpoint, ConfigError> {
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

/// The request target (path and query, origin-form) and the `Host`
/// header of `url`.
pub(super) fn origin_form(
    server: &ServerName,
    url: &Url,
) -> Result<(http::Uri, HeaderValue), ConfigError> {
    let path = &url[url::Position::BeforePath..url::Position::AfterQuery];
    let path = http::Uri::try_from(path)
        .map_err(|e| invalid(server, format!("url path is not valid: {e}")))?;
    let host = HeaderValue::from_str(&url[url::Position::BeforeHost..url::Position::AfterPort])
        .map_err(|e| invalid(server, format!("url host is not valid: {e}")))?;
    Ok((path, host))
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

/// Builds the bridge's client: HTTP/1.1 to the URL's origin only (no
/// redirects — credentials must not follow one to another host — and no
/// ambient proxy), nothing decompressed.
///
/// `https://` endpoints are verified with rustls (ring provider) against
/// the system trust store (rustls-platform-verifier); if no ring provider
/// is installed as the process default yet, this installs it.
pub(super) fn client(
    server: &ServerName,
    endpoint: &Endpoint,
    upstream_timeout: Duration,
) -> Result<Client, ConfigError> {
    let tls = if endpoint.url.scheme() == "https" {
        if rustls::crypto::CryptoProvider::get_default().is_none() {
            // Err means another thread installed one first: also fine.
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
        let config = platform_tls().map_err(|cause| {
            invalid(
                server,
                format!(
                    "cannot set up TLS for {} ({cause}); https upstreams need the system \
                     trust store (e.g. the ca-certificates package)",
                    endpoint.authority
                ),
            )
        })?;
        Some(Arc::new(config))
    } else {
        None
    };
    Client::new(&endpoint.url, tls, CONNECT_TIMEOUT.min(upstream_timeout))
        .map_err(|e| invalid(server, format!("cannot build the HTTP client: {e}")))
}

fn platform_tls() -> Result<rustls::ClientConfig, String> {
    use rustls_platform_verifier::BuilderVerifierExt;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS configuration: {e}"))?
        .with_platform_verifier()
        .map_err(|e| e.to_string())?
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// The innermost cause of an error: the part that says what happened
/// (`Connection refused`, `invalid peer certificate: …`).
pub(super) fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}
