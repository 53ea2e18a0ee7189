//! Frames of the control stream: the first bidirectional stream of a link,
//! opened by the connector right after the QUIC handshake.
//!
//! ```text
//! connector                                relay
//!   | preamble (SPLY, versions)              |
//!   | Hello {label, software, servers}  -->  |
//!   |  <--  Welcome {version, accepted, refused}   or   Reject {code, reason}
//!   | Announce {servers}  -->                |   (server set changed)
//!   |  <--  Decision {accepted, refused}     |
//!   |  <--  GoAway {reason}                  |   (relay draining)
//! ```

use serde::{Deserialize, Serialize};

use crate::close::CloseCode;
use crate::names::{ConnectorLabel, ServerName};

/// A frame on the control stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum ControlFrame {
    /// Connector → relay, first frame after the preamble.
    Hello(Hello),
    /// Relay → connector: the link is up.
    Welcome(Welcome),
    /// Relay → connector: the link is refused; the relay closes it next.
    Reject(Reject),
    /// Connector → relay: the connector's server set changed (a full list).
    Announce(Announce),
    /// Relay → connector: the answer to an [`Announce`].
    Decision(Decision),
    /// Relay → connector: the relay is draining; open no new work here and
    /// reconnect once in-flight streams end.
    GoAway(GoAway),
}

impl ControlFrame {
    /// The frame's name, for logs and error messages.
    pub fn name(&self) -> &'static str {
        match self {
            ControlFrame::Hello(_) => "Hello",
            ControlFrame::Welcome(_) => "Welcome",
            ControlFrame::Reject(_) => "Reject",
            ControlFrame::Announce(_) => "Announce",
            ControlFrame::Decision(_) => "Decision",
            ControlFrame::GoAway(_) => "GoAway",
        }
    }
}

/// What a connector says about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// A label for this connector instance (host name); informational, the
    /// identity is the certificate's SPIFFE id.
    pub label: ConnectorLabel,
    /// Random id of this connector process, chosen at start. Relays route a
    /// session back to the instance that holds it.
    pub instance: u64,
    /// Software name and version, e.g. `sallyport-connector/0.1.0`.
    pub software: String,
    /// The MCP servers this connector offers.
    pub servers: Vec<ServerOffer>,
}

/// One MCP server a connector offers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerOffer {
    /// The name clients use (`/mcp/<name>`).
    pub name: ServerName,
    /// How the connector reaches it.
    pub transport: Transport,
}

/// How a connector reaches a local MCP server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Transport {
    /// A child process speaking JSON-RPC over stdin/stdout.
    Stdio,
    /// A Streamable HTTP endpoint.
    Http,
}

impl Transport {
    /// A short lowercase name for logs and the admin API.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Stdio => "stdio",
            Transport::Http => "http",
        }
    }
}

/// The relay's acceptance of a link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Welcome {
    /// The negotiated protocol version.
    pub version: u16,
    /// The relay's name (its DNS name or configured label).
    pub relay: String,
    /// The decision about each offered server.
    pub decision: Decision,
}

/// Which offered servers the relay accepted and which it refused, and why.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// Servers the relay will route to this connector.
    pub accepted: Vec<ServerName>,
    /// Servers refused, each with a human-readable reason.
    pub refused: Vec<Refusal>,
}

/// A refused server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    /// The refused server.
    pub server: ServerName,
    /// Why, for the connector's log.
    pub reason: String,
}

/// The relay's refusal of a whole link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reject {
    /// The close code that follows.
    pub code: u32,
    /// Why, for the connector's log.
    pub reason: String,
}

impl Reject {
    /// A rejection with a typed code.
    pub fn new(code: CloseCode, reason: impl Into<String>) -> Self {
        Self {
            code: code.to_u32(),
            reason: reason.into(),
        }
    }
}

/// A new full server list from the connector.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Announce {
    /// Every server the connector now offers.
    pub servers: Vec<ServerOffer>,
}

/// The relay is going away.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GoAway {
    /// Why (e.g. "relay shutting down").
    pub reason: String,
}
