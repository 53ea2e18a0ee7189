//! Revocation: the record in `revoked.toml` and the signed CRLs in `crl.pem`.
//!
//! `crl.pem` holds one CRL per CA in `bundle.pem` whose private key is in
//! the directory (`ca.key` or `ca-<id>.key`), each signed by that CA and
//! listing the revoked serials it issued. A CA whose key is absent gets no
//! CRL; since the relay rejects certificates whose revocation status is
//! unknown (see [`crate::tls`]), its certificates then stop verifying —
//! retire such a CA from the bundle instead.
//!
//! A serial revoked without its certificate (`--serial`) is listed under
//! every CA: serials are 128 random bits, so it cannot collide with another
//! certificate's serial in practice, and the operator need not know which
//! CA issued it.
//!
//! CRLs are valid for [`CRL_VALIDITY_DAYS`]; run `sallyport pki crl` (or
//! [`Pki::refresh_crl`]) from a timer well before `next_update`.

use std::fmt;
use std::path::{Path, PathBuf};

use rcgen::{CertificateRevocationListParams, KeyIdMethod, RevokedCertParams, SerialNumber};
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use crate::ca::{self, Ca, CaCert};
use crate::dir::Pki;
use crate::error::{PkiError, Result};
use crate::files::{self, Existing, PUBLIC_MODE};
use crate::pem;
use crate::serial::Serial;

/// Lifetime of each CRL (`next_update - this_update`).
pub const CRL_VALIDITY_DAYS: i64 = 30;

const RECORD_EXPECTED: &str = "revocation record (revoked.toml)";

/// Why a certificate is revoked (RFC 5280 §5.3.1 reason codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "camelCase")]
#[value(rename_all = "camelCase")]
pub enum RevocationReason {
    /// No reason given (no reason code in the CRL).
    #[default]
    Unspecified,
    /// The private key is known or suspected to be compromised.
    KeyCompromise,
    /// The CA key is known or suspected to be compromised.
    CaCompromise,
    /// The subject's name or affiliation changed.
    AffiliationChanged,
    /// The certificate was replaced by a new one.
    Superseded,
    /// The workload was decommissioned.
    CessationOfOperation,
    /// The subject's privileges were withdrawn.
    PrivilegeWithdrawn,
}

impl RevocationReason {
    fn to_rcgen(self) -> Option<rcgen::RevocationReason> {
        use rcgen::RevocationReason as R;
        match self {
            Self::Unspecified => None,
            Self::KeyCompromise => Some(R::KeyCompromise),
            Self::CaCompromise => Some(R::CaCompromise),
            Self::AffiliationChanged => Some(R::AffiliationChanged),
            Self::Superseded => Some(R::Superseded),
            Self::CessationOfOperation => Some(R::CessationOfOperation),
            Self::PrivilegeWithdrawn => Some(R::PrivilegeWithdrawn),
        }
    }
}

impl fmt::Display for RevocationReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Self::Unspecified => "unspecified",
            Self::KeyCompromise => "keyCompromise",
            Self::CaCompromise => "caCompromise",
            Self::AffiliationChanged => "affiliationChanged",
            Self::Superseded => "superseded",
            Self::CessationOfOperation => "cessationOfOperation",
            Self::PrivilegeWithdrawn => "privilegeWithdrawn",
        };
        f.write_str(name)
    }
}

/// What to revoke.
#[derive(Debug, Clone)]
pub enum RevokeTarget {
    /// A certificate file: its serial is revoked under its issuing CA only.
    Cert(PathBuf),
    /// A bare serial: revoked under every CA (see the module docs).
    Serial(Serial),
}

/// One entry of the revocation record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Revocation {
    /// Serial of the revoked certificate.
    pub serial: Serial,
    /// Subject DN of the issuing CA; `None` means every CA.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// When the revocation was recorded (RFC 3339).
    pub revoked_at: String,
    /// Why.
    pub reason: RevocationReason,
    /// SPIFFE ID or subject of the certificate, for humans.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Record {
    /// Number of the last CRL written (RFC 5280 §5.2.3, increases by one).
    crl_number: u64,
    #[serde(default)]
    revoked: Vec<Revocation>,
}

/// What [`Pki::refresh_crl`] wrote.
#[derive(Debug, Clone)]
pub struct CrlReport {
    /// `crl.pem`.
    pub path: PathBuf,
    /// The CRL number written.
    pub crl_number: u64,
    /// Ids of the CAs that signed a CRL.
    pub signed_by: Vec<String>,
    /// Ids of bundle CAs with no key in the directory (no CRL for them).
    pub skipped: Vec<String>,
    /// When the CRLs must be re-signed.
    pub next_update: OffsetDateTime,
}

/// What [`Pki::revoke`] did.
#[derive(Debug, Clone)]
pub struct RevokeOutcome {
    /// The revocation entry (the existing one if it was already revoked).
    pub revocation: Revocation,
    /// `true` if the serial was already in the record.
    pub already_revoked: bool,
    /// The CRLs rewritten.
    pub crl: CrlReport,
}

/// Writes an empty record (used by `init`).
pub(crate) fn init_record(path: &Path, existing: Existing) -> Result<()> {
    write_record(path, &Record::default(), existing)
}

fn load_record(path: &Path) -> Result<Record> {
    let text = files::read_string(path, RECORD_EXPECTED)?;
    let record: Record = toml::from_str(&text).map_err(|e| bad_record(path, e.to_string()))?;
    for entry in &record.revoked {
        OffsetDateTime::parse(&entry.revoked_at, &Rfc3339)
            .map_err(|e| bad_record(path, format!("revoked_at {:?}: {e}", entry.revoked_at)))?;
    }
    Ok(record)
}

fn write_record(path: &Path, record: &Record, existing: Existing) -> Result<()> {
    let body = toml::to_string(record).map_err(|e| bad_record(path, e.to_string()))?;
    let text = format!(
        "# Revoked certificates. Written by `sallyport pki revoke`; crl.pem is generated from it.\n{body}"
    );
    files::write(path, text.as_bytes(), PUBLIC_MODE, existing)
}

fn bad_record(path: &Path, detail: String) -> PkiError {
    PkiError::BadStateFile {
        path: path.to_owned(),
        expected: RECORD_EXPECTED,
        detail,
    }
}

impl Pki {
    /// Records a revocation in `revoked.toml` and rewrites `crl.pem`.
    /// Revoking an already revoked serial changes nothing but re-signs the CRLs.
    pub fn revoke(&self, target: &RevokeTarget, reason: RevocationReason) -> Result<RevokeOutcome> {
        let now = OffsetDateTime::now_utc();
        let (serial, issuer, subject) = match target {
            RevokeTarget::Serial(serial) => (serial.clone(), None, None),
            RevokeTarget::Cert(path) => {
                let der = pem::read_first_cert(path)?;
                let (_, x509) = ca::parse(&der, path)?;
                let issuer = x509.issuer().to_string();
                let bundle = ca::load_bundle(&self.bundle_path())?;
                if !bundle.iter().any(|ca| ca.subject == issuer) {
                    return Err(PkiError::NotIssuedHere {
                        path: path.clone(),
                        issuer,
                    });
                }
                let subject = crate::inspect::spiffe_ids(&x509)
                    .into_iter()
                    .next()
                    .unwrap_or_else(|| x509.subject().to_string());
                (
                    Serial::from_der_bytes(x509.raw_serial()),
                    Some(issuer),
                    Some(subject),
                )
            }
        };
        let path = self.revoked_path();
        let mut record = load_record(&path)?;
        let existing = record
            .revoked
            .iter()
            .find(|r| r.serial == serial && (r.issuer.is_none() || r.issuer == issuer))
            .cloned();
        let already_revoked = existing.is_some();
        let revocation = match existing {
            Some(entry) => entry,
            None => {
                let entry = Revocation {
                    serial,
                    issuer,
                    revoked_at: now.format(&Rfc3339).unwrap_or_default(),
                    reason,
                    subject,
                };
                record.revoked.push(entry.clone());
                write_record(&path, &record, Existing::Replace)?;
                entry
            }
        };
        let crl = self.refresh_crl_at(now)?;
        Ok(RevokeOutcome {
            revocation,
            already_revoked,
            crl,
        })
    }

    /// The revocation record.
    pub fn revocations(&self) -> Result<Vec<Revocation>> {
        Ok(load_record(&self.revoked_path())?.revoked)
    }

    /// Re-signs `crl.pem` with a new `this_update` and the next CRL number.
    pub fn refresh_crl(&self) -> Result<CrlReport> {
        self.refresh_crl_at(OffsetDateTime::now_utc())
    }

    pub(crate) fn refresh_crl_at(&self, now: OffsetDateTime) -> Result<CrlReport> {
        let record_path = self.revoked_path();
        let mut record = load_record(&record_path)?;
        record.crl_number += 1;
        let next_update = now + Duration::days(CRL_VALIDITY_DAYS);
        let current = self.current_ca()?;
        let mut out = String::new();
        let mut signed_by = Vec::new();
        let mut skipped = Vec::new();
        for ca_cert in ca::load_bundle(&self.bundle_path())? {
            let archived;
            let signer = if ca_cert.der == current.cert_der {
                &current
            } else if let Some(ca) = self.archived_ca(&ca_cert)? {
                archived = ca;
                &archived
            } else {
                skipped.push(ca_cert.id());
                continue;
            };
            let revoked_certs = record
                .revoked
                .iter()
                .filter(|r| r.issuer.as_ref().is_none_or(|i| *i == ca_cert.subject))
                .map(|r| -> Result<RevokedCertParams> {
                    Ok(RevokedCertParams {
                        serial_number: r.serial.to_rcgen(),
                        revocation_time: OffsetDateTime::parse(&r.revoked_at, &Rfc3339)
                            .map_err(|e| bad_record(&record_path, e.to_string()))?,
                        reason_code: r.reason.to_rcgen(),
                        invalidity_date: None,
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            let params = CertificateRevocationListParams {
                this_update: now,
                next_update,
                crl_number: SerialNumber::from_slice(&record.crl_number.to_be_bytes()),
                issuing_distribution_point: None,
                revoked_certs,
                key_identifier_method: KeyIdMethod::Sha256,
            };
            let crl = params
                .signed_by(&signer.issuer()?)
                .map_err(|source| PkiError::Generate {
                    what: "the CRL",
                    source,
                })?;
            out.push_str(&pem::encode("X509 CRL", crl.der()));
            signed_by.push(ca_cert.id());
        }
        let path = self.crl_path();
        files::write(&path, out.as_bytes(), PUBLIC_MODE, Existing::Replace)?;
        write_record(&record_path, &record, Existing::Replace)?;
        Ok(CrlReport {
            path,
            crl_number: record.crl_number,
            signed_by,
            skipped,
            next_update,
        })
    }

    /// An archived CA (`ca-<id>.pem` + `.key`) for a bundle certificate, if
    /// its key is here.
    fn archived_ca(&self, ca_cert: &CaCert) -> Result<Option<Ca>> {
        let (cert_path, key_path) = self.archived_ca_paths(&ca_cert.id());
        if !key_path.exists() {
            return Ok(None);
        }
        let ca = Ca::load(&cert_path, &key_path)?;
        Ok((ca.cert_der == ca_cert.der).then_some(ca))
    }
}
