//! A seeded generator of hostile MCP messages for the oracle property
//! test: random methods (policed and lists), id shapes, target shapes and
//! names from the allowed and denied sets, duplicate keys, `\u` escapes,
//! notifications, both eras and duplicated or disagreeing headers.
//!
//! The root package has no `fastrand` dev-dependency (only the relay and
//! connector crates do), so this is a SplitMix64: small, seeded and
//! reproducible.

use super::hostile::{Era, STATELESS_VERSION};
use super::oracle::{DENIED, HTTP, STDIO};

/// SplitMix64.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// 0..n.
    pub fn below(&mut self, n: usize) -> usize {
        (self.u64() % n as u64) as usize
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// One generated request.
#[derive(Debug, Clone)]
pub struct Hostile {
    pub server: &'static str,
    pub era: Era,
    /// Headers beyond the era's (see `Bench::headers`).
    pub headers: Vec<(String, String)>,
    pub body: String,
}

const POLICED: [&str; 6] = [
    "tools/call",
    "resources/read",
    "resources/subscribe",
    "resources/unsubscribe",
    "prompts/get",
    "completion/complete",
];
const LISTS: [&str; 4] = [
    "tools/list",
    "resources/list",
    "resources/templates/list",
    "prompts/list",
];
const ALLOWED: [&str; 6] = [
    "echo",
    "add",
    "greeting",
    "file:///public/readme",
    "file:///public/{name}",
    "file:///public/../secret/keys",
];
const REF_TYPES: [&str; 4] = ["ref/prompt", "ref/resource", "ref/tool", ""];

/// A JSON string literal for `s`, sometimes with one character `\u`-escaped.
fn string(rng: &mut Rng, s: &str) -> String {
    let plain = serde_json::to_string(s).expect("a string serializes");
    if s.is_empty() || !rng.chance(20) {
        return plain;
    }
    let chars: Vec<char> = s.chars().collect();
    let at = rng.below(chars.len());
    let mut out = String::from("\"");
    for (i, c) in chars.iter().enumerate() {
        if i == at && (*c as u32) < 0x80 {
            out.push_str(&format!("\\u{:04x}", *c as u32));
        } else {
            let enc = serde_json::to_string(&c.to_string()).expect("a char serializes");
            out.push_str(&enc[1..enc.len() - 1]);
        }
    }
    out.push('"');
    out
}

/// A key, sometimes spelt with a `\u` escape.
fn key(rng: &mut Rng, k: &str) -> String {
    if rng.chance(8) {
        let first = k.chars().next().unwrap_or('x');
        format!("\"\\u{:04x}{}\"", first as u32, &k[first.len_utf8()..])
    } else {
        format!("{k:?}")
    }
}

fn name(rng: &mut Rng) -> &'static str {
    if rng.chance(50) {
        ALLOWED[rng.below(ALLOWED.len())]
    } else {
        DENIED[rng.below(DENIED.len())]
    }
}

/// A target member's value in some shape.
fn target_value(rng: &mut Rng, n: &str) -> String {
    match rng.below(16) {
        0 => format!("[{}]", string(rng, n)),
        1 => format!("{}", rng.below(10)),
        2 => format!("{{\"name\":{}}}", string(rng, n)),
        3 => "null".to_owned(),
        _ => string(rng, n),
    }
}

fn id(rng: &mut Rng, n: u64) -> Option<String> {
    Some(match rng.below(28) {
        0 => return None,
        1 => "null".to_owned(),
        2 => format!("{n}.0"),
        3 => format!("{n}e0"),
        4 => "-0".to_owned(),
        5 => "9007199254740993".to_owned(),
        6 => "true".to_owned(),
        7 => "{}".to_owned(),
        8 => format!("\"\\u0035{n}\""),
        9 | 10 => format!("\"5{n}\""),
        _ => format!("{n}"),
    })
}

/// The members of `params` for `method` (without braces).
fn params(rng: &mut Rng, method: &str) -> (Vec<String>, Option<String>) {
    let mut members = Vec::new();
    let n = name(rng);
    let mut routing = None;
    let member = match method {
        "tools/call" | "prompts/get" => "name",
        "completion/complete" => "ref",
        m if m.starts_with("resources/") && !LISTS.contains(&m) => "uri",
        _ => return (members, None),
    };
    if member == "ref" {
        let mut r = Vec::new();
        let t = *rng.pick(&REF_TYPES);
        if !t.is_empty() {
            r.push(format!("{}:{}", key(rng, "type"), string(rng, t)));
        }
        if rng.chance(60) {
            let (k, n) = (key(rng, "name"), name(rng));
            r.push(format!("{k}:{}", target_value(rng, n)));
        }
        if rng.chance(60) {
            let (k, n) = (key(rng, "uri"), name(rng));
            r.push(format!("{k}:{}", target_value(rng, n)));
        }
        if rng.chance(10) && !r.is_empty() {
            r.push(r[0].clone());
        }
        members.push(format!("\"ref\":{{{}}}", r.join(",")));
        members.push(r#""argument":{"name":"a","value":"b"}"#.to_owned());
    } else if !rng.chance(5) {
        members.push(format!("{}:{}", key(rng, member), target_value(rng, n)));
        routing = Some(n.to_owned());
        if rng.chance(8) {
            let other = name(rng);
            members.push(format!("{member:?}:{}", string(rng, other)));
        }
        if rng.chance(10) {
            members.reverse();
        }
    }
    if method == "tools/call" {
        members.push(r#""arguments":{"message":"gen","a":1,"b":2}"#.to_owned());
    }
    (members, routing)
}

/// Message number `n`.
pub fn hostile(rng: &mut Rng, n: u64) -> Hostile {
    let server = if rng.chance(50) { STDIO } else { HTTP };
    let era = if rng.chance(50) {
        Era::Session
    } else {
        Era::Stateless
    };
    let method = if rng.chance(70) {
        *rng.pick(&POLICED)
    } else if rng.chance(85) {
        *rng.pick(&LISTS)
    } else {
        "ping"
    };
    let mut top = vec![r#""jsonrpc":"2.0""#.to_owned()];
    if let Some(i) = id(rng, n) {
        top.push(format!("{}:{i}", key(rng, "id")));
    }
    top.push(format!("{}:{}", key(rng, "method"), string(rng, method)));
    if rng.chance(4) {
        let other = if rng.chance(50) { "ping" } else { "tools/call" };
        top.push(format!("\"method\":{other:?}"));
    }
    let (mut members, routing) = params(rng, method);
    if era == Era::Stateless && rng.chance(90) {
        members.insert(
            0,
            format!(
                r#""_meta":{{"io.modelcontextprotocol/protocolVersion":"{STATELESS_VERSION}"}}"#
            ),
        );
    }
    match rng.below(20) {
        0 => {
            let n = name(rng);
            top.push(format!("\"params\":[{}]", string(rng, n)));
        }
        1 => {}
        _ => top.push(format!("{}:{{{}}}", key(rng, "params"), members.join(","))),
    }
    if rng.chance(10) {
        let last = top.len() - 1;
        top.swap(1, last);
    }
    let mut headers = Vec::new();
    let header_name = |rng: &mut Rng| routing.clone().unwrap_or_else(|| name(rng).to_owned());
    match rng.below(20) {
        0 => {
            headers.push(("Mcp-Name".to_owned(), header_name(rng)));
            headers.push(("Mcp-Name".to_owned(), name(rng).to_owned()));
        }
        1 => headers.push(("Mcp-Name".to_owned(), name(rng).to_owned())),
        2 => {
            headers.push(("Mcp-Method".to_owned(), method.to_owned()));
            headers.push(("Mcp-Method".to_owned(), rng.pick(&LISTS).to_string()));
        }
        3 => {
            for _ in 0..2 {
                headers.push((
                    "MCP-Protocol-Version".to_owned(),
                    STATELESS_VERSION.to_owned(),
                ));
            }
        }
        4 => headers.push(("MCP-Protocol-Version".to_owned(), "9999".to_owned())),
        5 => headers.push(("Mcp-Param-Region".to_owned(), "eu".to_owned())),
        _ => {}
    }
    Hostile {
        server,
        era,
        headers,
        body: format!("{{{}}}", top.join(",")),
    }
}
