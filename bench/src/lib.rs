//! `sallyport-bench`: every performance claim about Sallyport as a number
//! anyone can reproduce with one command.
//!
//! Six scenarios ([`Scenario`]), each producing [`record::Record`]s (a
//! table row and a JSON object each):
//!
//! 1. `overhead` — `tools/call` direct vs through relay + connector (as
//!    processes: the deployment shape, and in-process), at several
//!    concurrencies, and a fresh session per call;
//! 2. `stdio` — the same with a stdio upstream;
//! 3. `bulk` — large `resources/read` (JSON and SSE) vs a bare quinn stream;
//! 4. `connectors` — many connector links: time to connect, relay memory;
//! 5. `streams` — many open SSE streams: relay and connector memory;
//! 6. `reconnect` — the relay killed under load: recovery time, no hangs.
//!
//! Everything runs on 127.0.0.1. The binary (`src/main.rs`) is a thin
//! front end over [`run`]; `bench/README.md` explains how to read the
//! figures.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod client;
pub mod error;
pub mod fixture;
pub mod goals;
pub mod hist;
pub mod jsonrpc;
pub mod load;
pub mod procs;
pub mod record;
pub mod scenarios;
pub mod targets;
pub mod tunnel;
pub mod upstream;

use std::path::PathBuf;
use std::time::Duration;

pub use error::{BenchError, Result};
use record::{Failure, Record, Report};

/// One scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    /// `tools/call` latency and throughput, direct vs relayed.
    Overhead,
    /// The same through a stdio upstream.
    Stdio,
    /// Large payloads, and the bare quinn ceiling.
    Bulk,
    /// Many connector links to one relay.
    Connectors,
    /// Many open SSE streams.
    Streams,
    /// The relay killed and restarted under load.
    Reconnect,
}

impl Scenario {
    /// Every scenario, in run order.
    pub const ALL: [Scenario; 6] = [
        Scenario::Overhead,
        Scenario::Stdio,
        Scenario::Bulk,
        Scenario::Connectors,
        Scenario::Streams,
        Scenario::Reconnect,
    ];

    /// Its id in records and on the command line.
    pub fn id(self) -> &'static str {
        match self {
            Scenario::Overhead => "overhead",
            Scenario::Stdio => "stdio",
            Scenario::Bulk => "bulk",
            Scenario::Connectors => "connectors",
            Scenario::Streams => "streams",
            Scenario::Reconnect => "reconnect",
        }
    }
}

/// Every knob of a run; [`Options::full`] and [`Options::quick`] are the
/// two presets.
#[derive(Debug, Clone)]
pub struct Options {
    /// `quick` (CI smoke) or `full`.
    pub quick: bool,
    /// Measured time per path per case (overhead, stdio).
    pub duration: Duration,
    /// Alternating rounds per case.
    pub rounds: u32,
    /// Unmeasured warm-up per path per case.
    pub warmup: Duration,
    /// Concurrencies of the overhead scenario.
    pub concurrency: Vec<usize>,
    /// Concurrencies of the stdio scenario.
    pub stdio_concurrency: Vec<usize>,
    /// Payload sizes of the bulk scenario.
    pub bulk_sizes: Vec<usize>,
    /// Measured time per path per bulk case.
    pub bulk_duration: Duration,
    /// Links of the connectors scenario.
    pub connectors: usize,
    /// Streams of the streams scenario.
    pub streams: usize,
    /// Sessions under load in the reconnect scenario.
    pub reconnect_sessions: usize,
    /// Load before the kill and after recovery.
    pub reconnect_phase: Duration,
    /// How long the relay stays dead.
    pub reconnect_down: Duration,
    /// Connector link idle timeout in the reconnect scenario (None: the
    /// product default).
    pub link_idle_ms: Option<u64>,
    /// Pause before reading memory.
    pub settle: Duration,
    /// The `sallyport` binary (default: `target/release/sallyport`).
    pub sallyport: Option<PathBuf>,
    /// The stdio server (default: beside this executable).
    pub stdio_server: Option<PathBuf>,
    /// Run relay and connector in-process in the scale scenarios (no
    /// binary needed, memory not measured; reconnect cannot run).
    pub in_process: bool,
    /// Drive only one path of the comparing scenarios (profiling).
    pub only: Option<scenarios::compare::Side>,
    /// `overhead` only keeps a relayed load on the deployment shape for
    /// this long, for a profiler to attach ([`scenarios::hold`]).
    pub hold: Option<Duration>,
}

const MIB: usize = 1024 * 1024;

impl Options {
    /// The full benchmark (about 6–8 minutes on 2 cores).
    pub fn full() -> Self {
        Self {
            quick: false,
            duration: Duration::from_secs(10),
            rounds: 4,
            warmup: Duration::from_secs(1),
            concurrency: vec![1, 16, 256],
            stdio_concurrency: vec![1, 16, 256],
            bulk_sizes: vec![MIB, 16 * MIB],
            bulk_duration: Duration::from_secs(6),
            connectors: 1000,
            streams: 5000,
            reconnect_sessions: 16,
            reconnect_phase: Duration::from_secs(3),
            reconnect_down: Duration::from_secs(1),
            link_idle_ms: None,
            settle: Duration::from_secs(2),
            sallyport: None,
            stdio_server: None,
            in_process: false,
            only: None,
            hold: None,
        }
    }

    /// A few seconds per scenario, small N: proves the bench still runs.
    pub fn quick() -> Self {
        Self {
            quick: true,
            duration: Duration::from_millis(400),
            rounds: 2,
            warmup: Duration::from_millis(100),
            concurrency: vec![1, 16, 256],
            stdio_concurrency: vec![1, 8],
            bulk_sizes: vec![MIB, 16 * MIB],
            bulk_duration: Duration::from_millis(800),
            connectors: 50,
            streams: 100,
            reconnect_sessions: 4,
            reconnect_phase: Duration::from_millis(500),
            reconnect_down: Duration::from_millis(300),
            link_idle_ms: Some(2000),
            settle: Duration::from_millis(300),
            ..Self::full()
        }
    }
}

/// Installs the process-wide rustls provider (ring) once.
pub fn init_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Runs one scenario.
pub async fn run(scenario: Scenario, opts: &Options) -> Result<Vec<Record>> {
    init_crypto();
    match scenario {
        Scenario::Overhead => match opts.hold {
            Some(hold) => scenarios::hold::run(opts, hold).await,
            None => scenarios::overhead::run(opts).await,
        },
        Scenario::Stdio => scenarios::stdio::run(opts).await,
        Scenario::Bulk => scenarios::bulk::run(opts).await,
        Scenario::Connectors => scenarios::connectors::run(opts).await,
        Scenario::Streams => scenarios::streams::run(opts).await,
        Scenario::Reconnect => scenarios::reconnect::run(opts).await,
    }
}

/// Runs `scenarios` in order into `report`; a scenario that fails is
/// recorded as a failure and the next one runs. `progress` is called
/// with each scenario's records as they arrive.
pub async fn run_all(
    scenarios: &[Scenario],
    opts: &Options,
    report: &mut Report,
    mut progress: impl FnMut(Scenario, &std::result::Result<Vec<Record>, String>),
) {
    for &s in scenarios {
        let outcome = run(s, opts).await.map_err(|e| e.to_string());
        progress(s, &outcome);
        match outcome {
            Ok(records) => report.records.extend(records),
            Err(error) => report.failures.push(Failure {
                scenario: s.id().to_owned(),
                error,
            }),
        }
    }
}
