//! Child processes (the release `sallyport` binary as relay or connector),
//! their memory, and free loopback ports.

use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};
use tokio::time::Instant;

use crate::error::{BenchError, Result};

/// Finds the `sallyport` binary: `explicit`, else `$SALLYPORT_BIN`, else
/// `target/release/sallyport` of this workspace, else the one beside this
/// executable.
pub fn find_sallyport(explicit: Option<&Path>) -> Result<PathBuf> {
    let mut looked = Vec::new();
    let mut candidates = Vec::new();
    if let Some(p) = explicit {
        candidates.push(p.to_owned());
    } else {
        if let Some(p) = std::env::var_os("SALLYPORT_BIN") {
            candidates.push(PathBuf::from(p));
        }
        candidates.push(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("..")
                .join("target")
                .join("release")
                .join("sallyport"),
        );
        if let Ok(exe) = std::env::current_exe()
            && let Some(dir) = exe.parent()
        {
            candidates.push(dir.join("sallyport"));
        }
    }
    for c in candidates {
        if c.is_file() {
            return Ok(c.canonicalize().unwrap_or(c));
        }
        looked.push(c);
    }
    Err(BenchError::NoBinary { looked })
}

/// A free TCP port on 127.0.0.1 (bound, then released).
pub fn free_tcp() -> Result<SocketAddr> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| BenchError::io("find a free port", e))?;
    l.local_addr()
        .map_err(|e| BenchError::io("find a free port", e))
}

/// A free UDP port on 127.0.0.1 (bound, then released).
pub fn free_udp() -> Result<SocketAddr> {
    let s = UdpSocket::bind("127.0.0.1:0").map_err(|e| BenchError::io("find a free port", e))?;
    s.local_addr()
        .map_err(|e| BenchError::io("find a free port", e))
}

/// A child process, killed when dropped.
#[derive(Debug)]
pub struct Proc {
    name: String,
    child: Child,
    pid: u32,
    log: PathBuf,
}

impl Proc {
    /// Starts `bin args…` with its output appended to `log` (warnings only).
    pub fn spawn(name: &str, bin: &Path, args: &[&str], log: PathBuf) -> Result<Self> {
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .map_err(|e| BenchError::io(format!("open {}", log.display()), e))?;
        let err = out
            .try_clone()
            .map_err(|e| BenchError::io("clone log handle", e))?;
        let child = Command::new(bin)
            .args(["--log", "warn"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| BenchError::io(format!("spawn {}", bin.display()), e))?;
        let pid = child
            .id()
            .ok_or_else(|| BenchError::Process(format!("{name} exited at once")))?;
        Ok(Self {
            name: name.to_owned(),
            child,
            pid,
            log,
        })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Resident memory now, in KiB.
    pub fn rss_kib(&self) -> Result<u64> {
        rss_kib(self.pid)
    }

    /// Fails if the process has exited, quoting the end of its log.
    pub fn check_alive(&mut self) -> Result<()> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(BenchError::Process(format!(
                "{} exited ({status}); its log ends: {}",
                self.name,
                self.log_tail()
            ))),
            Err(e) => Err(BenchError::io(format!("wait for {}", self.name), e)),
        }
    }

    /// The last lines of the process's log.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().rev().take(5).collect();
        lines.into_iter().rev().collect::<Vec<_>>().join(" | ")
    }

    /// SIGKILL, and reap.
    pub async fn kill(&mut self) -> Result<()> {
        self.child
            .kill()
            .await
            .map_err(|e| BenchError::io(format!("kill {}", self.name), e))
    }
}

/// `VmRSS` of process `pid`, in KiB.
pub fn rss_kib(pid: u32) -> Result<u64> {
    status_field(&format!("/proc/{pid}/status"), "VmRSS:")
}

/// CPU time (user + system, every thread, including those that ended)
/// this process has used so far; `None` where `/proc` is unreadable.
/// Resolution: one clock tick (10 ms).
pub fn self_cpu() -> Option<Duration> {
    stat_cpu("/proc/self/stat")
}

/// CPU time process `pid` has used so far, as [`self_cpu`].
pub fn proc_cpu(pid: u32) -> Option<Duration> {
    stat_cpu(&format!("/proc/{pid}/stat"))
}

fn stat_cpu(path: &str) -> Option<Duration> {
    let stat = std::fs::read_to_string(path).ok()?;
    // Fields after the command name, which is in parentheses and may hold
    // spaces; utime and stime are fields 14 and 15 of the whole line.
    let rest = stat.rsplit_once(')')?.1;
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    // USER_HZ, which Linux fixes at 100 for this interface.
    Some(Duration::from_millis((utime + stime) * 10))
}

/// `VmRSS` of this process, in KiB.
pub fn self_rss_kib() -> Result<u64> {
    status_field("/proc/self/status", "VmRSS:")
}

fn status_field(path: &str, field: &str) -> Result<u64> {
    let text =
        std::fs::read_to_string(path).map_err(|e| BenchError::io(format!("read {path}"), e))?;
    text.lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| BenchError::Process(format!("no {field} in {path}")))
}

/// GETs `url` until it answers 2xx (bounded by `limit`).
pub async fn wait_ok(http: &reqwest::Client, url: &str, limit: Duration) -> Result<()> {
    let deadline = Instant::now() + limit;
    loop {
        if let Ok(r) = http.get(url).timeout(Duration::from_secs(2)).send().await
            && r.status().is_success()
        {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(BenchError::Timeout(format!(
                "{url} did not answer within {limit:?}"
            )));
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// `sallyport_connectors_connected` from the relay's admin `/metrics`.
pub async fn connected_links(http: &reqwest::Client, admin: SocketAddr) -> Result<u64> {
    let text = http
        .get(format!("http://{admin}/metrics"))
        .timeout(Duration::from_secs(5))
        .send()
        .await?
        .text()
        .await?;
    parse_gauge(&text, "sallyport_connectors_connected")
        .ok_or_else(|| BenchError::Process("no sallyport_connectors_connected in /metrics".into()))
}

/// Requests in flight over all links, from the relay's admin
/// `/admin/connectors`.
pub async fn in_flight(http: &reqwest::Client, admin: SocketAddr) -> Result<u64> {
    let v: serde_json::Value = http
        .get(format!("http://{admin}/admin/connectors"))
        .timeout(Duration::from_secs(5))
        .send()
        .await?
        .json()
        .await?;
    let links = v["connectors"]
        .as_array()
        .ok_or_else(|| BenchError::Process("no connectors list in /admin/connectors".into()))?;
    Ok(links.iter().filter_map(|l| l["in_flight"].as_u64()).sum())
}

/// Waits until the relay reports at least `n` links (bounded by `limit`).
pub async fn wait_links(
    http: &reqwest::Client,
    admin: SocketAddr,
    n: u64,
    limit: Duration,
) -> Result<()> {
    let deadline = Instant::now() + limit;
    loop {
        if connected_links(http, admin).await.is_ok_and(|c| c >= n) {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(BenchError::Timeout(format!(
                "the relay did not report {n} link(s) within {limit:?}"
            )));
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// The value of an unlabelled gauge in Prometheus/OpenMetrics text.
pub fn parse_gauge(text: &str, name: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let rest = l.strip_prefix(name)?;
        let rest = rest.strip_prefix(' ').or_else(|| {
            // `name{} value`
            rest.strip_prefix("{}").map(str::trim_start)
        })?;
        rest.split_whitespace()
            .next()?
            .parse::<f64>()
            .ok()
            .map(|v| v as u64)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gauges_and_rss() {
        let text = "# TYPE sallyport_connectors_connected gauge\nsallyport_connectors_connected_total 9\nsallyport_connectors_connected 3\n";
        assert_eq!(parse_gauge(text, "sallyport_connectors_connected"), Some(3));
        assert_eq!(parse_gauge("x 1\n", "sallyport_connectors_connected"), None);
        assert!(self_rss_kib().expect("own RSS") > 0);
        // Spin until 30 ms of CPU time are used (on a busy machine that
        // takes longer than 30 ms of wall time), bounded by 10 s.
        let spin = std::time::Instant::now();
        let used = || self_cpu().expect("own CPU time");
        while used() < Duration::from_millis(30) && spin.elapsed() < Duration::from_secs(10) {
            for i in 0..100_000u64 {
                std::hint::black_box(i);
            }
        }
        assert!(used() >= Duration::from_millis(30));
        let own = proc_cpu(std::process::id()).expect("own CPU time by pid");
        assert!(own >= Duration::from_millis(30));
    }
}
