//! Verifying a certificate against this PKI: [`Pki::verify`].
//!
//! Verification uses rustls-webpki directly — the same path builder and CRL
//! logic the relay's rustls `WebPkiClientVerifier` runs — with the ring
//! signature algorithms rustls uses, the CA certificates of `bundle.pem` as
//! trust anchors and the CRLs of `crl.pem`. Like the relay (see
//! [`crate::tls::quic_server_config`]), revocation is checked for the end
//! entity and an unknown revocation status (no CRL from the issuing CA) is
//! a failure. The usage checked follows the certificate's EKU: server-auth
//! for the relay, client-auth for connectors and clients. A SPIFFE ID from
//! another trust domain is rejected.

use std::fmt;
use std::path::{Path, PathBuf};

use rustls_pki_types::{CertificateRevocationListDer, UnixTime};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use webpki::{
    BorrowedCertRevocationList, CertRevocationList, EndEntityCert, KeyUsage, RevocationCheckDepth,
    RevocationOptionsBuilder, UnknownStatusPolicy,
};

use crate::ca;
use crate::dir::Pki;
use crate::error::{PkiError, Result};
use crate::identity::{SpiffeId, TrustDomain};
use crate::inspect::inspect_at;
use crate::pem;
use crate::serial::Serial;

/// Why a certificate is or is not trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum VerifyStatus {
    /// Chains to a bundle CA, within validity, not revoked.
    Valid,
    /// Past its `not_after`.
    Expired {
        /// End of validity.
        not_after: OffsetDateTime,
    },
    /// Before its `not_before`.
    NotYetValid {
        /// Start of validity.
        not_before: OffsetDateTime,
    },
    /// Listed in the issuing CA's CRL.
    Revoked,
    /// Not signed by any CA in `bundle.pem`.
    UnknownIssuer,
    /// `crl.pem` holds no CRL from the issuing CA.
    RevocationStatusUnknown,
    /// Has neither the server-auth nor the client-auth extended key usage.
    WrongUsage,
    /// Its SPIFFE ID belongs to another trust domain.
    ForeignTrustDomain {
        /// The trust domain found.
        found: TrustDomain,
    },
    /// Any other path-validation failure, as reported by webpki.
    Invalid {
        /// webpki's description.
        detail: String,
    },
}

impl VerifyStatus {
    /// Whether the certificate is trusted.
    pub fn is_valid(&self) -> bool {
        *self == Self::Valid
    }
}

impl fmt::Display for VerifyStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let time = |t: &OffsetDateTime| t.format(&Rfc3339).unwrap_or_else(|_| t.to_string());
        match self {
            Self::Valid => f.write_str("valid"),
            Self::Expired { not_after } => write!(f, "expired at {}", time(not_after)),
            Self::NotYetValid { not_before } => {
                write!(f, "not yet valid (valid from {})", time(not_before))
            }
            Self::Revoked => f.write_str("revoked (listed in the issuing CA's CRL)"),
            Self::UnknownIssuer => f.write_str("not issued by any CA in the trust bundle"),
            Self::RevocationStatusUnknown => f.write_str(
                "revocation status unknown: the CRL file holds no CRL from the issuing CA",
            ),
            Self::WrongUsage => f.write_str(
                "no serverAuth or clientAuth extended key usage (not a leaf certificate?)",
            ),
            Self::ForeignTrustDomain { found } => {
                write!(f, "SPIFFE ID is in trust domain {found}, not this PKI's")
            }
            Self::Invalid { detail } => write!(f, "invalid: {detail}"),
        }
    }
}

/// The result of [`Pki::verify`].
#[derive(Debug, Clone)]
pub struct Verification {
    /// The certificate file.
    pub path: PathBuf,
    /// The verdict.
    pub status: VerifyStatus,
    /// The SPIFFE ID, if any.
    pub spiffe_id: Option<SpiffeId>,
    /// Serial number.
    pub serial: Serial,
    /// Issuer DN.
    pub issuer: String,
    /// End of validity.
    pub not_after: OffsetDateTime,
}

impl fmt::Display for Verification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = if self.status.is_valid() {
            "OK"
        } else {
            "NOT TRUSTED"
        };
        writeln!(f, "{verdict}: {} ({})", self.path.display(), self.status)?;
        if let Some(id) = &self.spiffe_id {
            writeln!(f, "  SPIFFE ID: {id}")?;
        }
        writeln!(f, "  serial:    {}", self.serial)?;
        writeln!(f, "  issuer:    {}", self.issuer)?;
        let until = self.not_after.format(&Rfc3339).unwrap_or_default();
        writeln!(f, "  not after: {until}")
    }
}

impl Pki {
    /// Verifies `cert` as of now (see module docs).
    pub fn verify(&self, cert: &Path) -> Result<Verification> {
        self.verify_at(cert, OffsetDateTime::now_utc())
    }

    /// Verifies `cert` as of `at`.
    pub fn verify_at(&self, cert: &Path, at: OffsetDateTime) -> Result<Verification> {
        let info = inspect_at(cert, at)?;
        let certs = pem::read_certs(cert)?;
        let (leaf, intermediates) = certs.split_first().ok_or_else(|| PkiError::NotPem {
            path: cert.to_owned(),
            expected: pem::EXPECT_CERT,
        })?;
        let bundle = ca::load_bundle(&self.bundle_path())?;
        let crls = pem::read_crls(&self.crl_path())?;
        let status = match &info.spiffe_id {
            Some(id) if id.trust_domain() != self.trust_domain() => {
                VerifyStatus::ForeignTrustDomain {
                    found: id.trust_domain().clone(),
                }
            }
            _ => {
                let mut usages = Vec::new();
                if info.extended_key_usage.iter().any(|u| u == "serverAuth") {
                    usages.push(KeyUsage::server_auth());
                }
                if info.extended_key_usage.iter().any(|u| u == "clientAuth") {
                    usages.push(KeyUsage::client_auth());
                }
                if usages.is_empty() {
                    VerifyStatus::WrongUsage
                } else {
                    let input = PathInput {
                        path: cert,
                        crl_path: &self.crl_path(),
                        leaf,
                        intermediates,
                        bundle: &bundle,
                        crls: &crls,
                        at,
                    };
                    usages
                        .into_iter()
                        .map(|usage| check_path(&input, usage, &info))
                        .find(|s| !s.is_valid())
                        .unwrap_or(VerifyStatus::Valid)
                }
            }
        };
        Ok(Verification {
            path: cert.to_owned(),
            status,
            spiffe_id: info.spiffe_id,
            serial: info.serial,
            issuer: info.issuer,
            not_after: info.not_after,
        })
    }
}

struct PathInput<'a> {
    path: &'a Path,
    crl_path: &'a Path,
    leaf: &'a rustls_pki_types::CertificateDer<'static>,
    intermediates: &'a [rustls_pki_types::CertificateDer<'static>],
    bundle: &'a [ca::CaCert],
    crls: &'a [CertificateRevocationListDer<'static>],
    at: OffsetDateTime,
}

fn check_path(input: &PathInput<'_>, usage: KeyUsage, info: &crate::CertInfo) -> VerifyStatus {
    let ee = match EndEntityCert::try_from(input.leaf) {
        Ok(ee) => ee,
        Err(e) => {
            return VerifyStatus::Invalid {
                detail: format!("{}: {e}", input.path.display()),
            };
        }
    };
    let mut anchors = Vec::new();
    for ca_cert in input.bundle {
        match webpki::anchor_from_trusted_cert(&ca_cert.der) {
            Ok(anchor) => anchors.push(anchor),
            Err(e) => {
                return VerifyStatus::Invalid {
                    detail: format!("trust bundle CA {}: {e}", ca_cert.id()),
                };
            }
        }
    }
    let mut parsed_crls = Vec::new();
    for der in input.crls {
        match BorrowedCertRevocationList::from_der(der) {
            Ok(crl) => parsed_crls.push(CertRevocationList::from(crl)),
            Err(e) => {
                return VerifyStatus::Invalid {
                    detail: format!("{}: {e}", input.crl_path.display()),
                };
            }
        }
    }
    let crl_refs: Vec<&CertRevocationList<'_>> = parsed_crls.iter().collect();
    let Ok(builder) = RevocationOptionsBuilder::new(&crl_refs) else {
        // No CRL at all: the relay refuses to run like this, so say so.
        return VerifyStatus::RevocationStatusUnknown;
    };
    let revocation = builder
        .with_depth(RevocationCheckDepth::EndEntity)
        .with_status_policy(UnknownStatusPolicy::Deny)
        .build();
    let secs = u64::try_from(input.at.unix_timestamp()).unwrap_or(0);
    let time = UnixTime::since_unix_epoch(std::time::Duration::from_secs(secs));
    let algs = rustls::crypto::ring::default_provider()
        .signature_verification_algorithms
        .all;
    match ee.verify_for_usage(
        algs,
        &anchors,
        input.intermediates,
        time,
        usage,
        Some(revocation),
        None,
    ) {
        Ok(_) => VerifyStatus::Valid,
        Err(webpki::Error::CertExpired { .. }) => VerifyStatus::Expired {
            not_after: info.not_after,
        },
        Err(webpki::Error::CertNotValidYet { .. }) => VerifyStatus::NotYetValid {
            not_before: info.not_before,
        },
        Err(webpki::Error::CertRevoked) => VerifyStatus::Revoked,
        Err(webpki::Error::UnknownIssuer) => VerifyStatus::UnknownIssuer,
        Err(webpki::Error::UnknownRevocationStatus) => VerifyStatus::RevocationStatusUnknown,
        Err(webpki::Error::RequiredEkuNotFoundContext(_)) => VerifyStatus::WrongUsage,
        Err(e) => VerifyStatus::Invalid {
            detail: e.to_string(),
        },
    }
}
