//! File-system primitives with the PKI's safety rules.
//!
//! - Private keys are created with mode `0600` at `open(2)` time
//!   ([`OpenOptionsExt::mode`]); they are never chmod-ed afterwards, so no
//!   window exists in which a key is readable by others.
//! - Without `force`, files are opened with `O_CREAT|O_EXCL`: an existing
//!   file is never touched.
//! - Replacing a file (with `force`, or for state files such as `crl.pem`)
//!   writes a temporary file in the same directory, fsyncs it and renames it
//!   over the target, so a reader (the relay reloading `crl.pem`) sees either
//!   the old or the new content, and a replaced key gets mode `0600` even if
//!   the old file had another mode.

use std::fs::{self, DirBuilder, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{PkiError, Result};

/// Mode of private key files.
pub(crate) const SECRET_MODE: u32 = 0o600;
/// Mode of certificates, CRLs, bundles and state files.
pub(crate) const PUBLIC_MODE: u32 = 0o644;
/// Mode of a PKI directory created by `init`.
pub(crate) const DIR_MODE: u32 = 0o700;

/// How [`write`] treats an existing target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Existing {
    /// Fail with [`PkiError::AlreadyExists`].
    Refuse,
    /// Atomically replace it.
    Replace,
}

impl Existing {
    /// `Replace` when `force`, else `Refuse`.
    pub(crate) fn from_force(force: bool) -> Self {
        if force { Self::Replace } else { Self::Refuse }
    }
}

/// Reads a whole file; a missing file is [`PkiError::MissingFile`].
pub(crate) fn read(path: &Path, expected: &'static str) -> Result<Vec<u8>> {
    fs::read(path).map_err(|source| read_error(path, expected, source))
}

/// Reads a whole UTF-8 file.
pub(crate) fn read_string(path: &Path, expected: &'static str) -> Result<String> {
    fs::read_to_string(path).map_err(|source| read_error(path, expected, source))
}

fn read_error(path: &Path, expected: &'static str, source: io::Error) -> PkiError {
    match source.kind() {
        io::ErrorKind::NotFound => PkiError::MissingFile {
            path: path.to_owned(),
            expected,
        },
        _ => PkiError::UnreadableFile {
            path: path.to_owned(),
            expected,
            source,
        },
    }
}

/// Fails with [`PkiError::AlreadyExists`] for the first path that exists,
/// unless `existing` is [`Existing::Replace`]. Used before multi-file writes
/// so that a refused command writes nothing at all.
pub(crate) fn ensure_writable(paths: &[&Path], existing: Existing) -> Result<()> {
    if existing == Existing::Replace {
        return Ok(());
    }
    match paths.iter().find(|p| p.symlink_metadata().is_ok()) {
        Some(path) => Err(PkiError::AlreadyExists {
            path: path.to_path_buf(),
        }),
        None => Ok(()),
    }
}

/// Writes `contents` to `path` with `mode` (applied at creation).
pub(crate) fn write(path: &Path, contents: &[u8], mode: u32, existing: Existing) -> Result<()> {
    match existing {
        Existing::Refuse => write_new(path, contents, mode).map_err(|source| {
            if source.kind() == io::ErrorKind::AlreadyExists {
                PkiError::AlreadyExists {
                    path: path.to_owned(),
                }
            } else {
                PkiError::WriteFailed {
                    path: path.to_owned(),
                    source,
                }
            }
        }),
        Existing::Replace => replace(path, contents, mode),
    }
}

fn write_new(path: &Path, contents: &[u8], mode: u32) -> io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

fn replace(path: &Path, contents: &[u8], mode: u32) -> Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let file_name = path
        .file_name()
        .map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned());
    let tmp = path.with_file_name(format!(
        ".{file_name}.tmp-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = write_new(&tmp, contents, mode).and_then(|()| fs::rename(&tmp, path));
    result.map_err(|source| {
        // Best effort: the temporary file may not exist if creation failed.
        let _ = fs::remove_file(&tmp);
        PkiError::WriteFailed {
            path: path.to_owned(),
            source,
        }
    })
}

/// Creates `dir` (and parents) with mode `0700` if it does not exist.
pub(crate) fn create_dir(dir: &Path) -> Result<()> {
    DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)
        .map_err(|source| PkiError::WriteFailed {
            path: dir.to_owned(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode_of(path: &Path) -> u32 {
        fs::metadata(path)
            .expect("file exists")
            .permissions()
            .mode()
            & 0o777
    }

    #[test]
    fn refuse_keeps_existing_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("a.key");
        write(&path, b"one", SECRET_MODE, Existing::Refuse).expect("first write");
        let err = write(&path, b"two", SECRET_MODE, Existing::Refuse).expect_err("must refuse");
        assert!(matches!(err, PkiError::AlreadyExists { ref path } if path.ends_with("a.key")));
        assert!(err.to_string().contains("--force"), "{err}");
        assert_eq!(fs::read(&path).expect("read"), b"one");
        assert_eq!(mode_of(&path), 0o600);
    }

    #[test]
    fn replace_resets_mode_and_leaves_no_temp_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("a.key");
        write(&path, b"one", 0o644, Existing::Refuse).expect("first write");
        write(&path, b"two", SECRET_MODE, Existing::Replace).expect("replace");
        assert_eq!(fs::read(&path).expect("read"), b"two");
        assert_eq!(mode_of(&path), 0o600);
        let names: Vec<_> = fs::read_dir(dir.path()).expect("list").collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn missing_and_unreadable_are_distinct() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = read(&dir.path().join("nope.pem"), "a certificate");
        assert!(matches!(missing, Err(PkiError::MissingFile { .. })));
        let unreadable = read(dir.path(), "a certificate");
        assert!(matches!(unreadable, Err(PkiError::UnreadableFile { .. })));
    }
}
