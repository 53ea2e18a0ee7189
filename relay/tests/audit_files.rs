//! The audit log's files: rotation, a missing directory, permissions, and
//! the `[audit]` config.

mod audit_support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use audit_support::*;
use sallyport_relay::audit::{AuditConfig, AuditError, AuditLog, AuditSink};

#[tokio::test]
async fn rotation_keeps_keep_files_and_newest_records_are_current() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("audit.jsonl");
    let max = 4096;
    let log = AuditLog::file(&path, max, 3).expect("open");
    for i in 0..200 {
        log.record(full_record(i)).await;
    }
    log.close().await;

    let rotated = |n: usize| dir.path().join(format!("audit.jsonl.{n}"));
    for n in 1..=3 {
        assert!(rotated(n).exists(), "audit.jsonl.{n}");
    }
    assert!(!rotated(4).exists(), "only `keep` rotated files");
    let mut all = Vec::new();
    for p in [rotated(3), rotated(2), rotated(1), path.clone()] {
        let len = std::fs::metadata(&p).expect("exists").len();
        assert!(len <= max, "{} is {len} bytes", p.display());
        all.extend(ids(&p));
    }
    assert_eq!(all.last(), Some(&199), "newest record is in audit.jsonl");
    let first = all[0];
    assert!(first > 0, "the oldest files were deleted");
    assert_eq!(all, (first..200).collect::<Vec<_>>(), "in order, no gap");
}

#[tokio::test]
async fn rotation_with_keep_zero_keeps_only_the_current_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("audit.jsonl");
    let log = AuditLog::file(&path, 2048, 0).expect("open");
    for i in 0..50 {
        log.record(full_record(i)).await;
    }
    log.close().await;
    assert!(!dir.path().join("audit.jsonl.1").exists());
    assert_eq!(ids(&path).last(), Some(&49));
}

#[test]
fn a_missing_directory_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("nope");
    let err = AuditLog::file(missing.join("audit.jsonl"), 1024, 1).expect_err("missing dir");
    assert!(matches!(err, AuditError::MissingDirectory(_)), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("does not exist") && msg.contains(&*missing.to_string_lossy()),
        "{msg}"
    );
    assert!(!missing.exists(), "the directory is not created");

    let file = dir.path().join("plain");
    std::fs::write(&file, b"x").expect("write");
    let err = AuditLog::file(file.join("audit.jsonl"), 1024, 1).expect_err("not a dir");
    assert!(matches!(err, AuditError::NotADirectory(_)), "{err:?}");

    let err = AuditLog::file(dir.path(), 1024, 1).expect_err("a directory as the file");
    assert!(matches!(err, AuditError::Open { .. }), "{err:?}");
    assert!(err.to_string().contains("cannot open audit log"), "{err}");

    let err = AuditLog::file(dir.path().join("a.jsonl"), 0, 1).expect_err("max_bytes 0");
    assert!(matches!(err, AuditError::MaxBytesZero), "{err:?}");
    let err = AuditLog::file(dir.path().join("a.jsonl"), 1, 1_000_000).expect_err("keep");
    assert!(
        matches!(err, AuditError::KeepTooLarge { max: 1000 }),
        "{err:?}"
    );
}

#[tokio::test]
async fn the_file_is_private() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("audit.jsonl");
    let log = AuditLog::file(&path, 1 << 20, 1).expect("open");
    log.close().await;
    let mode = std::fs::metadata(&path)
        .expect("exists")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    // A pre-existing world-readable file is tightened.
    let loose = dir.path().join("loose.jsonl");
    std::fs::write(&loose, b"").expect("write");
    std::fs::set_permissions(&loose, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    AuditLog::file(&loose, 1 << 20, 1)
        .expect("open")
        .close()
        .await;
    let mode = std::fs::metadata(&loose)
        .expect("exists")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[tokio::test]
async fn config_resolves_paths_and_defaults() {
    let cfg: AuditConfig = toml::from_str("path = \"logs/audit.jsonl\"").expect("parses");
    let dir = tempfile::tempdir().expect("tempdir");
    match cfg.sink(dir.path()) {
        AuditSink::File {
            path,
            max_bytes,
            keep,
        } => {
            assert_eq!(path, dir.path().join("logs/audit.jsonl"));
            assert_eq!(max_bytes, 100 * 1024 * 1024);
            assert_eq!(keep, 5);
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        cfg.open(dir.path()),
        Err(AuditError::MissingDirectory(_))
    ));
    std::fs::create_dir(dir.path().join("logs")).expect("mkdir");
    cfg.open(dir.path()).expect("opens").close().await;
    assert!(dir.path().join("logs/audit.jsonl").exists());

    let stdout: AuditConfig = toml::from_str("").expect("parses");
    assert!(matches!(stdout.sink(dir.path()), AuditSink::Stdout));
    let bad = toml::from_str::<AuditConfig>("path = \"a\"\nrotate = 3");
    assert!(bad.is_err(), "unknown keys are refused");
    let set: AuditConfig =
        toml::from_str("path = \"/var/log/a.jsonl\"\nmax_bytes = 10\nkeep = 2").expect("parses");
    assert!(matches!(
        set.sink(dir.path()),
        AuditSink::File { max_bytes: 10, keep: 2, ref path } if path == Path::new("/var/log/a.jsonl")
    ));
}
