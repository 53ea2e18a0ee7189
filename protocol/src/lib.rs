//! The wire protocol between a Sallyport relay and its connectors.
//!
//! This crate does no I/O: it defines the frames ([`control`], [`data`]), the
//! length-delimited bincode [`codec`], protocol [`version`] negotiation, the
//! [`close`] codes, the size [`limits`] both ends share and the validated
//! [`names`] that travel on the wire. The relay and the connector drive it
//! over QUIC streams. See `README.md` beside this crate for the prose
//! description of streams, frames, constants and close codes.
//!
//! With the `codec` feature, [`framed`] adapts the codec to
//! `tokio_util::codec` so it can sit on any `AsyncRead`/`AsyncWrite`. With
//! the `socket` feature, [`socket`] binds the UDP socket a link runs on.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod body;
pub mod close;
pub mod codec;
pub mod control;
pub mod data;
#[cfg(feature = "codec")]
pub mod framed;
pub mod limits;
pub mod names;
#[cfg(feature = "socket")]
pub mod socket;
pub mod version;

#[cfg(test)]
mod readme_tests;

pub use close::CloseCode;
pub use codec::{DecodeError, EncodeError, FrameCodec};
pub use control::ControlFrame;
pub use data::DataFrame;
pub use limits::{BODY_CHUNK, MAX_CONTROL_FRAME};
pub use names::{ConnectorLabel, NameError, ServerName};

/// The TLS ALPN protocol id of a relay<->connector link.
pub const ALPN: &[u8] = b"sallyport/1";
