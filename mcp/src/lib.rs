//! MCP rules that the relay and the connector must apply identically.
//!
//! A rule decided twice with different code is a parser differential
//! waiting to be found: the relay once took `MCP-Protocol-Version: 9999` as
//! the stateless era while the connector took it as the session era. Each
//! rule here is a pure function, and both sides call it.
//!
//! * [`era`]: which protocol era a request belongs to (known versions
//!   only);
//! * [`envelope`]: the strict parse of a client message's envelope;
//! * [`target`]: what a message asks a server to use, or why it cannot be
//!   decided;
//! * [`normal`]: the normal form a target must have to be decided;
//! * [`headers`]: the transport's header names.

pub mod envelope;
pub mod era;
pub mod headers;
pub mod normal;
pub mod target;

pub use envelope::{Envelope, EnvelopeError, Field, Kind};
pub use era::{Era, EraError, KNOWN_VERSIONS, STATELESS_ERA};
pub use target::{Target, Undecidable};
