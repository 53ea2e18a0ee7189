//! The JSON-RPC requests the bench's two MCP servers (the HTTP upstream
//! and the stdio server) understand, parsed without copying, and the
//! answers they share.

use serde::Deserialize;
use serde_json::value::RawValue;

/// A JSON-RPC request or notification, borrowed from its text.
#[derive(Debug, Deserialize)]
pub struct Request<'a> {
    /// The id, as written (`None`: a notification).
    #[serde(borrow)]
    pub id: Option<&'a RawValue>,
    /// The method.
    #[serde(borrow)]
    pub method: &'a str,
    /// The params, as far as the servers read them.
    #[serde(borrow)]
    pub params: Option<Params<'a>>,
}

/// The params the servers read.
#[derive(Debug, Deserialize)]
pub struct Params<'a> {
    /// The tool of `tools/call`.
    #[serde(borrow)]
    pub name: Option<&'a str>,
    /// Its arguments.
    #[serde(borrow)]
    pub arguments: Option<Args<'a>>,
    /// The resource of `resources/read`.
    #[serde(borrow)]
    pub uri: Option<&'a str>,
}

/// The arguments of `echo`.
#[derive(Debug, Deserialize)]
pub struct Args<'a> {
    /// The message, as written (a JSON string).
    #[serde(borrow)]
    pub message: Option<&'a RawValue>,
}

impl<'a> Request<'a> {
    /// The `message` of a `tools/call` of `echo`.
    pub fn echo_message(&self) -> Option<&'a RawValue> {
        self.params
            .as_ref()
            .filter(|p| p.name == Some("echo"))
            .and_then(|p| p.arguments.as_ref())
            .and_then(|a| a.message)
    }
}

/// The answer to `echo`: `message` copied back byte for byte as the text.
pub fn echo_result(id: &str, message: &RawValue) -> String {
    format!(
        r#"{{"jsonrpc":"2.0","id":{id},"result":{{"content":[{{"type":"text","text":{}}}]}}}}"#,
        message.get()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_echo() {
        let r: Request<'_> = serde_json::from_str(
            r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"echo","arguments":{"message":"a\"b"}}}"#,
        )
        .expect("parses");
        let m = r.echo_message().expect("echo");
        assert_eq!(
            echo_result(r.id.expect("id").get(), m),
            r#"{"jsonrpc":"2.0","id":3,"result":{"content":[{"type":"text","text":"a\"b"}]}}"#
        );
        let other: Request<'_> = serde_json::from_str(
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x"}}"#,
        )
        .expect("parses");
        assert!(other.echo_message().is_none());
    }
}
