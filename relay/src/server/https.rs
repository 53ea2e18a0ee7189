//! The trust the HTTPS listener puts in client certificates (`[http]
//! client_certs = true`): the QUIC trust bundle and CRL, read again on
//! reload like the QUIC listener's, so a client certificate revoked with
//! `sallyport pki revoke` stops working at the next handshake after
//! SIGHUP. A broken bundle or CRL keeps the previous trust.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use arc_swap::ArcSwap;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};
use tokio_rustls::TlsAcceptor;

use crate::error::RelayError;
use crate::http;

/// The client-certificate verifier of the HTTPS listener, swappable.
pub(super) struct ClientTrust {
    bundle: PathBuf,
    crl: Option<PathBuf>,
    current: ArcSwap<Arc<dyn ClientCertVerifier>>,
}

impl fmt::Debug for ClientTrust {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientTrust")
            .field("bundle", &self.bundle)
            .field("crl", &self.crl)
            .finish_non_exhaustive()
    }
}

impl ClientTrust {
    /// Reads the bundle and CRL of `trust`.
    pub(super) fn load(trust: http::ClientCertTrust) -> Result<Arc<Self>, RelayError> {
        let verifier = build(&trust.bundle, trust.crl.as_ref())?;
        Ok(Arc::new(Self {
            bundle: trust.bundle,
            crl: trust.crl,
            current: ArcSwap::from_pointee(verifier),
        }))
    }

    /// Reads the bundle and CRL again; new handshakes use them. On error
    /// (logged) the previous trust stays.
    pub(super) fn reload(&self) {
        match build(&self.bundle, self.crl.as_ref()) {
            Ok(verifier) => {
                self.current.store(Arc::new(verifier));
                tracing::info!(
                    event = "https_trust.reloaded",
                    "HTTPS client certificate trust reloaded"
                );
            }
            Err(e) => tracing::warn!(
                error = %crate::error::chain(&e),
                "HTTPS client certificate trust reload failed; keeping the previous bundle and CRL"
            ),
        }
    }

    /// A TLS acceptor for `cert` and `key` (ring, TLS 1.2 and 1.3, ALPN h2
    /// and http/1.1) that asks for client certificates and verifies them
    /// with this trust as it is at each handshake.
    pub(super) fn acceptor(
        self: &Arc<Self>,
        cert: &std::path::Path,
        key: &std::path::Path,
    ) -> Result<TlsAcceptor, RelayError> {
        let certs = sallyport_pki::tls::load_certs(cert)?;
        let key = sallyport_pki::tls::load_key(key)?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| RelayError::tls("protocol versions", e))?
            .with_client_cert_verifier(Arc::new(Live(Arc::clone(self))))
            .with_single_cert(certs, key)
            .map_err(|e| RelayError::tls("HTTPS certificate", e))?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(TlsAcceptor::from(Arc::new(config)))
    }

    /// Whether a client certificate accepted at a handshake still passes
    /// the trust in force (a long-lived connection outlives a revocation
    /// and a reload). The leaf is checked against the bundle's CAs
    /// directly, as `sallyport pki issue client` issues them.
    pub(super) fn still_trusted(&self, leaf_der: &[u8]) -> bool {
        let leaf = CertificateDer::from(leaf_der.to_vec());
        self.get()
            .verify_client_cert(&leaf, &[], UnixTime::now())
            .is_ok()
    }

    fn get(&self) -> Arc<Arc<dyn ClientCertVerifier>> {
        self.current.load_full()
    }
}

/// Optional client certificates (a caller may use a bearer token
/// instead), checked against the bundle (end-entity revocation by the
/// CRL).
fn build(
    bundle: &std::path::Path,
    crl: Option<&PathBuf>,
) -> Result<Arc<dyn ClientCertVerifier>, RelayError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let roots = Arc::new(sallyport_pki::tls::load_trust_bundle(bundle)?);
    let mut verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(roots, provider);
    if let Some(crl) = crl {
        verifier = verifier
            .with_crls(sallyport_pki::tls::load_crls(crl)?)
            .only_check_end_entity_revocation();
    }
    verifier
        .allow_unauthenticated()
        .build()
        .map_err(|e| RelayError::tls("client certificate verifier", e))
}

/// The verifier rustls holds: each call goes to the trust in force.
#[derive(Debug)]
struct Live(Arc<ClientTrust>);

impl ClientCertVerifier for Live {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    /// No hints: the CA names may change on reload, and with an empty
    /// list a client sends its certificate whatever issued it.
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.0
            .get()
            .verify_client_cert(end_entity, intermediates, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.get().verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.get().verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.get().supported_verify_schemes()
    }
}
