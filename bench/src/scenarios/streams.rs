//! Scenario 5, many open streams: `S` sessions each holding its GET (SSE)
//! stream open through relay and connector to the bench's HTTP upstream.
//! Relay and connector run as `sallyport` processes; their RSS is read
//! after the sessions are initialized and again with every stream open, so
//! the difference is the cost of the streams alone (sessions are sealed
//! ids: they cost the relay nothing). Then every stream is dropped and the
//! bench checks that the upstream saw each one end.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::Options;
use crate::client::{Client, OpenStream, Session};
use crate::error::Result;
use crate::load;
use crate::record::{Record, count, us};
use crate::scenarios::bed::Bed;
use crate::scenarios::relayproc::Deployed;
use crate::targets::Op;
use crate::tunnel::Tunnel;
/// Streams being opened at once.
const PARALLEL: usize = 64;
/// Time one stream may take to open (first event received).
const OPEN_TIMEOUT: Duration = Duration::from_secs(15);
/// After this many open timeouts, stop trying (a limit has been hit).
const GIVE_UP_AFTER: u64 = 64;

/// The tunnel under test.
enum Under {
    Procs(Box<Deployed>),
    InProcess(Tunnel),
}

impl Under {
    fn rss(&self) -> Result<(Option<u64>, Option<u64>)> {
        match self {
            Under::Procs(d) => Ok((d.relay.rss_kib()?, Some(d.connector.rss_kib()?))),
            Under::InProcess(_) => Ok((None, None)),
        }
    }

    async fn in_flight(&self) -> Result<u64> {
        match self {
            Under::Procs(d) => d.relay.in_flight().await,
            Under::InProcess(t) => Ok(t.in_flight()),
        }
    }

    fn base(&self) -> &str {
        match self {
            Under::Procs(d) => &d.relay.base,
            Under::InProcess(t) => &t.base,
        }
    }

    async fn stop(self) {
        match self {
            Under::Procs(d) => d.stop().await,
            Under::InProcess(t) => t.stop().await,
        }
    }
}

/// Runs the scenario.
pub async fn run(opts: &Options) -> Result<Vec<Record>> {
    let bed = Bed::start().await?;
    let under = if opts.in_process {
        bed.tunnel().await.map(Under::InProcess)
    } else {
        Deployed::start(&bed.fx, opts, &bed.specs())
            .await
            .map(|d| Under::Procs(Box::new(d)))
    };
    let result = match under {
        Ok(under) => {
            let r = measure(opts, &bed, &under).await;
            under.stop().await;
            r
        }
        Err(e) => Err(e),
    };
    bed.stop().await;
    result
}

async fn measure(opts: &Options, bed: &Bed, under: &Under) -> Result<Vec<Record>> {
    let upstream = &bed.upstream;
    let s = opts.streams;
    let target = Arc::new(bed.relayed(under.base(), Op::Echo)?);
    let sessions = load::open_sessions(
        &target,
        s,
        PARALLEL,
        Duration::from_secs(60 + s as u64 / 20),
    )
    .await?;
    tokio::time::sleep(opts.settle).await;
    let (relay0, conn0) = under.rss()?;

    let start = Instant::now();
    let (streams, errors, timeouts, first_error) = open_all(&target.client, sessions).await;
    let open_time = start.elapsed();
    tokio::time::sleep(opts.settle).await;
    let (relay1, conn1) = under.rss()?;
    let upstream_open = upstream.stats.open_streams.load(Ordering::Relaxed);
    let opened = streams.len();

    // Close every stream; the upstream must see each one end.
    let t_close = Instant::now();
    drop(streams);
    let mut left = upstream.stats.open_streams.load(Ordering::Relaxed);
    while left > 0 && t_close.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(10)).await;
        left = upstream.stats.open_streams.load(Ordering::Relaxed);
    }
    let close_time = t_close.elapsed();
    // The relay must release every request too (stuck ones included).
    let mut stuck = under.in_flight().await?;
    while stuck > 0 && t_close.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(50)).await;
        stuck = under.in_flight().await?;
    }

    let mut r = Record::new("streams", format!("{s} SSE streams"));
    r.fig("streams_open", opened as f64)
        .fig("upstream_open", upstream_open as f64)
        .fig("open_all_ms", open_time.as_secs_f64() * 1000.0)
        .fig("timeouts", timeouts as f64)
        .fig("close_all_ms", close_time.as_secs_f64() * 1000.0)
        .fig("upstream_left_open", left as f64)
        .fig("relay_in_flight_after_close", stuck as f64)
        .fail(errors + timeouts, first_error);
    if left > 0 {
        r.fail(
            left as u64,
            Some(format!(
                "{left} upstream streams still open 10 s after the clients left"
            )),
        );
    }
    if stuck > 0 {
        r.fail(
            stuck,
            Some(format!(
                "the relay still counts {stuck} requests in flight 10 s after the clients left"
            )),
        );
    }
    if upstream_open != opened {
        r.notes.push(format!(
            "upstream saw {upstream_open} open streams, clients {opened}"
        ));
    }
    let mut text = format!(
        "{}/{} open in {} · all closed upstream in {}",
        count(opened as f64),
        count(s as f64),
        us(open_time.as_secs_f64() * 1e6),
        us(close_time.as_secs_f64() * 1e6)
    );
    if timeouts > 0 {
        text.push_str(&format!(" · {timeouts} opens timed out"));
    }
    match (relay0, relay1, conn0, conn1) {
        (Some(r0), Some(r1), Some(c0), Some(c1)) => {
            let rk = per(r1, r0, opened);
            let ck = per(c1, c0, opened);
            r.fig("relay_kib_per_stream", rk)
                .fig("connector_kib_per_stream", ck)
                .fig("relay_rss_kib", r1 as f64)
                .fig("connector_rss_kib", c1 as f64)
                .ratio("relay_kib_per_stream_vs_target_32", rk / 32.0);
            text.push_str(&format!(
                " · relay {rk:.1} KiB/stream · connector {ck:.1} KiB/stream"
            ));
            r.ratio_text = format!("{:.2} of the 32 KiB/stream target", rk / 32.0);
        }
        _ => r
            .notes
            .push("relay and connector in-process: memory not measured".into()),
    }
    r.text = text;
    r.notes.push(format!(
        "{PARALLEL} opens in flight, settle {:?}",
        opts.settle
    ));
    Ok(vec![r])
}

/// Opens one GET stream per session, `PARALLEL` at a time; gives up after
/// `GIVE_UP_AFTER` timeouts.
async fn open_all(
    client: &Client,
    sessions: Vec<Session>,
) -> (Vec<OpenStream>, u64, u64, Option<String>) {
    let mut open = Vec::with_capacity(sessions.len());
    let (mut errors, mut timeouts, mut first) = (0u64, 0u64, None);
    let mut set = JoinSet::new();
    let mut pending = sessions.into_iter();
    loop {
        while set.len() < PARALLEL && timeouts < GIVE_UP_AFTER {
            let Some(s) = pending.next() else { break };
            let c = client.clone();
            set.spawn(async move { tokio::time::timeout(OPEN_TIMEOUT, c.open_stream(&s)).await });
        }
        let Some(joined) = set.join_next().await else {
            break;
        };
        match joined {
            Ok(Ok(Ok(stream))) => open.push(stream),
            Ok(Ok(Err(e))) => {
                errors += 1;
                first.get_or_insert_with(|| e.to_string());
            }
            Ok(Err(_)) => {
                timeouts += 1;
                first.get_or_insert_with(|| {
                    format!(
                        "stream open: no first event within {OPEN_TIMEOUT:?} (after {} open)",
                        open.len()
                    )
                });
            }
            Err(e) => {
                errors += 1;
                first.get_or_insert_with(|| format!("task: {e}"));
            }
        }
    }
    let skipped = pending.len() as u64;
    if skipped > 0 {
        errors += skipped;
        first.get_or_insert_with(|| format!("{skipped} streams not tried"));
    }
    (open, errors, timeouts, first)
}

fn per(after: u64, before: u64, n: usize) -> f64 {
    if n == 0 {
        0.0
    } else {
        (after as f64 - before as f64) / n as f64
    }
}
