//! The config text of a [`World`](super::World): parsed by the same
//! `Config::parse` the binaries use.

use sallyport_pki::Pki;

use super::{AUDIT_FILE, Builder, RELAY_ADDR};

/// A policy that lets `alice@acme.com` use everything.
pub const ALLOW_ALICE: &str = r#"
[[role]]
name = "everything"
allow = ["*/*"]

[[binding]]
role = "everything"
users = ["alice@acme.com"]
"#;

/// A policy that lets `alice@acme.com` and `bob@acme.com` use everything.
pub const ALLOW_BOTH: &str = r#"
[[role]]
name = "everything"
allow = ["*/*"]

[[binding]]
role = "everything"
users = ["alice@acme.com", "bob@acme.com"]
"#;

/// The relay's config: one `[[connector]]` entry granting `servers` to
/// `connector` (every connector of a world shares its identity).
pub(super) fn relay_toml(pki: &Pki, connector: &str, servers: &[&str], b: &Builder) -> String {
    let dir = pki.dir().display();
    let list: Vec<String> = servers.iter().map(|s| format!("{s:?}")).collect();
    format!(
        r#"name = "test-relay"
[quic]
listen = "{RELAY_ADDR}"
cert = "{dir}/relay.pem"
key = "{dir}/relay.key"
trust_bundle = "{dir}/bundle.pem"
crl = "{dir}/crl.pem"
drain_timeout_ms = 5000

[admin]
listen = "127.0.0.1:0"

[audit]
path = "{AUDIT_FILE}"

[auth]
token_public_key = "pki/token.pub"

[http]
listen = "127.0.0.1:0"
public_url = "http://relay.test"
insecure_plain_http = true
{extra}
[[connector]]
id = {connector:?}
servers = [{servers}]
{policy}
{tables}
"#,
        tables = b.relay_tables,
        extra = b.relay_extra,
        servers = list.join(", "),
        policy = b.policy,
    )
}

/// A connector's config offering `servers` (over HTTP upstreams that are
/// never dialled: memory servers replace them).
pub(super) fn connector_toml(
    pki: &Pki,
    issued: &sallyport_pki::Issued,
    servers: &[&str],
) -> String {
    let mut text = format!(
        r#"relay = "{RELAY_ADDR}"
relay_name = "relay.test"
cert = "{cert}"
key = "{key}"
trust_bundle = "{dir}/bundle.pem"
label = "memory"

[link]
keepalive_ms = 1000
idle_timeout_ms = 10000
connect_timeout_ms = 5000
backoff_initial_ms = 100
backoff_max_ms = 1000
"#,
        cert = issued.cert_path.display(),
        key = issued.key_path.display(),
        dir = pki.dir().display(),
    );
    for s in servers {
        text.push_str(&format!(
            "\n[[server]]\nname = {s:?}\nurl = \"http://upstream.invalid/mcp\"\n"
        ));
    }
    text
}
