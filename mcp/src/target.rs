//! What a client's message asks a server to use, decided so that a gateway
//! never forwards what it could not decide.
//!
//! * Every request's `id` is a string or a plain integer within
//!   ±(2^53 − 1): `null` (which MCP forbids), `5.0`, `5e0`, `-0` or
//!   `9007199254740993` would be the same id as another one to some
//!   upstream parser (JavaScript's numbers, Python's `5 == 5.0`), so an
//!   answer could land on the wrong request.
//! * A policed method ([`POLICED`]) sent as a notification is refused: a
//!   server that follows JSON-RPC runs it without answering.
//! * A policed method must name its target as a string, in an object
//!   `params`; `completion/complete` is decided on what the server will
//!   use: `ref/prompt` → `ref.name`, `ref/resource` → `ref.uri` (a `ref`
//!   carrying the other kind's member too is refused).

use crate::envelope::{Envelope, Field, INVALID_PARAMS, INVALID_REQUEST, Kind, ParamsShape};
use crate::normal;

/// The methods whose target the policy decides.
pub const POLICED: [&str; 6] = [
    "tools/call",
    "resources/read",
    "resources/subscribe",
    "resources/unsubscribe",
    "prompts/get",
    "completion/complete",
];

/// The largest integer every JSON parser holds exactly (2^53 − 1).
pub const MAX_SAFE_ID: u64 = (1 << 53) - 1;

/// What a message asks the server to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target<'e> {
    /// A tool, by name.
    Tool(&'e str),
    /// A resource, by URI (or URI template, for completion).
    Resource(&'e str),
    /// A prompt, by name.
    Prompt(&'e str),
}

impl<'e> Target<'e> {
    /// The name or URI.
    pub fn name(self) -> &'e str {
        match self {
            Target::Tool(n) | Target::Resource(n) | Target::Prompt(n) => n,
        }
    }
}

/// Why a message cannot be decided; the gateway refuses it (HTTP 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Undecidable {
    /// The request's id is not a string or a plain safe integer.
    #[error("request id {0} is not a string or an integer within ±(2^53-1)")]
    Id(String),
    /// A policed method sent without an id.
    #[error("{0} must be a request (with an id), not a notification")]
    Notification(String),
    /// A policed method whose `params` is not an object.
    #[error("{0} needs params as an object")]
    Params(String),
    /// A policed method without a string target.
    #[error("{method} needs {member} as a string")]
    Member {
        /// The method.
        method: String,
        /// Which member (`params.name`, `params.ref.uri`…).
        member: &'static str,
    },
    /// A target (a resource URI, or any name) that a server may resolve
    /// to another one than it names: a `.` or `..` path segment, a
    /// backslash, or a percent-encoded `.`, `/` or backslash. The policy
    /// decides the text, and `file:///public/../secret` would pass
    /// `file:///public/*`.
    #[error(
        "target {0:?} is not in normal form (a control character, a dot segment, an encoded plain character or separator, or an upper-case scheme or host): send it normalized"
    )]
    Uri(String),
    /// `completion/complete` with a `ref` that is not one of the two
    /// kinds, or that carries the other kind's member too.
    #[error(
        "completion/complete needs params.ref of type ref/prompt (with name) or ref/resource (with uri), not both"
    )]
    Reference,
}

impl Undecidable {
    /// The JSON-RPC error code: -32600 for the message's shape, -32602 for
    /// its params.
    pub fn code(&self) -> i64 {
        match self {
            Undecidable::Id(_) | Undecidable::Notification(_) => INVALID_REQUEST,
            _ => INVALID_PARAMS,
        }
    }
}

/// Whether the policy decides `method`.
pub fn is_policed(method: &str) -> bool {
    POLICED.contains(&method)
}

/// Checks a request's id (see the module docs); anything else passes.
pub fn check_id(env: &Envelope<'_>) -> Result<(), Undecidable> {
    let Some(id) = env.id.filter(|_| env.kind == Kind::Request) else {
        return Ok(());
    };
    let text = id.get();
    if text.starts_with('"') || is_safe_integer(text) {
        Ok(())
    } else {
        Err(Undecidable::Id(text.chars().take(64).collect()))
    }
}

/// `-?(0|[1-9][0-9]*)` within ±[`MAX_SAFE_ID`], and not `-0`.
fn is_safe_integer(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    let plain = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'));
    plain && text != "-0" && digits.parse::<u64>().is_ok_and(|n| n <= MAX_SAFE_ID)
}

/// What `env` asks the server to use: `Ok(None)` when its method is not
/// policed (or it is a response), an error when it is policed but cannot
/// be decided.
pub fn target_of<'e>(env: &'e Envelope<'_>) -> Result<Option<Target<'e>>, Undecidable> {
    check_id(env)?;
    let Some(method) = env.method.as_deref().filter(|m| is_policed(m)) else {
        return Ok(None);
    };
    if env.kind != Kind::Request {
        return Err(Undecidable::Notification(method.to_owned()));
    }
    if env.params != ParamsShape::Object {
        return Err(Undecidable::Params(method.to_owned()));
    }
    let text = |field: &'e Field, member: &'static str| {
        field.text().ok_or_else(|| Undecidable::Member {
            method: method.to_owned(),
            member,
        })
    };
    let target = match method {
        "tools/call" => Target::Tool(text(&env.name, "params.name")?),
        "prompts/get" => Target::Prompt(text(&env.name, "params.name")?),
        "completion/complete" => {
            let r = env.reference.as_ref().ok_or(Undecidable::Reference)?;
            match r.kind.text() {
                Some("ref/prompt") if r.uri == Field::Absent => {
                    Target::Prompt(text(&r.name, "params.ref.name")?)
                }
                Some("ref/resource") if r.name == Field::Absent => {
                    Target::Resource(text(&r.uri, "params.ref.uri")?)
                }
                _ => return Err(Undecidable::Reference),
            }
        }
        _ => Target::Resource(text(&env.uri, "params.uri")?),
    };
    // Names too: policy patterns do not tell kinds apart, so a prompt
    // named like a resource URI is judged by the same text.
    if !normal::is_normal(target) {
        return Err(Undecidable::Uri(target.name().chars().take(200).collect()));
    }
    Ok(Some(target))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::parse;

    fn decide(body: &str) -> Result<Option<Target<'static>>, Undecidable> {
        let body: &'static str = Box::leak(body.to_owned().into_boxed_str());
        let env: &'static Envelope<'static> =
            Box::leak(Box::new(parse(body.as_bytes()).expect("envelope")));
        target_of(env)
    }

    #[test]
    fn targets() {
        let call = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo"}}"#;
        assert_eq!(decide(call), Ok(Some(Target::Tool("echo"))));
        let read =
            r#"{"jsonrpc":"2.0","id":"a","method":"resources/read","params":{"uri":"file:///x"}}"#;
        assert_eq!(decide(read), Ok(Some(Target::Resource("file:///x"))));
        let prompt = r#"{"jsonrpc":"2.0","id":1,"method":"prompts/get","params":{"name":"p"}}"#;
        assert_eq!(decide(prompt), Ok(Some(Target::Prompt("p"))));
        let ping = r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;
        assert_eq!(decide(ping), Ok(None));
        let note = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
        assert_eq!(decide(note), Ok(None));
    }

    #[test]
    fn completion_is_decided_on_what_the_server_uses() {
        let c = |r: &str| {
            decide(&format!(
                r#"{{"jsonrpc":"2.0","id":1,"method":"completion/complete","params":{{"ref":{r},"argument":{{"name":"a","value":""}}}}}}"#
            ))
        };
        assert_eq!(
            c(r#"{"type":"ref/prompt","name":"p"}"#),
            Ok(Some(Target::Prompt("p")))
        );
        assert_eq!(
            c(r#"{"type":"ref/resource","uri":"file:///{x}"}"#),
            Ok(Some(Target::Resource("file:///{x}")))
        );
        for bad in [
            r#"{"type":"ref/resource","name":"ok","uri":"file:///secret"}"#,
            r#"{"type":"ref/prompt","name":"ok","uri":"file:///secret"}"#,
            r#"{"type":"ref/other","name":"ok"}"#,
            r#"{"name":"ok"}"#,
            r#"{"type":"ref/prompt","name":["ok"]}"#,
            r#"{"type":"ref/resource"}"#,
            r#""ref/prompt""#,
        ] {
            assert!(c(bad).is_err(), "{bad}");
        }
        let no_ref = r#"{"jsonrpc":"2.0","id":1,"method":"completion/complete","params":{}}"#;
        assert_eq!(decide(no_ref), Err(Undecidable::Reference));
    }

    #[test]
    fn undecidable_policed_messages_are_refused() {
        for (body, code) in [
            (
                r#"{"jsonrpc":"2.0","method":"tools/call","params":{"name":"echo"}}"#,
                INVALID_REQUEST,
            ),
            (
                r#"{"jsonrpc":"2.0","id":null,"method":"tools/call","params":{"name":"echo"}}"#,
                INVALID_REQUEST,
            ),
            (
                r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":["secret"]}}"#,
                INVALID_PARAMS,
            ),
            (
                r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":7}}"#,
                INVALID_PARAMS,
            ),
            (
                r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":null}}"#,
                INVALID_PARAMS,
            ),
            (
                r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{}}"#,
                INVALID_PARAMS,
            ),
            (
                r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":["secret"]}"#,
                INVALID_PARAMS,
            ),
            (
                r#"{"jsonrpc":"2.0","id":1,"method":"tools/call"}"#,
                INVALID_PARAMS,
            ),
            (
                r#"{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":{"a":1}}}"#,
                INVALID_PARAMS,
            ),
            (
                r#"{"jsonrpc":"2.0","id":1,"method":"prompts/get","params":{"uri":"x"}}"#,
                INVALID_PARAMS,
            ),
            (
                r#"{"jsonrpc":"2.0","method":"resources/subscribe","params":{"uri":"x"}}"#,
                INVALID_REQUEST,
            ),
        ] {
            assert_eq!(decide(body).map_err(|e| e.code()), Err(code), "{body}");
        }
    }

    #[test]
    fn targets_not_in_normal_form_are_refused() {
        // The rules themselves are tested in `normal`; here, that they apply.
        for uri in [
            "file:///public/../secret/keys",
            "FILE:///public/.\t./secret",
        ] {
            let body = format!(
                r#"{{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{{"uri":{}}}}}"#,
                serde_json::Value::from(uri)
            );
            assert!(matches!(decide(&body), Err(Undecidable::Uri(_))), "{uri}");
        }
        let completion = r#"{"jsonrpc":"2.0","id":1,"method":"completion/complete","params":{"ref":{"type":"ref/resource","uri":"file:///public/../secret/{x}"}}}"#;
        assert!(matches!(decide(completion), Err(Undecidable::Uri(_))));
    }

    #[test]
    fn ids_that_some_parser_would_confuse_are_refused() {
        for id in [
            "5.0",
            "5e0",
            "1E2",
            "-0",
            "9007199254740992",
            "true",
            "{}",
            "[1]",
            "null",
            "0.5",
        ] {
            let body = format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"ping"}}"#);
            assert!(decide(&body).is_err(), "{id}");
        }
        for id in [
            "0",
            "5",
            "-5",
            "9007199254740991",
            "-9007199254740991",
            r#""5""#,
            r#""""#,
        ] {
            let body = format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"ping"}}"#);
            assert_eq!(decide(&body), Ok(None), "{id}");
        }
        let answer = r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"x"}}"#;
        assert_eq!(decide(answer), Ok(None), "responses keep their ids");
    }
}
