//! Scenario 2, a stdio upstream: the bench's tiny stdio server
//! (`sallyport-bench-stdio`) driven directly over its pipes (one child per
//! session, the baseline), and through relay + connector (the connector
//! spawns one child per session), sessions reused, alternating.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::Options;
use crate::client::{Client, http_client};
use crate::error::{BenchError, Result};
use crate::fixture::{Fixture, UpstreamSpec};
use crate::record::Record;
use crate::scenarios::compare::{self, Plan};
use crate::targets::{Http, Op, StdioDirect};
use crate::tunnel::Tunnel;

/// The stdio server's name at the relay.
pub const SERVER: &str = "bench-stdio";
/// The stdio server's binary name.
pub const BINARY: &str = "sallyport-bench-stdio";

/// Finds the stdio server: `explicit`, else beside this executable (or
/// one directory up, for test binaries in `deps/`).
pub fn find_stdio_server(explicit: Option<&Path>) -> Result<PathBuf> {
    if let Some(p) = explicit {
        return Ok(p.to_owned());
    }
    let exe = std::env::current_exe().map_err(|e| BenchError::io("find this executable", e))?;
    let mut looked = Vec::new();
    let mut dir = exe.parent();
    for _ in 0..2 {
        let Some(d) = dir else { break };
        let candidate = d.join(BINARY);
        if candidate.is_file() {
            return Ok(candidate);
        }
        looked.push(candidate.display().to_string());
        dir = d.parent();
    }
    Err(BenchError::Setup(format!(
        "the stdio server {BINARY} was not found (looked for {}); build it with `cargo build -p sallyport-bench`",
        looked.join(", ")
    )))
}

/// Runs the scenario.
pub async fn run(opts: &Options) -> Result<Vec<Record>> {
    let program = find_stdio_server(opts.stdio_server.as_deref())?;
    let command = vec![program.to_string_lossy().into_owned()];
    let fx = Fixture::new()?;
    let tunnel = Tunnel::start(
        &fx,
        &[UpstreamSpec::Stdio {
            name: SERVER.into(),
            command,
        }],
    )
    .await?;
    let result = measure(opts, &fx, &tunnel, program).await;
    tunnel.stop().await;
    result
}

async fn measure(
    opts: &Options,
    fx: &Fixture,
    tunnel: &Tunnel,
    program: PathBuf,
) -> Result<Vec<Record>> {
    let direct = Arc::new(StdioDirect { program });
    let relayed = Arc::new(Http {
        client: Client::new(http_client()?, tunnel.url(SERVER), Some(&fx.bearer()))?,
        op: Op::Echo,
    });
    let plan = Plan::of(opts);
    compare::sweep(
        "stdio",
        ("pipes", &direct),
        &[("relayed", relayed)],
        &opts.stdio_concurrency,
        plan,
        |c| {
            format!(
                "{c} sessions (one child process each), {:?} per path in {} alternating rounds",
                plan.duration, plan.rounds
            )
        },
    )
    .await
}
