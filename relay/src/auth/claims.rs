//! Checking a verified token's claims and mapping them to a [`Principal`]:
//! pure functions of the claims, the clock and the issuer's settings.

use serde_json::{Map, Value};

use super::config::AgentClaim;
use super::issuer::Issuer;
use super::{AuthError, AuthMethod, Principal};

/// Longest `sub`, group or agent accepted.
const MAX_NAME: usize = 1024;
/// Most groups accepted in one token.
const MAX_GROUPS: usize = 1024;

type Claims = Map<String, Value>;

/// `exp` (required), `nbf` and `iat` (optional) against `now`, both in
/// seconds since the epoch, with `leeway` seconds of tolerated skew.
pub(crate) fn check_times(claims: &Claims, now: u64, leeway: u64) -> Result<(), AuthError> {
    let now = i128::from(now);
    let leeway = i128::from(leeway);
    let exp = numeric(claims, "exp")?.ok_or(AuthError::BadClaim {
        claim: "exp",
        reason: "missing: tokens must expire",
    })?;
    if now >= exp + leeway {
        return Err(AuthError::Expired);
    }
    for claim in ["nbf", "iat"] {
        if numeric(claims, claim)?.is_some_and(|t| t > now + leeway) {
            return Err(AuthError::NotYetValid);
        }
    }
    Ok(())
}

/// A NumericDate claim, whole seconds (fractions are truncated).
fn numeric(claims: &Claims, claim: &'static str) -> Result<Option<i128>, AuthError> {
    match claims.get(claim) {
        None => Ok(None),
        Some(v) => v
            .as_i64()
            .map(i128::from)
            .or_else(|| v.as_f64().filter(|f| f.is_finite()).map(|f| f as i128))
            .map(Some)
            .ok_or(AuthError::BadClaim {
                claim,
                reason: "not a number",
            }),
    }
}

/// `aud` (a string or an array of strings) must name one of `accepted`.
/// A trailing `/` is ignored on both sides, so `https://relay.acme.com/`
/// matches `https://relay.acme.com`.
pub(crate) fn check_audience<'a>(
    claims: &Claims,
    accepted: impl Iterator<Item = &'a str> + Clone,
) -> Result<(), AuthError> {
    let bad = AuthError::BadClaim {
        claim: "aud",
        reason: "missing, or not a string or an array of strings",
    };
    let matches = |aud: &str| {
        accepted
            .clone()
            .any(|a| !a.is_empty() && a.trim_end_matches('/') == aud.trim_end_matches('/'))
    };
    let found = match claims.get("aud") {
        Some(Value::String(aud)) => matches(aud),
        Some(Value::Array(auds)) if !auds.is_empty() => {
            let mut found = false;
            for aud in auds {
                found |= matches(aud.as_str().ok_or(bad.clone())?);
            }
            found
        }
        _ => return Err(bad),
    };
    if found {
        Ok(())
    } else {
        Err(AuthError::WrongAudience)
    }
}

/// The principal: `sub`, the issuer's groups claim and agent claims.
pub(crate) fn principal(claims: &Claims, issuer: &Issuer) -> Result<Principal, AuthError> {
    let subject = match claims.get("sub") {
        Some(Value::String(s)) if name_ok(s) => s.clone(),
        _ => {
            return Err(AuthError::BadClaim {
                claim: "sub",
                reason: "missing, empty, too long or not a string",
            });
        }
    };
    Ok(Principal {
        subject,
        groups: groups(claims, &issuer.groups_claim)?,
        agent: agent(claims, &issuer.agent_claims)?,
        method: AuthMethod::Jwt {
            issuer: issuer.name.clone(),
        },
    })
}

fn name_ok(s: &str) -> bool {
    !s.trim().is_empty() && s.len() <= MAX_NAME && !s.chars().any(char::is_control)
}

/// The claim `name`, or when absent and `name` is dotted, the nested path
/// (`realm_access.roles`). Names with dots such as namespaced URLs are
/// looked up whole first.
fn lookup<'a>(claims: &'a Claims, name: &str) -> Option<&'a Value> {
    if let Some(v) = claims.get(name) {
        return Some(v);
    }
    if !name.contains('.') {
        return None;
    }
    let mut parts = name.split('.');
    let mut value = claims.get(parts.next()?)?;
    for part in parts {
        value = value.as_object()?.get(part)?;
    }
    Some(value)
}

/// Groups: an array of strings, or one string separated by spaces or
/// commas (as `scope`-like claims are). Absent: no groups.
pub(crate) fn groups(claims: &Claims, claim: &str) -> Result<Vec<String>, AuthError> {
    let bad = |reason| AuthError::BadClaim {
        claim: "groups",
        reason,
    };
    let groups: Vec<String> = match lookup(claims, claim) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => s
            .split([' ', ','])
            .filter(|g| !g.is_empty())
            .map(str::to_owned)
            .collect(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect::<Option<Vec<String>>>()
            .ok_or(bad("must be strings"))?,
        Some(_) => return Err(bad("must be an array of strings or a string")),
    };
    if groups.len() > MAX_GROUPS {
        return Err(bad("too many groups"));
    }
    if !groups.iter().all(|g| name_ok(g)) {
        return Err(bad("a group is empty, too long or has control characters"));
    }
    Ok(groups)
}

/// The agent: the first of `order` present as a non-empty string.
pub(crate) fn agent(claims: &Claims, order: &[AgentClaim]) -> Result<Option<String>, AuthError> {
    for claim in order {
        let value = match claim {
            AgentClaim::ActSub => claims
                .get("act")
                .and_then(Value::as_object)
                .and_then(|act| act.get("sub")),
            other => claims.get(other.name()),
        };
        match value {
            None | Some(Value::Null) => continue,
            Some(Value::String(s)) if s.is_empty() => continue,
            Some(Value::String(s)) if name_ok(s) => return Ok(Some(s.clone())),
            Some(_) => {
                return Err(AuthError::BadClaim {
                    claim: "agent",
                    reason: "not a string, too long or has control characters",
                });
            }
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn claims_of(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!("test literal is an object"),
        }
    }

    #[test]
    fn times_with_leeway() {
        let c = claims_of(json!({"exp": 1000, "nbf": 900, "iat": 900}));
        assert_eq!(check_times(&c, 950, 0), Ok(()));
        assert_eq!(check_times(&c, 1000, 0), Err(AuthError::Expired));
        assert_eq!(check_times(&c, 1059, 60), Ok(()));
        assert_eq!(check_times(&c, 1060, 60), Err(AuthError::Expired));
        assert_eq!(check_times(&c, 899, 0), Err(AuthError::NotYetValid));
        assert_eq!(check_times(&c, 840, 60), Ok(()));
        let no_exp = claims_of(json!({"nbf": 1}));
        assert!(matches!(
            check_times(&no_exp, 5, 0),
            Err(AuthError::BadClaim { claim: "exp", .. })
        ));
        let text_exp = claims_of(json!({"exp": "1000"}));
        assert!(matches!(
            check_times(&text_exp, 5, 0),
            Err(AuthError::BadClaim { claim: "exp", .. })
        ));
        assert_eq!(
            check_times(&claims_of(json!({"exp": 1000.9})), 999, 0),
            Ok(())
        );
    }

    #[test]
    fn audience_forms() {
        let accepted = [
            "https://relay.acme.com/mcp/contracts",
            "https://relay.acme.com",
            "",
        ];
        let check = |aud: Value| {
            check_audience(&claims_of(json!({ "aud": aud })), accepted.iter().copied())
        };
        assert_eq!(check(json!("https://relay.acme.com")), Ok(()));
        assert_eq!(check(json!("https://relay.acme.com/")), Ok(()));
        assert_eq!(
            check(json!(["x", "https://relay.acme.com/mcp/contracts"])),
            Ok(())
        );
        assert_eq!(
            check(json!("https://relay.acme.com/mcp/other")),
            Err(AuthError::WrongAudience)
        );
        assert_eq!(check(json!("")), Err(AuthError::WrongAudience));
        assert!(matches!(
            check(json!([])),
            Err(AuthError::BadClaim { claim: "aud", .. })
        ));
        assert!(matches!(
            check(json!([1])),
            Err(AuthError::BadClaim { claim: "aud", .. })
        ));
        assert!(matches!(
            check_audience(&claims_of(json!({})), accepted.iter().copied()),
            Err(AuthError::BadClaim { claim: "aud", .. })
        ));
    }

    #[test]
    fn groups_forms() {
        let g = |v: Value, claim: &str| groups(&claims_of(v), claim);
        assert_eq!(
            g(json!({"groups": ["a", "b"]}), "groups"),
            Ok(vec!["a".into(), "b".into()])
        );
        assert_eq!(
            g(json!({"groups": "a b,c  ,d"}), "groups"),
            Ok(vec!["a".into(), "b".into(), "c".into(), "d".into()])
        );
        assert_eq!(g(json!({}), "groups"), Ok(vec![]));
        assert_eq!(
            g(
                json!({"realm_access": {"roles": ["r"]}}),
                "realm_access.roles"
            ),
            Ok(vec!["r".into()])
        );
        assert_eq!(
            g(
                json!({"https://acme.com/groups": ["x"]}),
                "https://acme.com/groups"
            ),
            Ok(vec!["x".into()])
        );
        assert!(g(json!({"groups": [1]}), "groups").is_err());
        assert!(g(json!({"groups": {"a": 1}}), "groups").is_err());
    }

    #[test]
    fn agent_claims() {
        let c = claims_of(
            json!({"act": {"sub": "claude"}, "azp": "web", "client_id": "cli", "agent": "bot"}),
        );
        let a = |order: &[AgentClaim]| agent(&c, order).expect("agent");
        assert_eq!(a(&AgentClaim::DEFAULT_ORDER).as_deref(), Some("claude"));
        assert_eq!(a(&[AgentClaim::Azp]).as_deref(), Some("web"));
        assert_eq!(a(&[AgentClaim::ClientId]).as_deref(), Some("cli"));
        assert_eq!(a(&[AgentClaim::Agent]).as_deref(), Some("bot"));
        let only_client = claims_of(json!({"client_id": "cli", "azp": ""}));
        assert_eq!(
            agent(&only_client, &AgentClaim::DEFAULT_ORDER)
                .expect("agent")
                .as_deref(),
            Some("cli")
        );
        assert_eq!(
            agent(&claims_of(json!({})), &AgentClaim::DEFAULT_ORDER),
            Ok(None)
        );
        assert!(agent(&claims_of(json!({"azp": 5})), &[AgentClaim::Azp]).is_err());
    }
}
