//! Certificate authorities: creating, loading and describing CA certificates.
//!
//! Every CA has a distinct subject: `CN=Sallyport CA <trust-domain>,
//! O=Sallyport, OU=ca-<id>` where `<id>` is the first 16 hex digits of its
//! serial. Distinct subjects matter after a rotation: certificate path
//! building and CRL selection (rustls-webpki picks the CRL whose issuer name
//! equals the certificate's issuer) would otherwise confuse the old and the
//! new CA.

use std::path::Path;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    PKCS_ECDSA_P256_SHA256, PKCS_ED25519,
};
use rustls_pki_types::CertificateDer;
use time::{Duration, OffsetDateTime};
use x509_parser::certificate::X509Certificate;

use crate::error::{PkiError, Result};
use crate::identity::TrustDomain;
use crate::pem;
use crate::serial::Serial;

/// Lifetime of a CA certificate.
pub const CA_VALIDITY_DAYS: i64 = 3650;
/// How far `not_before` is back-dated to tolerate clock skew between hosts.
pub(crate) const BACKDATE: Duration = Duration::minutes(5);

/// A CA that can sign: its certificate and private key.
#[derive(Debug)]
pub(crate) struct Ca {
    pub(crate) cert_pem: String,
    pub(crate) cert_der: CertificateDer<'static>,
    pub(crate) key: KeyPair,
}

impl Ca {
    /// A new self-signed CA for `trust_domain`, valid ~10 years from `now`.
    pub(crate) fn generate(trust_domain: &TrustDomain, now: OffsetDateTime) -> Result<Self> {
        let serial = Serial::random()?;
        let mut params = CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, format!("Sallyport CA {trust_domain}"));
        params
            .distinguished_name
            .push(DnType::OrganizationName, "Sallyport");
        params.distinguished_name.push(
            DnType::OrganizationalUnitName,
            format!("ca-{}", ca_id(&serial)),
        );
        params.serial_number = Some(serial.to_rcgen());
        // Path length 0: this CA signs end-entity certificates only.
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.not_before = now - BACKDATE;
        params.not_after = now + Duration::days(CA_VALIDITY_DAYS);
        let key = generate_p256()?;
        let cert = params
            .self_signed(&key)
            .map_err(|source| PkiError::Generate {
                what: "the CA certificate",
                source,
            })?;
        Ok(Self {
            cert_pem: cert.pem(),
            cert_der: cert.der().clone(),
            key,
        })
    }

    /// Loads a CA from its certificate and key files, checking they match.
    pub(crate) fn load(cert_path: &Path, key_path: &Path) -> Result<Self> {
        let cert_der = pem::read_first_cert(cert_path)?;
        let key = load_key_pair(key_path)?;
        let (_, x509) = parse(&cert_der, cert_path)?;
        if x509.public_key().subject_public_key.data.as_ref() != key.public_key_raw() {
            return Err(PkiError::KeyMismatch {
                cert: cert_path.to_owned(),
                key: key_path.to_owned(),
            });
        }
        Ok(Self {
            cert_pem: pem::encode("CERTIFICATE", &cert_der),
            cert_der,
            key,
        })
    }

    /// The rcgen issuer used to sign certificates and CRLs.
    pub(crate) fn issuer(&self) -> Result<Issuer<'static, &KeyPair>> {
        Issuer::from_ca_cert_der(&self.cert_der, &self.key).map_err(|source| PkiError::Generate {
            what: "an issuer from the CA certificate",
            source,
        })
    }

    /// Subject, id and serial of this CA.
    pub(crate) fn describe(&self, path: &Path) -> Result<CaCert> {
        CaCert::from_der(self.cert_der.clone(), path)
    }
}

/// A CA certificate as found in the trust bundle.
#[derive(Debug, Clone)]
pub(crate) struct CaCert {
    pub(crate) der: CertificateDer<'static>,
    /// Subject DN as text; certificates it issued carry this as issuer.
    pub(crate) subject: String,
    pub(crate) serial: Serial,
}

impl CaCert {
    pub(crate) fn from_der(der: CertificateDer<'static>, path: &Path) -> Result<Self> {
        let (subject, serial) = {
            let (_, x509) = parse(&der, path)?;
            (
                x509.subject().to_string(),
                Serial::from_der_bytes(x509.raw_serial()),
            )
        };
        Ok(Self {
            der,
            subject,
            serial,
        })
    }

    /// Short id used in file names (`ca-<id>.pem`) and in the subject.
    pub(crate) fn id(&self) -> String {
        ca_id(&self.serial)
    }
}

/// Loads every CA certificate of a bundle file.
pub(crate) fn load_bundle(path: &Path) -> Result<Vec<CaCert>> {
    let certs = pem::read_certs(path)?;
    certs
        .into_iter()
        .map(|der| CaCert::from_der(der, path))
        .collect()
}

/// The first 16 hex digits of a CA serial.
pub(crate) fn ca_id(serial: &Serial) -> String {
    serial.to_hex().chars().take(16).collect()
}

/// Parses DER as X.509, naming `path` in the error.
pub(crate) fn parse<'a>(der: &'a [u8], path: &Path) -> Result<(&'a [u8], X509Certificate<'a>)> {
    x509_parser::parse_x509_certificate(der).map_err(|e| PkiError::NotACertificate {
        path: path.to_owned(),
        detail: e.to_string(),
    })
}

/// A new ECDSA P-256 key pair.
pub(crate) fn generate_p256() -> Result<KeyPair> {
    KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(|source| PkiError::Generate {
        what: "an ECDSA P-256 key",
        source,
    })
}

/// A new Ed25519 key pair (the token signing key).
pub(crate) fn generate_ed25519() -> Result<KeyPair> {
    KeyPair::generate_for(&PKCS_ED25519).map_err(|source| PkiError::Generate {
        what: "an Ed25519 key",
        source,
    })
}

/// Loads a PKCS#8 private key file for signing.
pub(crate) fn load_key_pair(path: &Path) -> Result<KeyPair> {
    let key = pem::read_key(path)?;
    KeyPair::try_from(&key).map_err(|e| PkiError::NotAKey {
        path: path.to_owned(),
        detail: format!("{e} (CA keys must be PKCS#8 \"PRIVATE KEY\")"),
    })
}
