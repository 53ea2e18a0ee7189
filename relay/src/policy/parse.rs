//! Policy text → [`Policy`]: serde structs that refuse unknown keys, then
//! validation that names the entry and line of every problem, then the
//! lookup tables `decide` uses.

use std::collections::HashMap;
use std::ops::Range;

use serde::Deserialize;
use serde::de::IgnoredAny;
use toml::Spanned;

use super::error::{Entry, EntryKind, PolicyError, Problem};
use super::index::NewBinding;
use super::{Policy, Role, RoleName};

/// The keys of a policy in any TOML document; other keys are not read.
#[derive(Deserialize)]
struct RawPolicy {
    #[serde(default)]
    role: Vec<Spanned<RawRole>>,
    #[serde(default)]
    binding: Vec<Spanned<RawBinding>>,
}

/// A standalone policy file's top level: nothing but roles and bindings.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[expect(dead_code, reason = "only the key check matters")]
struct StandaloneTop {
    #[serde(default)]
    role: IgnoredAny,
    #[serde(default)]
    binding: IgnoredAny,
}

/// The same arrays with any content, to say which entry a serde error is in.
#[derive(Deserialize)]
struct LenientPolicy {
    #[serde(default)]
    role: Vec<Spanned<toml::Value>>,
    #[serde(default)]
    binding: Vec<Spanned<toml::Value>>,
}

type List = Option<Spanned<Vec<Spanned<String>>>>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRole {
    name: Spanned<String>,
    #[serde(default)]
    allow: Vec<Spanned<String>>,
    #[serde(default)]
    deny: Vec<Spanned<String>>,
    rate: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBinding {
    role: Spanned<String>,
    users: List,
    groups: List,
    agents: List,
    anonymous: Option<Spanned<bool>>,
}

/// Parses the `role` and `binding` arrays of `text`.
pub(super) fn parse(text: &str, standalone: bool) -> Result<Policy, PolicyError> {
    let lines = Lines(text);
    if standalone {
        toml::from_str::<StandaloneTop>(text).map_err(|e| lines.syntax(&e, None))?;
    }
    let raw: RawPolicy = toml::from_str(text).map_err(|e| {
        let entry = e.span().and_then(|s| entry_at(text, s.start));
        lines.syntax(&e, entry)
    })?;
    build(raw, &lines)
}

fn build(raw: RawPolicy, lines: &Lines<'_>) -> Result<Policy, PolicyError> {
    let mut policy = Policy::default();
    let mut role_spans: HashMap<String, Range<usize>> = HashMap::new();
    for (i, spanned) in raw.role.into_iter().enumerate() {
        let r = spanned.into_inner();
        let entry = Entry {
            kind: EntryKind::Role,
            number: i + 1,
            name: Some(r.name.get_ref().clone()),
        };
        let invalid = |span: Range<usize>, problem| PolicyError::Invalid {
            line: lines.line(span.start),
            entry: entry.clone(),
            problem,
        };
        let name =
            RoleName::new(r.name.get_ref()).map_err(|reason| invalid(r.name.span(), reason))?;
        if let Some(first) = role_spans.get(name.as_str()) {
            return Err(invalid(
                r.name.span(),
                Problem::DuplicateRole {
                    name: name.as_str().to_owned(),
                    first_line: lines.line(first.start),
                },
            ));
        }
        role_spans.insert(name.as_str().to_owned(), r.name.span());
        let patterns = |key: &'static str, list: Vec<Spanned<String>>| {
            list.into_iter()
                .map(|p| {
                    p.get_ref().parse().map_err(|error| {
                        let pattern = p.get_ref().clone();
                        invalid(
                            p.span(),
                            Problem::BadPattern {
                                key,
                                pattern,
                                error,
                            },
                        )
                    })
                })
                .collect::<Result<Box<[_]>, _>>()
        };
        let allow = patterns("allow", r.allow)?;
        let deny = patterns("deny", r.deny)?;
        let rate = r
            .rate
            .map(|rate| {
                rate.get_ref().parse().map_err(|error| {
                    let rate_text = rate.get_ref().clone();
                    invalid(
                        rate.span(),
                        Problem::BadRate {
                            rate: rate_text,
                            error,
                        },
                    )
                })
            })
            .transpose()?;
        policy.roles.push(Role {
            name,
            allow,
            deny,
            rate,
        });
    }
    for (i, spanned) in raw.binding.into_iter().enumerate() {
        let header = spanned.span();
        let b = spanned.into_inner();
        let entry = Entry {
            kind: EntryKind::Binding,
            number: i + 1,
            name: Some(b.role.get_ref().clone()),
        };
        let binding = validate_binding(&policy, b, header).map_err(|(span, problem)| {
            PolicyError::Invalid {
                line: lines.line(span.start),
                entry,
                problem,
            }
        })?;
        policy.index.add_binding(binding);
    }
    policy.index.add_servers(&policy.roles);
    Ok(policy)
}

fn validate_binding(
    policy: &Policy,
    b: RawBinding,
    header: Range<usize>,
) -> Result<NewBinding, (Range<usize>, Problem)> {
    let role = policy
        .roles
        .iter()
        .position(|r| r.name.as_str() == b.role.get_ref())
        .ok_or_else(|| {
            let role = b.role.get_ref().clone();
            (b.role.span(), Problem::UnknownRole { role })
        })?;
    let anonymous = b.anonymous.as_ref().is_some_and(|a| *a.get_ref());
    let lists = [
        ("users", &b.users),
        ("groups", &b.groups),
        ("agents", &b.agents),
    ];
    for (key, list) in lists {
        let Some(list) = list else { continue };
        if anonymous && (key == "agents" || !list.get_ref().is_empty()) {
            return Err((list.span(), Problem::AnonymousWithSubjects { key }));
        }
        if let Some(empty) = list.get_ref().iter().find(|s| s.get_ref().is_empty()) {
            return Err((empty.span(), Problem::EmptyName { key }));
        }
    }
    let agents = match b.agents {
        Some(a) if a.get_ref().is_empty() => return Err((a.span(), Problem::EmptyAgents)),
        Some(a) => Some(
            a.into_inner()
                .into_iter()
                .map(|s| s.into_inner().into())
                .collect(),
        ),
        None => None,
    };
    let strings = |l: List| -> Vec<String> {
        l.map(|l| {
            l.into_inner()
                .into_iter()
                .map(Spanned::into_inner)
                .collect()
        })
        .unwrap_or_default()
    };
    let (users, groups) = (strings(b.users), strings(b.groups));
    if !anonymous && users.is_empty() && groups.is_empty() && agents.is_none() {
        return Err((header, Problem::NoSubjects));
    }
    Ok(NewBinding {
        role,
        anonymous,
        users,
        groups,
        agents,
    })
}

/// Which entry starts last at or before `offset` (entries are contiguous, so
/// that is the one holding it), with its number and name.
fn entry_at(text: &str, offset: usize) -> Option<Entry> {
    let lenient: LenientPolicy = toml::from_str(text).ok()?;
    let tagged = |kind, list: Vec<Spanned<toml::Value>>, key| {
        list.into_iter().enumerate().map(move |(i, v)| {
            let name = v
                .get_ref()
                .get(key)
                .and_then(|n| n.as_str())
                .map(str::to_owned);
            let entry = Entry {
                kind,
                number: i + 1,
                name,
            };
            (v.span().start, entry)
        })
    };
    tagged(EntryKind::Role, lenient.role, "name")
        .chain(tagged(EntryKind::Binding, lenient.binding, "role"))
        .filter(|(start, _)| *start <= offset)
        .max_by_key(|(start, _)| *start)
        .map(|(_, entry)| entry)
}

/// Turns byte offsets into 1-based lines and columns.
struct Lines<'a>(&'a str);

impl Lines<'_> {
    fn line(&self, offset: usize) -> usize {
        let before = self.0.get(..offset).unwrap_or(self.0);
        before.bytes().filter(|b| *b == b'\n').count() + 1
    }

    fn column(&self, offset: usize) -> usize {
        let before = self.0.get(..offset).unwrap_or(self.0);
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        before[line_start..].chars().count() + 1
    }

    fn syntax(&self, e: &toml::de::Error, entry: Option<Entry>) -> PolicyError {
        let span = e.span();
        PolicyError::Syntax {
            line: span.as_ref().map(|s| self.line(s.start)),
            column: span.as_ref().map(|s| self.column(s.start)),
            entry,
            message: e.message().trim_end().to_owned(),
        }
    }
}

#[cfg(test)]
mod tests;
