//! Shared harness of the end-to-end tests: real `sallyport` processes on
//! loopback, real certificates from the pki tool, readiness and assertions
//! driven by the processes' JSON log lines (no sleeps).
//!
//! - [`procs`]: running processes and their JSON logs;
//! - [`setup`]: PKI, config files, API keys and the usual relay+connector
//!   world.

#![allow(
    dead_code,
    reason = "each test binary uses a different part of the harness"
)]

use std::process::Command;
use std::time::Duration;

pub mod client;
pub mod generate;
pub mod hostile;
pub mod oracle;
pub mod procs;
pub mod raw;
pub mod setup;
pub mod upstream;
pub mod wire;

#[allow(
    unused_imports,
    reason = "each test binary uses a different part of the harness"
)]
pub use procs::*;
#[allow(
    unused_imports,
    reason = "each test binary uses a different part of the harness"
)]
pub use setup::*;

/// How long any single wait in a test may take before it fails.
pub const WAIT: Duration = Duration::from_secs(20);

/// The binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_sallyport")
}

/// Runs `sallyport <args>` to completion; panics with its output on failure.
pub fn sallyport(args: &[&str]) -> String {
    let out = Command::new(bin())
        .args(args)
        .output()
        .expect("spawn sallyport");
    assert!(
        out.status.success(),
        "sallyport {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs `sallyport <args>` expecting failure; returns stderr.
pub fn sallyport_fails(args: &[&str]) -> String {
    let out = Command::new(bin())
        .args(args)
        .output()
        .expect("spawn sallyport");
    assert!(
        !out.status.success(),
        "sallyport {args:?} should have failed:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}
