//! The relay's envelope parse and access decision against a model of a
//! permissive upstream (duplicate keys: the last wins; notifications run;
//! non-string targets coerced): whatever the relay forwards, the upstream
//! runs only what the caller may use, and exactly what the relay decided.
//! The same oracle drives the property test in mcp/tests/differential.rs.
//!
//! cargo +nightly fuzz run envelope_decision -- -max_total_time=60

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../mcp/tests/model/mod.rs"]
mod model;

fuzz_target!(|data: &[u8]| {
    model::check(data);
});
