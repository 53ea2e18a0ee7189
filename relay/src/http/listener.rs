//! The HTTP(S) accept loop: TLS (rustls, HTTP/1.1 and HTTP/2 by ALPN) or
//! plain HTTP when configured, graceful shutdown on `shutdown`.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::error::RelayError;

/// Time a client has to complete the TLS handshake.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// On shutdown, open HTTP connections get this long to finish.
const GRACE: Duration = Duration::from_secs(10);

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
        .map_err(|e| RelayError::QuicTls(e.to_string()))?;
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
                .map_err(|e| RelayError::QuicTls(format!("client certificate verifier: {e}")))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder
        .with_single_cert(certs, key)
        .map_err(|e| RelayError::QuicTls(format!("HTTPS certificate: {e}")))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Serves `app` on `listener` until `shutdown`, then lets open
/// connections finish (bounded).
pub(crate) async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    app: Router,
    shutdown: CancellationToken,
) {
    let graceful = GracefulShutdown::new();
    let builder = Builder::new(TokioExecutor::new());
    loop {
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    warn!(error = %e, "HTTP accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = shutdown.cancelled() => break,
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(app.clone());
        let app = app.clone();
        let builder = builder.clone();
        let watcher = graceful.watcher();
        let tls = tls.clone();
        tokio::spawn(async move {
            let result = match tls {
                Some(acceptor) => {
                    let tls_stream =
                        match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream))
                            .await
                        {
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
                    let leaf = tls_stream
                        .get_ref()
                        .1
                        .peer_certificates()
                        .and_then(|c| c.first());
                    let service = match leaf {
                        Some(leaf) => {
                            let cert = ClientCert(Arc::new(leaf.as_ref().to_vec()));
                            TowerToHyperService::new(app.clone().layer(axum::Extension(cert)))
                        }
                        None => service,
                    };
                    let conn =
                        builder.serve_connection_with_upgrades(TokioIo::new(tls_stream), service);
                    watcher.watch(conn.into_owned()).await
                }
                None => {
                    let conn =
                        builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
                    watcher.watch(conn.into_owned()).await
                }
            };
            if let Err(e) = result {
                debug!(%remote, error = %e, "HTTP connection ended with an error");
            }
        });
    }
    info!("HTTP listener stopped accepting; letting open requests finish");
    if tokio::time::timeout(GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        warn!("HTTP connections still open after the grace period");
    }
}
