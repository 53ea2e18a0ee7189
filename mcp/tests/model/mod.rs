//! A model of a permissive upstream MCP server, the oracle the envelope
//! and decision are checked against (by the property test beside this
//! module and by the cargo-fuzz target `envelope_decision`).
//!
//! It reads a message the way JavaScript's and Python's parsers do
//! (duplicate keys: the last wins) and executes it as a JSON-RPC 2.0
//! server that does not special-case MCP would: a notification runs too,
//! and a target that is not a string is coerced (an array gives its first
//! element, anything else its JSON text).

use sallyport_mcp::envelope;
use sallyport_mcp::target::{Target, is_policed, target_of};
use serde_json::Value;

/// What the upstream would run: a policed method and the name it uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Executed {
    /// The method.
    pub method: String,
    /// The tool, prompt or resource it uses.
    pub target: String,
}

/// What a permissive upstream executes for `body`, if it is a policed call.
pub fn upstream_executes(body: &[u8]) -> Option<Executed> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let method = v.get("method")?.as_str()?.to_owned();
    if !is_policed(&method) {
        return None;
    }
    let params = v.get("params");
    let pick = |parent: Option<&Value>, key: &str| parent.and_then(|p| p.get(key)).map(coerce);
    let target = match method.as_str() {
        "tools/call" | "prompts/get" => pick(params, "name"),
        "completion/complete" => {
            let r = params.and_then(|p| p.get("ref"));
            match r.and_then(|r| r.get("type")).and_then(Value::as_str) {
                Some("ref/resource") => pick(r, "uri"),
                Some("ref/prompt") => pick(r, "name"),
                _ => None,
            }
        }
        _ => pick(params, "uri"),
    }?;
    Some(Executed { method, target })
}

fn coerce(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(items) => items.first().map(coerce).unwrap_or_default(),
        other => other.to_string(),
    }
}

/// The caller's policy in the model: anything named `secret…` is denied.
pub fn allowed(name: &str) -> bool {
    !name.contains("secret")
}

/// Runs `body` through the relay's envelope and decision, then through the
/// upstream model, and panics if the upstream would execute something the
/// caller may not use, or something other than what the relay decided.
pub fn check(body: &[u8]) {
    let Ok(env) = envelope::parse(body) else {
        return; // refused: nothing reaches the upstream
    };
    let decided = match target_of(&env) {
        Err(_) => return,                            // refused as undecidable
        Ok(Some(t)) if !allowed(t.name()) => return, // denied
        Ok(decided) => decided,
    };
    let executed = upstream_executes(body);
    match (decided, &executed) {
        (None, None) => {}
        (None, Some(e)) => panic!("forwarded undecided, upstream runs {e:?}"),
        (Some(_), None) => {} // the upstream would refuse it: harmless
        (Some(t), Some(e)) => {
            assert!(allowed(&e.target), "upstream runs a denied target: {e:?}");
            assert_eq!(
                t.name(),
                e.target,
                "relay decided {t:?}, upstream runs {e:?}"
            );
            let kind_matches = matches!(
                (t, e.method.as_str()),
                (Target::Tool(_), "tools/call")
                    | (Target::Prompt(_), "prompts/get" | "completion/complete")
                    | (Target::Resource(_), _)
            );
            assert!(kind_matches, "relay decided {t:?} for {}", e.method);
        }
    }
}
