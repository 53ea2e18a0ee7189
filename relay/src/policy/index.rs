//! The lookup tables built once per policy so that a decision touches only
//! the caller's bindings and only the patterns that can apply on the server.

use std::collections::HashMap;

use super::{Pattern, Role, Subject};

/// Bindings by who they name, and role patterns by server.
#[derive(Debug, Clone, Default)]
pub(super) struct Index {
    bindings: Vec<Binding>,
    /// Binding ids by listed user and by listed group.
    by_user: HashMap<Box<str>, Vec<usize>>,
    by_group: HashMap<Box<str>, Vec<usize>>,
    /// Bindings that list only agents: any authenticated user may match.
    any_user: Vec<usize>,
    /// `anonymous = true` bindings.
    anonymous: Vec<usize>,
    /// For each server named without wildcards in some pattern, per role:
    /// the patterns whose server glob matches that server.
    servers: HashMap<Box<str>, Box<[Candidates]>>,
    /// For every other server, per role: the patterns whose server glob has
    /// a wildcard (a literal one cannot match a server no pattern names).
    other_servers: Box<[Candidates]>,
}

/// A validated binding, as the parser hands it over.
pub(super) struct NewBinding {
    /// Index of the bound role.
    pub(super) role: usize,
    pub(super) anonymous: bool,
    pub(super) users: Vec<String>,
    pub(super) groups: Vec<String>,
    /// When set, the caller's agent must be one of these.
    pub(super) agents: Option<Box<[Box<str>]>>,
}

#[derive(Debug, Clone)]
struct Binding {
    role: usize,
    agents: Option<Box<[Box<str>]>>,
}

/// Indices into a role's `deny` and `allow` lists worth checking.
#[derive(Debug, Clone, Default)]
pub(super) struct Candidates {
    pub(super) deny: Box<[usize]>,
    pub(super) allow: Box<[usize]>,
}

const NO_BINDINGS: &[usize] = &[];

impl Index {
    /// Adds a validated binding.
    pub(super) fn add_binding(&mut self, b: NewBinding) {
        let id = self.bindings.len();
        self.bindings.push(Binding {
            role: b.role,
            agents: b.agents,
        });
        if b.anonymous {
            self.anonymous.push(id);
            return;
        }
        if b.users.is_empty() && b.groups.is_empty() {
            self.any_user.push(id);
        }
        let add = |map: &mut HashMap<Box<str>, Vec<usize>>, key: String| {
            let ids = map.entry(key.into_boxed_str()).or_default();
            // A name listed twice in one binding is looked at once.
            if ids.last() != Some(&id) {
                ids.push(id);
            }
        };
        for u in b.users {
            add(&mut self.by_user, u);
        }
        for g in b.groups {
            add(&mut self.by_group, g);
        }
    }

    /// Builds the per-server candidate lists; call once all roles are known.
    pub(super) fn add_servers(&mut self, roles: &[Role]) {
        let pick = |list: &[Pattern], keep: &dyn Fn(&Pattern) -> bool| -> Box<[usize]> {
            (0..list.len()).filter(|&i| keep(&list[i])).collect()
        };
        let per_role = |keep: &dyn Fn(&Pattern) -> bool| -> Box<[Candidates]> {
            roles
                .iter()
                .map(|r| Candidates {
                    deny: pick(&r.deny, keep),
                    allow: pick(&r.allow, keep),
                })
                .collect()
        };
        let patterns = roles
            .iter()
            .flat_map(|r| r.deny.iter().chain(r.allow.iter()));
        for p in patterns {
            let server = p.server();
            if server.is_literal() && !self.servers.contains_key(server.as_str()) {
                let table = per_role(&|q| q.server().matches(server.as_str()));
                self.servers.insert(server.as_str().into(), table);
            }
        }
        self.other_servers = per_role(&|q| !q.server().is_literal());
    }

    /// Per role, the patterns that may apply on `server`. Their server glob
    /// must still be checked: the lists only leave out what cannot match.
    pub(super) fn candidates(&self, server: &str) -> &[Candidates] {
        self.servers.get(server).unwrap_or(&self.other_servers)
    }

    /// The caller's roles, by index, each once, in binding order: bindings
    /// listing the user, then its groups, then agent-only bindings; for an
    /// anonymous caller only `anonymous = true` bindings.
    pub(super) fn roles_of<'s>(&'s self, who: &Subject<'s>) -> impl Iterator<Item = usize> + 's {
        let lookup = |map: &'s HashMap<Box<str>, Vec<usize>>, key: &str| {
            map.get(key).map_or(NO_BINDINGS, Vec::as_slice)
        };
        let (direct, groups, rest) = match who.user {
            Some(user) => (lookup(&self.by_user, user), who.groups, &self.any_user[..]),
            None => (&self.anonymous[..], &[][..], NO_BINDINGS),
        };
        let agent = if who.user.is_some() { who.agent } else { None };
        let mut seen = Seen::default();
        direct
            .iter()
            .chain(groups.iter().flat_map(move |g| lookup(&self.by_group, g)))
            .chain(rest)
            .map(|&b| &self.bindings[b])
            .filter(move |b| match &b.agents {
                None => true,
                Some(list) => agent.is_some_and(|a| list.iter().any(|x| **x == *a)),
            })
            .map(|b| b.role)
            .filter(move |&r| seen.first(r))
    }
}

/// Remembers which roles were already visited, without allocating for the
/// first 128 roles; beyond that, repeats are possible and harmless.
#[derive(Default)]
struct Seen(u128);

impl Seen {
    fn first(&mut self, role: usize) -> bool {
        let Some(bit) = u32::try_from(role).ok().and_then(|r| 1u128.checked_shl(r)) else {
            return true;
        };
        let first = self.0 & bit == 0;
        self.0 |= bit;
        first
    }
}
