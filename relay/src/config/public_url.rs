//! `[http] public_url`: the URL clients reach the relay at, and every URL
//! and name derived from it (its host, its origin, each server's resource
//! URL and protected resource metadata URL) in one place.

use std::fmt;

use sallyport_protocol::ServerName;

/// `scheme://host[:port]` of the relay, as configured (without a trailing
/// `/`), with its lowercase host and origin worked out once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicUrl {
    url: String,
    origin: String,
    /// Where the host starts in `origin`.
    host_at: usize,
}

/// Why a `public_url` is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PublicUrlError {
    /// Neither `https://` nor `http://`.
    #[error("[http] public_url {0:?} must start with https:// (or http://)")]
    Scheme(String),
    /// No host, or a path, query, fragment or space after it.
    #[error("[http] public_url {0:?} must be scheme://host[:port] without a path")]
    NotAnOrigin(String),
}

impl PublicUrl {
    /// Parses `scheme://host[:port]` (`https` or `http`); one trailing `/`
    /// or more is dropped.
    pub fn parse(text: &str) -> Result<Self, PublicUrlError> {
        let url = text.trim_end_matches('/').to_owned();
        let scheme = ["https://", "http://"]
            .into_iter()
            .find(|s| url.starts_with(s))
            .ok_or_else(|| PublicUrlError::Scheme(url.clone()))?;
        let rest = &url[scheme.len()..];
        if rest.is_empty() || rest.contains(['/', '?', '#', ' ']) {
            return Err(PublicUrlError::NotAnOrigin(url));
        }
        Ok(Self {
            origin: url.to_ascii_lowercase(),
            host_at: scheme.len(),
            url,
        })
    }

    /// The URL as configured, e.g. `https://relay.acme.com`.
    pub fn as_str(&self) -> &str {
        &self.url
    }

    /// Lowercase `host[:port]`: the `Host` clients send.
    pub fn host(&self) -> &str {
        &self.origin[self.host_at..]
    }

    /// Lowercase `scheme://host[:port]`: the `Origin` browsers send.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The MCP endpoint of `server`, `<public_url>/mcp/<server>`: the
    /// resource a token's audience names.
    pub fn resource(&self, server: &ServerName) -> String {
        format!("{}/mcp/{server}", self.url)
    }

    /// The RFC 9728 protected resource metadata URL of `server`, or of the
    /// relay as a whole.
    pub fn metadata_url(&self, server: Option<&ServerName>) -> String {
        match server {
            Some(server) => format!(
                "{}/.well-known/oauth-protected-resource/mcp/{server}",
                self.url
            ),
            None => format!("{}/.well-known/oauth-protected-resource", self.url),
        }
    }
}

impl fmt::Display for PublicUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.url)
    }
}

impl PartialEq<str> for PublicUrl {
    fn eq(&self, other: &str) -> bool {
        self.url == other
    }
}

impl PartialEq<&str> for PublicUrl {
    fn eq(&self, other: &&str) -> bool {
        self.url == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> ServerName {
        ServerName::new(s).expect("name")
    }

    #[test]
    fn every_derived_url_comes_from_the_one_parse() {
        let url = PublicUrl::parse("https://Relay.Acme.com:8443/").expect("url");
        assert_eq!(url.as_str(), "https://Relay.Acme.com:8443");
        assert_eq!(url.host(), "relay.acme.com:8443");
        assert_eq!(url.origin(), "https://relay.acme.com:8443");
        assert_eq!(
            url.resource(&name("docs")),
            "https://Relay.Acme.com:8443/mcp/docs"
        );
        assert_eq!(
            url.metadata_url(Some(&name("docs"))),
            "https://Relay.Acme.com:8443/.well-known/oauth-protected-resource/mcp/docs"
        );
        assert_eq!(
            url.metadata_url(None),
            "https://Relay.Acme.com:8443/.well-known/oauth-protected-resource"
        );
        assert_eq!(url, "https://Relay.Acme.com:8443");
        let plain = PublicUrl::parse("http://127.0.0.1:8080").expect("url");
        assert_eq!(plain.host(), "127.0.0.1:8080");
    }

    #[test]
    fn only_an_origin_is_a_public_url() {
        // "https://" loses its slashes to the trailing-`/` trim.
        for bad in ["relay.acme.com", "ftp://relay", "https//relay", "https://"] {
            assert!(
                matches!(PublicUrl::parse(bad), Err(PublicUrlError::Scheme(_))),
                "{bad}"
            );
        }
        for bad in ["https://relay/mcp", "https://relay?x", "https://a b"] {
            assert!(
                matches!(PublicUrl::parse(bad), Err(PublicUrlError::NotAnOrigin(_))),
                "{bad}"
            );
        }
    }
}
