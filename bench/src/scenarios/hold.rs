//! `overhead --hold SECS`: the deployment shape under a steady relayed
//! `echo` load, for a profiler to attach to. Relay and connector run as
//! processes (as in `overhead`), their pids are printed on stderr before
//! the load starts, and the load runs at the first `--concurrency` for
//! the held time (at most [`MAX_HOLD`]); the outcome is one record.

use std::sync::Arc;
use std::time::Duration;

use crate::Options;
use crate::error::{BenchError, Result};
use crate::load::{self, Accounted, Run};
use crate::procs;
use crate::record::Record;
use crate::scenarios::bed::Bed;
use crate::scenarios::compare::outcome_record;
use crate::scenarios::relayproc::Deployed;
use crate::targets::Op;

/// The longest hold.
pub const MAX_HOLD: Duration = Duration::from_secs(3600);

/// Runs the held load for `hold`.
pub async fn run(opts: &Options, hold: Duration) -> Result<Vec<Record>> {
    if hold > MAX_HOLD {
        return Err(BenchError::Setup(format!(
            "--hold is at most {} s",
            MAX_HOLD.as_secs()
        )));
    }
    let bed = Bed::start().await?;
    let result = match Deployed::start(&bed.fx, opts, &bed.specs()).await {
        Ok(d) => {
            let r = drive(opts, &bed, &d, hold).await;
            d.stop().await;
            r
        }
        Err(e) => Err(e),
    };
    bed.stop().await;
    result
}

async fn drive(opts: &Options, bed: &Bed, d: &Deployed, hold: Duration) -> Result<Vec<Record>> {
    let c = opts.concurrency.first().copied().unwrap_or(1);
    let target = Arc::new(Accounted {
        inner: bed.relayed(&d.relay.base, Op::Echo)?,
        pids: d.pids(),
    });
    let sessions = load::open_sessions(&target, c, 32, Duration::from_secs(120)).await?;
    let (sessions, _) = load::drive(&target, sessions, Run::of(opts.warmup)).await;
    let relay = d.relay.pid().unwrap_or(0);
    let connector = d.connector.pid();
    eprintln!(
        "hold: relay pid {relay}, connector pid {connector}; {c} sessions calling echo for {hold:?}"
    );
    let before = [procs::proc_cpu(relay), procs::proc_cpu(connector)];
    let (sessions, outcome) = load::drive(&target, sessions, Run::of(hold)).await;
    let after = [procs::proc_cpu(relay), procs::proc_cpu(connector)];
    load::close_sessions(&target, sessions).await;
    let mut r = outcome_record("overhead", format!("held relayed c={c}"), &outcome);
    // Where the CPU of a call goes, by process.
    let per_op = |b: Option<Duration>, a: Option<Duration>| match (b, a) {
        (Some(b), Some(a)) if outcome.ok > 0 => {
            a.saturating_sub(b).as_secs_f64() * 1e6 / outcome.ok as f64
        }
        _ => 0.0,
    };
    let relay_us = per_op(before[0], after[0]);
    let connector_us = per_op(before[1], after[1]);
    let bench_us = outcome.cpu_us_per_op() - relay_us - connector_us;
    r.fig("relay_cpu_us_per_req", relay_us)
        .fig("connector_cpu_us_per_req", connector_us)
        .fig("bench_cpu_us_per_req", bench_us);
    r.text.push_str(&format!(
        " (relay {relay_us:.0}µs · connector {connector_us:.0}µs · bench {bench_us:.0}µs)"
    ));
    r.notes.push(format!(
        "--hold: relay pid {relay}, connector pid {connector}, {hold:?} of load after a {:?} warm-up",
        opts.warmup
    ));
    Ok(vec![r])
}
