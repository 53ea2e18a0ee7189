//! The crate's single error type, [`PkiError`].
//!
//! Every variant that concerns a file names the path and what was expected
//! there, so an operator can act on the message without reading code.

use std::io;
use std::path::PathBuf;

use crate::verify::VerifyStatus;

/// Everything that can go wrong in `sallyport-pki`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PkiError {
    /// A file the operation needs does not exist.
    #[error("{path}: file not found (expected {expected})")]
    MissingFile {
        /// The missing file.
        path: PathBuf,
        /// What the file should have held.
        expected: &'static str,
    },

    /// A file exists but could not be read.
    #[error("{path}: cannot read {expected}")]
    UnreadableFile {
        /// The file.
        path: PathBuf,
        /// What the file should have held.
        expected: &'static str,
        /// The I/O error.
        #[source]
        source: io::Error,
    },

    /// A file or directory could not be written.
    #[error("{path}: cannot write")]
    WriteFailed {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },

    /// The target file exists and `force` was not given.
    #[error("{path}: already exists; refusing to overwrite it (use --force to replace it)")]
    AlreadyExists {
        /// The existing file.
        path: PathBuf,
    },

    /// The file holds no PEM section at all.
    #[error("{path}: not a PEM file (expected {expected})")]
    NotPem {
        /// The file.
        path: PathBuf,
        /// The PEM section(s) expected, e.g. `CERTIFICATE`.
        expected: &'static str,
    },

    /// The file holds PEM, but of another type than expected.
    #[error("{path}: wrong PEM type: found {found}, expected {expected}")]
    WrongPemType {
        /// The file.
        path: PathBuf,
        /// The PEM section(s) expected.
        expected: &'static str,
        /// The PEM section label(s) found instead.
        found: String,
    },

    /// The PEM text itself is malformed (bad base64, missing END line...).
    #[error("{path}: malformed PEM (expected {expected}): {detail}")]
    BadPem {
        /// The file.
        path: PathBuf,
        /// The PEM section(s) expected.
        expected: &'static str,
        /// What the PEM parser reported.
        detail: String,
    },

    /// A `CERTIFICATE` section does not hold a parseable X.509 certificate.
    #[error("{path}: not a valid X.509 certificate: {detail}")]
    NotACertificate {
        /// The file (or a description of where the bytes came from).
        path: PathBuf,
        /// What the parser reported.
        detail: String,
    },

    /// A key section does not hold a usable private key.
    #[error("{path}: not a usable private key (expected PKCS#8 ECDSA P-256 or Ed25519): {detail}")]
    NotAKey {
        /// The file.
        path: PathBuf,
        /// What the parser reported.
        detail: String,
    },

    /// An `X509 CRL` section does not hold a parseable CRL.
    #[error("{path}: not a valid X.509 CRL: {detail}")]
    NotACrl {
        /// The file.
        path: PathBuf,
        /// What the parser reported.
        detail: String,
    },

    /// A private key does not belong to the certificate it is paired with.
    #[error("{key}: this key does not match the certificate {cert}")]
    KeyMismatch {
        /// The certificate.
        cert: PathBuf,
        /// The key.
        key: PathBuf,
    },

    /// A trust bundle holds no CA certificate.
    #[error(
        "{path}: trust bundle holds no CA certificate (expected one or more CERTIFICATE sections)"
    )]
    EmptyTrustBundle {
        /// The bundle file.
        path: PathBuf,
    },

    /// A certificate carries no `spiffe://` URI SAN.
    #[error("{cert}: no SPIFFE ID (expected one URI SAN spiffe://<trust-domain>/<path>)")]
    NoSpiffeId {
        /// The certificate (path or subject).
        cert: String,
    },

    /// A certificate carries more than one `spiffe://` URI SAN.
    #[error("{cert}: several SPIFFE IDs ({ids}); expected exactly one")]
    SeveralSpiffeIds {
        /// The certificate (path or subject).
        cert: String,
        /// The IDs found, comma separated.
        ids: String,
    },

    /// A trust domain is malformed.
    #[error(
        "bad trust domain {input:?}: {reason} (expected a lowercase DNS-like name such as acme.internal)"
    )]
    BadTrustDomain {
        /// The rejected input.
        input: String,
        /// Why it was rejected.
        reason: &'static str,
    },

    /// A SPIFFE ID is malformed.
    #[error("bad SPIFFE ID {input:?}: {reason} (expected spiffe://<trust-domain>/<path>)")]
    BadSpiffeId {
        /// The rejected input.
        input: String,
        /// Why it was rejected.
        reason: String,
    },

    /// A connector or client name is malformed.
    #[error(
        "bad name {input:?}: {reason} (expected 1-63 chars of a-z 0-9 - _ . starting with a-z or 0-9)"
    )]
    BadName {
        /// The rejected input.
        input: String,
        /// Why it was rejected.
        reason: &'static str,
    },

    /// A DNS name or IP address given for a certificate SAN is unusable.
    #[error("bad subject alternative name {input:?}: {reason}")]
    BadSubjectAltName {
        /// The rejected input.
        input: String,
        /// Why it was rejected.
        reason: String,
    },

    /// A validity window or lifetime is unusable.
    #[error("bad validity: {reason}")]
    BadValidity {
        /// Why it was rejected.
        reason: String,
    },

    /// A certificate serial number given as hex is malformed.
    #[error("bad serial {input:?}: {reason} (expected hex digits, optionally separated by ':')")]
    BadSerial {
        /// The rejected input.
        input: String,
        /// Why it was rejected.
        reason: &'static str,
    },

    /// An API key subject or group is unusable.
    #[error("bad API key {field} {input:?}: {reason}")]
    BadApiKeyField {
        /// `subject` or `group`.
        field: &'static str,
        /// The rejected input.
        input: String,
        /// Why it was rejected.
        reason: &'static str,
    },

    /// A bearer token request (`pki token`) has an unusable field.
    #[error("bad token {field} {input:?}: {reason}")]
    BadToken {
        /// `subject`, `audience`, `group`, `agent`, `issuer` or `ttl`.
        field: &'static str,
        /// The rejected input.
        input: String,
        /// Why it was rejected.
        reason: String,
    },

    /// A TOML state file (`pki.toml`, `revoked.toml`) could not be parsed.
    #[error("{path}: invalid {expected}: {detail}")]
    BadStateFile {
        /// The file.
        path: PathBuf,
        /// What the file should have held.
        expected: &'static str,
        /// What the parser reported.
        detail: String,
    },

    /// A certificate was not issued by any CA in this PKI directory's bundle.
    #[error("{path}: issued by {issuer:?}, which is not a CA of this PKI directory")]
    NotIssuedHere {
        /// The certificate.
        path: PathBuf,
        /// Its issuer DN.
        issuer: String,
    },

    /// No CA in the bundle has the given id.
    #[error("{bundle}: no CA with id {id:?} in the trust bundle")]
    UnknownCa {
        /// The bundle file.
        bundle: PathBuf,
        /// The id asked for.
        id: String,
    },

    /// The current CA cannot be retired; rotate first.
    #[error(
        "{path}: CA {id} is the current issuing CA; run `sallyport pki ca rotate` before retiring it"
    )]
    CannotRetireCurrentCa {
        /// The current CA certificate file.
        path: PathBuf,
        /// Its id.
        id: String,
    },

    /// Certificate or CRL generation failed inside rcgen.
    #[error("cannot generate {what}")]
    Generate {
        /// What was being generated.
        what: &'static str,
        /// The rcgen error.
        #[source]
        source: rcgen::Error,
    },

    /// The system random number generator failed.
    #[error("system random number generator failed while generating {what}")]
    Random {
        /// What was being generated.
        what: &'static str,
    },

    /// rustls refused the TLS configuration.
    #[error("cannot build the TLS configuration from {cert}: {detail}")]
    TlsConfig {
        /// The certificate file the configuration was built from.
        cert: PathBuf,
        /// What rustls reported.
        detail: String,
    },

    /// `verify` found the certificate not trustworthy (used by the CLI).
    #[error("{path}: NOT TRUSTED: {status}")]
    NotTrusted {
        /// The certificate.
        path: PathBuf,
        /// Why.
        status: VerifyStatus,
    },

    /// Writing the command's report to stdout failed.
    #[error("cannot write to stdout")]
    Output {
        /// The I/O error.
        #[source]
        source: io::Error,
    },
}

/// Shorthand for results in this crate.
pub type Result<T, E = PkiError> = std::result::Result<T, E>;
