//! Why a policy text was refused: one error type, with the entry and the
//! line it concerns, so `sallyport relay` can keep the old policy and say
//! exactly what to fix.

use std::fmt;

use super::glob::PatternError;
use super::rate::RateError;

/// A policy that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// The text is not TOML, or an entry holds an unknown key or a value of
    /// the wrong type. The message is the TOML parser's.
    #[error("{}{}{message}", Location(*line, *column), EntryPrefix(entry.as_ref()))]
    Syntax {
        /// 1-based line, when the parser knows it.
        line: Option<usize>,
        /// 1-based column (in characters), when the parser knows it.
        column: Option<usize>,
        /// The `[[role]]` or `[[binding]]` the error is in, when known.
        entry: Option<Entry>,
        /// What the parser said.
        message: String,
    },
    /// An entry is well-formed but its content is invalid.
    #[error("line {line}: {entry}: {problem}")]
    Invalid {
        /// 1-based line of the offending value (or of the entry).
        line: usize,
        /// The entry.
        entry: Entry,
        /// What is wrong.
        problem: Problem,
    },
}

/// One `[[role]]` or `[[binding]]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Which array the entry belongs to.
    pub kind: EntryKind,
    /// Its position in that array, counting from 1 as people do.
    pub number: usize,
    /// A role's `name`, or the `role` a binding binds, when present.
    pub name: Option<String>,
}

/// The array an [`Entry`] belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// `[[role]]`.
    Role,
    /// `[[binding]]`.
    Binding,
}

/// What is wrong with a well-formed entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Problem {
    /// A role name is empty, has surrounding whitespace or control
    /// characters.
    #[error("role name {name:?} {reason}")]
    BadRoleName {
        /// The name as written.
        name: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// Two roles have the same name.
    #[error("role {name:?} is already defined at line {first_line}")]
    DuplicateRole {
        /// The name.
        name: String,
        /// Line of the first definition.
        first_line: usize,
    },
    /// An `allow` or `deny` pattern is malformed.
    #[error("{key} pattern {pattern:?} {error}")]
    BadPattern {
        /// `"allow"` or `"deny"`.
        key: &'static str,
        /// The pattern as written.
        pattern: String,
        /// What is wrong with it.
        error: PatternError,
    },
    /// A `rate` is not `N/sec`, `N/min` or `N/hour`.
    #[error("rate {rate:?}: {error}")]
    BadRate {
        /// The rate as written.
        rate: String,
        /// What is wrong with it.
        error: RateError,
    },
    /// A binding names a role no `[[role]]` defines.
    #[error("role {role:?} is not defined by any [[role]]")]
    UnknownRole {
        /// The role as written.
        role: String,
    },
    /// A binding would match nobody.
    #[error(
        "binding lists no users, groups or agents and is not anonymous = true, so it matches nobody"
    )]
    NoSubjects,
    /// `anonymous = true` together with users, groups or agents.
    #[error(
        "anonymous = true cannot be combined with {key}: an unauthenticated caller has no verified {key}; write a separate binding"
    )]
    AnonymousWithSubjects {
        /// `"users"`, `"groups"` or `"agents"`.
        key: &'static str,
    },
    /// `agents = []`, which would match no agent at all.
    #[error("agents = [] matches no agent; remove the key to allow any agent")]
    EmptyAgents,
    /// An empty string in `users`, `groups` or `agents`.
    #[error("{key} holds an empty string")]
    EmptyName {
        /// `"users"`, `"groups"` or `"agents"`.
        key: &'static str,
    },
}

impl fmt::Display for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.kind, &self.name) {
            (EntryKind::Role, Some(n)) => write!(f, "[[role]] #{} {n:?}", self.number),
            (EntryKind::Role, None) => write!(f, "[[role]] #{}", self.number),
            (EntryKind::Binding, Some(n)) => write!(f, "[[binding]] #{} (role {n:?})", self.number),
            (EntryKind::Binding, None) => write!(f, "[[binding]] #{}", self.number),
        }
    }
}

struct Location(Option<usize>, Option<usize>);

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.0, self.1) {
            (Some(l), Some(c)) => write!(f, "line {l}, column {c}: "),
            (Some(l), None) => write!(f, "line {l}: "),
            _ => Ok(()),
        }
    }
}

struct EntryPrefix<'a>(Option<&'a Entry>);

impl fmt::Display for EntryPrefix<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(e) => write!(f, "{e}: "),
            None => Ok(()),
        }
    }
}
