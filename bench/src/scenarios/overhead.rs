//! Scenario 1, overhead of `tools/call`: a trivial tool (`echo` of a small
//! argument) on the bench's in-process HTTP MCP server, called directly and
//! through relay + connector (in-process, loopback), at each concurrency,
//! alternating.

use std::sync::Arc;

use crate::Options;
use crate::client::{Client, http_client};
use crate::error::Result;
use crate::fixture::{Fixture, UpstreamSpec};
use crate::record::Record;
use crate::scenarios::compare::{self, Plan};
use crate::targets::{Http, Op};
use crate::tunnel::Tunnel;
use crate::upstream::Upstream;

/// The upstream's name at the relay.
pub const SERVER: &str = "bench";

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
    let direct = Arc::new(Http {
        client: Client::new(http.clone(), upstream.url.clone(), None)?,
        op: Op::Echo,
    });
    let relayed = Arc::new(Http {
        client: Client::new(http, tunnel.url(SERVER), Some(&fx.bearer()))?,
        op: Op::Echo,
    });
    let plan = Plan {
        duration: opts.duration,
        rounds: opts.rounds,
        warmup: opts.warmup,
        only: opts.only,
    };
    let mut records = Vec::new();
    for &c in &opts.concurrency {
        let pair = compare::alternate(&direct, &relayed, c, plan).await?;
        let mut rs = compare::latency_records("overhead", &format!("c={c}"), &pair, "direct");
        for r in &mut rs {
            r.notes.push(format!(
                "{c} sessions, {:?} per path in {} alternating rounds, HTTP upstream in-process",
                plan.duration, plan.rounds
            ));
        }
        records.extend(rs);
    }
    Ok(records)
}
