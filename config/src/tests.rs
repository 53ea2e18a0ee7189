use std::error::Error as _;

use serde::Deserialize;

use super::*;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    port: u16,
}

fn parse(text: &str, base: &Path) -> Result<(u16, PathBuf), ConfigError> {
    let raw: Raw = parse_toml(text)?;
    if raw.port == 0 {
        return Err(ConfigError::invalid("port must not be 0"));
    }
    Ok((raw.port, base.to_owned()))
}

#[test]
fn load_reads_and_resolves_against_the_files_directory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("a.toml");
    std::fs::write(&file, "port = 7\n").expect("write");
    let (port, base) = load(&file, parse).expect("valid");
    assert_eq!(port, 7);
    assert_eq!(base, dir.path());
}

#[test]
fn errors_from_the_parser_name_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("a.toml");
    std::fs::write(&file, "port = 0\n").expect("write");
    let err = load(&file, parse).expect_err("port 0");
    assert!(matches!(err, ConfigError::Invalid { .. }), "{err:?}");
    assert_eq!(err.path(), Some(file.as_path()));
    assert_eq!(
        err.to_string(),
        format!("config {}: port must not be 0", file.display())
    );

    std::fs::write(&file, "prot = 7\n").expect("write");
    let err = load(&file, parse).expect_err("typo");
    assert!(matches!(err, ConfigError::Syntax { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!("config {}: ", file.display())),
        "{msg}"
    );
    assert!(msg.contains("prot") && msg.contains("line 1"), "{msg}");
}

#[test]
fn without_a_file_the_message_stands_alone() {
    let err = parse("port = 0", Path::new(".")).expect_err("port 0");
    assert_eq!(err.to_string(), "port must not be 0");
    assert_eq!(err.path(), None);
}

#[test]
fn a_missing_file_keeps_the_io_error_as_its_source_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("missing.toml");
    let err = load(&file, parse).expect_err("missing");
    let source = err.source().expect("an io source").to_string();
    let msg = err.to_string();
    assert_eq!(msg, format!("cannot read config {}", file.display()));
    assert!(!msg.contains(&source), "{msg} repeats {source}");
    // Reading errors already name their file; in_file leaves them alone.
    let again = err.in_file(Path::new("/elsewhere.toml"));
    assert_eq!(again.path(), Some(file.as_path()));
}

#[test]
fn a_typed_problem_stays_typed() {
    let err = ConfigError::invalid(std::io::Error::other("typed"));
    let ConfigError::Invalid { problem, .. } = err else {
        panic!("not Invalid");
    };
    assert!(problem.downcast_ref::<std::io::Error>().is_some());
}
