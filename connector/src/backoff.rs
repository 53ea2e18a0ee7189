//! Exponential reconnect backoff with jitter.
//!
//! Pure: the caller supplies the random number, so tests are exact and
//! thousands of connectors restarted together spread out their retries.

use std::time::Duration;

/// Reconnect delays: `initial · 2ⁿ` capped at `max`, each drawn uniformly
/// from the upper half of that value ("equal jitter": never zero, never
/// synchronized).
#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    attempt: u32,
}

impl Backoff {
    /// A backoff starting at `initial` and never exceeding `max`.
    pub fn new(initial: Duration, max: Duration) -> Self {
        Self {
            initial,
            max: max.max(initial),
            attempt: 0,
        }
    }

    /// The next delay; `unit` is a random number in `[0, 1)`.
    pub fn next_delay(&mut self, unit: f64) -> Duration {
        let factor = 2u32.saturating_pow(self.attempt.min(20));
        let base = self.initial.saturating_mul(factor).min(self.max);
        self.attempt = self.attempt.saturating_add(1);
        let half = base / 2;
        half + half.mul_f64(unit.clamp(0.0, 1.0))
    }

    /// Starts over after a link that worked.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_caps_and_resets() {
        let ms = Duration::from_millis;
        let mut b = Backoff::new(ms(200), ms(1000));
        let highs: Vec<_> = (0..5).map(|_| b.next_delay(1.0)).collect();
        assert_eq!(highs, vec![ms(200), ms(400), ms(800), ms(1000), ms(1000)]);
        b.reset();
        assert_eq!(b.next_delay(0.0), ms(100));
        assert_eq!(b.next_delay(0.5), ms(300));
    }

    #[test]
    fn never_overflows() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(30));
        for _ in 0..1000 {
            assert!(b.next_delay(0.99) <= Duration::from_secs(30));
        }
    }
}
