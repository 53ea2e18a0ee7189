//! The one-line explanation of a decision that `sallyport relay explain`
//! prints and logs can carry. Names the caller chose (tool, URI, user,
//! groups, agent) are written with control and bidi-override characters
//! escaped, so a crafted name cannot break or disguise the line.

use std::fmt;

use super::{Decision, Rule, Subject, Target};

impl fmt::Display for Subject<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(user) = self.user else {
            return f.write_str("anonymous callers");
        };
        write!(f, "user {} (groups: ", Clean(user))?;
        if self.groups.is_empty() {
            f.write_str("none")?;
        }
        for (i, g) in self.groups.iter().enumerate() {
            write!(f, "{}{}", if i == 0 { "" } else { ", " }, Clean(g))?;
        }
        write!(f, "; agent: {})", Clean(self.agent.unwrap_or("none")))
    }
}

impl fmt::Display for Decision<'_> {
    /// One line for people, e.g.
    /// `ALLOW contracts/search_docs by role legal-reader (allow "contracts/search_*")`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = if self.allowed { "ALLOW" } else { "DENY" };
        let server = self.server;
        match self.target {
            Target::Tool(n) => write!(f, "{verdict} {server}/{}", Clean(n))?,
            Target::Resource(u) => write!(f, "{verdict} resource {server}/{}", Clean(u))?,
            Target::Prompt(n) => write!(f, "{verdict} prompt {server}/{}", Clean(n))?,
            Target::Server => write!(f, "{verdict} server {server}")?,
        }
        match &self.rule {
            Rule::Allow { role, pattern } => {
                write!(f, " by role {role} (allow \"{}\")", Clean(pattern.as_str()))
            }
            Rule::Deny { role, pattern } => {
                write!(f, " by role {role} (deny \"{}\")", Clean(pattern.as_str()))
            }
            Rule::NoMatchingRole => write!(f, ": no role is bound to {}", self.who),
            Rule::NoAllowMatch { roles } => {
                let s = if roles.len() == 1 { "" } else { "s" };
                write!(f, ": no allow pattern matches in role{s} ")?;
                for (i, r) in roles.iter().enumerate() {
                    write!(f, "{}{r}", if i == 0 { "" } else { ", " })?;
                }
                write!(f, " of {}", self.who)
            }
        }
    }
}

/// Writes a string with control and bidi-override characters escaped
/// (`\n`, `\u{202e}`); everything else as is.
struct Clean<'a>(&'a str);

impl fmt::Display for Clean<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars() {
            let bidi = matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
            if c.is_control() || bidi {
                write!(f, "{}", c.escape_default())?;
            } else {
                write!(f, "{c}")?;
            }
        }
        Ok(())
    }
}
