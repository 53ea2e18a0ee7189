//! Header names of MCP's Streamable HTTP transport (lower case, as HTTP/2
//! and the `http` crate spell them).

/// The session id of the session era.
pub const SESSION_ID: &str = "mcp-session-id";
/// The negotiated protocol version (both eras).
pub const PROTOCOL_VERSION: &str = "mcp-protocol-version";
/// Stateless era: the JSON-RPC method of the body.
pub const METHOD: &str = "mcp-method";
/// Stateless era: the tool or prompt name, or the resource URI, of the body.
pub const NAME: &str = "mcp-name";
/// Stateless era: prefix of the headers that mirror tool arguments marked
/// `x-mcp-header`.
pub const PARAM_PREFIX: &str = "mcp-param-";
/// Session era: resumption of a GET stream.
pub const LAST_EVENT_ID: &str = "last-event-id";

/// Headers that steer routing or policy: a request that carries one of them
/// more than once is refused, because two parsers may pick different
/// copies.
pub const ROUTING: [&str; 4] = [SESSION_ID, PROTOCOL_VERSION, METHOD, NAME];

/// Whether `name` (any case) is an `Mcp-Param-*` header.
pub fn is_param(name: &str) -> bool {
    name.get(..PARAM_PREFIX.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(PARAM_PREFIX))
        && name.len() > PARAM_PREFIX.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params() {
        assert!(is_param("mcp-param-region"));
        assert!(is_param("Mcp-Param-Region"));
        assert!(!is_param("mcp-param-"));
        assert!(!is_param("mcp-parameter"));
        assert!(!is_param("mcp-name"));
    }
}
