//! The relay's error types, one per boundary.

pub use sallyport_config::ConfigError;

/// A relay that cannot start or keep running.
///
/// Each variant's message names what failed and leaves its cause to
/// [`std::error::Error::source`], so printing the chain (see [`chain`])
/// shows every cause once.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RelayError {
    /// The configuration is unusable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Certificates, keys, the trust bundle or the CRL could not be loaded.
    #[error("TLS material")]
    Tls(#[from] sallyport_pki::PkiError),
    /// The rustls or quinn configuration cannot be used for HTTPS or QUIC.
    #[error("TLS configuration: {what}")]
    TlsConfig {
        /// Which part: `HTTPS certificate`, `idle timeout`, ….
        what: &'static str,
        /// What rustls, quinn or the file system said.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The QUIC key cannot be read to derive the stateless reset key.
    #[error("cannot read {}", path.display())]
    ReadKey {
        /// The key file.
        path: std::path::PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The audit log could not be opened.
    #[error(transparent)]
    Audit(#[from] crate::audit::AuditError),
    /// The session keys could not be loaded.
    #[error(transparent)]
    Sessions(#[from] crate::session::KeyError),
    /// A listener could not bind its address.
    #[error("cannot listen on {addr} ({what})")]
    Bind {
        /// Which listener.
        what: &'static str,
        /// The address.
        addr: std::net::SocketAddr,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

impl RelayError {
    /// A TLS configuration error from `source` about `what`.
    pub(crate) fn tls(
        what: &'static str,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        RelayError::TlsConfig {
            what,
            source: Box::new(source),
        }
    }
}

/// An error and its causes on one line, joined by `: ` — for the log and
/// the audit record's detail.
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut next = e.source();
    while let Some(cause) = next {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        next = cause.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chain_names_each_cause_once() {
        let io = std::io::Error::new(std::io::ErrorKind::AddrInUse, "address in use");
        let e = RelayError::Bind {
            what: "HTTP",
            addr: "127.0.0.1:8443".parse().expect("a literal address"),
            source: io,
        };
        assert_eq!(
            chain(&e),
            "cannot listen on 127.0.0.1:8443 (HTTP): address in use"
        );
        let e = RelayError::Config(ConfigError::Read {
            path: "relay.toml".into(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
        });
        assert_eq!(chain(&e), "cannot read config relay.toml: no such file");
        let e = RelayError::tls("idle timeout", std::fmt::Error);
        let text = chain(&e);
        assert_eq!(text.matches("idle timeout").count(), 1, "{text}");
        assert!(text.ends_with(&std::fmt::Error.to_string()), "{text}");
    }
}
