//! TLS material for the relay ↔ connector QUIC link.
//!
//! The relay and the connector wrap these rustls configurations into quinn
//! themselves. Both use the *ring* provider explicitly (aws-lc-rs is never
//! linked) and TLS 1.3 only, as QUIC requires.
//!
//! The relay ([`quic_server_config`]) requires a client certificate chaining
//! to a CA of the trust bundle. With a CRL file, revocation is checked for
//! the end-entity certificate only (our CAs are roots, listed in the bundle
//! by hand), and an *unknown* revocation status — the CRL file holds no CRL
//! from the certificate's issuer — is a rejection: a relay must never accept
//! a revoked connector because a CRL went missing. `sallyport pki crl`
//! writes one CRL per bundle CA, so this only bites when the CRL file is
//! stale relative to the bundle. CRL `next_update` is not enforced (rustls'
//! default); keep the CRL fresh with `sallyport pki crl`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer};

use crate::error::{PkiError, Result};
use crate::identity::SpiffeId;
use crate::inspect::spiffe_ids;
use crate::pem;

/// Every certificate in a PEM file (at least one; each must parse as X.509).
pub fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    pem::read_certs(path)
}

/// The single private key in a PEM file, checked to be usable by the ring
/// provider (ECDSA P-256/P-384, Ed25519 or RSA).
pub fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>> {
    let key = pem::read_key(path)?;
    rustls::crypto::ring::sign::any_supported_type(&key).map_err(|e| PkiError::NotAKey {
        path: path.to_owned(),
        detail: e.to_string(),
    })?;
    Ok(key)
}

/// The CA certificates of a trust bundle; an empty bundle is an error.
pub fn load_trust_bundle(path: &Path) -> Result<RootCertStore> {
    let certs = match pem::read_certs(path) {
        Err(PkiError::NotPem { .. }) => {
            return Err(PkiError::EmptyTrustBundle {
                path: path.to_owned(),
            });
        }
        other => other?,
    };
    let mut store = RootCertStore::empty();
    for cert in certs {
        store.add(cert).map_err(|e| PkiError::NotACertificate {
            path: path.to_owned(),
            detail: format!("unusable as a trust anchor: {e}"),
        })?;
    }
    if store.is_empty() {
        return Err(PkiError::EmptyTrustBundle {
            path: path.to_owned(),
        });
    }
    Ok(store)
}

/// Every CRL in a PEM file; an empty file gives an empty vector.
pub fn load_crls(path: &Path) -> Result<Vec<CertificateRevocationListDer<'static>>> {
    pem::read_crls(path)
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn config_error(cert: &Path, key: &Path, error: rustls::Error) -> PkiError {
    match error {
        rustls::Error::InconsistentKeys(_) => PkiError::KeyMismatch {
            cert: cert.to_owned(),
            key: key.to_owned(),
        },
        other => PkiError::TlsConfig {
            cert: cert.to_owned(),
            detail: other.to_string(),
        },
    }
}

/// The relay's QUIC TLS configuration: TLS 1.3, ring, ALPN `alpn`, its own
/// certificate chain and key, client certificates required and verified
/// against `bundle_path` and — when `crl_path` is given — its CRLs (see the
/// module docs; a CRL file with no CRL in it is refused, since it would
/// silently disable revocation). Without `crl_path` no revocation check is
/// done: production relays should always pass one.
pub fn quic_server_config(
    cert_path: &Path,
    key_path: &Path,
    bundle_path: &Path,
    crl_path: Option<&Path>,
    alpn: &[u8],
) -> Result<ServerConfig> {
    let provider = provider();
    let certs = load_certs(cert_path)?;
    let key = load_key(key_path)?;
    let verifier = client_verifier(bundle_path, crl_path)?;
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| config_error(cert_path, key_path, e))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)
        .map_err(|e| config_error(cert_path, key_path, e))?;
    config.alpn_protocols = vec![alpn.to_vec()];
    Ok(config)
}

/// The verifier the relay applies to connector certificates: chains to a
/// CA in `bundle_path`, within validity, and — with `crl_path` — not revoked
/// (end-entity revocation; a CRL file holding no CRL is refused). The relay
/// also uses it to re-check live links when certificates or CRLs change.
pub fn client_verifier(
    bundle_path: &Path,
    crl_path: Option<&Path>,
) -> Result<Arc<dyn rustls::server::danger::ClientCertVerifier>> {
    let provider = provider();
    let roots = Arc::new(load_trust_bundle(bundle_path)?);
    let mut verifier = WebPkiClientVerifier::builder_with_provider(roots, provider);
    if let Some(crl_path) = crl_path {
        let crls = load_crls(crl_path)?;
        if crls.is_empty() {
            return Err(PkiError::NotACrl {
                path: crl_path.to_owned(),
                detail: "the file holds no CRL; run `sallyport pki crl` to write one per CA".into(),
            });
        }
        verifier = verifier.with_crls(crls).only_check_end_entity_revocation();
    }
    verifier.build().map_err(|e| PkiError::TlsConfig {
        cert: bundle_path.to_owned(),
        detail: format!("client certificate verifier: {e}"),
    })
}

/// The connector's QUIC TLS configuration: TLS 1.3, ring, ALPN `alpn`, the
/// relay's certificate verified against `bundle_path` (and the server name
/// the caller connects with), and client authentication with `cert_path` /
/// `key_path`.
pub fn quic_client_config(
    cert_path: &Path,
    key_path: &Path,
    bundle_path: &Path,
    alpn: &[u8],
) -> Result<ClientConfig> {
    let certs = load_certs(cert_path)?;
    let key = load_key(key_path)?;
    let roots = load_trust_bundle(bundle_path)?;
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| config_error(cert_path, key_path, e))?
        .with_root_certificates(roots)
        .with_client_auth_cert(certs, key)
        .map_err(|e| config_error(cert_path, key_path, e))?;
    config.alpn_protocols = vec![alpn.to_vec()];
    Ok(config)
}

/// The SPIFFE ID of a (verified) peer certificate: its one `spiffe://` URI
/// SAN. None, several, or a malformed one is an error.
pub fn spiffe_id_of(cert: &CertificateDer<'_>) -> Result<SpiffeId> {
    let (_, x509) =
        x509_parser::parse_x509_certificate(cert).map_err(|e| PkiError::NotACertificate {
            path: PathBuf::from("<peer certificate>"),
            detail: e.to_string(),
        })?;
    let subject = format!("certificate {:?}", x509.subject().to_string());
    let ids = spiffe_ids(&x509);
    match ids.as_slice() {
        [] => Err(PkiError::NoSpiffeId { cert: subject }),
        [one] => one.parse(),
        _ => Err(PkiError::SeveralSpiffeIds {
            cert: subject,
            ids: ids.join(", "),
        }),
    }
}
