//! The demo server's static and generated content: the readme resource,
//! the `demo://sized/{n}` template, and sized filler text.

use rmcp::ErrorData as McpError;
use rmcp::model::{Resource, ResourceContents, ResourceTemplate};

/// Largest text `big` and `demo://sized/{n}` produce (32 MiB).
pub const MAX_TEXT_BYTES: usize = 32 * 1024 * 1024;

const README_URI: &str = "demo://readme";
const SIZED_PREFIX: &str = "demo://sized/";

const README: &str = "\
# Sallyport demo server

You reached this MCP server through a Sallyport relay and connector: the
relay authenticated your API key, and the connector carried the request to
this server over an outbound QUIC link.

Try the tools `echo`, `add`, `count` (with a progress token), `ask_llm`
(sampling through your client) and `big`, the resource template
`demo://sized/{n}`, and the prompt `greeting`.
";

/// The `demo://readme` resource as listed.
pub(super) fn readme_resource() -> Resource {
    Resource::new(README_URI, "readme")
        .with_title("About this demo")
        .with_description("What this server is and how you reached it")
        .with_mime_type("text/markdown")
}

/// The `demo://sized/{n}` template as listed.
pub(super) fn sized_template() -> ResourceTemplate {
    ResourceTemplate::new(format!("{SIZED_PREFIX}{{n}}"), "sized")
        .with_title("Sized text")
        .with_description("A text of exactly n bytes (at most 32 MiB)")
        .with_mime_type("text/plain")
}

/// The contents behind `uri`, or a resource-not-found error.
pub(super) fn read(uri: &str) -> Result<ResourceContents, McpError> {
    if uri == README_URI {
        return Ok(ResourceContents::text(README, uri).with_mime_type("text/markdown"));
    }
    if let Some(n) = uri.strip_prefix(SIZED_PREFIX) {
        let n: usize = n.parse().map_err(|_| {
            McpError::invalid_params(format!("{uri}: n must be a byte count"), None)
        })?;
        return Ok(ResourceContents::text(sized_text(n)?, uri).with_mime_type("text/plain"));
    }
    Err(McpError::resource_not_found(
        format!("no resource {uri}"),
        Some(serde_json::json!({ "uri": uri })),
    ))
}

/// ASCII filler of exactly `bytes` bytes (so its JSON string has the same
/// length plus the quotes), or an error above [`MAX_TEXT_BYTES`].
pub(super) fn sized_text(bytes: usize) -> Result<String, McpError> {
    if bytes > MAX_TEXT_BYTES {
        return Err(McpError::invalid_params(
            format!("at most {MAX_TEXT_BYTES} bytes"),
            None,
        ));
    }
    const PATTERN: &[u8] = b"sallyport demo payload 0123456789\n";
    Ok(PATTERN
        .iter()
        .cycle()
        .take(bytes)
        .map(|&b| char::from(b))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sized_text_is_exact_and_bounded() {
        for n in [0, 1, 33, 34, 35, 100_000] {
            assert_eq!(sized_text(n).expect("within bound").len(), n);
        }
        assert_eq!(
            sized_text(MAX_TEXT_BYTES).expect("bound").len(),
            MAX_TEXT_BYTES
        );
        assert!(sized_text(MAX_TEXT_BYTES + 1).is_err());
    }

    fn text_of(uri: &str) -> Option<String> {
        match read(uri).ok()? {
            ResourceContents::TextResourceContents { text, .. } => Some(text),
            _ => None,
        }
    }

    #[test]
    fn reads() {
        assert!(
            text_of("demo://readme")
                .expect("readme")
                .contains("Sallyport")
        );
        assert_eq!(text_of("demo://sized/5").expect("sized"), "sally");
        assert!(read("demo://sized/x").is_err());
        assert!(read("demo://nope").is_err());
    }
}
