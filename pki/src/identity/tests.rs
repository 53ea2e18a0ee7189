//! Table tests for the identity newtypes.

use super::*;

#[test]
fn spiffe_id_table() {
    /// Trust domain, path and connector name of a valid id.
    type Parts = (&'static str, &'static str, Option<&'static str>);
    // (input, Some(parts) or None when invalid)
    let cases: &[(&str, Option<Parts>)] = &[
        (
            "spiffe://acme.internal/connector/legal-dc1",
            Some(("acme.internal", "/connector/legal-dc1", Some("legal-dc1"))),
        ),
        (
            "spiffe://acme.internal/client/agent-7",
            Some(("acme.internal", "/client/agent-7", None)),
        ),
        (
            "spiffe://acme.internal/relay",
            Some(("acme.internal", "/relay", None)),
        ),
        (
            "spiffe://td/a/B_c/d.e-f",
            Some(("td", "/a/B_c/d.e-f", None)),
        ),
        // connector path with more segments is not a connector name
        (
            "spiffe://acme.internal/connector/a/b",
            Some(("acme.internal", "/connector/a/b", None)),
        ),
        // connector name must be a valid workload name
        (
            "spiffe://acme.internal/connector/Legal",
            Some(("acme.internal", "/connector/Legal", None)),
        ),
        ("spiffe://acme.internal", None),
        ("spiffe://acme.internal/", None),
        ("spiffe://acme.internal/connector/", None),
        ("spiffe://acme.internal//x", None),
        ("spiffe://acme.internal/./x", None),
        ("spiffe://acme.internal/x/..", None),
        ("spiffe://acme.internal/x%20y", None),
        ("spiffe://acme.internal/x?y=1", None),
        ("spiffe://acme.internal/x#frag", None),
        ("spiffe://ACME.internal/x", None),
        ("spiffe://user@acme.internal/x", None),
        ("spiffe://acme.internal:443/x", None),
        ("spiffe:///x", None),
        ("https://acme.internal/x", None),
        ("SPIFFE://acme.internal/x", None),
        ("spiffe://-acme.internal/x", None),
        ("spiffe://acme..internal/x", None),
        ("", None),
    ];
    for (input, expected) in cases {
        let parsed = input.parse::<SpiffeId>();
        match (expected, parsed) {
            (Some((td, path, connector)), Ok(id)) => {
                assert_eq!(id.trust_domain().as_str(), *td, "{input}");
                assert_eq!(id.path(), *path, "{input}");
                assert_eq!(id.connector_name(), *connector, "{input}");
                assert_eq!(id.to_string(), *input, "round trip {input}");
            }
            (None, Err(PkiError::BadSpiffeId { input: got, .. })) => assert_eq!(got, *input),
            (expected, got) => panic!("{input}: expected {expected:?}, got {got:?}"),
        }
    }
}

#[test]
fn constructors_match_parsing() {
    let td: TrustDomain = "acme.internal".parse().expect("valid trust domain");
    let name: WorkloadName = "legal-dc1".parse().expect("valid name");
    let connector = SpiffeId::connector(&td, &name);
    assert_eq!(
        connector.to_string(),
        "spiffe://acme.internal/connector/legal-dc1"
    );
    assert_eq!(connector.connector_name(), Some("legal-dc1"));
    assert_eq!(connector.client_name(), None);
    let client = SpiffeId::client(&td, &name);
    assert_eq!(client.client_name(), Some("legal-dc1"));
    assert_eq!(client.connector_name(), None);
    assert!(SpiffeId::relay(&td).is_relay());
    assert!(!client.is_relay());
}

#[test]
fn trust_domain_table() {
    for ok in ["acme.internal", "example", "a-b.c0", "x.y.z"] {
        assert!(ok.parse::<TrustDomain>().is_ok(), "{ok}");
    }
    let long_label = format!("{}.com", "a".repeat(64));
    for bad in [
        "",
        "Acme.internal",
        "acme.internal.",
        ".acme",
        "acme..internal",
        "-acme.internal",
        "acme-.internal",
        "acme_internal",
        "acme internal",
        long_label.as_str(),
    ] {
        assert!(
            matches!(
                bad.parse::<TrustDomain>(),
                Err(PkiError::BadTrustDomain { .. })
            ),
            "{bad}"
        );
    }
}

#[test]
fn workload_name_table() {
    let max = "a".repeat(63);
    for ok in ["legal-dc1", "agent-7", "a", "0", "a_b.c-d", max.as_str()] {
        assert!(ok.parse::<WorkloadName>().is_ok(), "{ok}");
    }
    let too_long = "a".repeat(64);
    for bad in [
        "",
        "-a",
        "_a",
        ".a",
        "Legal",
        "a/b",
        "..",
        "a b",
        "é",
        too_long.as_str(),
    ] {
        assert!(
            matches!(bad.parse::<WorkloadName>(), Err(PkiError::BadName { .. })),
            "{bad}"
        );
    }
}

#[test]
fn serde_round_trips_as_strings() {
    #[derive(Debug, Serialize, Deserialize, PartialEq)]
    struct Doc {
        id: SpiffeId,
        td: TrustDomain,
        name: WorkloadName,
    }
    let text = "id = \"spiffe://acme.internal/connector/legal-dc1\"\ntd = \"acme.internal\"\nname = \"legal-dc1\"\n";
    let doc: Doc = toml::from_str(text).expect("valid document");
    assert_eq!(doc.id.connector_name(), Some("legal-dc1"));
    assert_eq!(toml::to_string(&doc).expect("serializable"), text);

    let bad = "id = \"spiffe://acme.internal/\"\ntd = \"acme.internal\"\nname = \"x\"\n";
    let err = toml::from_str::<Doc>(bad).expect_err("empty path must be rejected");
    assert!(err.to_string().contains("path is empty"), "{err}");
}
