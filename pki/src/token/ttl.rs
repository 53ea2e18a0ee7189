//! [`Ttl`]: a token lifetime as the command line writes it.

use std::fmt;
use std::str::FromStr;

use super::MAX_TTL_SECS;
use crate::error::{PkiError, Result};

/// A token lifetime: 1 second to 90 days, written `30s`, `15m`, `1h` or `7d`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ttl(u64);

impl Ttl {
    /// A lifetime of `secs` seconds (1 to [`MAX_TTL_SECS`]).
    pub fn from_secs(secs: u64) -> Result<Self> {
        if secs == 0 {
            return Err(bad_ttl(&format!("{secs}s"), "must be at least 1s"));
        }
        if secs > MAX_TTL_SECS {
            return Err(bad_ttl(
                &format!("{secs}s"),
                "longer than the 90d maximum; mint short-lived tokens and mint again",
            ));
        }
        Ok(Self(secs))
    }

    /// The lifetime in seconds.
    pub fn as_secs(self) -> u64 {
        self.0
    }
}

impl FromStr for Ttl {
    type Err = PkiError;

    fn from_str(s: &str) -> Result<Self> {
        let input = s.trim();
        let split = input
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(input.len());
        let (digits, unit) = input.split_at(split);
        let unit_secs = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3_600,
            "d" => 86_400,
            _ => {
                return Err(bad_ttl(
                    s,
                    "expected a whole number followed by s, m, h or d (e.g. 30s, 15m, 1h, 7d)",
                ));
            }
        };
        let n: u64 = digits
            .parse()
            .map_err(|_| bad_ttl(s, "expected a whole number before the unit (e.g. 1h)"))?;
        match n.checked_mul(unit_secs) {
            Some(0) => Err(bad_ttl(s, "must be at least 1s")),
            Some(secs) if secs <= MAX_TTL_SECS => Ok(Self(secs)),
            _ => Err(bad_ttl(
                s,
                "longer than the 90d maximum; mint short-lived tokens and mint again",
            )),
        }
    }
}

impl fmt::Display for Ttl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (n, unit) = match self.0 {
            s if s % 86_400 == 0 => (s / 86_400, "d"),
            s if s % 3_600 == 0 => (s / 3_600, "h"),
            s if s % 60 == 0 => (s / 60, "m"),
            s => (s, "s"),
        };
        write!(f, "{n}{unit}")
    }
}

fn bad_ttl(input: &str, reason: &str) -> PkiError {
    PkiError::BadToken {
        field: "ttl",
        input: input.to_owned(),
        reason: reason.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_parses_units_and_bounds() {
        for (text, secs) in [("30s", 30), ("15m", 900), ("1h", 3_600), ("7d", 604_800)] {
            let ttl: Ttl = text.parse().expect(text);
            assert_eq!(ttl.as_secs(), secs);
            assert_eq!(ttl.to_string(), text);
        }
        assert_eq!("90d".parse::<Ttl>().expect("max").as_secs(), MAX_TTL_SECS);
        for bad in [
            "",
            "1",
            "h",
            "0s",
            "91d",
            "1w",
            "-1h",
            "1.5h",
            "1 h",
            "99999999999999999999d",
        ] {
            let err = bad.parse::<Ttl>().expect_err(bad);
            assert!(
                matches!(err, PkiError::BadToken { field: "ttl", .. }),
                "{bad}: {err}"
            );
        }
        let msg = "91d".parse::<Ttl>().expect_err("too long").to_string();
        assert!(msg.contains("90d"), "{msg}");
        assert!(Ttl::from_secs(0).is_err() && Ttl::from_secs(MAX_TTL_SECS + 1).is_err());
    }
}
