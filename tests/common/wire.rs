//! Raw HTTP/1.1 over TCP, for requests whose bytes must reach the relay
//! exactly as written (duplicate headers, odd bodies), and what every
//! answer the restricted caller gets must satisfy.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Instant;

use serde_json::Value;

use super::WAIT;
use super::oracle::allowed;

/// One request: method, path, headers in order (duplicates kept) and body.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: &'static str,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// One answer, read until the relay closed the connection.
#[derive(Debug, Clone, Default)]
pub struct Reply {
    /// 0 when no status line arrived.
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// The JSON-RPC messages of the body (JSON or SSE `data:` lines).
    pub messages: Vec<Value>,
    /// The relay did not finish within [`WAIT`].
    pub timed_out: bool,
}

impl Reply {
    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The JSON-RPC error code of the first message that has one.
    pub fn error_code(&self) -> Option<i64> {
        self.messages
            .iter()
            .find_map(|m| m["error"]["code"].as_i64())
    }

    /// Whether a message carries a `result`.
    pub fn has_result(&self) -> bool {
        self.messages.iter().any(|m| m.get("result").is_some())
    }

    /// Status, code and the start of the body, for failure messages.
    pub fn summary(&self) -> String {
        let mut body: String = self.body.chars().take(300).collect();
        if self.timed_out {
            body.push_str(" …(timed out)");
        }
        format!("HTTP {} code {:?}: {body}", self.status, self.error_code())
    }
}

/// Sends `req` to `addr` (with `Host`, `Content-Length` and
/// `Connection: close` added) and reads the whole answer.
pub fn send(addr: SocketAddr, req: &Request) -> Reply {
    let mut s = TcpStream::connect_timeout(&addr, WAIT).expect("connect to the relay");
    let mut head = format!("{} {} HTTP/1.1\r\nHost: {addr}\r\n", req.method, req.path);
    for (k, v) in &req.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        req.body.len()
    ));
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(&req.body);
    s.write_all(&bytes).expect("write the request");
    let deadline = Instant::now() + WAIT;
    let mut raw = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    let mut timed_out = false;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            timed_out = true;
            break;
        }
        s.set_read_timeout(Some(left)).expect("read timeout");
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                timed_out = true;
                break;
            }
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                timed_out = true;
                break;
            }
            Err(_) => break,
        }
    }
    let mut reply = parse(&raw);
    reply.timed_out = timed_out;
    reply
}

fn parse(raw: &[u8]) -> Reply {
    let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Reply {
            body: String::from_utf8_lossy(raw).into_owned(),
            ..Reply::default()
        };
    };
    let head = String::from_utf8_lossy(&raw[..end]);
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut reply = Reply {
        status,
        headers,
        ..Reply::default()
    };
    let rest = &raw[end + 4..];
    let chunked = reply
        .header("transfer-encoding")
        .is_some_and(|t| t.contains("chunked"));
    let body = if chunked {
        dechunk(rest)
    } else {
        rest.to_vec()
    };
    reply.body = String::from_utf8_lossy(&body).into_owned();
    let sse = reply
        .header("content-type")
        .is_some_and(|t| t.contains("text/event-stream"));
    reply.messages = if sse {
        super::raw::sse_messages(&reply.body)
    } else {
        match serde_json::from_str(&reply.body) {
            Ok(Value::Array(items)) => items,
            Ok(v) => vec![v],
            Err(_) => Vec::new(),
        }
    };
    reply
}

/// A chunked body's data (as much as arrived).
fn dechunk(mut rest: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&rest[..eol])
            .ok()
            .and_then(|s| usize::from_str_radix(s.split(';').next().unwrap_or("").trim(), 16).ok());
        let Some(size) = size.filter(|s| *s > 0) else {
            break;
        };
        let data = &rest[eol + 2..];
        let take = size.min(data.len());
        out.extend_from_slice(&data[..take]);
        rest = data.get(take + 2..).unwrap_or(&[]);
    }
    out
}

/// The names a list result shows: tools, prompts, resources, templates.
pub fn listed_names(m: &Value) -> Vec<String> {
    let r = &m["result"];
    let mut out = Vec::new();
    for (list, key) in [
        ("tools", "name"),
        ("prompts", "name"),
        ("resources", "uri"),
        ("resourceTemplates", "uriTemplate"),
    ] {
        for item in r[list].as_array().into_iter().flatten() {
            out.push(item[key].as_str().unwrap_or("<not a string>").to_owned());
        }
    }
    out
}

/// Whether `v` has, at any depth, a member whose name contains `needle`.
fn has_key_like(v: &Value, needle: &str) -> bool {
    match v {
        Value::Object(m) => m
            .iter()
            .any(|(k, x)| k.to_ascii_lowercase().contains(needle) || has_key_like(x, needle)),
        Value::Array(a) => a.iter().any(|x| has_key_like(x, needle)),
        _ => false,
    }
}

/// What is wrong with an answer the restricted caller got: a list showing
/// a denied name (whichever stream carried it), any of `secrets` in the
/// body, an error (HTTP 4xx/5xx) without a category and a request id.
pub fn reply_problems(reply: &Reply, secrets: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for m in &reply.messages {
        for name in listed_names(m) {
            if !allowed(&name) {
                out.push(format!("a list shows the denied {name:?}"));
            }
        }
    }
    for s in secrets {
        if reply.body.contains(s.as_str()) {
            out.push(format!("the body shows {s:?}"));
        }
    }
    if reply.status >= 400 {
        let error = reply
            .messages
            .iter()
            .find(|m| m.get("error").is_some())
            .map(|m| &m["error"]);
        let id_header = reply.headers.iter().any(|(k, _)| k.contains("request-id"));
        match error {
            None => out.push("an error status without a JSON-RPC error body".to_owned()),
            Some(e) => {
                let mut missing = Vec::new();
                if !has_key_like(e, "categor") {
                    missing.push("category");
                }
                if !has_key_like(e, "request") && !id_header {
                    missing.push("request id");
                }
                if !missing.is_empty() {
                    out.push(format!(
                        "the error carries no {}: {e}",
                        missing.join(" and no ")
                    ));
                }
            }
        }
    }
    out
}
