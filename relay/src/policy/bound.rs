//! One caller bound to one policy snapshot: the subject is built and its
//! roles looked up once per request, and every decision of that request
//! (the server, the target, its quotas, the list filter) asks the same
//! [`Bound`], so a reload in mid-request cannot split its answers.

use std::sync::Arc;

use sallyport_protocol::ServerName;

use super::{Decision, Outcome, Policy, Rate, RoleName, Subject, Target};
use crate::auth::Principal;

/// A caller with its roles looked up in one policy snapshot. Cloning is
/// two reference-count increments and a [`Principal`] clone.
#[derive(Debug, Clone)]
pub struct Bound {
    policy: Arc<Policy>,
    principal: Principal,
    /// Role indices into `policy` (the same snapshot: they are only ever
    /// used with it), each once, in binding order.
    roles: Arc<[usize]>,
}

impl Bound {
    /// Binds `principal` to `policy`.
    pub fn new(policy: Arc<Policy>, principal: &Principal) -> Self {
        let roles = policy.index.roles_of(&Subject::from(principal)).collect();
        Self {
            policy,
            principal: principal.clone(),
            roles,
        }
    }

    /// Binds the unauthenticated caller to `policy`.
    pub fn anonymous(policy: Arc<Policy>) -> Self {
        Self::new(policy, &Principal::anonymous())
    }

    /// Who the decisions are about.
    pub fn subject(&self) -> Subject<'_> {
        Subject::from(&self.principal)
    }

    /// The caller.
    pub fn principal(&self) -> &Principal {
        &self.principal
    }

    /// Decides whether the caller may use `target` on `server`; the same
    /// answer as [`Policy::decide`] for [`Bound::subject`].
    pub fn decide<'a>(&'a self, server: &'a ServerName, target: Target<'a>) -> Decision<'a> {
        let roles = || self.roles.iter().copied();
        self.policy.decision(roles, self.subject(), server, target)
    }

    /// The same answer as `decide(..).allowed`. Never allocates.
    pub fn allows(&self, server: &ServerName, target: Target<'_>) -> bool {
        let outcome = self
            .policy
            .evaluate(self.roles.iter().copied(), server.as_str(), target);
        matches!(outcome, Outcome::Allow(..))
    }

    /// The quotas that apply to `target` on `server`; the same answer as
    /// [`Policy::quotas`].
    pub fn quotas(&self, server: &ServerName, target: Target<'_>) -> Vec<(RoleName, Rate)> {
        self.policy
            .quotas_in(|| self.roles.iter().copied(), server, target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::AuthMethod;

    const POLICY: &str = r#"
        [[role]]
        name = "reader"
        allow = ["docs/search_*"]
        deny = ["docs/search_secret"]
        rate = "5/min"

        [[role]]
        name = "open"
        allow = ["wiki/*"]

        [[binding]]
        role = "reader"
        groups = ["staff"]

        [[binding]]
        role = "open"
        anonymous = true
    "#;

    fn policy() -> Arc<Policy> {
        Arc::new(Policy::from_toml_str(POLICY).expect("policy"))
    }

    fn alice() -> Principal {
        Principal {
            subject: "alice".into(),
            groups: vec!["staff".into()],
            agent: None,
            method: AuthMethod::ApiKey,
        }
    }

    fn name(s: &str) -> ServerName {
        ServerName::new(s).expect("name")
    }

    #[test]
    fn a_bound_caller_answers_as_the_policy_does() {
        let policy = policy();
        let alice = alice();
        let bound = Bound::new(Arc::clone(&policy), &alice);
        let who = Subject::from(&alice);
        let (docs, wiki) = (name("docs"), name("wiki"));
        for (server, target) in [
            (&docs, Target::Server),
            (&docs, Target::Tool("search_docs")),
            (&docs, Target::Tool("search_secret")),
            (&docs, Target::Tool("delete")),
            (&wiki, Target::Tool("page")),
        ] {
            assert_eq!(
                bound.decide(server, target),
                policy.decide(&who, server, target),
                "{server} {target:?}"
            );
            assert_eq!(
                bound.allows(server, target),
                policy.allows(&who, server, target)
            );
            assert_eq!(
                bound.quotas(server, target),
                policy.quotas(&who, server, target)
            );
        }
        assert!(bound.allows(&docs, Target::Tool("search_docs")));
        assert!(!bound.allows(&docs, Target::Tool("search_secret")));
        assert_eq!(bound.quotas(&docs, Target::Tool("search_docs")).len(), 1);
        assert!(
            bound
                .quotas(&docs, Target::Tool("search_secret"))
                .is_empty()
        );
    }

    #[test]
    fn the_anonymous_caller_matches_only_anonymous_bindings() {
        let policy = policy();
        let anon = Bound::anonymous(Arc::clone(&policy));
        assert_eq!(anon.subject(), Subject::ANONYMOUS);
        assert!(anon.allows(&name("wiki"), Target::Server));
        assert!(!anon.allows(&name("docs"), Target::Server));
        let also = Bound::new(policy, &Principal::anonymous());
        assert_eq!(also.subject(), Subject::ANONYMOUS);
        assert!(also.allows(&name("wiki"), Target::Tool("x")));
        assert!(!also.allows(&name("docs"), Target::Tool("search_docs")));
    }

    #[test]
    fn a_bound_caller_keeps_its_snapshot() {
        let alice = alice();
        let bound = Bound::new(policy(), &alice);
        // A reload replaces the Arc elsewhere; this caller still answers
        // from the policy it was bound to.
        let later = Arc::new(Policy::default());
        assert!(!Bound::new(later, &alice).allows(&name("docs"), Target::Server));
        assert!(bound.allows(&name("docs"), Target::Server));
    }
}
