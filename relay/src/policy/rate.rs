//! A role's request quota, written `N/sec`, `N/min` or `N/hour`.

use std::fmt;
use std::num::NonZeroU32;
use std::str::FromStr;
use std::time::Duration;

/// At most `count` requests per `per`, per principal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rate {
    /// Requests allowed in each period.
    pub count: NonZeroU32,
    /// The period.
    pub per: Duration,
}

/// Why a rate was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RateError {
    /// No `/` between count and unit.
    #[error("expected N/sec, N/min or N/hour")]
    Shape,
    /// The count is not a whole number from 1 to 4294967295.
    #[error("count {count:?} must be a whole number from 1 to 4294967295")]
    Count {
        /// The count as written.
        count: String,
    },
    /// The unit is not `sec`, `min` or `hour`.
    #[error("unknown unit {unit:?} (expected sec, min or hour)")]
    Unit {
        /// The unit as written.
        unit: String,
    },
}

impl FromStr for Rate {
    type Err = RateError;

    fn from_str(s: &str) -> Result<Self, RateError> {
        let (count, unit) = s.split_once('/').ok_or(RateError::Shape)?;
        let bad_count = || RateError::Count {
            count: count.to_owned(),
        };
        // `u32::from_str` accepts a leading '+'; a quota is written plainly.
        if count.is_empty() || !count.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad_count());
        }
        let count = count.parse::<NonZeroU32>().map_err(|_| bad_count())?;
        let per = match unit {
            "sec" => Duration::from_secs(1),
            "min" => Duration::from_secs(60),
            "hour" => Duration::from_secs(3600),
            _ => {
                return Err(RateError::Unit {
                    unit: unit.to_owned(),
                });
            }
        };
        Ok(Rate { count, per })
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.per.as_secs() {
            1 => write!(f, "{}/sec", self.count),
            60 => write!(f, "{}/min", self.count),
            3600 => write!(f, "{}/hour", self.count),
            _ => write!(f, "{} per {:?}", self.count, self.per),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates() {
        for (text, count, secs) in [
            ("60/min", 60, 60),
            ("1/sec", 1, 1),
            ("5000/hour", 5000, 3600),
        ] {
            let r: Rate = text.parse().expect(text);
            assert_eq!((r.count.get(), r.per), (count, Duration::from_secs(secs)));
            assert_eq!(r.to_string(), text);
        }
    }

    #[test]
    fn bad_rates() {
        let unit = |u: &str| RateError::Unit { unit: u.into() };
        let count = |c: &str| RateError::Count { count: c.into() };
        for (text, want) in [
            ("60/fortnight", unit("fortnight")),
            ("60/Min", unit("Min")),
            ("60/", unit("")),
            ("60", RateError::Shape),
            ("0/min", count("0")),
            ("-1/min", count("-1")),
            ("+5/min", count("+5")),
            ("/min", count("")),
            ("1.5/min", count("1.5")),
            ("99999999999/min", count("99999999999")),
        ] {
            assert_eq!(text.parse::<Rate>(), Err(want), "{text}");
        }
    }
}
