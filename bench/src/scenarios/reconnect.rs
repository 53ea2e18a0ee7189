//! Scenario 6, reconnect: a `sallyport relay` process is SIGKILLed under
//! load and started again with the same config (and session keys, so
//! sessions survive). The connector (in-process, product link timing
//! unless `--link-idle-ms`) must notice, reconnect, and relayed calls must
//! succeed again. Meanwhile every client request must end in an answer or
//! an error — none may hang.

use std::io::Read;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::Options;
use crate::client::{Client, Session, http_client};
use crate::error::{BenchError, Result};
use crate::fixture::{Fixture, LinkSpec, UpstreamSpec};
use crate::load;
use crate::record::{Record, us};
use crate::scenarios::relayproc::RelayUnderTest;
use crate::targets::{ECHO_MESSAGE, Http, Op};
use crate::upstream::Upstream;

const SERVER: &str = "bench";
/// A request slower than this is a hang.
const HANG: Duration = Duration::from_secs(10);
/// How long recovery may take before the scenario gives up.
const RECOVERY_LIMIT: Duration = Duration::from_secs(90);
/// Pause after a failed request.
const ERROR_PAUSE: Duration = Duration::from_millis(20);

/// What the load saw.
#[derive(Debug, Default)]
struct Tally {
    ok: AtomicU64,
    errors: AtomicU64,
    not_found: AtomicU64,
    unavailable: AtomicU64,
    transport: AtomicU64,
    hangs: AtomicU64,
    reinit: AtomicU64,
    slowest_error_us: AtomicU64,
    first_error: OnceLock<String>,
    /// Set at the kill: successes from now on count as recovery.
    armed: AtomicBool,
    first_ok_after: OnceLock<Instant>,
}

impl Tally {
    /// Counts a failed request by kind.
    fn error(&self, e: &BenchError, took: Duration) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        self.slowest_error_us
            .fetch_max(took.as_micros() as u64, Ordering::Relaxed);
        let _ = self.first_error.set(e.to_string());
        let kind = match e {
            BenchError::Status { status: 404, .. } => &self.not_found,
            BenchError::Status { status, .. } if *status >= 500 => &self.unavailable,
            _ => &self.transport,
        };
        kind.fetch_add(1, Ordering::Relaxed);
    }
}

/// Runs the scenario.
pub async fn run(opts: &Options) -> Result<Vec<Record>> {
    if opts.in_process {
        return Err(BenchError::Setup(
            "reconnect needs the relay as a process (no --in-process)".into(),
        ));
    }
    let fx = Fixture::new()?;
    let key = fx.write("session.key", &random_hex32()?)?;
    let upstream = Upstream::start().await?;
    let mut relay = RelayUnderTest::start(&fx, opts, &[SERVER], 16, Some(key)).await?;
    let link = LinkSpec {
        idle_timeout_ms: opts.link_idle_ms,
        keepalive_ms: opts.link_idle_ms.map(|ms| (ms / 4).max(100)),
        backoff_max_ms: None,
    };
    let ups = [UpstreamSpec::Http {
        name: SERVER.into(),
        url: upstream.url.clone(),
    }];
    let (_, config) = fx.connector_config(relay.quic, &ups, link)?;
    let stop = CancellationToken::new();
    let connector = tokio::spawn(sallyport_connector::run(config, stop.clone()));
    let result = match relay.wait_links(1, crate::tunnel::READY).await {
        Ok(()) => measure(opts, &fx, &mut relay).await,
        Err(e) => Err(e),
    };
    stop.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(10), connector).await;
    relay.stop().await;
    upstream.stop().await;
    result
}

async fn measure(opts: &Options, fx: &Fixture, relay: &mut RelayUnderTest) -> Result<Vec<Record>> {
    let target = Arc::new(Http {
        client: Client::new(http_client()?, relay.url(SERVER), Some(&fx.bearer()))?,
        op: Op::Echo,
    });
    let sessions = load::open_sessions(
        &target,
        opts.reconnect_sessions,
        16,
        Duration::from_secs(30),
    )
    .await?;
    let tally = Arc::new(Tally::default());
    let done = CancellationToken::new();
    let hard_stop = Instant::now() + opts.reconnect_phase * 2 + RECOVERY_LIMIT * 2;
    let mut tasks = Vec::new();
    for s in sessions {
        tasks.push(tokio::spawn(client_loop(
            target.client.clone(),
            s,
            Arc::clone(&tally),
            done.clone(),
            hard_stop,
        )));
    }

    tokio::time::sleep(opts.reconnect_phase).await;
    let ok_before = tally.ok.load(Ordering::Relaxed);
    tally.armed.store(true, Ordering::SeqCst);
    let t_kill = Instant::now();
    relay.kill().await?;
    tokio::time::sleep(opts.reconnect_down).await;
    let t_restart = Instant::now();
    let restarted = relay.restart().await;
    let t_ready = Instant::now();
    let linked = match restarted {
        Ok(()) => relay.wait_links(1, RECOVERY_LIMIT).await,
        Err(e) => Err(e),
    };
    let t_link = Instant::now();
    let deadline = Instant::now() + RECOVERY_LIMIT;
    while tally.first_ok_after.get().is_none() && Instant::now() < deadline && linked.is_ok() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(opts.reconnect_phase).await;
    done.cancel();
    for t in tasks {
        let _ = t.await;
    }
    linked?;
    let first_ok = tally.first_ok_after.get().copied().ok_or_else(|| {
        BenchError::Timeout(format!(
            "no relayed call succeeded within {RECOVERY_LIMIT:?} of the restart"
        ))
    })?;

    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let link_back = t_link.saturating_duration_since(t_restart);
    let first_ok_after_restart = first_ok.saturating_duration_since(t_restart);
    let outage = first_ok.saturating_duration_since(t_kill);
    let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
    let (errors, hangs) = (get(&tally.errors), get(&tally.hangs));
    let mut r = Record::new(
        "reconnect",
        format!("kill -9 relay, {} sessions", opts.reconnect_sessions),
    );
    r.fig("relay_ready_ms", ms(t_ready - t_restart))
        .fig("link_back_ms", ms(link_back))
        .fig("first_ok_after_restart_ms", ms(first_ok_after_restart))
        .fig("outage_ms", ms(outage))
        .fig("ok", get(&tally.ok) as f64)
        .fig("ok_before_kill", ok_before as f64)
        .fig("errors", errors as f64)
        .fig("errors_404", get(&tally.not_found) as f64)
        .fig("errors_5xx", get(&tally.unavailable) as f64)
        .fig("errors_transport", get(&tally.transport) as f64)
        .fig("hangs", hangs as f64)
        .fig("reinitialized", get(&tally.reinit) as f64)
        .fig("slowest_error_us", get(&tally.slowest_error_us) as f64);
    r.errors = hangs;
    r.first_error = tally.first_error.get().cloned();
    r.text = format!(
        "link back {} after restart · first OK {} after restart ({} after kill) · {errors} errors ({} 404, {} 5xx, {} transport), {hangs} hangs · slowest error {}",
        us(link_back.as_secs_f64() * 1e6),
        us(first_ok_after_restart.as_secs_f64() * 1e6),
        us(outage.as_secs_f64() * 1e6),
        get(&tally.not_found),
        get(&tally.unavailable),
        get(&tally.transport),
        us(get(&tally.slowest_error_us) as f64),
    );
    r.notes.push(format!(
        "down {:?} before restart; clients retry {ERROR_PAUSE:?} after an error; hang = no answer within {HANG:?}; link idle timeout {}",
        opts.reconnect_down,
        opts.link_idle_ms.map_or("default".to_owned(), |ms| format!("{ms} ms"))
    ));
    r.notes
        .push("errors column counts hangs only: errors during the outage are expected".into());
    Ok(vec![r])
}

/// One session calling `echo` until `done` (or `hard_stop`): counts every
/// outcome (re-initializations included), starts a new session on 404.
async fn client_loop(
    client: Client,
    mut session: Session,
    tally: Arc<Tally>,
    done: CancellationToken,
    hard_stop: Instant,
) {
    let mut n = 0u64;
    while !done.is_cancelled() && Instant::now() < hard_stop && n < load::MAX_OPS_PER_SESSION {
        n += 1;
        let armed = tally.armed.load(Ordering::SeqCst);
        let t0 = Instant::now();
        match tokio::time::timeout(HANG, client.echo(&mut session, ECHO_MESSAGE)).await {
            Ok(Ok(())) => {
                tally.ok.fetch_add(1, Ordering::Relaxed);
                if armed {
                    let _ = tally.first_ok_after.set(Instant::now());
                }
            }
            Ok(Err(e)) => {
                tally.error(&e, t0.elapsed());
                if matches!(e, BenchError::Status { status: 404, .. }) {
                    // The session's connector is gone: start a new session.
                    let t1 = Instant::now();
                    match tokio::time::timeout(HANG, client.initialize()).await {
                        Ok(Ok(s)) => {
                            session = s;
                            tally.reinit.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(Err(e)) => tally.error(&e, t1.elapsed()),
                        Err(_) => {
                            tally.hangs.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                tokio::time::sleep(ERROR_PAUSE).await;
            }
            Err(_) => {
                tally.hangs.fetch_add(1, Ordering::Relaxed);
                let _ = tally.first_error.set(format!("no answer within {HANG:?}"));
            }
        }
    }
}

/// 32 random bytes as 64 hex digits (a session key file).
fn random_hex32() -> Result<String> {
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| BenchError::io("read /dev/urandom", e))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}
