//! Scenario 3, bulk: `resources/read` of large payloads, as one JSON body
//! and as one SSE event, direct and relayed (in-process tunnel), one
//! session reading back to back; and the raw ceiling, a bare quinn stream
//! with the link's TLS settings ([`super::rawquic`]), taking turns with
//! the HTTP paths round by round. MB/s are 10^6 bytes of HTTP body (or
//! stream payload) per second.

use std::sync::Arc;
use std::time::Duration;

use crate::Options;
use crate::error::Result;
use crate::load::{self, Outcome, Run};
use crate::record::{Record, count, latency_text};
use crate::scenarios::bed::Bed;
use crate::scenarios::compare::{self, Pair, Plan, ratio};
use crate::scenarios::rawquic::RawQuic;
use crate::targets::Op;
use crate::tunnel::Tunnel;

/// Runs the scenario.
pub async fn run(opts: &Options) -> Result<Vec<Record>> {
    let bed = Bed::start().await?;
    let result = match bed.tunnel().await {
        Ok(tunnel) => {
            let r = measure(opts, &bed, &tunnel).await;
            tunnel.stop().await;
            r
        }
        Err(e) => Err(e),
    };
    bed.stop().await;
    result
}

async fn measure(opts: &Options, bed: &Bed, tunnel: &Tunnel) -> Result<Vec<Record>> {
    let plan = Plan {
        duration: opts.bulk_duration,
        rounds: opts.rounds,
        warmup: opts.warmup.min(opts.bulk_duration / 4),
        only: opts.only,
    };
    let mut records = Vec::new();
    let rounds = plan.rounds.max(1);
    for &size in &opts.bulk_sizes {
        let label = size_label(size);
        let modes = ["json", "sse"].map(|mode| {
            let uri = format!("bench://{mode}/{size}");
            let direct = bed.direct(Op::Read(uri.clone()))?;
            let relayed = bed.relayed(&tunnel.base, Op::Read(uri))?;
            Ok::<_, crate::error::BenchError>((mode, Arc::new(direct), Arc::new(relayed)))
        });
        let modes = modes.into_iter().collect::<Result<Vec<_>>>()?;
        // The bare quinn ceiling and both modes take turns round by round,
        // so that a ratio compares runs made within seconds of each other.
        let quinn = Arc::new(RawQuic::connect(&bed.fx, size).await?);
        let mut streams = load::open_sessions(&quinn, 1, 1, plan.duration).await?;
        if !plan.warmup.is_zero() {
            (streams, _) = load::drive(&quinn, streams, Run::of(plan.warmup)).await;
        }
        let mut raw = Outcome::default();
        let mut pairs = vec![Pair::default(); modes.len()];
        for round in 0..rounds {
            let slice = Plan {
                duration: plan.duration / rounds,
                rounds: 1,
                warmup: if round == 0 {
                    plan.warmup
                } else {
                    Duration::ZERO
                },
                only: plan.only,
            };
            let measured;
            (streams, measured) = load::drive(&quinn, streams, Run::of(slice.duration)).await;
            raw.merge(&measured);
            for ((_, direct, relayed), pair) in modes.iter().zip(&mut pairs) {
                pair.merge(&compare::alternate(direct, relayed, 1, slice).await?);
            }
        }
        load::close_sessions(&quinn, streams).await;
        if let Ok(quinn) = Arc::try_unwrap(quinn) {
            quinn.close().await;
        }
        let mut rec = mb_record("bulk", format!("bare quinn {label}"), &raw);
        rec.notes
            .push("one QUIC stream per transfer, link TLS and transport settings".into());
        records.push(rec);
        for ((mode, _, _), pair) in modes.iter().zip(&pairs) {
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
