//! The performance targets the report is checked against: each names a
//! record (scenario and case) and one of its ratios, with a bound. The
//! latency and throughput targets are about the deployment shape (relay
//! and connector as processes, the `relayed` rows of `overhead`), both
//! paths measured in one run on the same machine.

use serde::Serialize;

use crate::record::Record;

/// Which side of the limit is good.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Bound {
    /// The measured value must not exceed the limit.
    AtMost,
    /// The measured value must reach the limit.
    AtLeast,
}

/// One target.
#[derive(Debug, Clone, Copy)]
pub struct Goal {
    /// What it says, for the table.
    pub text: &'static str,
    /// The record's scenario.
    pub scenario: &'static str,
    /// The record's case.
    pub case: &'static str,
    /// The ratio (a key of [`Record::ratios`]) it bounds.
    pub ratio: &'static str,
    /// Which side is good.
    pub bound: Bound,
    /// The limit, in the ratio's unit.
    pub limit: f64,
}

/// Every target with a record of its own in `overhead`.
pub const GOALS: [Goal; 4] = [
    Goal {
        text: "added p50 at 1 session ≤ 250 µs",
        scenario: "overhead",
        case: "relayed c=1",
        ratio: "added_p50_us",
        bound: Bound::AtMost,
        limit: 250.0,
    },
    Goal {
        text: "added p50 of a fresh session ≤ 1 ms",
        scenario: "overhead",
        case: "relayed fresh session",
        ratio: "added_p50_us",
        bound: Bound::AtMost,
        limit: 1000.0,
    },
    Goal {
        text: "relayed/direct req/s at 16 sessions ≥ 0.40",
        scenario: "overhead",
        case: "relayed c=16",
        ratio: "req_per_s",
        bound: Bound::AtLeast,
        limit: 0.40,
    },
    Goal {
        text: "relayed/direct req/s at 256 sessions ≥ 0.35",
        scenario: "overhead",
        case: "relayed c=256",
        ratio: "req_per_s",
        bound: Bound::AtLeast,
        limit: 0.35,
    },
];

/// A target held against a run.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// What the target says.
    pub target: String,
    /// `scenario/case`.
    pub record: String,
    /// The ratio checked.
    pub ratio: String,
    /// Which side is good.
    pub bound: Bound,
    /// The limit.
    pub limit: f64,
    /// The measured value; `None` when the run has no such record (not
    /// run, or `--in-process`, which has no deployment-shape rows).
    pub measured: Option<f64>,
    /// Whether it was met; `None` when not measured or the record had
    /// errors.
    pub met: Option<bool>,
}

impl Goal {
    /// This target against `records`.
    pub fn check(&self, records: &[Record]) -> Check {
        let record = records
            .iter()
            .find(|r| r.scenario == self.scenario && r.case == self.case);
        let measured = record.and_then(|r| r.ratios.get(self.ratio).copied());
        let clean = record.is_some_and(|r| r.errors == 0);
        let met = measured.filter(|_| clean).map(|v| match self.bound {
            Bound::AtMost => v <= self.limit,
            Bound::AtLeast => v >= self.limit,
        });
        Check {
            target: self.text.to_owned(),
            record: format!("{}/{}", self.scenario, self.case),
            ratio: self.ratio.to_owned(),
            bound: self.bound,
            limit: self.limit,
            measured,
            met,
        }
    }
}

/// Every target of [`GOALS`] against `records`.
pub fn check_all(records: &[Record]) -> Vec<Check> {
    GOALS.iter().map(|g| g.check(records)).collect()
}

impl Check {
    /// `measured` as the table shows it.
    pub fn measured_text(&self) -> String {
        match self.measured {
            None => "not measured".into(),
            Some(v) if self.ratio.ends_with("_us") => format!("{v:+.0} µs"),
            Some(v) => format!("{v:.2}"),
        }
    }

    /// `met`, `not met` or `–`.
    pub fn verdict(&self) -> &'static str {
        match self.met {
            Some(true) => "met",
            Some(false) => "not met",
            None => "–",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_bounds_and_missing_records() {
        let mut fast = Record::new("overhead", "relayed c=1");
        fast.ratio("added_p50_us", 180.0);
        let mut slow = Record::new("overhead", "relayed c=16");
        slow.ratio("req_per_s", 0.3);
        let checks = check_all(&[fast, slow]);
        assert_eq!(checks[0].met, Some(true));
        assert_eq!(checks[0].measured_text(), "+180 µs");
        assert_eq!(checks[1].met, None, "no fresh-session record");
        assert_eq!(checks[1].verdict(), "–");
        assert_eq!(checks[2].met, Some(false));
        assert_eq!(checks[2].measured_text(), "0.30");
        let mut failed = Record::new("overhead", "relayed c=1");
        failed.ratio("added_p50_us", 10.0).fail(1, Some("x".into()));
        assert_eq!(GOALS[0].check(&[failed]).met, None);
    }
}
