//! Latency histograms (HDR, nanosecond resolution, 3 significant digits).

use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

/// Longest latency recorded exactly; longer ones are clamped to it.
const MAX_NS: u64 = 120_000_000_000;

/// A latency histogram.
#[derive(Debug, Clone)]
pub struct Latency(Histogram<u64>);

/// Percentiles of a [`Latency`], in microseconds.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct Summary {
    /// Number of samples.
    pub count: u64,
    /// Mean.
    pub mean_us: f64,
    /// Median.
    pub p50_us: f64,
    /// 90th percentile.
    pub p90_us: f64,
    /// 99th percentile.
    pub p99_us: f64,
    /// Largest sample.
    pub max_us: f64,
}

impl Default for Latency {
    fn default() -> Self {
        Self::new()
    }
}

impl Latency {
    /// An empty histogram.
    pub fn new() -> Self {
        // 1 ns .. 120 s at 3 significant digits: a few hundred KiB at most.
        Self(Histogram::new_with_bounds(1, MAX_NS, 3).expect("static histogram bounds are valid"))
    }

    /// Records one sample.
    pub fn record(&mut self, d: Duration) {
        let ns = u64::try_from(d.as_nanos()).unwrap_or(MAX_NS);
        self.0.saturating_record(ns.clamp(1, MAX_NS));
    }

    /// Adds another histogram's samples.
    pub fn merge(&mut self, other: &Latency) {
        // Same bounds on both sides: adding cannot fail.
        let _ = self.0.add(&other.0);
    }

    /// Number of samples.
    pub fn count(&self) -> u64 {
        self.0.len()
    }

    /// The percentiles.
    pub fn summary(&self) -> Summary {
        if self.0.is_empty() {
            return Summary::default();
        }
        let us = |ns: u64| ns as f64 / 1000.0;
        Summary {
            count: self.0.len(),
            mean_us: self.0.mean() / 1000.0,
            p50_us: us(self.0.value_at_quantile(0.50)),
            p90_us: us(self.0.value_at_quantile(0.90)),
            p99_us: us(self.0.value_at_quantile(0.99)),
            max_us: us(self.0.max()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles() {
        let mut h = Latency::new();
        for i in 1..=100u64 {
            h.record(Duration::from_micros(i));
        }
        let mut other = Latency::new();
        other.record(Duration::from_secs(1000));
        h.merge(&other);
        let s = h.summary();
        assert_eq!(s.count, 101);
        assert!((s.p50_us - 51.0).abs() < 0.5, "{s:?}");
        assert!((s.p99_us - 100.0).abs() < 0.5, "{s:?}");
        assert!(s.max_us >= 119_000_000.0, "{s:?}");
        assert_eq!(Latency::new().summary().count, 0);
    }
}
