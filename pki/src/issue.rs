//! Issuing end-entity certificates: relay, connector and client.
//!
//! Every leaf gets a fresh ECDSA P-256 key, a random 128-bit serial,
//! `CA:FALSE`, key usage `digitalSignature`, one extended key usage and a
//! SPIFFE URI SAN, and is signed by the current CA (`ca.pem`). The PEM
//! written holds the leaf only; peers find the CA in `bundle.pem`.

use std::net::IpAddr;
use std::path::PathBuf;

use rcgen::{
    CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, KeyUsagePurpose,
    SanType,
};
use time::{Duration, OffsetDateTime};

use crate::ca::{self, BACKDATE};
use crate::dir::Pki;
use crate::error::{PkiError, Result};
use crate::files::{self, Existing, PUBLIC_MODE, SECRET_MODE};
use crate::identity::{SpiffeId, WorkloadName};
use crate::serial::Serial;

/// Default lifetime of a relay certificate, in days.
pub const RELAY_DEFAULT_DAYS: u32 = 30;
/// Default lifetime of a connector certificate, in days.
pub const CONNECTOR_DEFAULT_DAYS: u32 = 7;
/// Default lifetime of a client certificate, in days.
pub const CLIENT_DEFAULT_DAYS: u32 = 7;
/// Longest lifetime accepted for a leaf certificate, in days.
pub const MAX_LEAF_DAYS: u32 = 825;

/// The validity window of a certificate to issue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validity {
    /// Start of validity.
    pub not_before: OffsetDateTime,
    /// End of validity.
    pub not_after: OffsetDateTime,
}

impl Validity {
    /// `days` days from now (1..=[`MAX_LEAF_DAYS`]); `not_before` is set 5
    /// minutes in the past to tolerate clock skew.
    pub fn days(days: u32) -> Result<Self> {
        Self::days_from(OffsetDateTime::now_utc(), days)
    }

    /// `days` days from `now`.
    pub fn days_from(now: OffsetDateTime, days: u32) -> Result<Self> {
        if days == 0 || days > MAX_LEAF_DAYS {
            return Err(PkiError::BadValidity {
                reason: format!("{days} days: expected 1 to {MAX_LEAF_DAYS} days"),
            });
        }
        Ok(Self {
            not_before: now - BACKDATE,
            not_after: now + Duration::days(i64::from(days)),
        })
    }

    /// An explicit window, which may lie in the past or the future (tests
    /// use it to make expired or not-yet-valid certificates).
    pub fn between(not_before: OffsetDateTime, not_after: OffsetDateTime) -> Result<Self> {
        if not_after <= not_before {
            return Err(PkiError::BadValidity {
                reason: format!("not_after {not_after} is not after not_before {not_before}"),
            });
        }
        Ok(Self {
            not_before,
            not_after,
        })
    }
}

/// What an issue command wrote.
#[derive(Debug, Clone)]
pub struct Issued {
    /// The certificate file (leaf only, PEM, mode 0644).
    pub cert_path: PathBuf,
    /// The private key file (PKCS#8 PEM, mode 0600).
    pub key_path: PathBuf,
    /// The SPIFFE ID in the URI SAN.
    pub spiffe_id: SpiffeId,
    /// The serial number.
    pub serial: Serial,
    /// End of validity.
    pub not_after: OffsetDateTime,
}

enum Role {
    Relay,
    Connector,
    Client,
}

impl Pki {
    /// Issues `relay.pem` / `relay.key`: server-auth EKU, DNS and IP SANs
    /// and the URI SAN `spiffe://<td>/relay`. At least one DNS name or IP
    /// address is required; DNS names are lowercased.
    pub fn issue_relay(
        &self,
        dns_names: &[String],
        ips: &[IpAddr],
        validity: Validity,
        force: bool,
    ) -> Result<Issued> {
        if dns_names.is_empty() && ips.is_empty() {
            return Err(PkiError::BadSubjectAltName {
                input: String::new(),
                reason: "a relay certificate needs at least one --dns name or --ip address".into(),
            });
        }
        let mut sans = Vec::new();
        for name in dns_names {
            sans.push(SanType::DnsName(dns_name(name)?));
        }
        sans.extend(ips.iter().copied().map(SanType::IpAddress));
        let cn = dns_names
            .first()
            .map_or_else(|| "sallyport relay".to_owned(), |d| d.to_lowercase());
        let id = SpiffeId::relay(self.trust_domain());
        self.issue(Role::Relay, "relay", &cn, id, sans, validity, force)
    }

    /// Issues `connector-<name>.pem` / `.key`: client-auth EKU, URI SAN
    /// `spiffe://<td>/connector/<name>`.
    pub fn issue_connector(
        &self,
        name: &WorkloadName,
        validity: Validity,
        force: bool,
    ) -> Result<Issued> {
        let id = SpiffeId::connector(self.trust_domain(), name);
        let stem = format!("connector-{name}");
        let cn = format!("connector {name}");
        self.issue(Role::Connector, &stem, &cn, id, Vec::new(), validity, force)
    }

    /// Issues `client-<name>.pem` / `.key`: client-auth EKU, URI SAN
    /// `spiffe://<td>/client/<name>`.
    pub fn issue_client(
        &self,
        name: &WorkloadName,
        validity: Validity,
        force: bool,
    ) -> Result<Issued> {
        let id = SpiffeId::client(self.trust_domain(), name);
        let stem = format!("client-{name}");
        let cn = format!("client {name}");
        self.issue(Role::Client, &stem, &cn, id, Vec::new(), validity, force)
    }

    #[allow(
        clippy::too_many_arguments,
        reason = "private helper shared by three public fns"
    )]
    fn issue(
        &self,
        role: Role,
        stem: &str,
        cn: &str,
        spiffe_id: SpiffeId,
        mut sans: Vec<SanType>,
        validity: Validity,
        force: bool,
    ) -> Result<Issued> {
        let cert_path = self.path(format!("{stem}.pem"));
        let key_path = self.path(format!("{stem}.key"));
        let existing = Existing::from_force(force);
        files::ensure_writable(&[&cert_path, &key_path], existing)?;

        let ca = self.current_ca()?;
        let ca_not_after = {
            let (_, x509) = ca::parse(&ca.cert_der, &self.ca_cert_path())?;
            x509.validity().not_after.to_datetime()
        };
        if validity.not_after > ca_not_after {
            return Err(PkiError::BadValidity {
                reason: format!(
                    "not_after {} is later than the CA's not_after {ca_not_after} ({})",
                    validity.not_after,
                    self.ca_cert_path().display()
                ),
            });
        }

        let uri = rcgen::string::Ia5String::try_from(spiffe_id.to_string()).map_err(|e| {
            PkiError::BadSubjectAltName {
                input: spiffe_id.to_string(),
                reason: e.to_string(),
            }
        })?;
        sans.insert(0, SanType::URI(uri));

        let serial = Serial::random()?;
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, cn);
        params
            .distinguished_name
            .push(DnType::OrganizationName, "Sallyport");
        params.serial_number = Some(serial.to_rcgen());
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![match role {
            Role::Relay => ExtendedKeyUsagePurpose::ServerAuth,
            Role::Connector | Role::Client => ExtendedKeyUsagePurpose::ClientAuth,
        }];
        params.subject_alt_names = sans;
        params.use_authority_key_identifier_extension = true;
        params.not_before = validity.not_before;
        params.not_after = validity.not_after;

        let key = ca::generate_p256()?;
        let cert = params
            .signed_by(&key, &ca.issuer()?)
            .map_err(|source| PkiError::Generate {
                what: "the certificate",
                source,
            })?;
        files::write(
            &key_path,
            key.serialize_pem().as_bytes(),
            SECRET_MODE,
            existing,
        )?;
        files::write(&cert_path, cert.pem().as_bytes(), PUBLIC_MODE, existing)?;
        Ok(Issued {
            cert_path,
            key_path,
            spiffe_id,
            serial,
            not_after: validity.not_after,
        })
    }
}

/// Validates a DNS SAN with the same rules rustls uses to match server names.
fn dns_name(input: &str) -> Result<rcgen::string::Ia5String> {
    let lower = input.to_lowercase();
    let bad = |reason: String| PkiError::BadSubjectAltName {
        input: input.to_owned(),
        reason,
    };
    if lower.parse::<IpAddr>().is_ok() {
        return Err(bad("an IP address; pass it with --ip".into()));
    }
    rustls_pki_types::DnsName::try_from(lower.as_str())
        .map_err(|_| bad("not a valid DNS name".into()))?;
    rcgen::string::Ia5String::try_from(lower).map_err(|e| bad(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validity_rules() {
        let now = OffsetDateTime::now_utc();
        assert!(Validity::days_from(now, 0).is_err());
        assert!(Validity::days_from(now, MAX_LEAF_DAYS + 1).is_err());
        let v = Validity::days_from(now, 7).expect("valid");
        assert_eq!(v.not_after - now, Duration::days(7));
        assert!(v.not_before < now);
        assert!(Validity::between(now, now).is_err());
        assert!(Validity::between(now - Duration::days(2), now - Duration::days(1)).is_ok());
    }

    #[test]
    fn dns_names() {
        assert_eq!(
            dns_name("Relay.ACME.com").expect("valid").as_str(),
            "relay.acme.com"
        );
        for bad in ["", "127.0.0.1", "a b", "relay..acme", "-x.com"] {
            assert!(dns_name(bad).is_err(), "{bad}");
        }
    }
}
