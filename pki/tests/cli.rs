//! The `sallyport pki` commands as an operator runs them.

use std::path::Path;

use clap::{Parser, Subcommand};
use sallyport_pki::PkiError;
use sallyport_pki::cli::{PkiArgs, execute};

#[derive(Debug, Parser)]
struct Cli {
    #[command(subcommand)]
    cmd: Top,
}

#[derive(Debug, Subcommand)]
enum Top {
    Pki(PkiArgs),
}

fn run(args: &[&str]) -> (Result<(), PkiError>, String) {
    let mut full = vec!["sallyport", "pki"];
    full.extend_from_slice(args);
    let Top::Pki(pki) = Cli::try_parse_from(full).expect("valid command line").cmd;
    let mut out = Vec::new();
    let result = execute(pki, &mut out);
    (result, String::from_utf8(out).expect("utf-8 output"))
}

fn ok(args: &[&str]) -> String {
    let (result, out) = run(args);
    result.unwrap_or_else(|e| panic!("{args:?}: {e}\n{out}"));
    out
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

#[test]
fn operator_workflow() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("pki");
    let d = s(&dir);

    let out = ok(&["init", "--dir", d, "--trust-domain", "acme.internal"]);
    for file in [
        "ca.pem",
        "ca.key",
        "bundle.pem",
        "crl.pem",
        "token.key",
        "token.pub",
    ] {
        assert!(
            out.contains(s(&dir.join(file))),
            "{file} missing from:\n{out}"
        );
    }
    let (again, _) = run(&["init", "--dir", d, "--trust-domain", "acme.internal"]);
    assert!(matches!(again, Err(PkiError::AlreadyExists { .. })));

    let out = ok(&[
        "issue",
        "relay",
        "--dir",
        d,
        "--dns",
        "relay.acme.com",
        "--ip",
        "127.0.0.1",
    ]);
    assert!(
        out.contains("relay.pem") && out.contains("relay.key"),
        "{out}"
    );

    let out = ok(&["issue", "connector", "legal-dc1", "--dir", d]);
    let cert = dir.join("connector-legal-dc1.pem");
    assert!(out.contains(s(&cert)), "{out}");
    assert!(
        out.contains("spiffe://acme.internal/connector/legal-dc1"),
        "{out}"
    );

    let out = ok(&["inspect", s(&cert)]);
    assert!(
        out.contains("SPIFFE ID:       spiffe://acme.internal/connector/legal-dc1"),
        "{out}"
    );
    assert!(out.contains("clientAuth"), "{out}");

    let out = ok(&["verify", "--dir", d, s(&cert)]);
    assert!(out.starts_with("OK:"), "{out}");

    let out = ok(&["revoke", "--dir", d, s(&cert), "--reason", "keyCompromise"]);
    assert!(
        out.contains("revoked: serial") && out.contains("keyCompromise"),
        "{out}"
    );
    assert!(out.contains("crl.pem"), "{out}");

    let (result, out) = run(&["verify", "--dir", d, s(&cert)]);
    assert!(out.starts_with("NOT TRUSTED"), "{out}");
    match result {
        Err(PkiError::NotTrusted { status, .. }) => {
            assert_eq!(status, sallyport_pki::VerifyStatus::Revoked);
        }
        other => panic!("{other:?}"),
    }

    let out = ok(&["crl", "--dir", d]);
    assert!(out.contains("CRL #3"), "{out}");

    let out = ok(&["ca", "rotate", "--dir", d]);
    assert!(
        out.contains("rotated CA") && out.contains("ca retire"),
        "{out}"
    );

    let out = ok(&["issue", "client", "agent-7", "--dir", d, "--days", "1"]);
    assert!(out.contains("client-agent-7.pem"), "{out}");
    let out = ok(&["verify", "--dir", d, s(&dir.join("client-agent-7.pem"))]);
    assert!(out.starts_with("OK:"), "{out}");
}

#[test]
fn apikey_prints_key_once_and_entry() {
    let out = ok(&["apikey", "--sub", "ci-bot", "--groups", "sre"]);
    let key = out
        .lines()
        .find(|l| l.starts_with("sp_"))
        .expect("key line");
    let digest = sallyport_pki::apikey::sha256_hex(key);
    let entry =
        format!("[[api_key]]\nsha256 = \"{digest}\"\nsubject = \"ci-bot\"\ngroups = [\"sre\"]\n");
    assert!(out.contains(&entry), "{out}");
    assert_eq!(out.matches(key).count(), 1);
}

#[test]
fn errors_name_the_file() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let d = s(tmp.path());
    let (result, _) = run(&["issue", "connector", "x", "--dir", d]);
    let err = result.expect_err("no PKI here");
    assert!(err.to_string().contains("pki.toml"), "{err}");
    let (result, _) = run(&["inspect", &format!("{d}/missing.pem")]);
    let err = result.expect_err("missing file");
    assert!(matches!(err, PkiError::MissingFile { .. }));
    assert!(err.to_string().contains("missing.pem"), "{err}");
}
