//! Scenario 3, bulk: `resources/read` of large payloads, as one JSON body
//! and as one SSE event, direct and relayed (in-process tunnel), one
//! session reading back to back; and the raw ceiling, a bare quinn stream
//! with the link's TLS settings ([`super::rawquic`]). MB/s are 10^6 bytes
//! of HTTP body (or stream payload) per second.

use std::sync::Arc;

use crate::Options;
use crate::client::{Client, http_client};
use crate::error::Result;
use crate::fixture::{Fixture, UpstreamSpec};
use crate::load::{self, Outcome, Run};
use crate::record::{Record, count, latency_text};
use crate::scenarios::compare::{self, Plan, ratio};
use crate::scenarios::rawquic::RawQuic;
use crate::targets::{Http, Op};
use crate::tunnel::Tunnel;
use crate::upstream::Upstream;

const SERVER: &str = "bench";

/// Runs the scenario.
pub async fn run(opts: &Options) -> Result<Vec<Record>> {
    let fx = Fixture::new()?;
    let upstream = Upstream::start().await?;
    let tunnel = Tunnel::start(
        &fx,
        &[UpstreamSpec::Http {
            name: SERVER.into(),
            url: upstream.url.clone(),
        }],
    )
    .await?;
    let result = measure(opts, &fx, &upstream, &tunnel).await;
    tunnel.stop().await;
    upstream.stop().await;
    result
}

async fn measure(
    opts: &Options,
    fx: &Fixture,
    upstream: &Upstream,
    tunnel: &Tunnel,
) -> Result<Vec<Record>> {
    let http = http_client()?;
    let plan = Plan {
        duration: opts.bulk_duration,
        rounds: opts.rounds,
        warmup: opts.warmup.min(opts.bulk_duration / 4),
        only: opts.only,
    };
    let mut records = Vec::new();
    for &size in &opts.bulk_sizes {
        let label = size_label(size);
        let raw = raw_ceiling(fx, size, plan).await?;
        let mut rec = mb_record("bulk", format!("bare quinn {label}"), &raw);
        rec.notes
            .push("one QUIC stream per transfer, link TLS and transport settings".into());
        records.push(rec);
        for mode in ["json", "sse"] {
            let uri = format!("bench://{mode}/{size}");
            let direct = Arc::new(Http {
                client: Client::new(http.clone(), upstream.url.clone(), None)?,
                op: Op::Read(uri.clone()),
            });
            let relayed = Arc::new(Http {
                client: Client::new(http.clone(), tunnel.url(SERVER), Some(&fx.bearer()))?,
                op: Op::Read(uri),
            });
            let pair = compare::alternate(&direct, &relayed, 1, plan).await?;
            records.push(mb_record(
                "bulk",
                format!("direct {mode} {label}"),
                &pair.direct,
            ));
            let mut r = mb_record("bulk", format!("relayed {mode} {label}"), &pair.relayed);
            let vs_direct = ratio(pair.relayed.mbps(), pair.direct.mbps());
            let vs_quic = ratio(pair.relayed.mbps(), raw.mbps());
            r.ratio("mbps_vs_direct", vs_direct)
                .ratio("mbps_vs_quinn", vs_quic);
            r.ratio_text = format!("×{vs_direct:.2} of direct · ×{vs_quic:.2} of bare quinn");
            records.push(r);
        }
    }
    Ok(records)
}

async fn raw_ceiling(fx: &Fixture, size: usize, plan: Plan) -> Result<Outcome> {
    let raw = Arc::new(RawQuic::connect(fx, size).await?);
    let sessions = load::open_sessions(&raw, 1, 1, plan.duration).await?;
    let (sessions, _) = load::drive(&raw, sessions, Run::of(plan.warmup)).await;
    let (_, outcome) = load::drive(&raw, sessions, Run::of(plan.duration)).await;
    if let Ok(raw) = Arc::try_unwrap(raw) {
        raw.close().await;
    }
    Ok(outcome)
}

fn mb_record(scenario: &str, case: String, o: &Outcome) -> Record {
    let mut r = compare::outcome_record(scenario, case, o);
    r.fig("mb_per_s", o.mbps()).fig("bytes", o.bytes as f64);
    r.text = format!(
        "{:.0} MB/s · {} transfers · {}",
        o.mbps(),
        count(o.ok as f64),
        latency_text(&o.latency.summary())
    );
    r
}

/// `1 MiB`, `16 MiB`, `64 KiB`, `100 B`.
pub fn size_label(n: usize) -> String {
    if n >= 1 << 20 && n.is_multiple_of(1 << 20) {
        format!("{} MiB", n >> 20)
    } else if n >= 1 << 10 && n.is_multiple_of(1 << 10) {
        format!("{} KiB", n >> 10)
    } else {
        format!("{n} B")
    }
}
