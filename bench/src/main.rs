//! `sallyport-bench`: runs the benchmark scenarios, prints a markdown table
//! and writes a JSON report. See `bench/README.md`.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, ValueEnum};
use sallyport_bench::record::Report;
use sallyport_bench::{Options, Scenario};

/// Sallyport benchmarks: relayed vs direct MCP, bulk transfer, scale and
/// reconnect, all on 127.0.0.1.
#[derive(Debug, Parser)]
#[command(name = "sallyport-bench", version)]
struct Cli {
    /// What to run.
    #[arg(value_enum, default_value_t = What::EVERY)]
    what: What,
    /// A few seconds per scenario with small N (CI smoke; timings are not
    /// meaningful).
    #[arg(long, global = true)]
    quick: bool,
    /// Where to write the JSON report [default: bench/results/latest.json,
    /// or quick.json with --quick].
    #[arg(long, global = true, value_name = "FILE")]
    out: Option<PathBuf>,
    /// The sallyport binary for the relay/connector processes [default:
    /// target/release/sallyport].
    #[arg(long, global = true, value_name = "PATH", env = "SALLYPORT_BIN")]
    sallyport: Option<PathBuf>,
    /// Run relay and connector in-process in the scale scenarios (no
    /// binary needed; memory is then not measured and reconnect fails).
    #[arg(long, global = true)]
    in_process: bool,
    /// Measured seconds per path per case (overhead, stdio).
    #[arg(long, global = true, value_name = "SECS")]
    duration: Option<f64>,
    /// Alternating rounds per case.
    #[arg(long, global = true)]
    rounds: Option<u32>,
    /// Concurrencies of the overhead scenario, comma-separated.
    #[arg(long, global = true, value_delimiter = ',')]
    concurrency: Option<Vec<usize>>,
    /// Connector links of the connectors scenario (e.g. 10000).
    #[arg(long, global = true, value_name = "N")]
    connectors: Option<usize>,
    /// Open SSE streams of the streams scenario.
    #[arg(long, global = true, value_name = "N")]
    streams: Option<usize>,
    /// Connector link idle timeout (ms) in the reconnect scenario
    /// [default: the product's].
    #[arg(long, global = true, value_name = "MS")]
    link_idle_ms: Option<u64>,
    /// Drive only one path of overhead, stdio and bulk (to profile one
    /// side; the ratios then read 0).
    #[arg(long, global = true, value_enum, value_name = "PATH")]
    only: Option<sallyport_bench::scenarios::compare::Side>,
    /// With `overhead`: instead of measuring, keep a relayed echo load (at
    /// the first --concurrency) on relay and connector processes for SECS
    /// seconds, printing their pids first, for perf or valgrind to attach.
    #[arg(long, global = true, value_name = "SECS")]
    hold: Option<f64>,
    /// Worker threads of the bench's tokio runtime, which the load client,
    /// the upstream and the in-process relay + connector share [default:
    /// one per CPU]. `--workers 1` shows the cost without cross-thread
    /// wake-ups.
    #[arg(long, global = true, value_name = "N")]
    workers: Option<usize>,
    /// Log filter for the in-process relay and connector.
    #[arg(long, global = true, default_value = "error")]
    log: String,
}

/// `all` or one scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct What(Option<Scenario>);

impl What {
    const EVERY: What = What(None);

    fn scenarios(self) -> Vec<Scenario> {
        self.0.map_or_else(|| Scenario::ALL.to_vec(), |s| vec![s])
    }
}

impl ValueEnum for What {
    fn value_variants<'a>() -> &'a [Self] {
        static VARIANTS: std::sync::LazyLock<Vec<What>> = std::sync::LazyLock::new(|| {
            std::iter::once(What::EVERY)
                .chain(Scenario::ALL.map(|s| What(Some(s))))
                .collect()
        });
        &VARIANTS
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        match self.0 {
            None => Some(clap::builder::PossibleValue::new("all").help("Every scenario, in order")),
            Some(s) => s.to_possible_value(),
        }
    }
}

fn options(cli: &Cli) -> anyhow::Result<Options> {
    let mut o = if cli.quick {
        Options::quick()
    } else {
        Options::full()
    };
    if let Some(d) = cli.duration {
        o.duration = Duration::try_from_secs_f64(d).context("--duration")?;
    }
    if let Some(r) = cli.rounds {
        o.rounds = r.max(1);
    }
    if let Some(c) = &cli.concurrency {
        anyhow::ensure!(
            c.iter().all(|&c| c > 0),
            "--concurrency values must be above 0"
        );
        o.concurrency.clone_from(c);
    }
    if let Some(n) = cli.connectors {
        o.connectors = n;
    }
    if let Some(n) = cli.streams {
        o.streams = n;
    }
    if cli.link_idle_ms.is_some() {
        o.link_idle_ms = cli.link_idle_ms;
    }
    o.sallyport.clone_from(&cli.sallyport);
    o.in_process = cli.in_process;
    o.only = cli.only;
    if let Some(h) = cli.hold {
        o.hold = Some(Duration::try_from_secs_f64(h).context("--hold")?);
    }
    Ok(o)
}

/// The allocator of the measured process (relay and connector run in it
/// for the latency and bulk scenarios), the same one `sallyport` uses.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let workers = match cli.workers {
        Some(0) => anyhow::bail!("--workers must be at least 1"),
        Some(n) => n,
        None => std::thread::available_parallelism().map_or(1, usize::from),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .context("start the tokio runtime")?;
    runtime.block_on(run(cli, workers))
}

async fn run(cli: Cli, workers: usize) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(&cli.log)
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error")),
        )
        .with_writer(std::io::stderr)
        .init();
    let opts = options(&cli)?;
    let mode = if opts.quick { "quick" } else { "full" };
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    let mut report = Report::new(mode, command);
    report.host.runtime_workers = workers;
    if report.host.loadavg_1m > report.host.cpus as f64 * 0.5 {
        eprintln!(
            "warning: load average {:.1} on {} CPUs: other work is running, timings will be noisy",
            report.host.loadavg_1m, report.host.cpus
        );
    }
    let scenarios = cli.what.scenarios();
    sallyport_bench::run_all(&scenarios, &opts, &mut report, |s, outcome| match outcome {
        Ok(records) => {
            for r in records {
                eprintln!("[{}] {}: {}", s.id(), r.case, r.text);
            }
        }
        Err(e) => eprintln!("[{}] FAILED: {e}", s.id()),
    })
    .await;
    report.check_targets();
    println!("{}", report.table());
    let out = cli.out.clone().unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("results")
            .join(if opts.quick {
                "quick.json"
            } else {
                "latest.json"
            })
    });
    report.write_json(&out)?;
    println!("Report: {}", out.display());
    anyhow::ensure!(
        report.failures.is_empty(),
        "{} scenario(s) failed",
        report.failures.len()
    );
    Ok(())
}
