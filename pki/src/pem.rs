//! PEM files with typed errors: certificates, private keys and CRLs.
//!
//! Parsing uses [`rustls_pki_types::pem::PemObject`]. What this module adds is
//! the diagnosis an operator needs: a file with no PEM at all
//! ([`PkiError::NotPem`]) is told apart from a file holding the wrong kind of
//! PEM, e.g. a key given where a certificate was expected
//! ([`PkiError::WrongPemType`], naming the labels found), and each
//! certificate is parsed as X.509 so garbage inside a `CERTIFICATE` section
//! is reported at load time ([`PkiError::NotACertificate`]).

use std::path::Path;

use rustls_pki_types::pem::{PemObject, SectionKind};
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer};

use crate::error::{PkiError, Result};
use crate::files;

/// What a certificate file must hold.
pub(crate) const EXPECT_CERT: &str = "PEM CERTIFICATE";
/// What a key file must hold.
pub(crate) const EXPECT_KEY: &str = "PEM PRIVATE KEY (PKCS#8), EC PRIVATE KEY or RSA PRIVATE KEY";
/// What a CRL file must hold.
pub(crate) const EXPECT_CRL: &str = "PEM X509 CRL (zero or more)";

/// One decoded PEM section.
type Section = (SectionKind, Vec<u8>);

/// The file's text and all its known PEM sections, in order.
fn sections(path: &Path, expected: &'static str) -> Result<(String, Vec<Section>)> {
    let text = files::read(path, expected)?;
    let mut out = Vec::new();
    for item in Section::pem_slice_iter(&text) {
        let section = item.map_err(|e| PkiError::BadPem {
            path: path.to_owned(),
            expected,
            detail: e.to_string(),
        })?;
        out.push(section);
    }
    Ok((String::from_utf8_lossy(&text).into_owned(), out))
}

/// The error for a file that holds none of the expected sections.
fn none_found(path: &Path, expected: &'static str, text: &str) -> PkiError {
    let mut labels: Vec<&str> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("-----BEGIN "))
        .filter_map(|l| l.strip_suffix("-----"))
        .collect();
    labels.dedup();
    if labels.is_empty() {
        PkiError::NotPem {
            path: path.to_owned(),
            expected,
        }
    } else {
        PkiError::WrongPemType {
            path: path.to_owned(),
            expected,
            found: labels.join(", "),
        }
    }
}

/// Every `CERTIFICATE` in the file (at least one), each checked to be X.509.
pub(crate) fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let (text, sections) = sections(path, EXPECT_CERT)?;
    let certs: Vec<CertificateDer<'static>> = sections
        .into_iter()
        .filter_map(|(kind, der)| CertificateDer::from_pem(kind, der))
        .collect();
    if certs.is_empty() {
        return Err(none_found(path, EXPECT_CERT, &text));
    }
    for cert in &certs {
        x509_parser::parse_x509_certificate(cert).map_err(|e| PkiError::NotACertificate {
            path: path.to_owned(),
            detail: e.to_string(),
        })?;
    }
    Ok(certs)
}

/// The first `CERTIFICATE` in the file.
pub(crate) fn read_first_cert(path: &Path) -> Result<CertificateDer<'static>> {
    let mut certs = read_certs(path)?;
    // read_certs never returns an empty vector.
    Ok(certs.swap_remove(0))
}

/// The single private key in the file.
pub(crate) fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>> {
    let (text, sections) = sections(path, EXPECT_KEY)?;
    let mut keys = sections
        .into_iter()
        .filter_map(|(kind, der)| PrivateKeyDer::from_pem(kind, der));
    let key = keys
        .next()
        .ok_or_else(|| none_found(path, EXPECT_KEY, &text))?;
    if keys.next().is_some() {
        return Err(PkiError::NotAKey {
            path: path.to_owned(),
            detail: "the file holds more than one private key".into(),
        });
    }
    Ok(key)
}

/// Every `X509 CRL` in the file; an empty file gives an empty vector, a file
/// with only other PEM types is an error.
pub(crate) fn read_crls(path: &Path) -> Result<Vec<CertificateRevocationListDer<'static>>> {
    let (text, sections) = sections(path, EXPECT_CRL)?;
    let crls: Vec<CertificateRevocationListDer<'static>> = sections
        .into_iter()
        .filter_map(|(kind, der)| CertificateRevocationListDer::from_pem(kind, der))
        .collect();
    if crls.is_empty() && !text.trim().is_empty() {
        return Err(none_found(path, EXPECT_CRL, &text));
    }
    for crl in &crls {
        x509_parser::parse_x509_crl(crl).map_err(|e| PkiError::NotACrl {
            path: path.to_owned(),
            detail: e.to_string(),
        })?;
    }
    Ok(crls)
}

/// Encodes DER as one PEM section with 64-column lines.
pub(crate) fn encode(label: &str, der: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut b64 = String::with_capacity(der.len().div_ceil(3) * 4);
    for chunk in der.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                b64.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                b64.push('=');
            }
        }
    }
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_round_trips_through_pki_types() {
        for len in 1..200 {
            let der: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
            let pem = encode("X509 CRL", &der);
            let back = CertificateRevocationListDer::from_pem_slice(pem.as_bytes());
            assert_eq!(back.expect("decodes").as_ref(), der.as_slice());
        }
    }

    #[test]
    fn wrong_type_names_what_was_found() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("x.pem");
        std::fs::write(&path, encode("PRIVATE KEY", &[1, 2, 3])).expect("write");
        let err = read_certs(&path).expect_err("a key is not a certificate");
        match &err {
            PkiError::WrongPemType { found, .. } => assert_eq!(found, "PRIVATE KEY"),
            other => panic!("unexpected {other:?}"),
        }
        assert!(err.to_string().contains("x.pem"), "{err}");

        std::fs::write(&path, "hello").expect("write");
        assert!(matches!(read_certs(&path), Err(PkiError::NotPem { .. })));
        assert!(matches!(read_crls(&path), Err(PkiError::NotPem { .. })));

        std::fs::write(&path, "").expect("write");
        assert!(read_crls(&path).expect("empty CRL file is fine").is_empty());

        std::fs::write(&path, encode("CERTIFICATE", &[1, 2, 3])).expect("write");
        assert!(matches!(
            read_certs(&path),
            Err(PkiError::NotACertificate { .. })
        ));
    }
}
