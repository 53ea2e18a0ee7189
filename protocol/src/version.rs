//! Protocol versions and the stream preamble that negotiates them.
//!
//! A connector opens its control stream with an 8-byte [`Preamble`]:
//! the magic `SPLY` and the lowest and highest protocol versions it speaks
//! (big-endian `u16`s). The preamble's layout never changes, so a relay can
//! always tell an old or new connector apart from garbage and refuse it with
//! a precise reason before decoding any versioned frame.

use serde::{Deserialize, Serialize};

/// The protocol version this build speaks best.
///
/// - 1: the first version.
/// - 2: adds [`crate::data::DataFrame::EventData`] (an event's data sent
///   ahead in pieces); a connector sends it only on links that agreed on 2.
pub const CURRENT: u16 = 2;
/// The oldest protocol version this build still speaks.
pub const MIN_SUPPORTED: u16 = 1;
/// The first version with [`crate::data::DataFrame::EventData`].
pub const EVENT_DATA: u16 = 2;
/// The magic bytes that start every control stream.
pub const MAGIC: [u8; 4] = *b"SPLY";

/// An inclusive range of protocol versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionRange {
    /// Lowest version spoken.
    pub min: u16,
    /// Highest version spoken.
    pub max: u16,
}

impl VersionRange {
    /// The versions this build speaks.
    pub const SUPPORTED: VersionRange = VersionRange {
        min: MIN_SUPPORTED,
        max: CURRENT,
    };
}

/// Why version negotiation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VersionError {
    /// The first bytes of the control stream are not `SPLY`.
    #[error("control stream does not start with the Sallyport magic (got {got:02x?})")]
    BadMagic {
        /// The four bytes received instead.
        got: [u8; 4],
    },
    /// The peer's range is empty (`min > max`).
    #[error("peer announced an empty version range {min}..={max}")]
    EmptyRange {
        /// The peer's minimum.
        min: u16,
        /// The peer's maximum.
        max: u16,
    },
    /// The ranges do not overlap.
    #[error(
        "no common protocol version: we speak {ours_min}..={ours_max}, peer speaks {theirs_min}..={theirs_max}"
    )]
    NoOverlap {
        /// Our minimum.
        ours_min: u16,
        /// Our maximum.
        ours_max: u16,
        /// The peer's minimum.
        theirs_min: u16,
        /// The peer's maximum.
        theirs_max: u16,
    },
}

/// The fixed-layout opening of a control stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Preamble {
    /// The versions the sender speaks.
    pub versions: VersionRange,
}

impl Preamble {
    /// Encoded length in bytes.
    pub const LEN: usize = 8;

    /// Encodes the preamble.
    pub fn encode(&self) -> [u8; Self::LEN] {
        let mut out = [0u8; Self::LEN];
        out[..4].copy_from_slice(&MAGIC);
        out[4..6].copy_from_slice(&self.versions.min.to_be_bytes());
        out[6..8].copy_from_slice(&self.versions.max.to_be_bytes());
        out
    }

    /// Decodes a preamble; checks the magic and that the range is not empty.
    pub fn decode(bytes: &[u8; Self::LEN]) -> Result<Self, VersionError> {
        let magic = [bytes[0], bytes[1], bytes[2], bytes[3]];
        if magic != MAGIC {
            return Err(VersionError::BadMagic { got: magic });
        }
        let min = u16::from_be_bytes([bytes[4], bytes[5]]);
        let max = u16::from_be_bytes([bytes[6], bytes[7]]);
        if min > max {
            return Err(VersionError::EmptyRange { min, max });
        }
        Ok(Self {
            versions: VersionRange { min, max },
        })
    }
}

/// Picks the highest version both sides speak.
pub fn negotiate(ours: VersionRange, theirs: VersionRange) -> Result<u16, VersionError> {
    if theirs.min > theirs.max {
        return Err(VersionError::EmptyRange {
            min: theirs.min,
            max: theirs.max,
        });
    }
    let high = ours.max.min(theirs.max);
    let low = ours.min.max(theirs.min);
    if low > high {
        return Err(VersionError::NoOverlap {
            ours_min: ours.min,
            ours_max: ours.max,
            theirs_min: theirs.min,
            theirs_max: theirs.max,
        });
    }
    Ok(high)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(min: u16, max: u16) -> VersionRange {
        VersionRange { min, max }
    }

    #[test]
    fn negotiation_picks_highest_common() {
        assert_eq!(negotiate(r(1, 3), r(2, 5)), Ok(3));
        assert_eq!(negotiate(r(1, 1), r(1, 1)), Ok(1));
        assert_eq!(negotiate(r(2, 4), r(1, 2)), Ok(2));
        assert!(matches!(
            negotiate(r(1, 1), r(2, 3)),
            Err(VersionError::NoOverlap { .. })
        ));
        assert!(matches!(
            negotiate(r(1, 1), r(3, 2)),
            Err(VersionError::EmptyRange { .. })
        ));
    }

    #[test]
    fn preamble_golden_bytes() {
        let p = Preamble { versions: r(1, 2) };
        assert_eq!(p.encode(), [b'S', b'P', b'L', b'Y', 0, 1, 0, 2]);
        assert_eq!(Preamble::decode(&p.encode()), Ok(p));
    }

    #[test]
    fn preamble_rejects_garbage() {
        assert!(matches!(
            Preamble::decode(b"GET / HT"),
            Err(VersionError::BadMagic { .. })
        ));
        assert!(matches!(
            Preamble::decode(&[b'S', b'P', b'L', b'Y', 0, 3, 0, 2]),
            Err(VersionError::EmptyRange { min: 3, max: 2 })
        ));
    }
}
