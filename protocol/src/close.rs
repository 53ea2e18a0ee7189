//! Application close codes for QUIC connections and stream resets.
//!
//! Every way a link or stream can end has a code, so the peer (and its log)
//! learns *why* without parsing a reason string.

/// Why a link (QUIC connection) or a stream was closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CloseCode {
    /// Orderly close; nothing went wrong.
    Normal,
    /// The relay is draining before a restart; reconnect (elsewhere).
    GoingAway,
    /// A frame could not be decoded.
    ProtocolError,
    /// A frame exceeded the negotiated maximum size.
    FrameTooLarge,
    /// No common protocol version.
    VersionMismatch,
    /// A well-formed frame arrived where it is not allowed.
    UnexpectedFrame,
    /// The peer's identity is not allowed here.
    Unauthorized,
    /// The peer did not complete the opening exchange in time.
    Timeout,
    /// The sender hit an internal error.
    Internal,
    /// The stream's request was cancelled by the client.
    Cancelled,
    /// A code this build does not know (a newer peer).
    Unknown(u32),
}

impl CloseCode {
    /// Every code this build knows, in wire order; `README.md` lists the
    /// same codes in its "Close codes" table.
    pub const KNOWN: [CloseCode; 10] = [
        CloseCode::Normal,
        CloseCode::GoingAway,
        CloseCode::ProtocolError,
        CloseCode::FrameTooLarge,
        CloseCode::VersionMismatch,
        CloseCode::UnexpectedFrame,
        CloseCode::Unauthorized,
        CloseCode::Timeout,
        CloseCode::Internal,
        CloseCode::Cancelled,
    ];

    /// The numeric value sent on the wire.
    pub fn to_u32(self) -> u32 {
        match self {
            CloseCode::Normal => 0x00,
            CloseCode::GoingAway => 0x01,
            CloseCode::ProtocolError => 0x10,
            CloseCode::FrameTooLarge => 0x11,
            CloseCode::VersionMismatch => 0x12,
            CloseCode::UnexpectedFrame => 0x13,
            CloseCode::Unauthorized => 0x20,
            CloseCode::Timeout => 0x21,
            CloseCode::Internal => 0x30,
            CloseCode::Cancelled => 0x31,
            CloseCode::Unknown(v) => v,
        }
    }

    /// Decodes a numeric code; unknown values are kept, not refused.
    pub fn from_u32(v: u32) -> Self {
        match v {
            0x00 => CloseCode::Normal,
            0x01 => CloseCode::GoingAway,
            0x10 => CloseCode::ProtocolError,
            0x11 => CloseCode::FrameTooLarge,
            0x12 => CloseCode::VersionMismatch,
            0x13 => CloseCode::UnexpectedFrame,
            0x20 => CloseCode::Unauthorized,
            0x21 => CloseCode::Timeout,
            0x30 => CloseCode::Internal,
            0x31 => CloseCode::Cancelled,
            other => CloseCode::Unknown(other),
        }
    }

    /// Decodes a QUIC varint error code (62 bits); values beyond `u32` are
    /// [`CloseCode::Unknown`] with `u32::MAX`.
    pub fn from_u64(v: u64) -> Self {
        Self::from_u32(u32::try_from(v).unwrap_or(u32::MAX))
    }

    /// A short lowercase name for logs and metrics labels.
    pub fn as_str(self) -> &'static str {
        match self {
            CloseCode::Normal => "normal",
            CloseCode::GoingAway => "going_away",
            CloseCode::ProtocolError => "protocol_error",
            CloseCode::FrameTooLarge => "frame_too_large",
            CloseCode::VersionMismatch => "version_mismatch",
            CloseCode::UnexpectedFrame => "unexpected_frame",
            CloseCode::Unauthorized => "unauthorized",
            CloseCode::Timeout => "timeout",
            CloseCode::Internal => "internal",
            CloseCode::Cancelled => "cancelled",
            CloseCode::Unknown(_) => "unknown",
        }
    }
}

impl std::fmt::Display for CloseCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (0x{:x})", self.as_str(), self.to_u32())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for v in 0..0x40 {
            assert_eq!(CloseCode::from_u32(v).to_u32(), v);
        }
        assert_eq!(CloseCode::from_u32(0x11), CloseCode::FrameTooLarge);
        assert_eq!(CloseCode::from_u32(0x99), CloseCode::Unknown(0x99));
    }
}
