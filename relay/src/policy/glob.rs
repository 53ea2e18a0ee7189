//! Globs and `<server>/<name>` patterns, matched without regex and without
//! allocating.
//!
//! A glob knows two wildcards: `*` matches any run of characters (including
//! none, and including `/`, so `file:///docs/*` covers sub-directories) and
//! `?` matches exactly one character. Every other character, `[` and `\`
//! included, stands for itself. Matching is case-sensitive.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use super::Target;

/// A compiled glob over `*` and `?`.
#[derive(Clone)]
pub struct Glob {
    text: Box<str>,
    matcher: Matcher,
}

/// The cheapest way to match a given glob; most policy globs are one of the
/// first four shapes.
#[derive(Clone, Debug)]
enum Matcher {
    /// `*` (or `**`, …): everything.
    Any,
    /// No wildcard: string equality.
    Exact,
    /// `lit*`.
    Prefix(Box<str>),
    /// `*lit`.
    Suffix(Box<str>),
    /// Anything else.
    Tokens(Box<[Token]>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    Literal(Box<str>),
    One,
    Star,
}

impl Glob {
    /// Compiles `text`. Every string is a valid glob.
    pub fn new(text: &str) -> Self {
        let mut tokens: Vec<Token> = Vec::new();
        let mut literal = String::new();
        for c in text.chars() {
            if c != '*' && c != '?' {
                literal.push(c);
                continue;
            }
            if !literal.is_empty() {
                tokens.push(Token::Literal(std::mem::take(&mut literal).into()));
            }
            match c {
                // Runs of `*` match the same strings as one `*`.
                '*' if tokens.last() == Some(&Token::Star) => {}
                '*' => tokens.push(Token::Star),
                _ => tokens.push(Token::One),
            }
        }
        if !literal.is_empty() {
            tokens.push(Token::Literal(literal.into()));
        }
        let matcher = match tokens.as_slice() {
            [Token::Star] => Matcher::Any,
            [] | [Token::Literal(_)] => Matcher::Exact,
            [Token::Literal(l), Token::Star] => Matcher::Prefix(l.clone()),
            [Token::Star, Token::Literal(l)] => Matcher::Suffix(l.clone()),
            _ => Matcher::Tokens(tokens.into()),
        };
        Glob {
            text: text.into(),
            matcher,
        }
    }

    /// Whether `s` matches the whole glob.
    pub fn matches(&self, s: &str) -> bool {
        match &self.matcher {
            Matcher::Any => true,
            Matcher::Exact => *self.text == *s,
            Matcher::Prefix(p) => s.starts_with(&**p),
            Matcher::Suffix(x) => s.ends_with(&**x),
            Matcher::Tokens(t) => match_tokens(t, s),
        }
    }

    /// Whether the glob matches every string (it is `*`).
    pub fn is_any(&self) -> bool {
        matches!(self.matcher, Matcher::Any)
    }

    /// Whether the glob has no wildcard and so matches only itself.
    pub fn is_literal(&self) -> bool {
        matches!(self.matcher, Matcher::Exact)
    }

    /// The glob as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// Greedy matching that remembers only the last `*`: when a later token
/// fails, that star absorbs one more character and matching resumes after
/// it. Time is O(|tokens| · |s|) at worst, never exponential.
fn match_tokens(tokens: &[Token], s: &str) -> bool {
    let (mut t, mut i) = (0, 0);
    // (token after the last star, position in `s` that star extends to)
    let mut star: Option<(usize, usize)> = None;
    loop {
        let advanced = match tokens.get(t) {
            Some(Token::Star) => {
                star = Some((t + 1, i));
                t += 1;
                continue;
            }
            Some(Token::One) => s[i..].chars().next().map(|c| i + c.len_utf8()),
            Some(Token::Literal(l)) => s[i..].starts_with(&**l).then(|| i + l.len()),
            None if i == s.len() => return true,
            None => None,
        };
        if let Some(next) = advanced {
            t += 1;
            i = next;
            continue;
        }
        let Some((after, from)) = star else {
            return false;
        };
        let Some(c) = s[from..].chars().next() else {
            return false;
        };
        star = Some((after, from + c.len_utf8()));
        t = after;
        i = from + c.len_utf8();
    }
}

impl fmt::Display for Glob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for Glob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Glob({:?})", self.text)
    }
}

impl PartialEq for Glob {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for Glob {}

/// A `<server>/<name>` pattern from a role's `allow` or `deny` list.
///
/// The text is split at its *first* `/`: the server part never holds one,
/// while the name part may (resource URIs do). Cloning is a reference-count
/// increment, so decisions can carry the pattern that decided them.
#[derive(Clone, PartialEq, Eq)]
pub struct Pattern(Arc<PatternInner>);

#[derive(PartialEq, Eq)]
struct PatternInner {
    text: Box<str>,
    server: Glob,
    name: Glob,
}

/// Why a pattern was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PatternError {
    /// No `/` separates server and name.
    #[error("has no '/': write <server>/<tool|resource|prompt>, e.g. \"contracts/*\"")]
    NoSlash,
    /// The part before the first `/` is empty.
    #[error("has an empty server part (use \"*\" for every server)")]
    EmptyServer,
    /// The server part holds a character no server name can hold.
    #[error(
        "server part {server:?} can never match: server names hold only a-z, 0-9, '-' and '_' (plus the wildcards '*' and '?')"
    )]
    BadServer {
        /// The server part.
        server: String,
    },
    /// The part after the first `/` is empty.
    #[error("has an empty name part (use \"*\" for every tool, resource and prompt)")]
    EmptyName,
}

impl Pattern {
    /// The glob over server names.
    pub fn server(&self) -> &Glob {
        &self.0.server
    }

    /// The glob over tool names, resource URIs and prompt names.
    pub fn name(&self) -> &Glob {
        &self.0.name
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.0.text
    }

    /// Whether an `allow` holding this pattern grants `target` on `server`.
    /// For [`Target::Server`] the server part alone decides.
    pub fn allows(&self, server: &str, target: Target<'_>) -> bool {
        self.0.server.matches(server)
            && match target {
                Target::Server => true,
                Target::Tool(n) | Target::Resource(n) | Target::Prompt(n) => self.0.name.matches(n),
            }
    }

    /// Whether a `deny` holding this pattern refuses `target` on `server`.
    /// For [`Target::Server`] only a pattern covering every name on the
    /// server (`<server>/*`) refuses it: a narrower deny leaves the rest of
    /// the server usable.
    pub fn denies(&self, server: &str, target: Target<'_>) -> bool {
        self.0.server.matches(server)
            && match target {
                Target::Server => self.0.name.is_any(),
                Target::Tool(n) | Target::Resource(n) | Target::Prompt(n) => self.0.name.matches(n),
            }
    }
}

impl FromStr for Pattern {
    type Err = PatternError;

    fn from_str(text: &str) -> Result<Self, PatternError> {
        let (server, name) = text.split_once('/').ok_or(PatternError::NoSlash)?;
        if server.is_empty() {
            return Err(PatternError::EmptyServer);
        }
        let server_char = |c: char| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '*' | '?')
        };
        if !server.chars().all(server_char) {
            return Err(PatternError::BadServer {
                server: server.to_owned(),
            });
        }
        if name.is_empty() {
            return Err(PatternError::EmptyName);
        }
        Ok(Pattern(Arc::new(PatternInner {
            text: text.into(),
            server: Glob::new(server),
            name: Glob::new(name),
        })))
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.text)
    }
}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pattern({:?})", self.0.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_table() {
        // (glob, input, matches)
        let cases: &[(&str, &str, bool)] = &[
            ("*", "", true),
            ("*", "anything/at all", true),
            ("**", "x", true),
            ("search", "search", true),
            ("search", "search_docs", false),
            ("search", "Search", false),
            ("", "", true),
            ("", "x", false),
            ("search_*", "search_", true),
            ("search_*", "search_docs", true),
            ("search_*", "research_docs", false),
            ("*_docs", "search_docs", true),
            ("*_docs", "search_docs2", false),
            ("get_?", "get_a", true),
            ("get_?", "get_", false),
            ("get_?", "get_ab", false),
            ("get_?", "get_é", true),
            ("a*b*c", "abc", true),
            ("a*b*c", "a-b-b-c", true),
            ("a*b*c", "a-b-c-d", false),
            ("a*b*c", "acb", false),
            ("*a?c*", "xxabcyy", true),
            ("*a?c*", "xxacyy", false),
            ("a*aab", "aaaaaab", true),
            ("*ab", "aab", true),
            ("file:///public/*", "file:///public/a/b.txt", true),
            ("file:///public/*", "file:///private/a", false),
            ("[x]", "[x]", true),
            ("[x]", "x", false),
            ("?*?", "ab", true),
            ("?*?", "a", false),
        ];
        for (glob, input, want) in cases {
            assert_eq!(
                Glob::new(glob).matches(input),
                *want,
                "{glob:?} vs {input:?}"
            );
        }
    }

    #[test]
    fn fast_paths_are_chosen() {
        assert!(matches!(Glob::new("*").matcher, Matcher::Any));
        assert!(matches!(Glob::new("***").matcher, Matcher::Any));
        assert!(matches!(Glob::new("x").matcher, Matcher::Exact));
        assert!(matches!(Glob::new("x*").matcher, Matcher::Prefix(_)));
        assert!(matches!(Glob::new("*x").matcher, Matcher::Suffix(_)));
        assert!(matches!(Glob::new("x?").matcher, Matcher::Tokens(_)));
    }

    #[test]
    fn pathological_glob_is_fast() {
        let glob = Glob::new("*a*a*a*a*a*a*a*a*b");
        let input = "a".repeat(10_000);
        assert!(!glob.matches(&input));
    }

    #[test]
    fn pattern_splits_at_first_slash() {
        let p: Pattern = "docs/file:///public/*".parse().expect("valid");
        assert_eq!(p.server().as_str(), "docs");
        assert_eq!(p.name().as_str(), "file:///public/*");
        assert!(p.allows("docs", Target::Resource("file:///public/x/y")));
        assert!(!p.allows("docs", Target::Resource("file:///secret/x")));
        assert!(!p.allows("wiki", Target::Resource("file:///public/x")));
    }

    #[test]
    fn pattern_errors() {
        let err = |s: &str| s.parse::<Pattern>().expect_err(s);
        assert_eq!(err("contracts"), PatternError::NoSlash);
        assert_eq!(err("/search"), PatternError::EmptyServer);
        assert_eq!(err("contracts/"), PatternError::EmptyName);
        assert_eq!(
            err("Contracts/x"),
            PatternError::BadServer {
                server: "Contracts".into()
            }
        );
        assert!("c?n*-x_1/x".parse::<Pattern>().is_ok());
    }

    #[test]
    fn server_target_allow_and_deny() {
        let narrow: Pattern = "contracts/delete_*".parse().expect("valid");
        let all: Pattern = "contra*/*".parse().expect("valid");
        assert!(narrow.allows("contracts", Target::Server));
        assert!(!narrow.denies("contracts", Target::Server));
        assert!(all.denies("contracts", Target::Server));
        assert!(!all.denies("wiki", Target::Server));
    }
}
