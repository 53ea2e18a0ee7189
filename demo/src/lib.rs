//! `sallyport demo`: the whole Sallyport system on one machine, with a
//! built-in MCP server to talk to.
//!
//! - [`run`] (from [`DemoArgs`]): a throw-away CA, a relay with one API key,
//!   a connector, and the demo MCP server twice — as the connector's stdio
//!   child (`demo`) and in-process over Streamable HTTP (`demo-http`) — then
//!   prints the URLs, the `Authorization` header and a `curl` to try.
//!   [`start`] does the same without printing and returns a [`RunningDemo`]
//!   (for tests and benchmarks).
//! - [`DemoServer`]: the demo MCP server itself (tools `echo`, `add`,
//!   `count`, `ask_llm`, `big`; resources `demo://readme`,
//!   `demo://sized/{n}`; prompt `greeting`), speaking both protocol eras,
//!   served by [`serve_stdio`] or [`http_router`].
//!
//! Errors are one enum, [`DemoError`].

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod cli;
mod error;
mod run;
mod server;

pub use cli::{DemoArgs, DemoCommand};
pub use error::DemoError;
pub use run::{
    CONNECTOR_NAME, CURL_INITIALIZE, DemoOptions, HTTP_SERVER, READY_TIMEOUT, RunningDemo,
    STDIO_SERVER, TRUST_DOMAIN, run, start,
};
pub use server::{DemoServer, MAX_COUNT, MAX_DELAY_MS, MAX_TEXT_BYTES, http_router, serve_stdio};
