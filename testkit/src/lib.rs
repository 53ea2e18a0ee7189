//! `sallyport-testkit`: the request path — relay HTTP handler, forwarder,
//! QUIC link, connector stream server, bridge — in one test process,
//! without sockets (after quinn-proto's `Pair` and linkerd's `app/test`).
//!
//! - [`Network`]: in-memory UDP implementing [`quinn::AsyncUdpSocket`], so
//!   the real quinn and rustls stacks run, with certificates the
//!   `sallyport-pki` crate makes in a temporary directory;
//! - [`World`]: a relay (`Relay::bind_in_memory`) and connectors
//!   (`sallyport_connector::run_in_memory`) built from config files and
//!   text, with API keys for `alice@acme.com` and `bob@acme.com`. Its
//!   [`Builder`] sets the servers of each connector, the grants, the
//!   policy and extra relay config; the world then waits on the link
//!   registry ([`World::wait_served`], [`World::wait_links`]), stops
//!   connectors, drains the relay, reloads it (SIGHUP, [`World::set_policy`]),
//!   revokes through its [`Pki`](sallyport_pki::Pki) and reads the audit
//!   log ([`World::audit`]);
//! - [`Client`]: requests through the relay's axum router with
//!   `tower::ServiceExt::oneshot`, no listener;
//! - [`MemoryServer`]: an in-memory MCP server behind the connector's
//!   `Bridge` trait, with tools that succeed, fail and wait.
//!
//! ```no_run
//! # async fn f() -> Result<(), sallyport_testkit::Error> {
//! use sallyport_testkit::{MemoryServer, World, call_tool};
//! let world = World::builder().server("files", MemoryServer::default()).start().await?;
//! let alice = world.client(&world.alice);
//! let session = alice.initialize("files").await?.expect("initialized");
//! let reply = alice.call(&session, &call_tool(2, "echo", serde_json::json!({"text": "hi"}))).await?;
//! assert_eq!(reply.status, 200);
//! # Ok(()) }
//! ```
//!
//! What it leaves out: the TCP/TLS listeners' connection timeouts and the
//! admin API (both need sockets), and the stdio and HTTP bridges (the
//! memory server replaces them).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod client;
pub mod net;
pub mod server;
pub mod world;

pub use client::{Client, Reply, SESSION_VERSION, STATELESS_VERSION, Session, call_tool, rpc};
pub use net::{MemSocket, Network};
pub use server::{MemoryServer, Seen};
pub use world::{Builder, World};

use std::time::Duration;

/// How long the kit waits for anything before it fails.
pub const WAIT: Duration = Duration::from_secs(20);

/// Why the kit could not build or drive a [`World`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A temporary directory or file.
    #[error("I/O")]
    Io(#[from] std::io::Error),
    /// The test PKI.
    #[error("test PKI")]
    Pki(#[from] sallyport_pki::PkiError),
    /// The relay's or the connector's config text (one error type for
    /// both).
    #[error("config")]
    Config(#[from] sallyport_relay::ConfigError),
    /// The relay failed.
    #[error("relay")]
    Relay(#[from] sallyport_relay::RelayError),
    /// The connector failed.
    #[error("connector")]
    Connector(#[from] sallyport_connector::ConnectorError),
    /// A server name.
    #[error("server name")]
    Name(#[from] sallyport_protocol::names::NameError),
    /// A request could not be built.
    #[error("request")]
    Request(#[from] axum::http::Error),
    /// A response body broke.
    #[error("response body")]
    Body(#[source] axum::Error),
    /// [`World::set_policy`] did not find the policy to replace.
    #[error("the relay's config does not hold that policy")]
    NoSuchPolicy,
    /// The relay config has no `[http]` section.
    #[error("the relay has no [http] endpoint")]
    NoHttp,
    /// The relay did not route a server in time.
    #[error("server {0} not routed within the wait")]
    NotServed(String),
    /// A task did not end in time.
    #[error("task did not end within the wait")]
    Timeout,
    /// A task panicked or was aborted.
    #[error("task")]
    Task(#[from] tokio::task::JoinError),
}
