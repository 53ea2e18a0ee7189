//! The closed-loop load driver: `c` sessions, each a task that sends its
//! next request as soon as the previous one is answered, for a fixed time.
//! Every loop is bounded in time (the deadline plus one request timeout)
//! and in count ([`MAX_OPS_PER_SESSION`]).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::error::{BenchError, Result};
use crate::hist::Latency;

/// Most operations one session performs in one run.
pub const MAX_OPS_PER_SESSION: u64 = 50_000_000;

/// Something to put load on: opens sessions and performs one operation.
pub trait Target: Send + Sync + 'static {
    /// Per-session state.
    type Session: Send + 'static;

    /// Opens a session (not timed).
    fn open(&self) -> impl Future<Output = Result<Self::Session>> + Send;

    /// One operation; returns the payload bytes it moved.
    fn call(&self, session: &mut Self::Session) -> impl Future<Output = Result<u64>> + Send;

    /// Ends a session (best effort, not timed).
    fn close(&self, session: Self::Session) -> impl Future<Output = ()> + Send;

    /// Other processes whose CPU time counts towards this target's
    /// operations (a relay and connector running as processes).
    fn cpu_pids(&self) -> Vec<u32> {
        Vec::new()
    }
}

/// A target whose work is partly done by other processes: their CPU time
/// is added to the bench's own in [`Outcome::cpu`].
#[derive(Debug)]
pub struct Accounted<T> {
    /// The target.
    pub inner: T,
    /// The processes that serve it.
    pub pids: Vec<u32>,
}

impl<T: Target> Target for Accounted<T> {
    type Session = T::Session;

    fn open(&self) -> impl Future<Output = Result<Self::Session>> + Send {
        self.inner.open()
    }

    fn call(&self, session: &mut Self::Session) -> impl Future<Output = Result<u64>> + Send {
        self.inner.call(session)
    }

    fn close(&self, session: Self::Session) -> impl Future<Output = ()> + Send {
        self.inner.close(session)
    }

    fn cpu_pids(&self) -> Vec<u32> {
        self.pids.clone()
    }
}

/// CPU time used so far by this process and `pids`; `None` if any is
/// unreadable.
fn cpu_now(pids: &[u32]) -> Option<Duration> {
    let mut total = crate::procs::self_cpu()?;
    for &pid in pids {
        total += crate::procs::proc_cpu(pid)?;
    }
    Some(total)
}

/// How long and how hard.
#[derive(Debug, Clone, Copy)]
pub struct Run {
    /// Measured time.
    pub duration: Duration,
    /// Longest one operation may take before it counts as a timeout.
    pub timeout: Duration,
    /// Pause after a failed operation (keeps a dead endpoint from turning
    /// the loop into a busy spin).
    pub error_pause: Duration,
}

impl Run {
    /// A run of `duration` with a 10 s operation timeout.
    pub fn of(duration: Duration) -> Self {
        Self {
            duration,
            timeout: Duration::from_secs(10),
            error_pause: Duration::from_millis(20),
        }
    }
}

/// What a run measured.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// Successful operations.
    pub ok: u64,
    /// Failed operations (errors, not timeouts).
    pub errors: u64,
    /// Operations that did not finish within the timeout.
    pub timeouts: u64,
    /// Payload bytes moved by successful operations.
    pub bytes: u64,
    /// Wall time from start to the last session's end.
    pub elapsed: Duration,
    /// CPU time the whole bench process used meanwhile (client, upstream,
    /// and relay + connector when they run in-process), plus that of the
    /// target's [`Target::cpu_pids`]; zero if unknown.
    pub cpu: Duration,
    /// Latency of successful operations.
    pub latency: Latency,
    /// The first failure.
    pub first_error: Option<String>,
}

impl Outcome {
    /// Successful operations per second.
    pub fn rate(&self) -> f64 {
        per_second(self.ok as f64, self.elapsed)
    }

    /// Process CPU µs per successful operation (0 if unknown).
    pub fn cpu_us_per_op(&self) -> f64 {
        if self.ok == 0 {
            0.0
        } else {
            self.cpu.as_secs_f64() * 1e6 / self.ok as f64
        }
    }

    /// Payload MB/s (10^6 bytes).
    pub fn mbps(&self) -> f64 {
        per_second(self.bytes as f64, self.elapsed) / 1e6
    }

    /// Adds another run's figures (for alternating rounds).
    pub fn merge(&mut self, other: &Outcome) {
        self.ok += other.ok;
        self.errors += other.errors;
        self.timeouts += other.timeouts;
        self.bytes += other.bytes;
        self.elapsed += other.elapsed;
        self.cpu += other.cpu;
        self.latency.merge(&other.latency);
        if self.first_error.is_none() {
            self.first_error.clone_from(&other.first_error);
        }
    }
}

fn per_second(v: f64, d: Duration) -> f64 {
    if d.is_zero() {
        0.0
    } else {
        v / d.as_secs_f64()
    }
}

/// Opens `n` sessions, at most `parallel` at a time (bounded by `limit`).
pub async fn open_sessions<T: Target>(
    target: &Arc<T>,
    n: usize,
    parallel: usize,
    limit: Duration,
) -> Result<Vec<T::Session>> {
    let deadline = Instant::now() + limit;
    let mut out = Vec::with_capacity(n);
    let mut set = JoinSet::new();
    let mut started = 0;
    while out.len() < n {
        while started < n && set.len() < parallel.max(1) {
            let t = Arc::clone(target);
            set.spawn(async move { t.open().await });
            started += 1;
        }
        let next = tokio::time::timeout_at(deadline, set.join_next()).await;
        match next {
            Err(_) => return Err(BenchError::Timeout(format!("opening {n} sessions"))),
            Ok(None) => break,
            Ok(Some(joined)) => {
                let session = joined.map_err(|e| BenchError::Setup(format!("task: {e}")))??;
                out.push(session);
            }
        }
    }
    Ok(out)
}

/// Closes sessions (bounded: 10 s in all).
pub async fn close_sessions<T: Target>(target: &Arc<T>, sessions: Vec<T::Session>) {
    let mut set = JoinSet::new();
    for s in sessions {
        let t = Arc::clone(target);
        set.spawn(async move { t.close(s).await });
    }
    let _ = tokio::time::timeout(Duration::from_secs(10), async {
        while set.join_next().await.is_some() {}
    })
    .await;
}

/// Runs every session in a closed loop for `run.duration`; returns the
/// sessions (for the next round) and the outcome.
pub async fn drive<T: Target>(
    target: &Arc<T>,
    sessions: Vec<T::Session>,
    run: Run,
) -> (Vec<T::Session>, Outcome) {
    let start = Instant::now();
    let pids = target.cpu_pids();
    let cpu_start = cpu_now(&pids);
    let deadline = start + run.duration;
    let mut set = JoinSet::new();
    for mut session in sessions {
        let t = Arc::clone(target);
        set.spawn(async move {
            let mut o = Outcome::default();
            let mut n = 0;
            while Instant::now() < deadline && n < MAX_OPS_PER_SESSION {
                n += 1;
                let t0 = Instant::now();
                match tokio::time::timeout(run.timeout, t.call(&mut session)).await {
                    Ok(Ok(bytes)) => {
                        o.latency.record(t0.elapsed());
                        o.ok += 1;
                        o.bytes += bytes;
                    }
                    Ok(Err(e)) => {
                        o.errors += 1;
                        o.first_error.get_or_insert_with(|| e.to_string());
                        tokio::time::sleep(run.error_pause).await;
                    }
                    Err(_) => {
                        o.timeouts += 1;
                        o.first_error
                            .get_or_insert_with(|| format!("no answer within {:?}", run.timeout));
                    }
                }
            }
            (session, o)
        });
    }
    let mut total = Outcome::default();
    let mut back = Vec::new();
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok((s, o)) => {
                back.push(s);
                total.merge(&o);
            }
            Err(e) => {
                total.errors += 1;
                total
                    .first_error
                    .get_or_insert_with(|| format!("session task: {e}"));
            }
        }
    }
    total.elapsed = start.elapsed();
    if let (Some(a), Some(b)) = (cpu_start, cpu_now(&pids)) {
        total.cpu = b.saturating_sub(a);
    }
    (back, total)
}
