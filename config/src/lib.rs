//! Configuration plumbing shared by the relay and the connector.
//!
//! Both read a TOML file whose relative paths resolve against the file's
//! directory, refuse unknown keys, and report every failure as a
//! [`ConfigError`] naming the file. [`load`] does the reading and puts the
//! file's path on whatever error the crate's own parser returns;
//! [`parse_toml`] turns TOML text into the crate's raw (serde) config.
//! What a valid config *means* stays in each crate.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::error::Error;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

/// A configuration file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The TOML is malformed or holds an unknown key or a bad value.
    #[error("{}{error}", InFile(path))]
    Syntax {
        /// The file, when known.
        path: Option<PathBuf>,
        /// The parser's error (its message names line and column).
        error: Box<toml::de::Error>,
    },
    /// The TOML is well-formed but its content is inconsistent.
    #[error("{}{problem}", InFile(path))]
    Invalid {
        /// The file, when known.
        path: Option<PathBuf>,
        /// What is wrong: a typed error where one exists (a name that
        /// fails validation, a URL that does not parse), otherwise a
        /// sentence naming the key.
        problem: Box<dyn Error + Send + Sync>,
    },
}

impl ConfigError {
    /// Content that is inconsistent; the file is added by [`load`].
    ///
    /// `problem` is an error (kept as such) or a sentence naming the key.
    pub fn invalid(problem: impl Into<Box<dyn Error + Send + Sync>>) -> Self {
        ConfigError::Invalid {
            path: None,
            problem: problem.into(),
        }
    }

    /// The same error, now naming `file` (a [`ConfigError::Read`] already
    /// does).
    #[must_use]
    pub fn in_file(self, file: &Path) -> Self {
        match self {
            ConfigError::Syntax { error, .. } => ConfigError::Syntax {
                path: Some(file.to_owned()),
                error,
            },
            ConfigError::Invalid { problem, .. } => ConfigError::Invalid {
                path: Some(file.to_owned()),
                problem,
            },
            read @ ConfigError::Read { .. } => read,
        }
    }

    /// The file this error is about, when known.
    pub fn path(&self) -> Option<&Path> {
        match self {
            ConfigError::Read { path, .. } => Some(path),
            ConfigError::Syntax { path, .. } | ConfigError::Invalid { path, .. } => path.as_deref(),
        }
    }
}

/// Prefixes a message with `config <file>: ` when the file is known.
struct InFile<'a>(&'a Option<PathBuf>);

impl fmt::Display for InFile<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(p) => write!(f, "config {}: ", p.display()),
            None => Ok(()),
        }
    }
}

/// Reads `path` as text.
pub fn read(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })
}

/// Reads `path` and hands its text and directory (the base for relative
/// paths) to `parse`; an error from `parse` names the file.
pub fn load<T>(
    path: &Path,
    parse: impl FnOnce(&str, &Path) -> Result<T, ConfigError>,
) -> Result<T, ConfigError> {
    let text = read(path)?;
    let base = path.parent().unwrap_or(Path::new("."));
    parse(&text, base).map_err(|e| e.in_file(path))
}

/// Deserializes TOML text; a failure is a [`ConfigError::Syntax`].
pub fn parse_toml<T: DeserializeOwned>(text: &str) -> Result<T, ConfigError> {
    toml::from_str(text).map_err(|e| ConfigError::Syntax {
        path: None,
        error: Box::new(e),
    })
}

#[cfg(test)]
mod tests;
