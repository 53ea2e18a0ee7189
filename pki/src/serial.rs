//! Certificate serial numbers: random generation and the canonical hex form.
//!
//! Serials are 128 random bits, encoded as a positive 16-byte DER INTEGER
//! (top bit cleared so no sign byte is needed, second bit set so no leading
//! zero is dropped). Their canonical text form is lowercase hex of the
//! magnitude, without leading zero bytes or separators; input may use `:`
//! separators, uppercase and a `0x` prefix.

use std::fmt;
use std::str::FromStr;

use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};

use crate::error::{PkiError, Result};

/// A certificate serial number in canonical form.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Serial(Vec<u8>);

impl Serial {
    /// From the raw DER INTEGER content bytes (as in a certificate or CRL).
    pub fn from_der_bytes(raw: &[u8]) -> Self {
        let start = raw.iter().position(|b| *b != 0).unwrap_or(raw.len());
        Self(raw[start..].to_vec())
    }

    /// A fresh random serial (16 bytes, positive, no leading zero).
    pub(crate) fn random() -> Result<Self> {
        let mut bytes = [0u8; 16];
        random_bytes(&mut bytes, "a certificate serial number")?;
        bytes[0] = (bytes[0] & 0x7f) | 0x40;
        Ok(Self(bytes.to_vec()))
    }

    /// The magnitude bytes, big-endian, without leading zeros.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Lowercase hex.
    pub fn to_hex(&self) -> String {
        hex(&self.0)
    }

    /// The rcgen form.
    pub(crate) fn to_rcgen(&self) -> rcgen::SerialNumber {
        rcgen::SerialNumber::from_slice(&self.0)
    }
}

impl FromStr for Serial {
    type Err = PkiError;

    fn from_str(input: &str) -> Result<Self> {
        let bad = |reason| PkiError::BadSerial {
            input: input.to_owned(),
            reason,
        };
        let trimmed = input.trim();
        let digits: String = trimmed
            .strip_prefix("0x")
            .unwrap_or(trimmed)
            .chars()
            .filter(|c| *c != ':')
            .collect();
        if digits.is_empty() {
            return Err(bad("empty"));
        }
        if !digits.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(bad("not hexadecimal"));
        }
        if digits.len() > 42 {
            return Err(bad("longer than 20 bytes"));
        }
        let padded = if digits.len() % 2 == 1 {
            format!("0{digits}")
        } else {
            digits
        };
        let bytes = padded
            .as_bytes()
            .chunks(2)
            .map(|pair| {
                std::str::from_utf8(pair)
                    .ok()
                    .and_then(|s| u8::from_str_radix(s, 16).ok())
                    .ok_or_else(|| bad("not hexadecimal"))
            })
            .collect::<Result<Vec<u8>>>()?;
        let serial = Self::from_der_bytes(&bytes);
        if serial.0.is_empty() {
            return Err(bad("zero is not a valid serial"));
        }
        Ok(serial)
    }
}

impl fmt::Display for Serial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl TryFrom<String> for Serial {
    type Error = PkiError;
    fn try_from(value: String) -> Result<Self> {
        value.parse()
    }
}

impl From<Serial> for String {
    fn from(value: Serial) -> String {
        value.to_hex()
    }
}

/// Lowercase hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use fmt::Write;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        // Writing to a String cannot fail.
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// Fills `buf` from the system CSPRNG.
pub(crate) fn random_bytes(buf: &mut [u8], what: &'static str) -> Result<()> {
    SystemRandom::new()
        .fill(buf)
        .map_err(|_| PkiError::Random { what })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_serials_are_positive_16_bytes_and_distinct() {
        let a = Serial::random().expect("rng");
        let b = Serial::random().expect("rng");
        assert_ne!(a, b);
        for s in [&a, &b] {
            assert_eq!(s.as_bytes().len(), 16);
            assert_eq!(s.as_bytes()[0] & 0xc0, 0x40);
            assert_eq!(s.to_hex().len(), 32);
        }
    }

    #[test]
    fn parsing_normalises() {
        let s: Serial = "00:4F:0a".parse().expect("valid");
        assert_eq!(s.to_hex(), "4f0a");
        assert_eq!("0x4f0a".parse::<Serial>().expect("valid"), s);
        assert_eq!("f0a".parse::<Serial>().expect("valid").to_hex(), "0f0a");
        assert_eq!(Serial::from_der_bytes(&[0, 0x80, 1]).to_hex(), "8001");
        for bad in ["", "xyz", "00", "12 34", &"a".repeat(43)] {
            assert!(
                matches!(bad.parse::<Serial>(), Err(PkiError::BadSerial { .. })),
                "{bad}"
            );
        }
    }
}
