//! What every scenario produces: [`Record`]s (one table row and one JSON
//! object each), gathered in a [`Report`] that renders the markdown table
//! and `bench/results/latest.json`.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use crate::error::{BenchError, Result};
use crate::hist::Summary;

/// One measured case of a scenario.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Record {
    /// Scenario id (`overhead`, `stdio`, `bulk`, `connectors`, `streams`,
    /// `reconnect`).
    pub scenario: String,
    /// The case within it, e.g. `relayed c=16`.
    pub case: String,
    /// Measured figures by name (units in the name: `_us`, `_kib`, `_mbps`…).
    pub figures: BTreeMap<String, f64>,
    /// Ratios and differences against the case's baseline.
    pub ratios: BTreeMap<String, f64>,
    /// Requests or operations that failed.
    pub errors: u64,
    /// The first error seen, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_error: Option<String>,
    /// Free-form remarks (parameters, caveats).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// The table's figures column.
    #[serde(skip)]
    pub text: String,
    /// The table's ratios column.
    #[serde(skip)]
    pub ratio_text: String,
}

impl Record {
    /// An empty record for `scenario` / `case`.
    pub fn new(scenario: &str, case: impl Into<String>) -> Self {
        Self {
            scenario: scenario.to_owned(),
            case: case.into(),
            ..Self::default()
        }
    }

    /// Adds a figure.
    pub fn fig(&mut self, name: &str, value: f64) -> &mut Self {
        self.figures.insert(name.to_owned(), value);
        self
    }

    /// Adds a ratio (or difference) against the baseline.
    pub fn ratio(&mut self, name: &str, value: f64) -> &mut Self {
        self.ratios.insert(name.to_owned(), value);
        self
    }

    /// Adds the latency percentiles as `<prefix>p50_us` etc.
    pub fn latency(&mut self, s: &Summary) -> &mut Self {
        self.fig("p50_us", s.p50_us)
            .fig("p90_us", s.p90_us)
            .fig("p99_us", s.p99_us)
            .fig("max_us", s.max_us)
            .fig("mean_us", s.mean_us)
    }

    /// Counts failures, keeping the first message.
    pub fn fail(&mut self, errors: u64, first: Option<String>) -> &mut Self {
        self.errors += errors;
        if self.first_error.is_none() {
            self.first_error = first;
        }
        self
    }
}

/// Formats a latency summary for the table: `p50 81µs · p90 … · max …`.
pub fn latency_text(s: &Summary) -> String {
    format!(
        "p50 {} · p90 {} · p99 {} · max {}",
        us(s.p50_us),
        us(s.p90_us),
        us(s.p99_us),
        us(s.max_us)
    )
}

/// A duration in µs as `81µs`, `1.24ms` or `2.5s`.
pub fn us(v: f64) -> String {
    if v < 1000.0 {
        format!("{v:.0}µs")
    } else if v < 1_000_000.0 {
        format!("{:.2}ms", v / 1000.0)
    } else {
        format!("{:.2}s", v / 1_000_000.0)
    }
}

/// A count with thousands separators.
pub fn count(v: f64) -> String {
    let n = v.round() as i64;
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

/// A scenario that could not run at all.
#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    /// Scenario id.
    pub scenario: String,
    /// Why.
    pub error: String,
}

/// Appends one markdown table row.
fn row(out: &mut String, cells: &[&str]) {
    for c in cells {
        out.push_str("| ");
        out.push_str(c);
        out.push(' ');
    }
    out.push_str("|\n");
}

/// Everything one run measured.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Format version of this file.
    pub schema: u32,
    /// When the run started (RFC 3339, UTC).
    pub date: String,
    /// `quick` or `full`.
    pub mode: String,
    /// The command line.
    pub command: String,
    /// The machine.
    pub host: Host,
    /// The records, in run order.
    pub records: Vec<Record>,
    /// Scenarios that failed to run.
    pub failures: Vec<Failure>,
    /// The performance targets held against the records (filled by
    /// [`Report::check_targets`]).
    pub targets: Vec<crate::goals::Check>,
}

/// The machine a report was made on.
#[derive(Debug, Clone, Serialize)]
pub struct Host {
    /// Logical CPUs.
    pub cpus: usize,
    /// `/proc/sys/kernel/osrelease`.
    pub kernel: String,
    /// Total memory in KiB (`/proc/meminfo`).
    pub mem_kib: u64,
    /// 1-minute load average when the run started (a busy machine makes
    /// timings meaningless).
    pub loadavg_1m: f64,
    /// Worker threads of the bench's tokio runtime (client, upstream and
    /// the in-process relay + connector share it); 0 if not recorded.
    pub runtime_workers: usize,
}

impl Host {
    /// Reads the host facts (best effort; Linux files).
    pub fn probe() -> Self {
        let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
        let mem_kib = read("/proc/meminfo")
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0);
        Self {
            cpus: std::thread::available_parallelism().map_or(1, usize::from),
            kernel: read("/proc/sys/kernel/osrelease").trim().to_owned(),
            mem_kib,
            loadavg_1m: read("/proc/loadavg")
                .split_whitespace()
                .next()
                .and_then(|v| v.parse().ok())
                .unwrap_or(0.0),
            runtime_workers: 0,
        }
    }
}

impl Report {
    /// An empty report started now.
    pub fn new(mode: &str, command: String) -> Self {
        let date = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        Self {
            schema: 2,
            date,
            mode: mode.to_owned(),
            command,
            host: Host::probe(),
            records: Vec::new(),
            failures: Vec::new(),
            targets: Vec::new(),
        }
    }

    /// Holds every target of [`crate::goals::GOALS`] against the records
    /// so far.
    pub fn check_targets(&mut self) {
        self.targets = crate::goals::check_all(&self.records);
    }

    /// The markdown table of every record, then the failures; then, once
    /// [`Report::check_targets`] ran, the table of targets.
    pub fn table(&self) -> String {
        let mut out = String::new();
        row(
            &mut out,
            &["scenario", "case", "figures", "vs baseline", "errors"],
        );
        row(&mut out, &["---"; 5]);
        for r in &self.records {
            let ratio = if r.ratio_text.is_empty() {
                "–"
            } else {
                &r.ratio_text
            };
            let errors = r.errors.to_string();
            row(&mut out, &[&r.scenario, &r.case, &r.text, ratio, &errors]);
        }
        for f in &self.failures {
            row(&mut out, &[&f.scenario, "FAILED", &f.error, "", ""]);
        }
        if !self.targets.is_empty() {
            out.push('\n');
            row(&mut out, &["target", "record", "measured", ""]);
            row(&mut out, &["---"; 4]);
            for c in &self.targets {
                let measured = c.measured_text();
                row(&mut out, &[&c.target, &c.record, &measured, c.verdict()]);
            }
        }
        out
    }

    /// Writes the JSON report, creating the directory.
    pub fn write_json(&self, path: &Path) -> Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| BenchError::io(format!("create {}", dir.display()), e))?;
        }
        let text = serde_json::to_string_pretty(self)
            .map_err(|e| BenchError::Setup(format!("encode report: {e}")))?;
        std::fs::write(path, text + "\n")
            .map_err(|e| BenchError::io(format!("write {}", path.display()), e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(count(1234567.0), "1,234,567");
        assert_eq!(count(999.0), "999");
        assert_eq!(us(81.2), "81µs");
        assert_eq!(us(1240.0), "1.24ms");
        assert_eq!(us(2_500_000.0), "2.50s");
    }

    #[test]
    fn table_has_a_row_per_record() {
        let mut r = Report::new("quick", "all --quick".into());
        let mut rec = Record::new("overhead", "c=1");
        rec.text = "1 req/s".into();
        r.records.push(rec);
        r.failures.push(Failure {
            scenario: "streams".into(),
            error: "boom".into(),
        });
        let t = r.table();
        assert_eq!(t.lines().count(), 4, "{t}");
        assert!(t.contains("| overhead | c=1 | 1 req/s | – | 0 |"), "{t}");
        r.check_targets();
        let t = r.table();
        assert_eq!(t.lines().count(), 4 + 3 + crate::goals::GOALS.len(), "{t}");
        assert!(t.contains("| not measured | – |"), "{t}");
    }
}
