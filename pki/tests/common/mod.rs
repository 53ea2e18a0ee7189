//! Helpers shared by the integration tests: a fresh PKI in a temp dir.

#![allow(dead_code, reason = "each test binary uses a different subset")]

use std::path::{Path, PathBuf};

use sallyport_pki::{Issued, Pki, Validity, WorkloadName};
use time::{Duration, OffsetDateTime};

/// A PKI initialised in a temporary directory (kept alive by `_dir`).
pub struct TestPki {
    pub _dir: tempfile::TempDir,
    pub pki: Pki,
}

impl TestPki {
    pub fn new(trust_domain: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let pki = Pki::init(
            dir.path().join("pki"),
            trust_domain.parse().expect("valid trust domain"),
            false,
        )
        .expect("init");
        Self { _dir: dir, pki }
    }

    pub fn dir(&self) -> &Path {
        self.pki.dir()
    }

    pub fn connector(&self, name: &str) -> Issued {
        self.pki
            .issue_connector(&name_of(name), Validity::days(7).expect("days"), false)
            .expect("issue connector")
    }

    pub fn expired_connector(&self, name: &str) -> Issued {
        let now = OffsetDateTime::now_utc();
        let validity =
            Validity::between(now - Duration::days(10), now - Duration::days(3)).expect("window");
        self.pki
            .issue_connector(&name_of(name), validity, false)
            .expect("issue expired connector")
    }

    pub fn relay(&self) -> Issued {
        self.pki
            .issue_relay(
                &["relay.acme.internal".to_owned()],
                &["127.0.0.1".parse().expect("ip")],
                Validity::days(30).expect("days"),
                false,
            )
            .expect("issue relay")
    }

    pub fn bundle(&self) -> PathBuf {
        self.pki.bundle_path()
    }

    pub fn crl(&self) -> PathBuf {
        self.pki.crl_path()
    }
}

pub fn name_of(name: &str) -> WorkloadName {
    name.parse().expect("valid name")
}

/// Serial numbers (lowercase hex) listed in every CRL of a PEM file,
/// parsed independently with x509-parser.
pub fn crl_serials(path: &Path) -> Vec<Vec<String>> {
    use rustls_pki_types::CertificateRevocationListDer;
    use rustls_pki_types::pem::PemObject;
    CertificateRevocationListDer::pem_file_iter(path)
        .expect("open CRL")
        .map(|crl| {
            let crl = crl.expect("PEM CRL");
            let (_, parsed) = x509_parser::parse_x509_crl(&crl).expect("DER CRL");
            parsed
                .iter_revoked_certificates()
                .map(|r| {
                    let raw = r.raw_serial();
                    let start = raw.iter().position(|b| *b != 0).unwrap_or(raw.len());
                    raw[start..].iter().map(|b| format!("{b:02x}")).collect()
                })
                .collect()
        })
        .collect()
}
