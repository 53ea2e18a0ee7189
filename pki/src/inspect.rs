//! Inspecting a certificate file: [`inspect`] → [`CertInfo`], with a human
//! report as its `Display`.
//!
//! The report ends with a `WARNING` line when the certificate is close to
//! expiry — fewer than 20% of its lifetime left, or fewer than 7 days left
//! for a certificate living longer than 14 days (short-lived connector
//! certificates are meant to be renewed continuously, so only the 20% rule
//! applies to them) — and with `EXPIRED` / `NOT YET VALID` outside its
//! validity window. Inspection does not check the signature or revocation;
//! that is [`crate::Pki::verify`].

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use ring::digest;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;

use crate::ca;
use crate::error::Result;
use crate::identity::SpiffeId;
use crate::pem;
use crate::serial::Serial;

/// Where a certificate stands relative to its validity window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// Within its window, with enough time left.
    Valid,
    /// Within its window, close to the end (see module docs).
    ExpiringSoon,
    /// Past `not_after`.
    Expired,
    /// Before `not_before`.
    NotYetValid,
}

/// What a certificate says about itself.
#[derive(Debug, Clone)]
pub struct CertInfo {
    /// The file inspected.
    pub path: PathBuf,
    /// Number of certificates in the file (the first is described).
    pub certs_in_file: usize,
    /// Subject DN.
    pub subject: String,
    /// Issuer DN.
    pub issuer: String,
    /// Serial number.
    pub serial: Serial,
    /// Start of validity.
    pub not_before: OffsetDateTime,
    /// End of validity.
    pub not_after: OffsetDateTime,
    /// Whole days from the inspection time to `not_after` (negative once expired).
    pub days_left: i64,
    /// Expiry status at the inspection time.
    pub expiry: Expiry,
    /// DNS SANs.
    pub dns_names: Vec<String>,
    /// IP SANs.
    pub ip_addrs: Vec<IpAddr>,
    /// URI SANs (including the SPIFFE ID).
    pub uris: Vec<String>,
    /// The SPIFFE ID, if exactly one valid `spiffe://` URI SAN is present.
    pub spiffe_id: Option<SpiffeId>,
    /// Basic constraints CA flag.
    pub is_ca: bool,
    /// Key usage names (RFC 5280 spelling).
    pub key_usage: Vec<&'static str>,
    /// Extended key usage names.
    pub extended_key_usage: Vec<String>,
    /// SHA-256 of the DER, uppercase hex with `:` (as `openssl x509 -fingerprint -sha256`).
    pub sha256_fingerprint: String,
}

/// Inspects the first certificate of a PEM file, as of now.
pub fn inspect(path: &Path) -> Result<CertInfo> {
    inspect_at(path, OffsetDateTime::now_utc())
}

/// Inspects the first certificate of a PEM file, as of `now`.
pub fn inspect_at(path: &Path, now: OffsetDateTime) -> Result<CertInfo> {
    let certs = pem::read_certs(path)?;
    let der = &certs[0]; // read_certs never returns an empty vector
    let (_, x509) = ca::parse(der, path)?;
    let not_before = x509.validity().not_before.to_datetime();
    let not_after = x509.validity().not_after.to_datetime();
    let (mut dns_names, mut ip_addrs, mut uris) = (Vec::new(), Vec::new(), Vec::new());
    if let Ok(Some(san)) = x509.subject_alternative_name() {
        for name in &san.value.general_names {
            match name {
                GeneralName::DNSName(d) => dns_names.push((*d).to_owned()),
                GeneralName::URI(u) => uris.push((*u).to_owned()),
                GeneralName::IPAddress(bytes) => ip_addrs.extend(ip_from_bytes(bytes)),
                _ => {}
            }
        }
    }
    let ids = spiffe_ids(&x509);
    let spiffe_id = match ids.as_slice() {
        [one] => one.parse().ok(),
        _ => None,
    };
    let fingerprint = digest::digest(&digest::SHA256, der)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":");
    Ok(CertInfo {
        path: path.to_owned(),
        certs_in_file: certs.len(),
        subject: x509.subject().to_string(),
        issuer: x509.issuer().to_string(),
        serial: Serial::from_der_bytes(x509.raw_serial()),
        not_before,
        not_after,
        days_left: (not_after - now).whole_days(),
        expiry: expiry(now, not_before, not_after),
        dns_names,
        ip_addrs,
        uris,
        spiffe_id,
        is_ca: x509.is_ca(),
        key_usage: key_usage(&x509),
        extended_key_usage: extended_key_usage(&x509),
        sha256_fingerprint: fingerprint,
    })
}

/// The expiry rule described in the module docs.
pub(crate) fn expiry(
    now: OffsetDateTime,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
) -> Expiry {
    if now > not_after {
        return Expiry::Expired;
    }
    if now < not_before {
        return Expiry::NotYetValid;
    }
    let lifetime = not_after - not_before;
    let left = not_after - now;
    if left * 5 < lifetime || (left < Duration::days(7) && lifetime > Duration::days(14)) {
        Expiry::ExpiringSoon
    } else {
        Expiry::Valid
    }
}

/// Every URI SAN starting with `spiffe://`, valid or not.
pub(crate) fn spiffe_ids(x509: &X509Certificate<'_>) -> Vec<String> {
    let Ok(Some(san)) = x509.subject_alternative_name() else {
        return Vec::new();
    };
    san.value
        .general_names
        .iter()
        .filter_map(|n| match n {
            GeneralName::URI(u) if u.starts_with("spiffe://") => Some((*u).to_owned()),
            _ => None,
        })
        .collect()
}

fn ip_from_bytes(bytes: &[u8]) -> Option<IpAddr> {
    match bytes.len() {
        4 => <[u8; 4]>::try_from(bytes).ok().map(IpAddr::from),
        16 => <[u8; 16]>::try_from(bytes).ok().map(IpAddr::from),
        _ => None,
    }
}

fn key_usage(x509: &X509Certificate<'_>) -> Vec<&'static str> {
    let Ok(Some(ku)) = x509.key_usage() else {
        return Vec::new();
    };
    let ku = ku.value;
    [
        (ku.digital_signature(), "digitalSignature"),
        (ku.non_repudiation(), "nonRepudiation"),
        (ku.key_encipherment(), "keyEncipherment"),
        (ku.data_encipherment(), "dataEncipherment"),
        (ku.key_agreement(), "keyAgreement"),
        (ku.key_cert_sign(), "keyCertSign"),
        (ku.crl_sign(), "cRLSign"),
        (ku.encipher_only(), "encipherOnly"),
        (ku.decipher_only(), "decipherOnly"),
    ]
    .into_iter()
    .filter_map(|(set, name)| set.then_some(name))
    .collect()
}

fn extended_key_usage(x509: &X509Certificate<'_>) -> Vec<String> {
    let Ok(Some(eku)) = x509.extended_key_usage() else {
        return Vec::new();
    };
    let eku = eku.value;
    let mut out: Vec<String> = [
        (eku.any, "any"),
        (eku.server_auth, "serverAuth"),
        (eku.client_auth, "clientAuth"),
        (eku.code_signing, "codeSigning"),
        (eku.email_protection, "emailProtection"),
        (eku.time_stamping, "timeStamping"),
        (eku.ocsp_signing, "OCSPSigning"),
    ]
    .into_iter()
    .filter(|(set, _)| *set)
    .map(|(_, name)| name.to_owned())
    .collect();
    out.extend(eku.other.iter().map(|oid| oid.to_id_string()));
    out
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_else(|_| t.to_string())
}

fn list<T: fmt::Display>(items: &[T]) -> String {
    if items.is_empty() {
        "-".to_owned()
    } else {
        items
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl fmt::Display for CertInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Certificate:     {}", self.path.display())?;
        if self.certs_in_file > 1 {
            writeln!(
                f,
                "                 (first of {} certificates in the file)",
                self.certs_in_file
            )?;
        }
        writeln!(f, "Subject:         {}", self.subject)?;
        writeln!(f, "Issuer:          {}", self.issuer)?;
        writeln!(f, "Serial:          {}", self.serial)?;
        let spiffe = self
            .spiffe_id
            .as_ref()
            .map_or("-".to_owned(), ToString::to_string);
        writeln!(f, "SPIFFE ID:       {spiffe}")?;
        writeln!(f, "Not before:      {}", rfc3339(self.not_before))?;
        writeln!(
            f,
            "Not after:       {} ({} days left)",
            rfc3339(self.not_after),
            self.days_left
        )?;
        writeln!(f, "DNS names:       {}", list(&self.dns_names))?;
        writeln!(f, "IP addresses:    {}", list(&self.ip_addrs))?;
        writeln!(f, "URIs:            {}", list(&self.uris))?;
        writeln!(
            f,
            "CA:              {}",
            if self.is_ca { "yes" } else { "no" }
        )?;
        writeln!(f, "Key usage:       {}", list(&self.key_usage))?;
        writeln!(f, "Ext. key usage:  {}", list(&self.extended_key_usage))?;
        writeln!(f, "SHA-256:         {}", self.sha256_fingerprint)?;
        match self.expiry {
            Expiry::Valid => Ok(()),
            Expiry::ExpiringSoon => writeln!(
                f,
                "WARNING: expires in {} days ({}); renew it now",
                self.days_left,
                rfc3339(self.not_after)
            ),
            Expiry::Expired => writeln!(f, "EXPIRED since {}", rfc3339(self.not_after)),
            Expiry::NotYetValid => {
                writeln!(f, "NOT YET VALID: valid from {}", rfc3339(self.not_before))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_rule() {
        let t0 = OffsetDateTime::UNIX_EPOCH + Duration::days(20_000);
        let day = Duration::days(1);
        // 7-day certificate: only the 20% rule applies.
        assert_eq!(expiry(t0 + day, t0, t0 + 7 * day), Expiry::Valid);
        assert_eq!(expiry(t0 + 5 * day, t0, t0 + 7 * day), Expiry::Valid);
        assert_eq!(expiry(t0 + 6 * day, t0, t0 + 7 * day), Expiry::ExpiringSoon);
        // 30-day certificate: warned 7 days before the end (23% left).
        assert_eq!(expiry(t0 + 22 * day, t0, t0 + 30 * day), Expiry::Valid);
        assert_eq!(
            expiry(t0 + 24 * day, t0, t0 + 30 * day),
            Expiry::ExpiringSoon
        );
        // 10-year CA: warned two years ahead.
        assert_eq!(expiry(t0 + 2920 * day, t0, t0 + 3650 * day), Expiry::Valid);
        assert_eq!(
            expiry(t0 + 2930 * day, t0, t0 + 3650 * day),
            Expiry::ExpiringSoon
        );
        assert_eq!(expiry(t0 + 8 * day, t0, t0 + 7 * day), Expiry::Expired);
        assert_eq!(expiry(t0 - day, t0, t0 + 7 * day), Expiry::NotYetValid);
    }
}
