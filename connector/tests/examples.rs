//! Every example connector config shipped in `deploy/` parses.

use sallyport_connector::config::{Config, Upstream};

#[test]
fn deploy_example_connector_config_parses() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/examples/connector.toml");
    let text = std::fs::read_to_string(&path).expect("read example");
    let env = |k: &str| Some(format!("<{k}>"));
    let config = Config::parse(&text, path.parent().expect("dir"), &env).expect("valid example");
    assert_eq!(config.servers.len(), 2);
    assert!(matches!(config.servers[0].upstream, Upstream::Stdio { .. }));
    match &config.servers[1].upstream {
        Upstream::Http { headers, .. } => {
            assert_eq!(headers["Authorization"], "Bearer <WIKI_SERVICE_TOKEN>")
        }
        other => panic!("expected HTTP upstream, got {other:?}"),
    }
}
