//! Hostile requests as the restricted caller, through relay and connector
//! to the oracle: the era's headers, sessions, and a barrier after which
//! the oracle's log holds everything an earlier message made it execute.

use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::Value;

use super::oracle::{OracleWorld, violations};
use super::wire::{self, Reply, Request};

/// The version a session-era client names after `initialize`.
pub const SESSION_VERSION: &str = "2025-11-25";
/// The stateless era's version.
pub const STATELESS_VERSION: &str = "2026-07-28";
/// What `@META@` in a body becomes in the stateless era (nothing in the
/// session era): the version in `params._meta`.
pub const META: &str = r#""_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"},"#;

/// How a request is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Era {
    /// `Mcp-Session-Id` of a session opened for it, `MCP-Protocol-Version:
    /// 2025-11-25`.
    Session,
    /// `MCP-Protocol-Version: 2026-07-28`, and `Mcp-Method` / `Mcp-Name`
    /// as a correct client derives them from the body.
    Stateless,
    /// No MCP header at all but those the request names itself.
    Bare,
}

/// The body with `@META@` filled in for `era`.
pub fn fill(body: &str, era: Era) -> String {
    body.replace("@META@", if era == Era::Stateless { META } else { "" })
}

/// `Mcp-Method` and `Mcp-Name` as a correct client derives them from the
/// body (read as serde_json reads it; nothing when it is not JSON).
pub fn derived_headers(body: &str) -> Vec<(String, String)> {
    let Ok(v) = serde_json::from_str::<Value>(body) else {
        return Vec::new();
    };
    let printable = |s: &&str| !s.is_empty() && s.bytes().all(|b| (0x20..0x7f).contains(&b));
    let mut out = Vec::new();
    let Some(method) = v["method"].as_str().filter(printable) else {
        return out;
    };
    out.push(("Mcp-Method".to_owned(), method.to_owned()));
    let member = match method {
        "tools/call" | "prompts/get" => "name",
        "resources/read" | "resources/subscribe" | "resources/unsubscribe" => "uri",
        _ => return out,
    };
    if let Some(name) = v["params"][member].as_str().filter(printable) {
        out.push(("Mcp-Name".to_owned(), name.to_owned()));
    }
    out
}

/// The oracle world and a way to send to it.
pub struct Bench {
    pub world: OracleWorld,
    secrets: Vec<String>,
    counter: AtomicU64,
}

impl Bench {
    pub fn start() -> Self {
        let world = OracleWorld::start();
        let secrets = world.secrets();
        Self {
            world,
            secrets,
            counter: AtomicU64::new(0),
        }
    }

    /// A number unique in this bench.
    pub fn unique(&self) -> u64 {
        self.counter.fetch_add(1, Ordering::Relaxed)
    }

    /// The headers of a request framed for `era`, followed by `own` (as
    /// written: duplicates stay). An era header that `own` names is left
    /// to `own`, except the session id, which is always sent.
    pub fn headers(
        &self,
        era: Era,
        session: Option<&str>,
        auth: bool,
        body: &str,
        own: &[(String, String)],
    ) -> Vec<(String, String)> {
        let mut h: Vec<(String, String)> = Vec::new();
        if auth {
            h.push((
                "Authorization".into(),
                format!("Bearer {}", self.world.caller.key),
            ));
        }
        h.push(("Content-Type".into(), "application/json".into()));
        h.push((
            "Accept".into(),
            "application/json, text/event-stream".into(),
        ));
        let names = |n: &str| own.iter().any(|(k, _)| k.eq_ignore_ascii_case(n));
        let mut era_headers = Vec::new();
        match era {
            Era::Session => {
                era_headers.push(("MCP-Protocol-Version".into(), SESSION_VERSION.into()));
            }
            Era::Stateless => {
                era_headers.push(("MCP-Protocol-Version".into(), STATELESS_VERSION.into()));
                era_headers.extend(derived_headers(body));
            }
            Era::Bare => {}
        }
        h.extend(era_headers.into_iter().filter(|(k, _)| !names(k)));
        if let Some(sid) = session {
            h.push(("Mcp-Session-Id".into(), sid.to_owned()));
        }
        h.extend(own.iter().cloned());
        h
    }

    /// Sends one request to `path` (`/mcp/<server>` or any other).
    pub fn send(
        &self,
        method: &'static str,
        path: &str,
        headers: Vec<(String, String)>,
        body: &str,
    ) -> Reply {
        let req = Request {
            method,
            path: path.to_owned(),
            headers,
            body: body.as_bytes().to_vec(),
        };
        wire::send(self.world.http, &req)
    }

    /// POSTs `body` to `server` as the caller, framed for `era`.
    pub fn post(
        &self,
        server: &str,
        era: Era,
        session: Option<&str>,
        own: &[(String, String)],
        body: &str,
    ) -> Reply {
        let headers = self.headers(era, session, true, body, own);
        self.send("POST", &format!("/mcp/{server}"), headers, body)
    }

    /// `initialize` + `notifications/initialized`; the session id.
    pub fn open_session(&self, server: &str) -> Result<String, String> {
        let init = r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"hostile","version":"0"}}}"#;
        let own = [(
            "MCP-Protocol-Version".to_owned(),
            SESSION_VERSION.to_owned(),
        )];
        let reply = self.post(server, Era::Bare, None, &own, init);
        let sid = reply
            .header("mcp-session-id")
            .filter(|_| reply.status == 200 && reply.has_result())
            .ok_or_else(|| format!("initialize on {server}: {}", reply.summary()))?
            .to_owned();
        let note = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
        let reply = self.post(server, Era::Session, Some(&sid), &[], note);
        if reply.status != 202 {
            return Err(format!("notifications/initialized: {}", reply.summary()));
        }
        Ok(sid)
    }

    /// DELETE of a session (its answer does not matter).
    pub fn close_session(&self, server: &str, sid: &str) {
        let headers = self.headers(Era::Session, Some(sid), true, "", &[]);
        let _ = self.send("DELETE", &format!("/mcp/{server}"), headers, "");
    }

    /// An allowed `echo` with a fresh marker in `era` (the session's, when
    /// given), answered and in the oracle's log: every message sent before
    /// on that path has been executed by then (stdio children read their
    /// input in order; HTTP upstreams answer after executing).
    pub fn barrier(&self, server: &str, era: Era, session: Option<&str>) -> Result<(), String> {
        let marker = format!("barrier-{}", self.unique());
        let body = fill(
            &format!(
                r#"{{"jsonrpc":"2.0","id":"{marker}","method":"tools/call","params":{{@META@"name":"echo","arguments":{{"message":"{marker}"}}}}}}"#
            ),
            era,
        );
        let reply = self.post(server, era, session, &[], &body);
        let answered = reply.status == 200
            && reply
                .messages
                .iter()
                .any(|m| m["id"] == marker.as_str() && m["result"].to_string().contains(&marker));
        if !answered {
            return Err(format!(
                "barrier on {server} ({era:?}): {}",
                reply.summary()
            ));
        }
        let logged = self
            .world
            .log
            .records()
            .iter()
            .any(|r| r["marker"] == marker.as_str());
        if !logged {
            return Err(format!(
                "barrier {marker} answered but not in the oracle's log"
            ));
        }
        Ok(())
    }

    /// What is wrong with an answer the caller got (see
    /// [`wire::reply_problems`]).
    pub fn problems(&self, reply: &Reply) -> Vec<String> {
        wire::reply_problems(reply, &self.secrets)
    }

    /// What the oracle executed from log line `from` on that the caller
    /// may not cause.
    pub fn violations_since(&self, from: usize) -> Vec<String> {
        violations(&self.world.log.since(from))
    }
}
