//! Remote clients authenticated by an mTLS client certificate issued with
//! `sallyport pki issue client <name>`.

use rustls::pki_types::CertificateDer;
use sallyport_pki::tls::spiffe_id_of;

use super::{AuthError, AuthMethod, Principal};

/// The principal of a client certificate whose URI SAN is
/// `spiffe://<trust-domain>/client/<name>`: subject `<name>`, no groups (bind
/// policy with `users = ["<name>"]`), no agent.
///
/// Only pass a certificate the TLS handshake has already verified against
/// the trust bundle and the CRL: this reads the identity, it does not check
/// the signature, the validity period or revocation.
pub fn principal_from_client_cert(cert_der: &[u8]) -> Result<Principal, AuthError> {
    let id =
        spiffe_id_of(&CertificateDer::from(cert_der)).map_err(|e| AuthError::BadClientCert {
            reason: e.to_string(),
        })?;
    let Some(name) = id.client_name() else {
        return Err(AuthError::BadClientCert {
            reason: format!(
                "{id} is not a client identity (expected spiffe://<trust-domain>/client/<name>)"
            ),
        });
    };
    Ok(Principal {
        subject: name.to_owned(),
        groups: Vec::new(),
        agent: None,
        method: AuthMethod::ClientCert {
            spiffe_id: id.to_string(),
        },
    })
}

/// Like [`principal_from_client_cert`], also requiring the SPIFFE ID to be
/// in `trust_domain`.
pub(crate) fn principal_in_domain(
    cert_der: &[u8],
    trust_domain: &str,
) -> Result<Principal, AuthError> {
    let principal = principal_from_client_cert(cert_der)?;
    if let AuthMethod::ClientCert { spiffe_id } = &principal.method {
        let domain = spiffe_id
            .strip_prefix("spiffe://")
            .and_then(|rest| rest.split('/').next());
        if domain != Some(trust_domain) {
            return Err(AuthError::BadClientCert {
                reason: format!("{spiffe_id} is not in trust domain {trust_domain}"),
            });
        }
    }
    Ok(principal)
}
