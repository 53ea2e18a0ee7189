//! Roles: a `[[role]]`'s name and what it allows, denies and rates.

use std::fmt;
use std::sync::Arc;

use super::{Pattern, Problem, Rate};

/// The name of a `[[role]]`. Cloning is a reference-count increment.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RoleName(Arc<str>);

/// A `[[role]]` as parsed: its name, patterns and quota.
#[derive(Debug, Clone)]
pub(super) struct Role {
    pub(super) name: RoleName,
    pub(super) allow: Box<[Pattern]>,
    pub(super) deny: Box<[Pattern]>,
    pub(super) rate: Option<Rate>,
}

impl RoleName {
    pub(super) fn new(name: &str) -> Result<Self, Problem> {
        let reason = if name.is_empty() {
            "is empty"
        } else if name.trim() != name {
            "has leading or trailing whitespace"
        } else if name.chars().any(char::is_control) {
            "holds a control character"
        } else {
            return Ok(RoleName(name.into()));
        };
        Err(Problem::BadRoleName {
            name: name.to_owned(),
            reason,
        })
    }

    /// The name as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RoleName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<str> for RoleName {
    fn eq(&self, other: &str) -> bool {
        *self.0 == *other
    }
}

impl PartialEq<&str> for RoleName {
    fn eq(&self, other: &&str) -> bool {
        *self.0 == **other
    }
}
