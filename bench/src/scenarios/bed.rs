//! The test bed of the HTTP scenarios: a throw-away fixture (CA, keys,
//! configs) and the bench's HTTP upstream, offered to the relay as
//! [`SERVER`], with the clients that call it directly and through a relay.

use crate::client::{Client, http_client};
use crate::error::Result;
use crate::fixture::{Fixture, UpstreamSpec};
use crate::targets::{Http, Op};
use crate::tunnel::Tunnel;
use crate::upstream::Upstream;

/// The upstream's name at the relay.
pub const SERVER: &str = "bench";

/// A fixture and a running HTTP upstream.
#[derive(Debug)]
pub struct Bed {
    /// Certificates, keys and configs of the run.
    pub fx: Fixture,
    /// The bench's MCP server over HTTP.
    pub upstream: Upstream,
    http: reqwest::Client,
}

impl Bed {
    /// Makes the fixture and starts the upstream.
    pub async fn start() -> Result<Self> {
        let fx = Fixture::new()?;
        let upstream = Upstream::start().await?;
        Ok(Self {
            fx,
            upstream,
            http: http_client()?,
        })
    }

    /// What a connector offers: the upstream as [`SERVER`].
    pub fn specs(&self) -> Vec<UpstreamSpec> {
        vec![UpstreamSpec::Http {
            name: SERVER.into(),
            url: self.upstream.url.clone(),
        }]
    }

    /// An in-process relay and connector offering the upstream.
    pub async fn tunnel(&self) -> Result<Tunnel> {
        Tunnel::start(&self.fx, &self.specs()).await
    }

    /// A client of the upstream itself (no key).
    pub fn direct_client(&self) -> Result<Client> {
        Client::new(self.http.clone(), self.upstream.url.clone(), None)
    }

    /// A client of [`SERVER`] through the relay at `base` (with the API
    /// key).
    pub fn relayed_client(&self, base: &str) -> Result<Client> {
        let url = format!("{base}/mcp/{SERVER}");
        Client::new(self.http.clone(), url, Some(&self.fx.bearer()))
    }

    /// [`Bed::direct_client`] doing `op`.
    pub fn direct(&self, op: Op) -> Result<Http> {
        Ok(Http {
            client: self.direct_client()?,
            op,
        })
    }

    /// [`Bed::relayed_client`] doing `op`.
    pub fn relayed(&self, base: &str, op: Op) -> Result<Http> {
        Ok(Http {
            client: self.relayed_client(base)?,
            op,
        })
    }

    /// Stops the upstream (the fixture's files go with it).
    pub async fn stop(self) {
        self.upstream.stop().await;
    }
}
