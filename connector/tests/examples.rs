//! Every example connector config shipped in `deploy/` parses.

use sallyport_connector::config::{Config, Limits, Upstream};

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

#[test]
fn the_commented_limits_in_the_example_are_the_defaults() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/examples/connector.toml");
    let text = std::fs::read_to_string(&path).expect("read example");
    let block: Vec<&str> = text
        .lines()
        .skip_while(|l| *l != "# [limits]")
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.strip_prefix("# "))
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect();
    assert!(block.len() > 1, "a commented [limits] block: {block:?}");
    let uncommented = format!("{text}\n{}\n", block.join("\n"));
    let env = |k: &str| Some(format!("<{k}>"));
    let config =
        Config::parse(&uncommented, path.parent().expect("dir"), &env).expect("valid example");
    assert_eq!(config.limits, Limits::default());
}
