//! CI smoke: cheap scenarios in `--quick` shape with tiny N, relay and
//! connector in-process. Asserts only that they complete and measured
//! something — never a timing.

use std::path::PathBuf;
use std::time::Duration;

use sallyport_bench::record::Record;
use sallyport_bench::{Options, Scenario, run};

/// Each scenario gets at most this long.
const LIMIT: Duration = Duration::from_secs(30);

fn tiny() -> Options {
    let mut o = Options::quick();
    o.in_process = true;
    o.duration = Duration::from_millis(200);
    o.rounds = 1;
    o.warmup = Duration::ZERO;
    o.concurrency = vec![1, 4];
    o.stdio_concurrency = vec![1];
    o.connectors = 8;
    o.settle = Duration::from_millis(50);
    o.stdio_server = Some(PathBuf::from(env!("CARGO_BIN_EXE_sallyport-bench-stdio")));
    o
}

async fn run_bounded(s: Scenario, o: &Options) -> Vec<Record> {
    tokio::time::timeout(LIMIT, run(s, o))
        .await
        .unwrap_or_else(|_| panic!("{} did not finish within {LIMIT:?}", s.id()))
        .unwrap_or_else(|e| panic!("{} failed: {e}", s.id()))
}

fn assert_measured(records: &[Record], expected: usize, figure: &str) {
    assert_eq!(records.len(), expected, "{records:#?}");
    for r in records {
        let v = r.figures.get(figure).copied().unwrap_or(0.0);
        assert!(v > 0.0, "{} {}: {figure} = {v}: {r:#?}", r.scenario, r.case);
        assert_eq!(r.errors, 0, "{r:#?}");
        assert!(!r.text.is_empty());
        serde_json::to_string(r).expect("record encodes as JSON");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overhead_quick() {
    let records = run_bounded(Scenario::Overhead, &tiny()).await;
    // direct and in-process, at concurrency 1 and 4, then a fresh session
    // per call (no deployment-shape rows without the binary).
    assert_measured(&records, 6, "ops");
    assert_eq!(records[1].case, "in-process c=1", "{records:#?}");
    assert!(records[1].ratios.contains_key("req_per_s"), "{records:#?}");
    assert_eq!(records[5].case, "in-process fresh session", "{records:#?}");
    assert!(
        records[5].ratios.contains_key("added_p50_us"),
        "{records:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdio_quick() {
    let records = run_bounded(Scenario::Stdio, &tiny()).await;
    assert_measured(&records, 2, "ops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connectors_quick() {
    let records = run_bounded(Scenario::Connectors, &tiny()).await;
    assert_measured(&records, 1, "links");
    assert_eq!(records[0].figures["links"], 8.0, "{records:#?}");
    assert_eq!(records[0].figures["relay_links"], 8.0, "{records:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_quick() {
    let mut o = tiny();
    // Over 64 KiB: the connector streams both the JSON body and the SSE
    // event's data in pieces.
    o.bulk_sizes = vec![200_000];
    o.bulk_duration = Duration::from_millis(300);
    let records = run_bounded(Scenario::Bulk, &o).await;
    // bare quinn, then direct and relayed json and sse.
    assert_measured(&records, 5, "mb_per_s");
    assert!(
        records
            .iter()
            .any(|r| r.case.starts_with("relayed sse") && r.ratios.contains_key("mbps_vs_quinn")),
        "{records:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_quick() {
    let mut o = tiny();
    o.streams = 20;
    let records = run_bounded(Scenario::Streams, &o).await;
    assert_measured(&records, 1, "streams_open");
}
