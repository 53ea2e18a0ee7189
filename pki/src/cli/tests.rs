//! Command-line parsing tests: the documented command lines, defaults and
//! validation.

use clap::{CommandFactory, Parser};

use super::*;

#[derive(Debug, Parser)]
struct Cli {
    #[command(subcommand)]
    cmd: Top,
}

#[derive(Debug, Subcommand)]
enum Top {
    Pki(PkiArgs),
}

fn parse(args: &[&str]) -> std::result::Result<PkiCommand, clap::Error> {
    let mut full = vec!["sallyport", "pki"];
    full.extend_from_slice(args);
    Cli::try_parse_from(full).map(|c| match c.cmd {
        Top::Pki(p) => p.command,
    })
}

#[test]
fn command_tree_is_consistent() {
    Cli::command().debug_assert();
}

#[test]
fn documented_command_lines_parse() {
    let lines: &[&[&str]] = &[
        &["init", "--dir", "pki", "--trust-domain", "acme.internal"],
        &[
            "issue",
            "relay",
            "--dir",
            "pki",
            "--dns",
            "relay.acme.com",
            "--ip",
            "127.0.0.1",
            "--days",
            "30",
        ],
        &[
            "issue",
            "connector",
            "legal-dc1",
            "--dir",
            "pki",
            "--days",
            "7",
        ],
        &["issue", "client", "agent-7", "--dir", "pki"],
        &["inspect", "pki/connector-legal-dc1.pem"],
        &["verify", "--dir", "pki", "pki/connector-legal-dc1.pem"],
        &["revoke", "--dir", "pki", "pki/connector-legal-dc1.pem"],
        &["revoke", "--serial", "4f:0a", "--reason", "keyCompromise"],
        &["crl", "--dir", "pki"],
        &["ca", "rotate", "--dir", "pki"],
        &["ca", "retire", "0123456789abcdef"],
        &["apikey", "--sub", "ci-bot", "--groups", "sre"],
    ];
    for line in lines {
        parse(line).unwrap_or_else(|e| panic!("{line:?}: {e}"));
    }
}

#[test]
fn defaults_and_validation() {
    match parse(&["issue", "connector", "legal-dc1"]).expect("parses") {
        PkiCommand::Issue(IssueCommand::Connector(a)) => {
            assert_eq!(a.days, CONNECTOR_DEFAULT_DAYS);
            assert_eq!(a.dir.dir, PathBuf::from("pki"));
        }
        other => panic!("{other:?}"),
    }
    match parse(&["issue", "relay", "--dns", "a.b"]).expect("parses") {
        PkiCommand::Issue(IssueCommand::Relay(a)) => assert_eq!(a.days, RELAY_DEFAULT_DAYS),
        other => panic!("{other:?}"),
    }
    match parse(&["apikey", "--sub", "x", "--groups", "a,b", "--groups", "c"]).expect("parses") {
        PkiCommand::Apikey(a) => assert_eq!(a.groups, ["a", "b", "c"]),
        other => panic!("{other:?}"),
    }
    assert!(parse(&["issue", "connector", "Bad/Name"]).is_err());
    assert!(parse(&["init", "--trust-domain", "ACME"]).is_err());
    assert!(
        parse(&["revoke", "--dir", "pki"]).is_err(),
        "a target is required"
    );
    assert!(
        parse(&["revoke", "x.pem", "--serial", "01"]).is_err(),
        "not both"
    );
    assert!(parse(&["revoke", "x.pem", "--reason", "bogus"]).is_err());
    assert!(parse(&["token"]).is_err(), "pki token is a later task");
}

#[test]
fn help_text_names_files_modes_and_defaults() {
    let mut cmd = Cli::command();
    let pki = cmd.find_subcommand_mut("pki").expect("pki subcommand");
    let top = pki.render_long_help().to_string();
    for needle in [
        "init", "issue", "inspect", "verify", "revoke", "crl", "ca", "apikey",
    ] {
        assert!(top.contains(needle), "{needle} missing from:\n{top}");
    }
    let issue = pki.find_subcommand_mut("issue").expect("issue");
    let connector = issue
        .find_subcommand_mut("connector")
        .expect("connector")
        .render_long_help()
        .to_string();
    assert!(connector.contains("0600"), "{connector}");
    assert!(connector.contains("[default: 7]"), "{connector}");
    assert!(connector.contains("[default: pki]"), "{connector}");
    if std::env::var_os("PRINT_HELP").is_some() {
        println!("{top}\n{connector}");
    }
}
