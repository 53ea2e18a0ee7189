//! The oracle as a property: a seeded generator (`common::generate`) sends a
//! few hundred hostile messages as the restricted caller, through relay
//! and connector, to the oracle over stdio and HTTP in both eras; then
//! every call in the oracle's execution log must be allowed by the
//! caller's policy, and every name in every list result the caller got
//! must be allowed.
//!
//! `HOSTILE_SEED=<n>` replays a run (the seed is printed, and named in
//! every failure); `HOSTILE_CASES=<n>` changes how many messages.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::generate::{Hostile, Rng, hostile};
use common::hostile::{Bench, Era};
use common::oracle::{HTTP, OracleHttp, OracleLog, STDIO, allowed, script, violations};
use common::wire::{Reply, Request, listed_names, reply_problems, send};

/// Messages sent when `HOSTILE_CASES` is not set.
const CASES: u64 = 400;
/// The generator stops early when this much time has passed.
const BUDGET: Duration = Duration::from_secs(150);

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

/// The session of each oracle server, re-opened when the relay forgot it
/// (bounded).
struct Sessions {
    ids: Vec<(&'static str, String)>,
    reopened: usize,
}

impl Sessions {
    fn of(&self, server: &str) -> &str {
        self.ids
            .iter()
            .find(|(s, _)| *s == server)
            .map(|(_, id)| id.as_str())
            .expect("a session")
    }

    fn renew(&mut self, b: &Bench, server: &'static str, seed: u64) {
        self.reopened += 1;
        assert!(
            self.reopened < 50,
            "seed {seed}: sessions keep disappearing"
        );
        let sid = b
            .open_session(server)
            .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        self.ids.retain(|(s, _)| *s != server);
        self.ids.push((server, sid));
    }
}

#[test]
fn generated_hostile_messages_never_reach_a_denied_target() {
    let seed = env_u64("HOSTILE_SEED").unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1)
    });
    let cases = env_u64("HOSTILE_CASES").unwrap_or(CASES);
    eprintln!("hostile_oracle: seed {seed} ({cases} messages; HOSTILE_SEED={seed} replays)");
    let b = Bench::start();
    let mut rng = Rng::new(seed);
    let mut sessions = Sessions {
        ids: Vec::new(),
        reopened: 0,
    };
    for server in [STDIO, HTTP] {
        sessions.renew(&b, server, seed);
    }
    let started = Instant::now();
    let mut sent: Vec<(usize, Hostile)> = Vec::new();
    let mut leaks = Vec::new();
    let mut statuses = std::collections::BTreeMap::new();
    for n in 0..cases {
        if started.elapsed() > BUDGET {
            eprintln!("hostile_oracle: time budget spent after {n} messages");
            break;
        }
        let h = hostile(&mut rng, n);
        let session = (h.era == Era::Session).then(|| sessions.of(h.server).to_owned());
        sent.push((b.world.log.len(), h.clone()));
        let reply = b.post(h.server, h.era, session.as_deref(), &h.headers, &h.body);
        *statuses
            .entry((reply.status, reply.error_code()))
            .or_insert(0usize) += 1;
        if std::env::var_os("HOSTILE_TRACE").is_some() {
            eprintln!("#{n} {h:?}\n    -> {}", reply.summary());
        }
        for name in denied_names(&reply) {
            leaks.push(format!(
                "#{n} {h:?}\n      lists the denied {name:?}: {}",
                reply.summary()
            ));
        }
        if h.era == Era::Session && reply.status == 404 {
            sessions.renew(&b, h.server, seed);
        }
    }
    // Everything sent before a barrier on each path has been executed.
    for server in [STDIO, HTTP] {
        let sid = sessions.of(server).to_owned();
        for (era, session) in [(Era::Session, Some(sid.as_str())), (Era::Stateless, None)] {
            b.barrier(server, era, session)
                .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        }
    }
    let records = b.world.log.records();
    let mut executed = Vec::new();
    for (i, r) in records.iter().enumerate() {
        for v in violations(std::slice::from_ref(r)) {
            let cause = sent.iter().rev().find(|(at, _)| *at <= i);
            executed.push(format!("{v}\n      probably from {cause:?}"));
        }
    }
    eprintln!(
        "hostile_oracle: seed {seed}: {} messages, statuses {statuses:?}, {} oracle log lines",
        sent.len(),
        records.len()
    );
    assert!(
        executed.is_empty() && leaks.is_empty(),
        "seed {seed} (HOSTILE_SEED={seed} replays it):\n  {} denied calls executed or headers forwarded unchecked:\n    {}\n  {} list answers with denied names:\n    {}",
        executed.len(),
        executed.join("\n    "),
        leaks.len(),
        leaks.join("\n    ")
    );
}

fn denied_names(reply: &Reply) -> Vec<String> {
    reply
        .messages
        .iter()
        .flat_map(listed_names)
        .filter(|n| !allowed(n))
        .collect()
}

/// The assertions are not vacuous: sent straight to the oracle (no relay),
/// what the relay must refuse is executed and flagged, and a list with
/// denied names is flagged.
#[test]
fn the_oracle_alone_executes_what_the_relay_must_refuse() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let log = OracleLog {
        path: tmp.path().join("oracle.jsonl"),
    };
    let mut child = Command::new("python3")
        .arg(script())
        .arg("--log")
        .arg(&log.path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn the oracle");
    let lines = [
        r#"{"jsonrpc":"2.0","method":"tools/call","params":{"name":"secret-delete"}}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":["secret-dump"]}}"#,
        r#"{"jsonrpc":"2.0","id":2,"method":"completion/complete","params":{"ref":{"type":"ref/resource","name":"greeting","uri":"file:///secret/keys"}}}"#,
        r#"{"jsonrpc":"2.0","id":null,"method":"prompts/get","params":{"name":"secret-prompt"}}"#,
        r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"echo","name":"secret-delete"}}"#,
        r#"{"jsonrpc":"2.0","id":4,"method":"tools/list"}"#,
    ];
    let mut stdin = child.stdin.take().expect("stdin");
    for l in lines {
        writeln!(stdin, "{l}").expect("write to the oracle");
    }
    drop(stdin);
    let mut answers = Vec::new();
    for line in BufReader::new(child.stdout.take().expect("stdout"))
        .lines()
        .take(5)
    {
        answers
            .push(serde_json::from_str::<serde_json::Value>(&line.expect("line")).expect("JSON"));
    }
    let _ = child.wait();
    let flagged = violations(&log.records());
    assert_eq!(flagged.len(), 5, "{flagged:#?}");
    let list = answers
        .iter()
        .find(|a| a["id"] == 4)
        .expect("the tools/list answer");
    let reply = Reply {
        status: 200,
        messages: vec![list.clone()],
        ..Reply::default()
    };
    let problems = reply_problems(&reply, &[]);
    assert_eq!(
        problems.len(),
        2,
        "secret-delete and secret-dump: {problems:?}"
    );

    // Over HTTP: a session-era request carrying a client's Mcp-Name.
    let http = OracleHttp::start(&log.path);
    let before = log.len();
    let req = Request {
        method: "POST",
        path: "/mcp".to_owned(),
        headers: vec![("Mcp-Name".to_owned(), "secret-delete".to_owned())],
        body: br#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}"#.to_vec(),
    };
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], http.port));
    let reply = send(addr, &req);
    assert_eq!(reply.status, 200, "{}", reply.summary());
    let flagged = violations(&log.since(before));
    assert_eq!(flagged.len(), 1, "{flagged:#?}");
}
