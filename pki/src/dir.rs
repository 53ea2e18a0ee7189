//! The PKI directory: [`Pki`], its file layout, `init` and `open`.
//!
//! Layout (DESIGN §10), all in one directory (created `0700` by `init`):
//!
//! | file | mode | content |
//! |---|---|---|
//! | `pki.toml` | 0644 | metadata: the trust domain |
//! | `ca.pem` / `ca.key` | 0644 / 0600 | the current issuing CA (ECDSA P-256, ~10 years) |
//! | `ca-<id>.pem` / `ca-<id>.key` | 0644 / 0600 | CAs replaced by `ca rotate`, kept to sign their CRL |
//! | `bundle.pem` | 0644 | trust bundle: every CA certificate currently trusted |
//! | `crl.pem` | 0644 | one CRL per bundle CA whose key is here |
//! | `revoked.toml` | 0644 | revocation record and CRL number |
//! | `token.key` / `token.pub` | 0600 / 0644 | Ed25519 bearer-token signing key (PKCS#8 / SPKI PEM) |
//! | `relay.*`, `connector-<name>.*`, `client-<name>.*` | 0644 / 0600 | issued certificates and keys |

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::ca::{self, Ca};
use crate::error::{PkiError, Result};
use crate::files::{self, Existing, PUBLIC_MODE, SECRET_MODE};
use crate::identity::TrustDomain;
use crate::revoke;

/// Metadata file name.
pub const META_FILE: &str = "pki.toml";
/// Current CA certificate file name.
pub const CA_CERT_FILE: &str = "ca.pem";
/// Current CA private key file name.
pub const CA_KEY_FILE: &str = "ca.key";
/// Trust bundle file name.
pub const BUNDLE_FILE: &str = "bundle.pem";
/// CRL file name.
pub const CRL_FILE: &str = "crl.pem";
/// Revocation record file name.
pub const REVOKED_FILE: &str = "revoked.toml";
/// Token signing private key file name.
pub const TOKEN_KEY_FILE: &str = "token.key";
/// Token verification public key file name.
pub const TOKEN_PUB_FILE: &str = "token.pub";

/// Every file `init` writes, in the order it writes them.
pub const INIT_FILES: [&str; 8] = [
    CA_KEY_FILE,
    CA_CERT_FILE,
    BUNDLE_FILE,
    TOKEN_KEY_FILE,
    TOKEN_PUB_FILE,
    REVOKED_FILE,
    CRL_FILE,
    META_FILE,
];

const META_EXPECTED: &str = "PKI metadata (pki.toml, written by `sallyport pki init`)";

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Meta {
    trust_domain: TrustDomain,
    created: String,
}

/// A handle on an initialised PKI directory.
#[derive(Debug, Clone)]
pub struct Pki {
    dir: PathBuf,
    trust_domain: TrustDomain,
}

impl Pki {
    /// Creates a new PKI in `dir` (created `0700` if missing): a self-signed
    /// CA, the trust bundle, an empty signed CRL, the token key pair and the
    /// metadata. Without `force`, fails before writing anything if any of
    /// [`INIT_FILES`] exists; with `force`, replaces them (a new CA: every
    /// certificate issued before no longer verifies).
    pub fn init(dir: impl Into<PathBuf>, trust_domain: TrustDomain, force: bool) -> Result<Self> {
        let dir = dir.into();
        let existing = Existing::from_force(force);
        files::create_dir(&dir)?;
        let pki = Self { dir, trust_domain };
        let targets: Vec<PathBuf> = INIT_FILES.iter().map(|f| pki.path(f)).collect();
        let target_refs: Vec<&Path> = targets.iter().map(PathBuf::as_path).collect();
        files::ensure_writable(&target_refs, existing)?;

        let now = OffsetDateTime::now_utc();
        let ca = Ca::generate(&pki.trust_domain, now)?;
        files::write(
            &pki.path(CA_KEY_FILE),
            ca.key.serialize_pem().as_bytes(),
            SECRET_MODE,
            existing,
        )?;
        files::write(
            &pki.ca_cert_path(),
            ca.cert_pem.as_bytes(),
            PUBLIC_MODE,
            existing,
        )?;
        files::write(
            &pki.bundle_path(),
            ca.cert_pem.as_bytes(),
            PUBLIC_MODE,
            existing,
        )?;

        let token = ca::generate_ed25519()?;
        files::write(
            &pki.path(TOKEN_KEY_FILE),
            token.serialize_pem().as_bytes(),
            SECRET_MODE,
            existing,
        )?;
        files::write(
            &pki.path(TOKEN_PUB_FILE),
            token.public_key_pem().as_bytes(),
            PUBLIC_MODE,
            existing,
        )?;

        revoke::init_record(&pki.path(REVOKED_FILE), existing)?;
        // crl.pem is (re)written atomically; its absence was checked above.
        pki.refresh_crl_at(now)?;

        let meta = Meta {
            trust_domain: pki.trust_domain.clone(),
            created: now.format(&Rfc3339).unwrap_or_default(),
        };
        let text = format!(
            "# Sallyport PKI directory, written by `sallyport pki init`.\n{}",
            toml::to_string(&meta).map_err(|e| PkiError::BadStateFile {
                path: pki.path(META_FILE),
                expected: META_EXPECTED,
                detail: e.to_string(),
            })?
        );
        files::write(&pki.path(META_FILE), text.as_bytes(), PUBLIC_MODE, existing)?;
        Ok(pki)
    }

    /// Opens an initialised PKI directory (reads `pki.toml`).
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self> {
        let dir = dir.into();
        let meta_path = dir.join(META_FILE);
        let text = files::read_string(&meta_path, META_EXPECTED)?;
        let meta: Meta = toml::from_str(&text).map_err(|e| PkiError::BadStateFile {
            path: meta_path.clone(),
            expected: META_EXPECTED,
            detail: e.to_string(),
        })?;
        Ok(Self {
            dir,
            trust_domain: meta.trust_domain,
        })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The trust domain of every SPIFFE ID issued here.
    pub fn trust_domain(&self) -> &TrustDomain {
        &self.trust_domain
    }

    /// `dir/name`.
    pub fn path(&self, name: impl AsRef<Path>) -> PathBuf {
        self.dir.join(name)
    }

    /// `dir/ca.pem`.
    pub fn ca_cert_path(&self) -> PathBuf {
        self.path(CA_CERT_FILE)
    }

    /// `dir/bundle.pem`.
    pub fn bundle_path(&self) -> PathBuf {
        self.path(BUNDLE_FILE)
    }

    /// `dir/crl.pem`.
    pub fn crl_path(&self) -> PathBuf {
        self.path(CRL_FILE)
    }

    /// `dir/revoked.toml`.
    pub fn revoked_path(&self) -> PathBuf {
        self.path(REVOKED_FILE)
    }

    /// `dir/token.pub`.
    pub fn token_pub_path(&self) -> PathBuf {
        self.path(TOKEN_PUB_FILE)
    }

    /// `dir/token.key`.
    pub fn token_key_path(&self) -> PathBuf {
        self.path(TOKEN_KEY_FILE)
    }

    /// Certificate and key file of an archived CA: `ca-<id>.pem`, `ca-<id>.key`.
    pub(crate) fn archived_ca_paths(&self, id: &str) -> (PathBuf, PathBuf) {
        (
            self.path(format!("ca-{id}.pem")),
            self.path(format!("ca-{id}.key")),
        )
    }

    /// Loads the current issuing CA (`ca.pem` + `ca.key`).
    pub(crate) fn current_ca(&self) -> Result<Ca> {
        Ca::load(&self.ca_cert_path(), &self.path(CA_KEY_FILE))
    }
}
