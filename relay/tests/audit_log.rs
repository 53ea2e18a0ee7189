//! The audit log: line format, concurrency, backpressure, errors (files,
//! rotation and config: `audit_files.rs`).

mod audit_support;

use std::collections::BTreeSet;
use std::io::{self, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use audit_support::*;
use sallyport_relay::audit::{
    AuditCounters, AuditEvent, AuditLog, AuditOptions, AuditRecord, AuditSink, Decision,
    TryRecordError,
};
use serde_json::Value;

#[tokio::test]
async fn records_are_json_lines_with_every_field() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("audit.jsonl");
    let log = AuditLog::file(&path, 1 << 20, 2).expect("open");
    log.record(full_record(7)).await;
    let mut odd = AuditRecord::new(AuditEvent::Denial, "relay-1", 8)
        .with_server("contracts")
        .with_method("POST", None)
        .with_decision(Decision::Deny, None)
        .with_status(401, Some(-32001));
    odd.user = "mallory\n{\"forged\":true}\u{1b}[31m\u{0}".into();
    log.record(odd).await;
    log.close().await;

    let recs = lines(&path);
    assert_eq!(recs.len(), 2);
    for r in &recs {
        let keys: Vec<&str> = r
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        let mut want = FIELDS.to_vec();
        want.sort_unstable();
        let mut got = keys.clone();
        got.sort_unstable();
        assert_eq!(got, want, "every field, no other");
    }
    let r = &recs[0];
    let time = r["time"].as_str().expect("time");
    assert_eq!(time.len(), 24, "{time}");
    assert!(time.ends_with('Z') && time.as_bytes()[19] == b'.', "{time}");
    assert_eq!(r["event"], "mcp_request");
    assert_eq!(r["relay"], "relay-1");
    assert_eq!(r["request_id"], 7);
    assert_eq!(r["user"], "alice@acme.com");
    assert_eq!(r["agent"], "claude-desktop");
    assert_eq!(r["groups"], serde_json::json!(["legal", "staff"]));
    assert_eq!(r["auth"], "api_key");
    assert_eq!(r["session"].as_str().map(str::len), Some(12));
    assert_eq!(r["server"], "contracts");
    assert_eq!(r["connector"], "spiffe://acme.internal/connector/legal-dc1");
    assert_eq!(r["method"], "tools/call");
    assert_eq!(r["target"], "search_contracts");
    assert_eq!(r["decision"], "allow");
    assert_eq!(r["rule"], "legal-reader: contracts/search_*");
    assert_eq!(r["status"], 200);
    assert_eq!(r["jsonrpc_error"], Value::Null);
    assert_eq!(r["latency_ms"], 12.345);
    assert_eq!(r["bytes_in"], 321);
    assert_eq!(r["bytes_out"], 4567);

    let d = &recs[1];
    assert_eq!(d["event"], "denial");
    assert_eq!(d["decision"], "deny");
    assert_eq!(d["auth"], "none");
    assert_eq!(d["agent"], Value::Null);
    assert_eq!(d["session"], Value::Null);
    assert_eq!(d["jsonrpc_error"], -32001);
    // Control characters are escaped: the forged text stays in one string.
    assert_eq!(d["user"], "mallory\n{\"forged\":true}\u{1b}[31m\u{0}");
}

#[tokio::test]
async fn no_secret_can_reach_a_record() {
    // A record built the normal way, from an authenticated principal and
    // the client's session id, holds no token-shaped text: the record type
    // has no field for the bearer token or API key, and the session id is
    // only tagged.
    let session_id = "sp_sess_0123456789abcdef";
    let rec = full_record(1).with_session(session_id);
    let line = serde_json::to_string(&rec).expect("serializes");
    assert!(!line.contains("Bearer"), "{line}");
    assert!(!line.contains("sp_"), "{line}");
    assert!(!line.contains(session_id), "{line}");
    let keys: BTreeSet<String> = serde_json::from_str::<serde_json::Map<String, Value>>(&line)
        .expect("object")
        .keys()
        .cloned()
        .collect();
    let want: BTreeSet<String> = FIELDS.iter().map(|s| (*s).to_owned()).collect();
    assert_eq!(keys, want, "a new field must be reviewed for secrets");
    // Only what the caller puts in a text field shows up.
    let mut careless = full_record(2);
    careless.user = "sp_live_key".into();
    assert!(
        serde_json::to_string(&careless)
            .expect("ok")
            .contains("sp_")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_lose_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("audit.jsonl");
    let log = AuditLog::file(&path, 1 << 30, 1).expect("open");
    let tasks: Vec<_> = (0..8u64)
        .map(|t| {
            let log = log.clone();
            tokio::spawn(async move {
                for i in 0..1000 {
                    log.record(full_record(t * 1_000_000 + i)).await;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("writer task");
    }
    log.close().await;
    let got: BTreeSet<u64> = ids(&path).into_iter().collect();
    assert_eq!(got.len(), 8000);
    assert_eq!(lines(&path).len(), 8000, "no duplicates");
}

/// A sink that takes a millisecond per write, so a small queue fills.
struct Slow(Arc<Mutex<Vec<u8>>>);

impl Write for Slow {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        std::thread::sleep(Duration::from_millis(1));
        self.0.lock().expect("not poisoned").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backpressure_waits_and_loses_nothing() {
    let out = Arc::new(Mutex::new(Vec::new()));
    let counters = AuditCounters::default();
    let options = AuditOptions {
        capacity: 1,
        counters: counters.clone(),
    };
    let log =
        AuditLog::open(AuditSink::Writer(Box::new(Slow(Arc::clone(&out)))), options).expect("open");
    let tasks: Vec<_> = (0..4u64)
        .map(|t| {
            let log = log.clone();
            tokio::spawn(async move {
                for i in 0..100 {
                    log.record(full_record(t * 1000 + i)).await;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("writer task");
    }
    log.close().await;
    let text = String::from_utf8(out.lock().expect("not poisoned").clone()).expect("utf-8");
    assert_eq!(text.lines().count(), 400);
    assert!(counters.blocked_or_dropped.get() > 0, "some records waited");
    assert_eq!(counters.write_errors.get(), 0);
}

#[tokio::test]
async fn try_record_hands_back_what_it_cannot_queue() {
    let out = Arc::new(Mutex::new(Vec::new()));
    let options = AuditOptions {
        capacity: 1,
        counters: AuditCounters::default(),
    };
    let log =
        AuditLog::open(AuditSink::Writer(Box::new(Slow(Arc::clone(&out)))), options).expect("open");
    let mut handed_back = 0;
    for i in 0..50 {
        match log.try_record(full_record(i)) {
            Ok(()) => {}
            Err(TryRecordError::Full(r)) => {
                handed_back += 1;
                log.record(*r).await;
            }
            Err(e) => panic!("{e}"),
        }
    }
    assert!(handed_back > 0, "a one-slot queue fills");
    let other = log.clone();
    log.close().await;
    assert_eq!(
        String::from_utf8_lossy(&out.lock().expect("not poisoned"))
            .lines()
            .count(),
        50
    );
    // After close, every clone refuses and counts.
    let before = other.counters().blocked_or_dropped.get();
    let err = other.try_record(full_record(99)).expect_err("closed");
    assert!(matches!(err, TryRecordError::Closed(_)));
    assert_eq!(err.into_record().request_id, 99);
    other.record(full_record(100)).await;
    assert_eq!(other.counters().blocked_or_dropped.get(), before + 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn detached_records_wait_for_room_in_a_task() {
    let out = Arc::new(Mutex::new(Vec::new()));
    let options = AuditOptions {
        capacity: 1,
        counters: AuditCounters::default(),
    };
    let log =
        AuditLog::open(AuditSink::Writer(Box::new(Slow(Arc::clone(&out)))), options).expect("open");
    for i in 0..100 {
        log.record_detached(full_record(i));
    }
    assert!(
        log.counters().blocked_or_dropped.get() > 0,
        "a one-slot queue fills"
    );
    // The spawned tasks queue as room frees up; nothing is lost.
    let written = || {
        String::from_utf8_lossy(&out.lock().expect("not poisoned"))
            .lines()
            .count()
    };
    tokio::time::timeout(Duration::from_secs(20), async {
        while written() < 100 {
            log.flush().await;
        }
    })
    .await
    .expect("every detached record is written");
    log.close().await;
    let text = String::from_utf8(out.lock().expect("not poisoned").clone()).expect("utf-8");
    assert_eq!(text.lines().count(), 100);
}

#[tokio::test]
async fn flush_makes_records_visible() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("audit.jsonl");
    let log = AuditLog::file(&path, 1 << 20, 1).expect("open");
    log.record(full_record(1)).await;
    log.record(full_record(2)).await;
    log.flush().await;
    assert_eq!(ids(&path), vec![1, 2]);
    log.close().await;
}

/// Fails `failures` write calls, then writes into the buffer.
struct Flaky {
    failures: usize,
    out: Arc<Mutex<Vec<u8>>>,
}

impl Write for Flaky {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.failures > 0 {
            self.failures -= 1;
            return Err(io::Error::other("no space left on device"));
        }
        self.out
            .lock()
            .expect("not poisoned")
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn write_errors_are_counted_and_the_log_recovers() {
    let out = Arc::new(Mutex::new(Vec::new()));
    let counters = AuditCounters::default();
    let sink = AuditSink::Writer(Box::new(Flaky {
        failures: 2,
        out: Arc::clone(&out),
    }));
    let options = AuditOptions {
        capacity: 16,
        counters: counters.clone(),
    };
    let log = AuditLog::open(sink, options).expect("open");
    for i in 0..4 {
        log.record(full_record(i)).await;
        log.flush().await;
    }
    log.close().await;
    assert_eq!(counters.write_errors.get(), 2, "the two failed records");
    let text = String::from_utf8(out.lock().expect("not poisoned").clone()).expect("utf-8");
    let got: Vec<u64> = text
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            serde_json::from_str::<Value>(l).expect("whole line")["request_id"]
                .as_u64()
                .expect("id")
        })
        .collect();
    assert_eq!(got, vec![2, 3]);
}

/// `cargo test -p sallyport-relay --release --test audit_log -- --ignored --nocapture`
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "throughput measurement"]
async fn bench_records_per_second_to_a_file() {
    const N: u64 = 400_000;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("audit.jsonl");
    let log = AuditLog::file(&path, 1 << 30, 1).expect("open");
    let start = Instant::now();
    let tasks: Vec<_> = (0..4u64)
        .map(|t| {
            let log = log.clone();
            tokio::spawn(async move {
                for i in 0..N / 4 {
                    log.record(full_record(t * N + i)).await;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("writer task");
    }
    let counters = log.counters().clone();
    log.close().await;
    let secs = start.elapsed().as_secs_f64();
    let mut bytes = 0;
    let mut count = 0;
    for name in ["audit.jsonl", "audit.jsonl.1"] {
        if let Ok(text) = std::fs::read_to_string(dir.path().join(name)) {
            bytes += text.len();
            count += text.lines().count();
        }
    }
    println!(
        "audit: {N} records ({} MiB, {} B/record) in {secs:.3} s = {:.0} records/s; waits on a full queue: {}",
        bytes >> 20,
        bytes / count.max(1),
        N as f64 / secs,
        counters.blocked_or_dropped.get()
    );
    assert_eq!(count as u64, N);
}
