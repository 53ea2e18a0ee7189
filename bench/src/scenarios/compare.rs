//! Direct vs relayed, alternating: both paths get the same sessions count,
//! a warm-up, then rounds that alternate which path goes first, so drift
//! on the machine hits both alike.

use std::sync::Arc;
use std::time::Duration;

use crate::error::Result;
use crate::load::{self, Outcome, Run, Target};
use crate::record::{Record, count, latency_text, us};

/// How long and how often.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// Measured time per path (split over the rounds).
    pub duration: Duration,
    /// Number of alternations.
    pub rounds: u32,
    /// Unmeasured warm-up per path.
    pub warmup: Duration,
    /// Drive only this path (for profiling one side); the other's outcome
    /// stays empty and its ratios read 0.
    pub only: Option<Side>,
}

/// One of the two paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Side {
    /// The baseline.
    Direct,
    /// Through relay and connector.
    Relayed,
}

/// The two outcomes.
#[derive(Debug, Clone, Default)]
pub struct Pair {
    /// The baseline.
    pub direct: Outcome,
    /// Through relay and connector.
    pub relayed: Outcome,
}

impl Pair {
    /// Adds another run's outcomes (for rounds run separately).
    pub fn merge(&mut self, other: &Pair) {
        self.direct.merge(&other.direct);
        self.relayed.merge(&other.relayed);
    }
}

/// Sessions opened per batch while setting up.
const OPEN_PARALLEL: usize = 32;
/// Time allowed to open every session of one path.
const OPEN_LIMIT: Duration = Duration::from_secs(120);

/// Runs `c` sessions on each path per `plan`.
pub async fn alternate<D: Target, R: Target>(
    direct: &Arc<D>,
    relayed: &Arc<R>,
    c: usize,
    plan: Plan,
) -> Result<Pair> {
    let wants = |side| plan.only.is_none_or(|only| only == side);
    let n = |side| if wants(side) { c } else { 0 };
    let mut ds = load::open_sessions(direct, n(Side::Direct), OPEN_PARALLEL, OPEN_LIMIT).await?;
    let opened = load::open_sessions(relayed, n(Side::Relayed), OPEN_PARALLEL, OPEN_LIMIT).await;
    let mut rs = match opened {
        Ok(rs) => rs,
        Err(e) => {
            load::close_sessions(direct, ds).await;
            return Err(e);
        }
    };
    let warmup = Run::of(plan.warmup);
    if !plan.warmup.is_zero() {
        if wants(Side::Direct) {
            (ds, _) = load::drive(direct, ds, warmup).await;
        }
        if wants(Side::Relayed) {
            (rs, _) = load::drive(relayed, rs, warmup).await;
        }
    }
    let rounds = plan.rounds.max(1);
    let slice = Run::of(plan.duration / rounds);
    let mut pair = Pair::default();
    for round in 0..rounds {
        let order = if round % 2 == 0 {
            [Side::Direct, Side::Relayed]
        } else {
            [Side::Relayed, Side::Direct]
        };
        for side in order.into_iter().filter(|&s| wants(s)) {
            match side {
                Side::Direct => {
                    let d;
                    (ds, d) = load::drive(direct, ds, slice).await;
                    pair.direct.merge(&d);
                }
                Side::Relayed => {
                    let r;
                    (rs, r) = load::drive(relayed, rs, slice).await;
                    pair.relayed.merge(&r);
                }
            }
        }
    }
    load::close_sessions(direct, ds).await;
    load::close_sessions(relayed, rs).await;
    Ok(pair)
}

/// Figures every outcome record carries.
pub fn outcome_record(scenario: &str, case: String, o: &Outcome) -> Record {
    let mut r = Record::new(scenario, case);
    let s = o.latency.summary();
    r.fig("ops", o.ok as f64)
        .fig("req_per_s", o.rate())
        .fig("timeouts", o.timeouts as f64)
        .fig("cpu_us_per_req", o.cpu_us_per_op())
        .latency(&s)
        .fail(o.errors + o.timeouts, o.first_error.clone());
    r.text = format!(
        "{} req/s · {} · {:.0}µs CPU/req",
        count(o.rate()),
        latency_text(&s),
        o.cpu_us_per_op()
    );
    r
}

/// Two records for a latency/throughput pair; the relayed one carries
/// the ratios (`req_per_s` relayed/direct) and the added latency.
pub fn latency_records(scenario: &str, case: &str, pair: &Pair, baseline: &str) -> Vec<Record> {
    let d = outcome_record(scenario, format!("{baseline} {case}"), &pair.direct);
    let mut r = outcome_record(scenario, format!("relayed {case}"), &pair.relayed);
    let ds = pair.direct.latency.summary();
    let rs = pair.relayed.latency.summary();
    let rate = ratio(pair.relayed.rate(), pair.direct.rate());
    r.ratio("req_per_s", rate)
        .ratio("added_p50_us", rs.p50_us - ds.p50_us)
        .ratio("added_p90_us", rs.p90_us - ds.p90_us)
        .ratio("added_p99_us", rs.p99_us - ds.p99_us)
        .ratio("p50", ratio(rs.p50_us, ds.p50_us));
    let added_cpu = pair.relayed.cpu_us_per_op() - pair.direct.cpu_us_per_op();
    r.ratio("added_cpu_us_per_req", added_cpu);
    r.ratio_text = format!(
        "×{rate:.2} req/s · {} p50 · {} p99 · {} CPU/req",
        signed_us(rs.p50_us - ds.p50_us),
        signed_us(rs.p99_us - ds.p99_us),
        signed_us(added_cpu)
    );
    vec![d, r]
}

/// `a / b`, 0 when `b` is 0.
pub fn ratio(a: f64, b: f64) -> f64 {
    if b == 0.0 { 0.0 } else { a / b }
}

fn signed_us(v: f64) -> String {
    if v < 0.0 {
        format!("−{}", us(-v))
    } else {
        format!("+{}", us(v))
    }
}
