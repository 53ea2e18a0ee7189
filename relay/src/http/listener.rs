//! The HTTP(S) accept loop: TLS (rustls, HTTP/1.1 and HTTP/2 by ALPN) or
//! plain HTTP when configured, per-connection timeouts (`activity`), a
//! body deadline on every request (`body`), graceful shutdown on
//! `shutdown`. The admin listener uses the same loop.

mod activity;
mod body;
mod conn;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};

pub(crate) use body::BodyTimeout;
#[cfg(test)]
pub(crate) use body::TimedBody;

use crate::error::RelayError;

/// Time a client has to complete the TLS handshake.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The timeouts of every connection of a listener.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnLimits {
    /// A request head must arrive within this (see `activity`).
    pub header: Duration,
    /// A request body must arrive within this from the end of its head.
    pub body: Duration,
    /// No request in flight (or a stalled write) for this long closes
    /// the connection.
    pub idle: Duration,
}

impl ConnLimits {
    /// `[http]`'s timeouts.
    pub(crate) fn of(http: &crate::config::HttpConfig) -> Self {
        Self {
            header: http.header_timeout,
            body: http.body_timeout,
            idle: http.idle_timeout,
        }
    }
}

/// What a listener serves: its router and its connections' timeouts.
#[derive(Debug, Clone)]
pub(crate) struct Served {
    /// The listener's name in logs ("HTTP", "admin").
    pub name: &'static str,
    pub router: Router,
    pub limits: ConnLimits,
}

/// Client certificates the HTTPS listener asks for (optional: a caller
/// may still use a bearer token), verified against this bundle and CRL.
#[derive(Debug, Clone)]
pub(crate) struct ClientCertTrust {
    pub bundle: std::path::PathBuf,
    pub crl: Option<std::path::PathBuf>,
}

/// The verified client certificate of a connection (leaf, DER), put in
/// each request's extensions.
#[derive(Debug, Clone)]
pub(crate) struct ClientCert(pub Arc<Vec<u8>>);

/// Loads the HTTPS certificate and key into a TLS acceptor (ring, TLS 1.2
/// and 1.3, ALPN h2 and http/1.1), optionally asking for client
/// certificates.
pub(crate) fn tls_acceptor(
    cert: &std::path::Path,
    key: &std::path::Path,
    clients: Option<&ClientCertTrust>,
) -> Result<TlsAcceptor, RelayError> {
    let certs = sallyport_pki::tls::load_certs(cert)?;
    let key = sallyport_pki::tls::load_key(key)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| RelayError::tls("protocol versions", e))?;
    let builder = match clients {
        None => builder.with_no_client_auth(),
        Some(trust) => {
            let roots = Arc::new(sallyport_pki::tls::load_trust_bundle(&trust.bundle)?);
            let mut verifier =
                rustls::server::WebPkiClientVerifier::builder_with_provider(roots, provider);
            if let Some(crl) = &trust.crl {
                verifier = verifier
                    .with_crls(sallyport_pki::tls::load_crls(crl)?)
                    .only_check_end_entity_revocation();
            }
            let verifier = verifier
                .allow_unauthenticated()
                .build()
                .map_err(|e| RelayError::tls("client certificate verifier", e))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder
        .with_single_cert(certs, key)
        .map_err(|e| RelayError::tls("HTTPS certificate", e))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Serves `app` on `listener` until `shutdown`, then lets open
/// connections finish (bounded).
pub(crate) async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    app: Served,
    shutdown: CancellationToken,
) {
    let Served {
        name,
        router,
        limits,
    } = app;
    let builder = conn::builder(&limits);
    let connections = TaskTracker::new();
    loop {
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    warn!(listener = name, error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = shutdown.cancelled() => break,
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let builder = builder.clone();
        let shutdown = shutdown.clone();
        let tls = tls.clone();
        connections.spawn(async move {
            let Some(acceptor) = tls else {
                let peer = conn::Peer { remote, cert: None };
                conn::serve(stream, peer, router, builder, limits, shutdown).await;
                return;
            };
            let tls_stream =
                match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                    Ok(Ok(s)) => s,
                    Ok(Err(e)) => {
                        debug!(%remote, error = %e, "HTTPS handshake failed");
                        return;
                    }
                    Err(_) => {
                        debug!(%remote, "HTTPS handshake timed out");
                        return;
                    }
                };
            let cert = tls_stream
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|c| c.first())
                .map(|leaf| ClientCert(Arc::new(leaf.as_ref().to_vec())));
            let peer = conn::Peer { remote, cert };
            conn::serve(tls_stream, peer, router, builder, limits, shutdown).await;
        });
    }
    connections.close();
    info!(
        listener = name,
        open = connections.len(),
        "listener stopped accepting; letting open requests finish"
    );
    // Each connection closes within its own grace; this bounds the wait
    // for those still in a TLS handshake too.
    let bound = conn::GRACE.max(TLS_HANDSHAKE_TIMEOUT) + Duration::from_secs(1);
    if tokio::time::timeout(bound, connections.wait())
        .await
        .is_err()
    {
        warn!(
            listener = name,
            "connections still open after the grace period"
        );
    }
}
