//! Scenario 1, overhead of `tools/call`: a trivial tool (`echo` of a small
//! argument) on the bench's HTTP MCP server, called directly and through
//! relay + connector, at each concurrency, in alternating rounds. The
//! relayed path is the deployment shape — `sallyport relay` and `sallyport
//! connector` processes — beside the in-process tunnel (both in tokio
//! tasks of the bench); with `--in-process` only the latter runs. Then the
//! fresh-session case: one whole session (initialize, initialized,
//! tools/call, DELETE) per operation, at one session.

use std::sync::Arc;

use crate::Options;
use crate::error::Result;
use crate::load::Accounted;
use crate::record::Record;
use crate::scenarios::bed::Bed;
use crate::scenarios::compare::{self, Plan};
use crate::scenarios::relayproc::Deployed;
use crate::targets::{FreshSession, Op};
use crate::tunnel::Tunnel;

pub use crate::scenarios::bed::SERVER;

/// Case name of the deployment shape's rows.
pub const RELAYED: &str = "relayed";
/// Case name of the in-process tunnel's rows.
pub const IN_PROCESS: &str = "in-process";

/// Runs the scenario.
pub async fn run(opts: &Options) -> Result<Vec<Record>> {
    let bed = Bed::start().await?;
    let tunnel = match bed.tunnel().await {
        Ok(t) => t,
        Err(e) => {
            bed.stop().await;
            return Err(e);
        }
    };
    let deployed = if opts.in_process {
        Ok(None)
    } else {
        Deployed::start(&bed.fx, opts, &bed.specs()).await.map(Some)
    };
    let result = match deployed {
        Err(e) => Err(e),
        Ok(d) => {
            let r = measure(opts, &bed, &tunnel, d.as_ref()).await;
            if let Some(d) = d {
                d.stop().await;
            }
            r
        }
    };
    tunnel.stop().await;
    bed.stop().await;
    result
}

/// Named relayed paths.
type Paths<T> = Vec<(&'static str, Arc<Accounted<T>>)>;

/// The relayed paths: the deployment shape (when running) first.
fn paths<T>(
    tunnel: &Tunnel,
    deployed: Option<&Deployed>,
    make: impl Fn(&str) -> Result<T>,
) -> Result<Paths<T>> {
    let mut out = Vec::new();
    if let Some(d) = deployed {
        let inner = make(&d.relay.base)?;
        out.push((
            RELAYED,
            Arc::new(Accounted {
                inner,
                pids: d.pids(),
            }),
        ));
    }
    let inner = make(&tunnel.base)?;
    out.push((
        IN_PROCESS,
        Arc::new(Accounted {
            inner,
            pids: vec![],
        }),
    ));
    Ok(out)
}

async fn measure(
    opts: &Options,
    bed: &Bed,
    tunnel: &Tunnel,
    deployed: Option<&Deployed>,
) -> Result<Vec<Record>> {
    let plan = Plan::of(opts);
    let shape = if deployed.is_some() {
        "relayed = relay and connector processes, in-process = both in the bench"
    } else {
        "relay and connector in the bench process"
    };
    let note = |what: String| {
        format!(
            "{what}, {:?} per path in {} alternating rounds, HTTP upstream in the bench; {shape}",
            plan.duration, plan.rounds
        )
    };
    let direct = Arc::new(bed.direct(Op::Echo)?);
    let relayed = paths(tunnel, deployed, |base| bed.relayed(base, Op::Echo))?;
    let mut records = compare::sweep(
        "overhead",
        ("direct", &direct),
        &relayed,
        &opts.concurrency,
        plan,
        |c| note(format!("{c} sessions")),
    )
    .await?;

    let client = bed.direct_client()?;
    let direct = Arc::new(FreshSession { client });
    let relayed = paths(tunnel, deployed, |base| {
        Ok(FreshSession {
            client: bed.relayed_client(base)?,
        })
    })?;
    let targets: Vec<_> = relayed.iter().map(|(_, t)| Arc::clone(t)).collect();
    let names: Vec<&str> = relayed.iter().map(|(n, _)| *n).collect();
    let group = compare::alternate_all(&direct, &targets, 1, plan).await?;
    let mut rs = compare::group_records("overhead", "fresh session", &group, "direct", &names);
    for r in &mut rs {
        r.notes.push(note(
            "one session at a time, each operation initialize + initialized + tools/call + DELETE"
                .into(),
        ));
    }
    records.extend(rs);
    Ok(records)
}
