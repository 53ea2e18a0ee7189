//! Who may use which tool, resource and prompt: the `[[role]]` and
//! `[[binding]]` policy (DESIGN §6) and the pure function that applies it.
//!
//! A role allows and denies `<server>/<name>` globs ([`Pattern`]); a binding
//! gives a role to users, groups, agents or (opt-in) anonymous callers.
//! [`Policy::decide`] returns a [`Decision`] naming the rule that made it:
//! a `deny` in any of the caller's roles wins over every `allow`, and with
//! no matching `allow` the answer is no. Nothing here does I/O or reads a
//! clock; the policy is parsed once and then only read, so it can sit in an
//! `ArcSwap` and be replaced whole on reload.
//!
//! ```
//! use sallyport_protocol::ServerName;
//! use sallyport_relay::policy::{Policy, Subject, Target};
//!
//! let policy = Policy::from_toml_str(r#"
//!     [[role]]
//!     name = "legal-reader"
//!     allow = ["contracts/search_*"]
//!     deny = ["contracts/delete_*"]
//!
//!     [[binding]]
//!     role = "legal-reader"
//!     groups = ["legal"]
//! "#)?;
//! let groups = ["legal".to_owned()];
//! let alice = Subject { user: Some("alice"), groups: &groups, agent: Some("claude") };
//! let contracts = ServerName::new("contracts")?;
//! let d = policy.decide(&alice, &contracts, Target::Tool("search_docs"));
//! assert!(d.allowed);
//! assert_eq!(
//!     d.to_string(),
//!     r#"ALLOW contracts/search_docs by role legal-reader (allow "contracts/search_*")"#
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod bound;
mod display;
mod error;
mod glob;
mod index;
mod parse;
mod rate;
mod role;
mod subject;

use sallyport_protocol::ServerName;

use index::Index;

pub use bound::Bound;
pub use error::{Entry, EntryKind, PolicyError, Problem};
pub use glob::{Glob, Pattern, PatternError};
pub use rate::{Rate, RateError};
use role::Role;
pub use role::RoleName;
pub use subject::Subject;

/// A parsed, validated policy with its lookup tables. The default policy
/// has no roles and denies everything.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    roles: Vec<Role>,
    index: Index,
}

/// What is asked for on a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target<'a> {
    /// Calling a tool, by name.
    Tool(&'a str),
    /// Reading a resource, by URI.
    Resource(&'a str),
    /// Getting a prompt, by name.
    Prompt(&'a str),
    /// Using the server at all (initialize, list calls): allowed when one
    /// of the caller's roles allows something on it and no role denies all
    /// of it.
    Server,
}

/// The answer, the rule that gave it, and the request it answers.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Decision<'a> {
    /// Whether the request may proceed; true exactly for [`Rule::Allow`].
    pub allowed: bool,
    /// What decided.
    pub rule: Rule,
    /// The caller.
    pub who: Subject<'a>,
    /// The server.
    pub server: &'a ServerName,
    /// What was asked for.
    pub target: Target<'a>,
}

/// The rule that made a [`Decision`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rule {
    /// A `deny` pattern of one of the caller's roles matched.
    Deny {
        /// The role.
        role: RoleName,
        /// Its `deny` pattern that matched.
        pattern: Pattern,
    },
    /// An `allow` pattern matched and no `deny` did.
    Allow {
        /// The role.
        role: RoleName,
        /// Its `allow` pattern that matched.
        pattern: Pattern,
    },
    /// No binding applies to the caller (default deny).
    NoMatchingRole,
    /// The caller has roles, but none allows the target.
    NoAllowMatch {
        /// The caller's roles, in binding order, without repeats.
        roles: Vec<RoleName>,
    },
}

/// A caller with its roles looked up, from [`Policy::caller`].
#[derive(Debug, Clone)]
pub struct Caller<'p, 'a> {
    policy: &'p Policy,
    who: Subject<'a>,
    /// Role indices, each once, in binding order.
    roles: Vec<usize>,
}

/// A decision before it is dressed as a [`Rule`]: indices, no allocation.
enum Outcome {
    Deny(usize, usize),
    Allow(usize, usize),
    NoAllowMatch,
    NoMatchingRole,
}

impl Policy {
    /// Reads the `role` and `binding` arrays of a TOML document; other keys
    /// are ignored, so this also takes a whole `relay.toml`.
    pub fn from_toml_str(text: &str) -> Result<Self, PolicyError> {
        parse::parse(text, false)
    }

    /// Like [`Policy::from_toml_str`], for a file that holds only the
    /// policy: any other top-level key (a misspelt `[[bindings]]`, say) is
    /// an error rather than silently ignored.
    pub fn from_standalone_toml_str(text: &str) -> Result<Self, PolicyError> {
        parse::parse(text, true)
    }

    /// Decides whether `who` may use `target` on `server`.
    pub fn decide<'a>(
        &self,
        who: &Subject<'a>,
        server: &'a ServerName,
        target: Target<'a>,
    ) -> Decision<'a> {
        self.decision(|| self.index.roles_of(who), *who, server, target)
    }

    /// The same answer as `decide(..).allowed`, without building the rule.
    /// Never allocates.
    pub fn allows(&self, who: &Subject<'_>, server: &ServerName, target: Target<'_>) -> bool {
        let outcome = self.evaluate(self.index.roles_of(who), server.as_str(), target);
        matches!(outcome, Outcome::Allow(..))
    }

    /// Looks up the caller's roles once, to decide many targets for it
    /// (filtering a `tools/list` answer) without repeating the lookups.
    pub fn caller<'p, 'a>(&'p self, who: &Subject<'a>) -> Caller<'p, 'a> {
        Caller {
            policy: self,
            who: *who,
            roles: self.index.roles_of(who).collect(),
        }
    }

    /// The allow and deny patterns of the caller's roles that concern
    /// `server` (for the registry endpoint: what the caller may use there).
    pub fn patterns_for(
        &self,
        who: &Subject<'_>,
        server: &ServerName,
    ) -> (Vec<String>, Vec<String>) {
        let mut allow = Vec::new();
        let mut deny = Vec::new();
        for role in self.index.roles_of(who) {
            let Some(r) = self.roles.get(role) else {
                continue;
            };
            for p in r
                .allow
                .iter()
                .filter(|p| p.server().matches(server.as_str()))
            {
                allow.push(p.as_str().to_owned());
            }
            for p in r
                .deny
                .iter()
                .filter(|p| p.server().matches(server.as_str()))
            {
                deny.push(p.as_str().to_owned());
            }
        }
        allow.sort();
        allow.dedup();
        deny.sort();
        deny.dedup();
        (allow, deny)
    }

    /// The quotas of the caller's roles that allow `target` (each role
    /// once, in binding order); empty when the request is denied or no such
    /// role has a `rate`.
    pub fn quotas(
        &self,
        who: &Subject<'_>,
        server: &ServerName,
        target: Target<'_>,
    ) -> Vec<(RoleName, Rate)> {
        self.quotas_in(|| self.index.roles_of(who), server, target)
    }

    fn quotas_in<I: Iterator<Item = usize>>(
        &self,
        roles: impl Fn() -> I,
        server: &ServerName,
        target: Target<'_>,
    ) -> Vec<(RoleName, Rate)> {
        if !matches!(
            self.evaluate(roles(), server.as_str(), target),
            Outcome::Allow(..)
        ) {
            return Vec::new();
        }
        let mut quotas: Vec<(RoleName, Rate)> = Vec::new();
        for role in roles().map(|r| &self.roles[r]) {
            if !role.allow.iter().any(|p| p.allows(server.as_str(), target)) {
                continue;
            }
            match role.rate {
                // A role that allows it without a quota is the most
                // generous of all: the call is not limited.
                None => return Vec::new(),
                Some(rate) if !quotas.iter().any(|(n, _)| *n == role.name) => {
                    quotas.push((role.name.clone(), rate));
                }
                Some(_) => {}
            }
        }
        quotas
    }

    fn decision<'a, I: Iterator<Item = usize>>(
        &self,
        roles: impl Fn() -> I,
        who: Subject<'a>,
        server: &'a ServerName,
        target: Target<'a>,
    ) -> Decision<'a> {
        let rule = match self.evaluate(roles(), server.as_str(), target) {
            Outcome::Deny(r, p) => Rule::Deny {
                role: self.roles[r].name.clone(),
                pattern: self.roles[r].deny[p].clone(),
            },
            Outcome::Allow(r, p) => Rule::Allow {
                role: self.roles[r].name.clone(),
                pattern: self.roles[r].allow[p].clone(),
            },
            Outcome::NoAllowMatch => {
                let mut names: Vec<RoleName> = Vec::new();
                for r in roles() {
                    // Past 128 roles `roles_of` may repeat one.
                    if !names.contains(&self.roles[r].name) {
                        names.push(self.roles[r].name.clone());
                    }
                }
                Rule::NoAllowMatch { roles: names }
            }
            Outcome::NoMatchingRole => Rule::NoMatchingRole,
        };
        Decision {
            allowed: matches!(rule, Rule::Allow { .. }),
            rule,
            who,
            server,
            target,
        }
    }

    fn evaluate(
        &self,
        roles: impl Iterator<Item = usize>,
        server: &str,
        target: Target<'_>,
    ) -> Outcome {
        let candidates = self.index.candidates(server);
        let mut bound = false;
        let mut allow = None;
        for r in roles {
            bound = true;
            let (role, c) = (&self.roles[r], &candidates[r]);
            // Deny wins: every role is searched for a deny, even after an
            // allow has been found.
            let denied = c
                .deny
                .iter()
                .find(|&&p| role.deny[p].denies(server, target));
            if let Some(&p) = denied {
                return Outcome::Deny(r, p);
            }
            if allow.is_none() {
                let found = c
                    .allow
                    .iter()
                    .find(|&&p| role.allow[p].allows(server, target));
                allow = found.map(|&p| (r, p));
            }
        }
        match allow {
            Some((r, p)) => Outcome::Allow(r, p),
            None if bound => Outcome::NoAllowMatch,
            None => Outcome::NoMatchingRole,
        }
    }
}

impl<'a> Caller<'_, 'a> {
    /// Decides whether the caller may use `target` on `server`; the same
    /// answer as [`Policy::decide`].
    pub fn decide(&self, server: &'a ServerName, target: Target<'a>) -> Decision<'a> {
        let roles = || self.roles.iter().copied();
        self.policy.decision(roles, self.who, server, target)
    }

    /// The same answer as [`Policy::allows`]. Never allocates.
    pub fn allows(&self, server: &ServerName, target: Target<'_>) -> bool {
        let outcome = self
            .policy
            .evaluate(self.roles.iter().copied(), server.as_str(), target);
        matches!(outcome, Outcome::Allow(..))
    }
}

#[cfg(test)]
mod tests;
