//! The caller a policy decision is about.

use crate::auth::Principal;

/// The caller a decision is about. Build it from an authenticated
/// [`Principal`] with `Subject::from`, or use [`Subject::ANONYMOUS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subject<'a> {
    /// The user or service subject; `None`: unauthenticated. Anonymous
    /// callers match only `anonymous = true` bindings, whatever groups or
    /// agent they claim.
    pub user: Option<&'a str>,
    /// The user's groups.
    pub groups: &'a [String],
    /// The agent acting for the user, when known.
    pub agent: Option<&'a str>,
}

impl Subject<'_> {
    /// An unauthenticated caller.
    pub const ANONYMOUS: Subject<'static> = Subject {
        user: None,
        groups: &[],
        agent: None,
    };
}

impl<'a> From<&'a Principal> for Subject<'a> {
    fn from(p: &'a Principal) -> Self {
        if p.is_anonymous() {
            return Subject::ANONYMOUS;
        }
        Subject {
            user: Some(&p.subject),
            groups: &p.groups,
            agent: p.agent.as_deref(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::AuthMethod;

    #[test]
    fn principal_becomes_subject() {
        let principal = Principal {
            subject: "alice".into(),
            groups: vec!["legal".into()],
            agent: Some("claude".into()),
            method: AuthMethod::ApiKey,
        };
        let s = Subject::from(&principal);
        assert_eq!(
            (s.user, s.groups, s.agent),
            (Some("alice"), &principal.groups[..], Some("claude"))
        );
        assert_eq!(Subject::ANONYMOUS.user, None);
        assert_eq!(Subject::from(&Principal::anonymous()), Subject::ANONYMOUS);
    }
}
