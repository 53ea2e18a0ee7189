//! The Sallyport relay: the public side of the tunnel.
//!
//! It accepts mutually-authenticated QUIC links from connectors
//! ([`server`], [`link`]), decides which servers each connector identity may
//! serve ([`grants`]), keeps a live [`registry`] of links, and serves health,
//! readiness, the connector list and [`metrics`] on an [`admin`] listener.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod admin;
pub mod audit;
pub mod auth;
pub mod cli;
pub mod config;
pub mod error;
pub mod filter;
pub mod forward;
pub mod grants;
mod http;
pub mod limits;
mod link;
pub mod metrics;
pub mod policy;
mod quic;
pub mod registry;
pub mod server;
pub mod session;
pub mod shares;

pub use cli::{RelayArgs, RelayCommand};
pub use config::Config;
pub use error::{ConfigError, RelayError};
pub use server::{Relay, ReloadHandle, run};
