//! Carrying out each `sallyport pki` command and reporting what it wrote.

use std::fmt::Write as _;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{CaCommand, IssueCommand, PkiCommand};
use crate::apikey::ApiKey;
use crate::dir::{CA_KEY_FILE, INIT_FILES, Pki};
use crate::error::{PkiError, Result};
use crate::inspect::inspect;
use crate::issue::{Issued, Validity};
use crate::revoke::{CrlReport, RevokeTarget};
use crate::token::TokenRequest;

pub(super) fn dispatch(command: PkiCommand, out: &mut String) -> Result<()> {
    // Writing to a String cannot fail; the results are ignored below.
    match command {
        PkiCommand::Init(a) => {
            let pki = Pki::init(&a.dir.dir, a.trust_domain, a.force)?;
            let _ = writeln!(
                out,
                "initialised PKI for trust domain {} in {}",
                pki.trust_domain(),
                pki.dir().display()
            );
            for name in INIT_FILES {
                let mode = if name.ends_with(".key") {
                    "0600"
                } else {
                    "0644"
                };
                let _ = writeln!(out, "  wrote {} ({mode})", pki.path(name).display());
            }
        }
        PkiCommand::Issue(issue) => {
            let issued = match issue {
                IssueCommand::Relay(a) => Pki::open(&a.dir.dir)?.issue_relay(
                    &a.dns,
                    &a.ip,
                    Validity::days(a.days)?,
                    a.force,
                )?,
                IssueCommand::Connector(a) => Pki::open(&a.dir.dir)?.issue_connector(
                    &a.name,
                    Validity::days(a.days)?,
                    a.force,
                )?,
                IssueCommand::Client(a) => Pki::open(&a.dir.dir)?.issue_client(
                    &a.name,
                    Validity::days(a.days)?,
                    a.force,
                )?,
            };
            report_issued(&issued, out);
        }
        PkiCommand::Inspect(a) => {
            let _ = write!(out, "{}", inspect(&a.cert)?);
        }
        PkiCommand::Verify(a) => {
            let verification = Pki::open(&a.dir.dir)?.verify(&a.cert)?;
            let _ = write!(out, "{verification}");
            if !verification.status.is_valid() {
                return Err(PkiError::NotTrusted {
                    path: a.cert,
                    status: verification.status,
                });
            }
        }
        PkiCommand::Revoke(a) => {
            let target = match (a.cert, a.serial) {
                (Some(cert), _) => RevokeTarget::Cert(cert),
                (None, Some(serial)) => RevokeTarget::Serial(serial),
                (None, None) => {
                    return Err(PkiError::BadSerial {
                        input: String::new(),
                        reason: "give a certificate file or --serial",
                    });
                }
            };
            let pki = Pki::open(&a.dir.dir)?;
            let outcome = pki.revoke(&target, a.reason)?;
            let r = &outcome.revocation;
            let verb = if outcome.already_revoked {
                "already revoked"
            } else {
                "revoked"
            };
            let _ = writeln!(
                out,
                "{verb}: serial {} ({}) reason {} at {}",
                r.serial,
                r.subject
                    .as_deref()
                    .unwrap_or("serial only: listed under every CA"),
                r.reason,
                r.revoked_at
            );
            let _ = writeln!(out, "  wrote {}", pki.revoked_path().display());
            report_crl(&outcome.crl, out);
        }
        PkiCommand::Crl(a) => report_crl(&Pki::open(&a.dir)?.refresh_crl()?, out),
        PkiCommand::Ca(CaCommand::Rotate(a)) => {
            let pki = Pki::open(&a.dir)?;
            let r = pki.rotate_ca()?;
            let _ = writeln!(out, "rotated CA: {} -> {}", r.old_ca_id, r.new_ca_id);
            let _ = writeln!(out, "  wrote {} (0644, old CA)", r.archived_cert.display());
            let _ = writeln!(
                out,
                "  wrote {} (0600, old CA key)",
                r.archived_key.display()
            );
            let _ = writeln!(
                out,
                "  wrote {} (0644, new CA)",
                pki.ca_cert_path().display()
            );
            let _ = writeln!(
                out,
                "  wrote {} (0600, new CA key)",
                pki.path(CA_KEY_FILE).display()
            );
            let _ = writeln!(
                out,
                "  wrote {} (0644, CAs: {})",
                pki.bundle_path().display(),
                r.bundle_ids.join(", ")
            );
            report_crl(&r.crl, out);
            let _ = writeln!(
                out,
                "next: distribute bundle.pem, re-issue certificates, then `sallyport pki ca retire --dir {} {}`",
                pki.dir().display(),
                r.old_ca_id
            );
        }
        PkiCommand::Ca(CaCommand::Retire(a)) => {
            let pki = Pki::open(&a.dir.dir)?;
            let r = pki.retire_ca(&a.id)?;
            let _ = writeln!(out, "retired CA {}", r.retired_id);
            let _ = writeln!(
                out,
                "  wrote {} (CAs: {})",
                pki.bundle_path().display(),
                r.bundle_ids.join(", ")
            );
            report_crl(&r.crl, out);
        }
        PkiCommand::Apikey(a) => {
            let key = ApiKey::generate(&a.sub, &a.groups)?;
            let _ = writeln!(out, "API key for {} (shown once; it is not stored):", a.sub);
            let _ = writeln!(out, "{}", key.key());
            let _ = writeln!(out);
            let _ = writeln!(out, "# add to relay.toml:");
            let _ = write!(out, "{}", key.toml_entry());
        }
        PkiCommand::Token(a) => {
            let request = TokenRequest {
                audiences: a.aud,
                subject: a.sub,
                groups: a.groups,
                agent: a.agent,
                ttl: a.ttl,
                issuer: a.iss,
            };
            // The token alone, so that `$(sallyport pki token ...)` captures it.
            let token = Pki::open(&a.dir.dir)?.mint_token(&request)?;
            let _ = writeln!(out, "{token}");
        }
    }
    Ok(())
}

fn time(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_else(|_| t.to_string())
}

fn report_issued(issued: &Issued, out: &mut String) {
    let _ = writeln!(
        out,
        "issued {} serial {} valid until {}",
        issued.spiffe_id,
        issued.serial,
        time(issued.not_after)
    );
    let _ = writeln!(out, "  wrote {} (0644)", issued.cert_path.display());
    let _ = writeln!(out, "  wrote {} (0600)", issued.key_path.display());
}

fn report_crl(crl: &CrlReport, out: &mut String) {
    let _ = writeln!(
        out,
        "  wrote {} (CRL #{} signed by CA {}; next update {})",
        crl.path.display(),
        crl.crl_number,
        crl.signed_by.join(", "),
        time(crl.next_update)
    );
    for id in &crl.skipped {
        let _ = writeln!(
            out,
            "  WARNING: no key for bundle CA {id}: no CRL for it, so relays reject its certificates; retire it"
        );
    }
}
