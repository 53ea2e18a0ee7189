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

/// The baseline and any number of relayed paths, measured together.
#[derive(Debug, Clone, Default)]
pub struct Group {
    /// The baseline.
    pub direct: Outcome,
    /// Each relayed path, in the order given.
    pub relayed: Vec<Outcome>,
}

impl Plan {
    /// The plan of the latency scenarios from the run's options.
    pub fn of(opts: &crate::Options) -> Self {
        Self {
            duration: opts.duration,
            rounds: opts.rounds,
            warmup: opts.warmup,
            only: opts.only,
        }
    }
}

/// Runs `c` sessions on each path per `plan`.
pub async fn alternate<D: Target, R: Target>(
    direct: &Arc<D>,
    relayed: &Arc<R>,
    c: usize,
    plan: Plan,
) -> Result<Pair> {
    let mut g = alternate_all(direct, std::slice::from_ref(relayed), c, plan).await?;
    Ok(Pair {
        direct: g.direct,
        relayed: g.relayed.pop().unwrap_or_default(),
    })
}

/// Runs `c` sessions on the baseline and on each relayed path per `plan`;
/// round `r` starts with path `r mod (paths)` (the baseline is path 0), so
/// each path runs first, between, and last in turn.
pub async fn alternate_all<D: Target, R: Target>(
    direct: &Arc<D>,
    relayed: &[Arc<R>],
    c: usize,
    plan: Plan,
) -> Result<Group> {
    let wants = |side| plan.only.is_none_or(|only| only == side);
    let n = |side| if wants(side) { c } else { 0 };
    let mut ds = load::open_sessions(direct, n(Side::Direct), OPEN_PARALLEL, OPEN_LIMIT).await?;
    let mut rs = Vec::with_capacity(relayed.len());
    for target in relayed {
        match load::open_sessions(target, n(Side::Relayed), OPEN_PARALLEL, OPEN_LIMIT).await {
            Ok(s) => rs.push(s),
            Err(e) => {
                load::close_sessions(direct, ds).await;
                for (t, s) in relayed.iter().zip(rs) {
                    load::close_sessions(t, s).await;
                }
                return Err(e);
            }
        }
    }
    let paths = relayed.len() + 1;
    let mut group = Group {
        direct: Outcome::default(),
        relayed: vec![Outcome::default(); relayed.len()],
    };
    let rounds = plan.rounds.max(1);
    // Round `None` is the unmeasured warm-up.
    let warmup = (!plan.warmup.is_zero()).then_some(None);
    for round in warmup.into_iter().chain((0..rounds).map(Some)) {
        let run = Run::of(match round {
            None => plan.warmup,
            Some(_) => plan.duration / rounds,
        });
        let first = round.unwrap_or(0) as usize % paths;
        for path in (0..paths).map(|i| (first + i) % paths) {
            if path == 0 {
                if !wants(Side::Direct) {
                    continue;
                }
                let o;
                (ds, o) = load::drive(direct, ds, run).await;
                if round.is_some() {
                    group.direct.merge(&o);
                }
            } else if wants(Side::Relayed) {
                let i = path - 1;
                let o;
                (rs[i], o) = load::drive(&relayed[i], std::mem::take(&mut rs[i]), run).await;
                if round.is_some() {
                    group.relayed[i].merge(&o);
                }
            }
        }
    }
    load::close_sessions(direct, ds).await;
    for (t, s) in relayed.iter().zip(rs) {
        load::close_sessions(t, s).await;
    }
    Ok(group)
}

/// Each concurrency of `concurrency` in turn: the baseline (`baseline
/// c=N`) and every named relayed path (`<name> c=N`, with its ratios
/// against the baseline), each record noting `note(c)`.
pub async fn sweep<D: Target, R: Target>(
    scenario: &str,
    (baseline, direct): (&str, &Arc<D>),
    relayed: &[(&str, Arc<R>)],
    concurrency: &[usize],
    plan: Plan,
    note: impl Fn(usize) -> String,
) -> Result<Vec<Record>> {
    let targets: Vec<Arc<R>> = relayed.iter().map(|(_, t)| Arc::clone(t)).collect();
    let names: Vec<&str> = relayed.iter().map(|(n, _)| *n).collect();
    let mut records = Vec::new();
    for &c in concurrency {
        let group = alternate_all(direct, &targets, c, plan).await?;
        let mut rs = group_records(scenario, &format!("c={c}"), &group, baseline, &names);
        for r in &mut rs {
            r.notes.push(note(c));
        }
        records.extend(rs);
    }
    Ok(records)
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

/// The baseline's record (`<baseline> <case>`), then one per relayed path
/// (`<name> <case>`) carrying the ratios against the baseline (`req_per_s`
/// relayed/direct) and the latency and CPU it adds.
pub fn group_records(
    scenario: &str,
    case: &str,
    group: &Group,
    baseline: &str,
    names: &[&str],
) -> Vec<Record> {
    let mut out = vec![outcome_record(
        scenario,
        format!("{baseline} {case}"),
        &group.direct,
    )];
    for (name, relayed) in names.iter().zip(&group.relayed) {
        out.push(relayed_record(
            scenario,
            format!("{name} {case}"),
            &group.direct,
            relayed,
        ));
    }
    out
}

/// The record of `relayed`, with its ratios against `direct`.
pub fn relayed_record(scenario: &str, case: String, direct: &Outcome, relayed: &Outcome) -> Record {
    let mut r = outcome_record(scenario, case, relayed);
    let ds = direct.latency.summary();
    let rs = relayed.latency.summary();
    let rate = ratio(relayed.rate(), direct.rate());
    r.ratio("req_per_s", rate)
        .ratio("added_p50_us", rs.p50_us - ds.p50_us)
        .ratio("added_p90_us", rs.p90_us - ds.p90_us)
        .ratio("added_p99_us", rs.p99_us - ds.p99_us)
        .ratio("p50", ratio(rs.p50_us, ds.p50_us));
    let added_cpu = relayed.cpu_us_per_op() - direct.cpu_us_per_op();
    r.ratio("added_cpu_us_per_req", added_cpu);
    r.ratio_text = format!(
        "×{rate:.2} req/s · {} p50 · {} p99 · {} CPU/req",
        signed_us(rs.p50_us - ds.p50_us),
        signed_us(rs.p99_us - ds.p99_us),
        signed_us(added_cpu)
    );
    r
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
