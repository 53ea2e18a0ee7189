//! Where the relay's roles and bindings come from, and reading them
//! (again, on reload) from there.

use std::path::{Path, PathBuf};

use crate::error::ConfigError;
use crate::policy::Policy;

/// Where the `[[role]]` and `[[binding]]` tables live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicySource {
    /// Inline in a relay config that was parsed from text, not read from a
    /// file: there is nothing to reload.
    Text,
    /// Inline in the relay config file at this path.
    Inline(PathBuf),
    /// In the standalone policy file `policy = "…"` names (only `[[role]]`
    /// and `[[binding]]` allowed there).
    File(PathBuf),
}

impl PolicySource {
    /// The file the policy is read from, if any.
    pub fn path(&self) -> Option<&Path> {
        match self {
            PolicySource::Text => None,
            PolicySource::Inline(p) | PolicySource::File(p) => Some(p),
        }
    }

    /// Reads the policy again from its file, for hot reload; `None` when
    /// it came from text.
    pub fn reload(&self) -> Option<Result<Policy, ConfigError>> {
        match self {
            PolicySource::Text => None,
            PolicySource::File(path) => Some(load_policy_file(path)),
            PolicySource::Inline(path) => Some(load_inline(path)),
        }
    }
}

/// Reads a standalone policy file (only `[[role]]` and `[[binding]]`).
pub fn load_policy_file(path: &Path) -> Result<Policy, ConfigError> {
    let text = sallyport_config::read(path)?;
    Policy::from_standalone_toml_str(&text).map_err(|e| ConfigError::invalid(e).in_file(path))
}

/// Reads the roles and bindings of a relay config file (other keys are
/// the config's, checked when the config is loaded).
fn load_inline(path: &Path) -> Result<Policy, ConfigError> {
    let text = sallyport_config::read(path)?;
    Policy::from_toml_str(&text).map_err(|e| ConfigError::invalid(e).in_file(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROLES: &str =
        "[[role]]\nname = \"r\"\nallow = [\"s/*\"]\n\n[[binding]]\nrole = \"r\"\nusers = [\"u\"]\n";

    #[test]
    fn each_source_reloads_from_its_own_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let inline = dir.path().join("relay.toml");
        std::fs::write(&inline, format!("[quic]\nlisten = \"x\"\n{ROLES}")).expect("write");
        let file = dir.path().join("policy.toml");
        std::fs::write(&file, ROLES).expect("write");

        assert!(PolicySource::Text.reload().is_none());
        assert_eq!(PolicySource::Text.path(), None);
        let source = PolicySource::Inline(inline.clone());
        assert_eq!(source.path(), Some(inline.as_path()));
        assert!(source.reload().expect("a file").is_ok());
        assert!(PolicySource::File(file).reload().expect("a file").is_ok());
        // A standalone file holds nothing but the policy.
        let err = PolicySource::File(inline)
            .reload()
            .expect("a file")
            .expect_err("[quic] in a policy file");
        assert!(matches!(err, ConfigError::Invalid { .. }), "{err:?}");
        let gone = PolicySource::File(dir.path().join("missing.toml"));
        assert!(matches!(
            gone.reload().expect("a file"),
            Err(ConfigError::Read { .. })
        ));
    }
}
