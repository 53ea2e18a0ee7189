//! CA rotation with overlap, and retiring an old CA from the trust bundle.
//!
//! `rotate_ca` archives the current CA as `ca-<id>.pem` / `ca-<id>.key`
//! (kept so its CRL can still be signed), writes a new `ca.pem` / `ca.key`,
//! and puts the new CA first in `bundle.pem`, followed by every CA already
//! trusted. Certificates from either CA verify until the old one is retired;
//! new certificates come from the new CA. Distribute the new `bundle.pem`
//! to every relay and connector, re-issue the leaves, then `retire` the old
//! CA (its archived files stay on disk until you delete them).

use std::path::PathBuf;

use time::OffsetDateTime;

use crate::ca::{self, Ca, CaCert};
use crate::dir::{CA_KEY_FILE, Pki};
use crate::error::{PkiError, Result};
use crate::files::{self, Existing, PUBLIC_MODE, SECRET_MODE};
use crate::pem;
use crate::revoke::CrlReport;

/// What [`Pki::rotate_ca`] did.
#[derive(Debug, Clone)]
pub struct Rotation {
    /// Id of the new current CA.
    pub new_ca_id: String,
    /// Id of the CA that was replaced.
    pub old_ca_id: String,
    /// Where the old CA certificate was archived.
    pub archived_cert: PathBuf,
    /// Where the old CA key was archived (mode 0600).
    pub archived_key: PathBuf,
    /// Ids of the CAs now in `bundle.pem`, newest first.
    pub bundle_ids: Vec<String>,
    /// The CRLs rewritten.
    pub crl: CrlReport,
}

/// What [`Pki::retire_ca`] did.
#[derive(Debug, Clone)]
pub struct Retirement {
    /// Id of the CA removed from the bundle.
    pub retired_id: String,
    /// Ids of the CAs still in `bundle.pem`.
    pub bundle_ids: Vec<String>,
    /// The CRLs rewritten.
    pub crl: CrlReport,
}

impl Pki {
    /// Replaces the issuing CA, keeping the old one trusted (see module docs).
    pub fn rotate_ca(&self) -> Result<Rotation> {
        let now = OffsetDateTime::now_utc();
        let old = self.current_ca()?;
        let old_desc = old.describe(&self.ca_cert_path())?;
        let old_id = old_desc.id();
        let (archived_cert, archived_key) = self.archived_ca_paths(&old_id);
        files::ensure_writable(&[&archived_cert, &archived_key], Existing::Refuse)?;
        files::write(
            &archived_key,
            old.key.serialize_pem().as_bytes(),
            SECRET_MODE,
            Existing::Refuse,
        )?;
        files::write(
            &archived_cert,
            old.cert_pem.as_bytes(),
            PUBLIC_MODE,
            Existing::Refuse,
        )?;

        let new = Ca::generate(self.trust_domain(), now)?;
        let new_desc = new.describe(&self.ca_cert_path())?;
        files::write(
            &self.path(CA_KEY_FILE),
            new.key.serialize_pem().as_bytes(),
            SECRET_MODE,
            Existing::Replace,
        )?;
        files::write(
            &self.ca_cert_path(),
            new.cert_pem.as_bytes(),
            PUBLIC_MODE,
            Existing::Replace,
        )?;

        let mut bundle = vec![new_desc.clone(), old_desc];
        for ca_cert in ca::load_bundle(&self.bundle_path())? {
            if !bundle.iter().any(|c| c.der == ca_cert.der) {
                bundle.push(ca_cert);
            }
        }
        let bundle_ids = self.write_bundle(&bundle)?;
        let crl = self.refresh_crl_at(now)?;
        Ok(Rotation {
            new_ca_id: new_desc.id(),
            old_ca_id: old_id,
            archived_cert,
            archived_key,
            bundle_ids,
            crl,
        })
    }

    /// Removes the CA with id `id` (as printed by `inspect`/`rotate`, the
    /// first 16 hex digits of its serial) from `bundle.pem` and rewrites
    /// `crl.pem`. Certificates it issued stop verifying once relays and
    /// connectors load the new bundle. The current CA cannot be retired.
    pub fn retire_ca(&self, id: &str) -> Result<Retirement> {
        let id = id.trim().to_lowercase();
        let current = self.current_ca()?.describe(&self.ca_cert_path())?;
        if current.id() == id {
            return Err(PkiError::CannotRetireCurrentCa {
                path: self.ca_cert_path(),
                id,
            });
        }
        let mut bundle = ca::load_bundle(&self.bundle_path())?;
        let before = bundle.len();
        bundle.retain(|c| c.id() != id);
        if bundle.len() == before {
            return Err(PkiError::UnknownCa {
                bundle: self.bundle_path(),
                id,
            });
        }
        let bundle_ids = self.write_bundle(&bundle)?;
        let crl = self.refresh_crl()?;
        Ok(Retirement {
            retired_id: id,
            bundle_ids,
            crl,
        })
    }

    fn write_bundle(&self, cas: &[CaCert]) -> Result<Vec<String>> {
        let text: String = cas
            .iter()
            .map(|c| pem::encode("CERTIFICATE", &c.der))
            .collect();
        files::write(
            &self.bundle_path(),
            text.as_bytes(),
            PUBLIC_MODE,
            Existing::Replace,
        )?;
        Ok(cas.iter().map(CaCert::id).collect())
    }
}
