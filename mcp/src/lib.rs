//! MCP rules that the relay and the connector must apply identically.
//!
//! A rule decided twice with different code is a parser differential
//! waiting to be found: the relay once took `MCP-Protocol-Version: 9999` as
//! the stateless era while the connector took it as the session era. Each
//! rule here is a pure function, and both sides call it.

pub mod era;
pub mod headers;

pub use era::{Era, EraError, KNOWN_VERSIONS, STATELESS_ERA};
