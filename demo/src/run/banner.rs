//! The block `sallyport demo` prints once everything is up: where to point
//! an MCP client and how to authenticate.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::Path;

use super::files::{HTTP_SERVER, STDIO_SERVER};

/// The body of the `initialize` request the printed `curl` sends.
pub const CURL_INITIALIZE: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"curl","version":"1.0"}}}"#;

/// Everything the banner shows.
pub(super) struct Banner<'a> {
    pub base_url: &'a str,
    pub api_key: &'a str,
    pub admin: SocketAddr,
    pub dir: &'a Path,
    pub kept: bool,
}

impl Banner<'_> {
    pub(super) fn render(&self) -> String {
        let base = self.base_url;
        let key = self.api_key;
        let stdio_url = format!("{base}/mcp/{STDIO_SERVER}");
        let http_url = format!("{base}/mcp/{HTTP_SERVER}");
        let admin = self.admin;
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = write!(
            out,
            r#"
Sallyport demo is running: CA, relay, connector and two demo MCP servers on this machine.

MCP endpoints (Streamable HTTP):
  {stdio_url}        stdio server behind the connector
  {http_url}   HTTP server behind the connector

Authenticate every request with this header:
  Authorization: Bearer {key}

Try it with curl:
  curl -i {stdio_url} \
    -H 'Authorization: Bearer {key}' \
    -H 'Accept: application/json, text/event-stream' \
    -H 'Content-Type: application/json' \
    -d '{CURL_INITIALIZE}'

Or with MCP Inspector:
  npx @modelcontextprotocol/inspector
  then choose Transport Type "Streamable HTTP", URL {stdio_url}
  and add the header  Authorization: Bearer {key}

Admin API (loopback): http://{admin}/admin/connectors  (also /healthz, /readyz, /metrics)
"#
        );
        if self.kept {
            let _ = writeln!(out, "PKI and configs kept in {}", self.dir.display());
        } else {
            let _ = writeln!(
                out,
                "PKI and configs in {} (removed on exit; --keep <DIR> keeps them)",
                self.dir.display()
            );
        }
        out.push_str("\nCtrl-C to stop.\n");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_urls_header_and_curl() {
        let text = Banner {
            base_url: "http://127.0.0.1:8080",
            api_key: "sp_abc",
            admin: "127.0.0.1:9999".parse().expect("addr"),
            dir: Path::new("/tmp/d"),
            kept: false,
        }
        .render();
        for needle in [
            "http://127.0.0.1:8080/mcp/demo ",
            "http://127.0.0.1:8080/mcp/demo-http",
            "Authorization: Bearer sp_abc",
            "curl -i http://127.0.0.1:8080/mcp/demo",
            "-H 'Accept: application/json, text/event-stream'",
            "-H 'Content-Type: application/json'",
            "\"method\":\"initialize\"",
            "npx @modelcontextprotocol/inspector",
            "Streamable HTTP",
            "http://127.0.0.1:9999/admin/connectors",
            "Ctrl-C to stop",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in\n{text}");
        }
        serde_json::from_str::<serde_json::Value>(CURL_INITIALIZE).expect("valid JSON");
    }
}
