//! `sallyport-pki`: the certificates and keys that carry every Sallyport
//! identity (DESIGN §3, §10).
//!
//! - [`identity`]: [`TrustDomain`], [`SpiffeId`], [`WorkloadName`].
//! - [`Pki`]: a PKI directory — `init`, `issue_*`, `verify`, `revoke`,
//!   `refresh_crl`, `rotate_ca`, `retire_ca` — and [`inspect()`].
//! - [`tls`]: rustls configurations for the relay ↔ connector QUIC link
//!   (ring provider, TLS 1.3, mutual authentication, CRLs) and
//!   [`tls::spiffe_id_of`].
//! - [`ApiKey`]: static API keys for remote clients.
//! - [`token`]: bearer tokens signed with `token.key` ([`Pki::mint_token`]).
//! - [`cli`]: the `sallyport pki …` commands.
//!
//! Keys are ECDSA P-256 (the bearer-token key is Ed25519), serials are 128
//! random bits, private keys are written mode 0600 at creation, and nothing
//! is overwritten without `force`. Errors are one enum, [`PkiError`], whose
//! messages name the file and what was expected in it.
//!
//! ```no_run
//! # fn main() -> Result<(), sallyport_pki::PkiError> {
//! use sallyport_pki::{Pki, Validity};
//! let pki = Pki::init("pki", "acme.internal".parse()?, false)?;
//! let issued = pki.issue_connector(&"legal-dc1".parse()?, Validity::days(7)?, false)?;
//! assert!(pki.verify(&issued.cert_path)?.status.is_valid());
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod apikey;
mod ca;
pub mod cli;
mod dir;
pub mod error;
mod files;
pub mod identity;
pub mod inspect;
pub mod issue;
mod pem;
pub mod revoke;
pub mod rotate;
pub mod serial;
pub mod tls;
pub mod token;
pub mod verify;

pub use apikey::ApiKey;
pub use ca::CA_VALIDITY_DAYS;
pub use dir::{
    BUNDLE_FILE, CA_CERT_FILE, CA_KEY_FILE, CRL_FILE, INIT_FILES, META_FILE, Pki, REVOKED_FILE,
    TOKEN_KEY_FILE, TOKEN_PUB_FILE,
};
pub use error::PkiError;
pub use identity::{SpiffeId, TrustDomain, WorkloadName};
pub use inspect::{CertInfo, Expiry, inspect, inspect_at};
pub use issue::{Issued, Validity};
pub use revoke::{CrlReport, Revocation, RevocationReason, RevokeOutcome, RevokeTarget};
pub use rotate::{Retirement, Rotation};
pub use serial::Serial;
pub use token::{MintedToken, TokenRequest, Ttl};
pub use verify::{Verification, VerifyStatus};
