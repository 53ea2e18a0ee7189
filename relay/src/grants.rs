//! Which connector identity may serve which MCP server: a pure decision over
//! the `[[connector]]` entries of the relay's configuration.

use sallyport_pki::identity::SpiffeId;
use sallyport_protocol::control::{Decision, Refusal, ServerOffer};

use crate::config::ConnectorGrant;

/// The outcome of checking a connector's identity against the grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkDecision {
    /// The identity is known; `decision` says which offers are accepted.
    Admit(Decision),
    /// The identity is in no `[[connector]]` entry: refuse the whole link.
    UnknownIdentity,
}

/// Decides which of `offers` the connector `id` may serve.
///
/// An offer is refused when the identity's entry does not list it, or when
/// the same name is offered twice. Refusals carry a reason for the
/// connector's log.
pub fn decide(grants: &[ConnectorGrant], id: &SpiffeId, offers: &[ServerOffer]) -> LinkDecision {
    let Some(grant) = grants.iter().find(|g| &g.id == id) else {
        return LinkDecision::UnknownIdentity;
    };
    let mut decision = Decision::default();
    for offer in offers {
        let name = &offer.name;
        if decision.accepted.contains(name) || decision.refused.iter().any(|r| &r.server == name) {
            decision.refused.push(Refusal {
                server: name.clone(),
                reason: format!("server {name} is offered twice in one announcement"),
            });
        } else if grant.servers.contains(name) {
            decision.accepted.push(name.clone());
        } else {
            decision.refused.push(Refusal {
                server: name.clone(),
                reason: format!(
                    "identity {id} may not serve {name}: the relay's [[connector]] entry for it lists only [{}]",
                    grant
                        .servers
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
        }
    }
    LinkDecision::Admit(decision)
}

#[cfg(test)]
mod tests {
    use sallyport_protocol::ServerName;
    use sallyport_protocol::control::Transport;

    use super::*;

    fn id(s: &str) -> SpiffeId {
        s.parse().expect("valid spiffe id")
    }

    fn name(s: &str) -> ServerName {
        ServerName::new(s).expect("valid name")
    }

    fn offers(names: &[&str]) -> Vec<ServerOffer> {
        names
            .iter()
            .map(|n| ServerOffer {
                name: name(n),
                transport: Transport::Stdio,
            })
            .collect()
    }

    fn grants() -> Vec<ConnectorGrant> {
        vec![ConnectorGrant {
            id: id("spiffe://acme.internal/connector/legal"),
            servers: [name("contracts"), name("wiki")].into_iter().collect(),
        }]
    }

    #[test]
    fn table() {
        let legal = id("spiffe://acme.internal/connector/legal");
        // (who, offered, accepted, refused)
        type Case<'a> = (&'a SpiffeId, &'a [&'a str], &'a [&'a str], &'a [&'a str]);
        let cases: &[Case] = &[
            (&legal, &["contracts"], &["contracts"], &[]),
            (&legal, &["contracts", "hr"], &["contracts"], &["hr"]),
            (&legal, &["hr", "payroll"], &[], &["hr", "payroll"]),
            (&legal, &["wiki", "wiki"], &["wiki"], &["wiki"]),
            (&legal, &[], &[], &[]),
        ];
        for (who, offered, accepted, refused) in cases {
            let LinkDecision::Admit(d) = decide(&grants(), who, &offers(offered)) else {
                panic!("{who} should be admitted");
            };
            let acc: Vec<_> = d.accepted.iter().map(|s| s.as_str()).collect();
            let rej: Vec<_> = d.refused.iter().map(|r| r.server.as_str()).collect();
            assert_eq!(&acc, accepted, "offered {offered:?}");
            assert_eq!(&rej, refused, "offered {offered:?}");
        }
    }

    #[test]
    fn refusal_names_identity_and_allowed_servers() {
        let legal = id("spiffe://acme.internal/connector/legal");
        let LinkDecision::Admit(d) = decide(&grants(), &legal, &offers(&["hr"])) else {
            panic!("admitted");
        };
        let reason = &d.refused[0].reason;
        assert!(reason.contains("connector/legal"), "{reason}");
        assert!(reason.contains("contracts, wiki"), "{reason}");
    }

    #[test]
    fn unknown_identity_and_other_trust_domain() {
        for who in [
            "spiffe://acme.internal/connector/finance",
            "spiffe://evil.example/connector/legal",
        ] {
            assert_eq!(
                decide(&grants(), &id(who), &offers(&["contracts"])),
                LinkDecision::UnknownIdentity
            );
        }
    }
}
