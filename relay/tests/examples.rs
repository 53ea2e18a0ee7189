//! Every example relay config shipped in `deploy/` parses.

#[test]
fn deploy_example_relay_config_parses() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/examples/relay.toml");
    let config = sallyport_relay::Config::load(&path).expect("deploy/examples/relay.toml is valid");
    assert_eq!(config.name, "relay-1");
    assert_eq!(config.connectors.len(), 1);
    assert!(config.quic.cert.ends_with("pki/relay.pem"));
    let http = config.http.expect("[http] section");
    assert_eq!(http.public_url, "https://relay.acme.com");
    assert!(http.tls.is_some());
    assert_eq!(config.session_keys.map(|k| k.len()), Some(2));
    assert_eq!(config.api_keys.len(), 1);
    let who = sallyport_relay::policy::Subject {
        user: Some("alice"),
        groups: &["legal".to_owned()],
        agent: None,
    };
    let contracts = sallyport_protocol::ServerName::new("contracts").expect("name");
    use sallyport_relay::policy::Target;
    assert!(
        config
            .policy
            .allows(&who, &contracts, Target::Tool("search_docs"))
    );
    assert!(
        !config
            .policy
            .allows(&who, &contracts, Target::Tool("delete_contract"))
    );
}
