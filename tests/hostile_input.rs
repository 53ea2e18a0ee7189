//! Hostile input, end to end: a caller whose role allows only
//! `oracle/echo`, `oracle/add`, `oracle/file:///public/*` and
//! `oracle/greeting` sends requests written byte for byte through the
//! relay and a connector to the oracle (`tests/oracle/oracle.py`, a strict
//! JSON-RPC 2.0 server that executes and logs whatever reaches it), over
//! stdio and over HTTP, in both protocol eras.
//!
//! Each row of [`ROWS`] is one request and the answer it must get; every
//! row, whatever its answer, must leave nothing in the oracle's log that
//! the caller may not use, and its answer must show no denied name and no
//! internal (see `common::wire::reply_problems`). [`PAIRS`] hold two
//! requests in flight in one session. All failures are collected and
//! printed as one table.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::hostile::{Bench, Era, fill};
use common::oracle::{HTTP, STDIO, starts};
use common::wire::{Reply, listed_names};
use common::*;
use rows::{Eras, On, PAIRS, Pair, ROWS, Row, Want};

#[path = "hostile_input/rows.rs"]
mod rows;

/// Whether `reply` is what `want` asks for; why not otherwise.
fn check_want(want: Want, reply: &Reply) -> Option<String> {
    let code = reply.error_code();
    let ok = match want {
        Want::Status(status, c) => reply.status == status && c.is_none_or(|c| code == Some(c)),
        Want::Result => reply.status == 200 && reply.has_result() && code.is_none(),
        Want::Either(wants) => wants.iter().any(|w| check_want(*w, reply).is_none()),
        Want::Failed => (500..600).contains(&reply.status),
    };
    (!ok).then(|| format!("wanted {want:?}, got {}", reply.summary()))
}

fn servers(on: On) -> Vec<&'static str> {
    match on {
        On::Oracles => vec![STDIO, HTTP],
        On::Server(s) => vec![s],
        On::Path(p) => vec![p],
    }
}

fn eras(eras: Eras) -> &'static [Era] {
    match eras {
        Eras::Both => &[Era::Session, Era::Stateless],
        Eras::Session => &[Era::Session],
        Eras::Stateless => &[Era::Stateless],
        Eras::Bare => &[Era::Bare],
    }
}

/// Runs one row on one server in one era; returns its problems.
fn run(b: &Bench, row: &Row, server: &str, era: Era) -> Vec<String> {
    let mut problems = Vec::new();
    // Rows on the two oracles get a session (for the session era, and for
    // the barrier) and a barrier on each side of the request.
    let oracle = server == STDIO || server == HTTP;
    let sid = match oracle.then(|| b.open_session(server)) {
        Some(Ok(sid)) => Some(sid),
        Some(Err(e)) => return vec![format!("set-up: {e}")],
        None => None,
    };
    let barrier_era = if era == Era::Stateless {
        Era::Stateless
    } else {
        Era::Session
    };
    if oracle && let Err(e) = b.barrier(server, barrier_era, sid.as_deref()) {
        problems.push(format!("before: {e}"));
    }
    let before = b.world.log.len();
    let body = fill(row.body, era);
    let own: Vec<(String, String)> = row
        .headers
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let path = match row.on {
        On::Path(p) => p.to_owned(),
        _ => format!("/mcp/{server}"),
    };
    let session = sid.as_deref().filter(|_| era == Era::Session);
    let headers = b.headers(era, session, row.auth, &body, &own);
    let reply = b.send("POST", &path, headers, &body);
    let at_reply = b.world.log.since(before);
    problems.extend(check_want(row.want, &reply));
    problems.extend(b.problems(&reply));
    if oracle && let Err(e) = b.barrier(server, barrier_era, sid.as_deref()) {
        problems.push(format!("after: {e}"));
    }
    let records = b.world.log.since(before);
    problems.extend(b.violations_since(before));
    if row.no_start {
        let started: Vec<String> = starts(&at_reply)
            .into_iter()
            .chain(starts(&records))
            .map(|r| r.to_string())
            .collect();
        if !started.is_empty() {
            problems.push(format!("an upstream session or child started: {started:?}"));
        }
    }
    if let Some(sid) = sid {
        b.close_session(server, &sid);
    }
    problems
}

/// Two requests in flight in one session: a slow `echo` (the oracle holds
/// its answer) and, once the oracle has it, a `tools/list` whose id is
/// the same id spelt differently. Each answer must land on its own
/// stream, and no stream may show a denied name.
fn run_pair(b: &Bench, pair: &Pair, server: &str) -> Vec<String> {
    let sid = match b.open_session(server) {
        Ok(sid) => sid,
        Err(e) => return vec![format!("set-up: {e}")],
    };
    let mut problems = Vec::new();
    let marker = format!("slow-{}", b.unique());
    let slow = format!(
        r#"{{"jsonrpc":"2.0","id":{},"method":"tools/call","params":{{"name":"echo","arguments":{{"message":"{marker}","delay_ms":1500}}}}}}"#,
        pair.a_id
    );
    let list = format!(
        r#"{{"jsonrpc":"2.0","id":{},"method":"tools/list"}}"#,
        pair.b_id
    );
    let before = b.world.log.len();
    let a = std::thread::scope(|scope| {
        let a = scope.spawn(|| b.post(server, Era::Session, Some(&sid), &[], &slow));
        let held = wait_until(WAIT, || {
            b.world
                .log
                .since(before)
                .iter()
                .any(|r| r["marker"] == marker.as_str())
        });
        if !held {
            problems.push("the slow echo never reached the oracle".to_owned());
        }
        let reply = b.post(server, Era::Session, Some(&sid), &[], &list);
        problems.extend(check_want(pair.b_want, &reply).map(|p| format!("tools/list: {p}")));
        problems.extend(b.problems(&reply));
        a.join().expect("slow echo thread")
    });
    let echoed = a.status == 200
        && a.messages
            .iter()
            .any(|m| m["result"].to_string().contains(&marker));
    if !echoed {
        problems.push(format!(
            "the slow echo's answer is not on its stream: {}",
            a.summary()
        ));
    }
    if a.messages.iter().any(|m| !listed_names(m).is_empty()) {
        problems.push(format!(
            "a tools/list answer landed on the echo's stream: {}",
            a.summary()
        ));
    }
    problems.extend(b.problems(&a));
    if let Err(e) = b.barrier(server, Era::Session, Some(&sid)) {
        problems.push(format!("after: {e}"));
    }
    problems.extend(b.violations_since(before));
    b.close_session(server, &sid);
    problems
}

/// Polls `done` (a file another process appends to) until it holds or
/// `limit` passes; bounded in time and count.
fn wait_until(limit: std::time::Duration, done: impl Fn() -> bool) -> bool {
    let deadline = std::time::Instant::now() + limit;
    for _ in 0..10_000 {
        if done() {
            return true;
        }
        if std::time::Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    false
}

#[test]
fn hostile_requests_are_decided_or_refused_never_forwarded_undecided() {
    let b = Bench::start();
    let mut failures = Vec::new();
    let mut kinds: BTreeMap<String, BTreeSet<&str>> = BTreeMap::new();
    let mut runs = 0;
    for row in ROWS {
        for server in servers(row.on) {
            for &era in eras(row.eras) {
                runs += 1;
                let problems = run(&b, row, server, era);
                for p in &problems {
                    kinds.entry(kind(p)).or_default().insert(row.name);
                }
                if !problems.is_empty() {
                    failures.push(format!(
                        "{} [{server}, {era:?}]:\n    {}",
                        row.name,
                        problems.join("\n    ")
                    ));
                }
            }
        }
    }
    for pair in PAIRS {
        for server in [STDIO, HTTP] {
            runs += 1;
            let problems = run_pair(&b, pair, server);
            for p in &problems {
                kinds.entry(kind(p)).or_default().insert(pair.name);
            }
            if !problems.is_empty() {
                failures.push(format!(
                    "{} [{server}, pair]:\n    {}",
                    pair.name,
                    problems.join("\n    ")
                ));
            }
        }
    }
    // Whatever reached the oracle after its row's barrier is counted too.
    let all = b.violations_since(0);
    if !all.is_empty() {
        failures.push(format!(
            "the whole oracle log ({} entries):\n    {}",
            all.len(),
            all.join("\n    ")
        ));
    }
    let summary: Vec<String> = kinds
        .iter()
        .map(|(k, rows)| {
            let rows: Vec<&str> = rows.iter().copied().collect();
            format!("  {k} — {} rows: {}", rows.len(), rows.join("; "))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {runs} runs failed:\n{}\n\nproblems by kind:\n{}",
        failures.len(),
        failures.join("\n"),
        summary.join("\n")
    );
}

/// A problem without its details (the text before the first `:`).
fn kind(problem: &str) -> String {
    problem
        .split(':')
        .next()
        .unwrap_or(problem)
        .chars()
        .take(90)
        .collect()
}
