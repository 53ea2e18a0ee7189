//! Sizes both ends of a link must agree on.
//!
//! `README.md` beside this crate lists every constant here in its
//! "Constants" table; a test compares the two both ways, so a constant
//! cannot change (or appear) without the table changing with it.

/// The largest control frame either end accepts, in bytes (1 MiB): a
/// `Hello` or `Announce` with many servers fits.
pub const MAX_CONTROL_FRAME: usize = 1024 * 1024;

/// The largest payload of one `Body` frame, in bytes (64 KiB): request and
/// JSON response bodies travel in chunks of at most this size.
pub const BODY_CHUNK: usize = 64 * 1024;
