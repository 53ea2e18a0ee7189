//! The whole system in one process: a test PKI made with `sallyport-pki`,
//! a relay (its `relay.toml` written and loaded as the binary does) and
//! one or more connectors (config text parsed as the binary does) on one
//! in-memory [`Network`], with [`MemoryServer`]s behind the connectors.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use sallyport_connector::bridge::Bridge;
use sallyport_pki::{ApiKey, Pki, Validity};
use sallyport_protocol::ServerName;
use sallyport_relay::registry::Registry;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::client::Client;
use crate::net::Network;
use crate::server::MemoryServer;
use crate::{Error, WAIT};

mod config;

pub use config::{ALLOW_ALICE, ALLOW_BOTH};

/// The relay's address on the in-memory network.
pub const RELAY_ADDR: &str = "10.0.0.1:4433";
/// The first connector's address on the in-memory network.
pub const CONNECTOR_ADDR: &str = "10.0.0.2:50000";

/// Connector `i`'s address: 10.0.0.(2 + i), port 50000.
pub fn connector_addr(i: usize) -> SocketAddr {
    let host = u8::try_from(2 + i).unwrap_or(u8::MAX);
    SocketAddr::from(([10, 0, 0, host], 50000))
}

/// How to build a [`World`].
#[derive(Debug, Clone)]
pub struct Builder {
    /// The servers of each connector; the first is [`Builder::server`]'s.
    connectors: Vec<Vec<(String, MemoryServer)>>,
    policy: String,
    relay_extra: String,
    relay_tables: String,
    /// The servers the relay grants; `None`: every server offered.
    grants: Option<Vec<String>>,
}

impl Default for Builder {
    fn default() -> Self {
        Self {
            connectors: vec![Vec::new()],
            policy: ALLOW_ALICE.to_owned(),
            relay_extra: String::new(),
            relay_tables: String::new(),
            grants: None,
        }
    }
}

impl Builder {
    /// Serves `name` with `server` on the first connector.
    pub fn server(mut self, name: &str, server: MemoryServer) -> Self {
        self.connectors[0].push((name.to_owned(), server));
        self
    }

    /// Adds a further connector (same identity, its own instance and
    /// address) serving `servers`.
    pub fn connector(mut self, servers: &[(&str, MemoryServer)]) -> Self {
        let servers = servers.iter().map(|(n, s)| ((*n).to_owned(), s.clone()));
        self.connectors.push(servers.collect());
        self
    }

    /// Replaces the policy (`[[role]]` and `[[binding]]` TOML).
    pub fn policy(mut self, toml: &str) -> Self {
        self.policy = toml.to_owned();
        self
    }

    /// Keys added to the relay's `[http]` section, e.g.
    /// `response_timeout_ms = 500`.
    pub fn http(mut self, toml: &str) -> Self {
        self.relay_extra.push_str(toml);
        self.relay_extra.push('\n');
        self
    }

    /// Grants the connectors exactly `servers` (by default, every server
    /// they offer); [`Builder::start`] waits only for the granted ones
    /// that are offered.
    pub fn grants(mut self, servers: &[&str]) -> Self {
        self.grants = Some(servers.iter().map(|s| (*s).to_owned()).collect());
        self
    }

    /// Tables added at the end of the relay's config, e.g.
    /// `[limits]\nmax_streams_per_principal = 1`.
    pub fn relay(mut self, toml: &str) -> Self {
        self.relay_tables.push('\n');
        self.relay_tables.push_str(toml);
        self.relay_tables.push('\n');
        self
    }

    /// Starts the relay and the connector and waits until the relay
    /// routes every server.
    pub async fn start(self) -> Result<World, Error> {
        World::start(self).await
    }
}

/// A connector task and what stops it.
#[derive(Debug)]
struct Running {
    stop: CancellationToken,
    task: Option<JoinHandle<Result<(), sallyport_connector::ConnectorError>>>,
}

/// A running relay and its connectors; they stop when it is dropped.
#[derive(Debug)]
pub struct World {
    /// The network both run on.
    pub net: Network,
    /// An API key for `alice@acme.com` (group `legal`).
    pub alice: ApiKey,
    /// An API key for `bob@acme.com` (group `eng`).
    pub bob: ApiKey,
    router: axum::Router,
    registry: Arc<Registry>,
    relay_stop: CancellationToken,
    relay: Option<JoinHandle<Result<(), sallyport_relay::RelayError>>>,
    connectors: Vec<Running>,
    reload: sallyport_relay::ReloadHandle,
    pki: Pki,
    connector_cert: std::path::PathBuf,
    tmp: tempfile::TempDir,
}

impl World {
    /// A builder with the default policy ([`ALLOW_ALICE`]) and no servers.
    pub fn builder() -> Builder {
        Builder::default()
    }

    async fn start(b: Builder) -> Result<World, Error> {
        let tmp = tempfile::tempdir()?;
        let pki = Pki::init(tmp.path().join("pki"), "acme.internal".parse()?, false)?;
        let relay_ip = addr(RELAY_ADDR).ip();
        pki.issue_relay(
            &["relay.test".into()],
            &[relay_ip],
            Validity::days(1)?,
            false,
        )?;
        let issued = pki.issue_connector(&"dc1".parse()?, Validity::days(1)?, false)?;
        let alice = ApiKey::generate("alice@acme.com", &["legal".into()])?;
        let bob = ApiKey::generate("bob@acme.com", &["eng".into()])?;

        let mut names: Vec<&str> = b
            .connectors
            .iter()
            .flatten()
            .map(|(n, _)| n.as_str())
            .collect();
        names.sort_unstable();
        names.dedup();
        let granted: Vec<&str> = match &b.grants {
            Some(g) => g.iter().map(String::as_str).collect(),
            None => names.clone(),
        };
        names.retain(|n| granted.contains(n));
        let relay_toml = config::relay_toml(&pki, &issued.spiffe_id.to_string(), &granted, &b)
            + &alice.toml_entry()
            + "\n"
            + &bob.toml_entry();
        // Written and loaded like the binary's, so a reload re-reads it.
        let relay_path = tmp.path().join(RELAY_FILE);
        std::fs::write(&relay_path, &relay_toml)?;
        let relay_config = sallyport_relay::Config::load(&relay_path)?;

        let net = Network::new();
        let relay =
            sallyport_relay::Relay::bind_in_memory(relay_config, net.bind(addr(RELAY_ADDR)))
                .await?;
        let router = relay.http_router().ok_or(Error::NoHttp)?;
        let registry = relay.registry();
        let reload = relay.reload_handle();
        let relay_stop = CancellationToken::new();
        let relay_task = tokio::spawn(relay.serve(relay_stop.clone()));

        let mut connectors = Vec::new();
        for (i, servers) in b.connectors.iter().enumerate() {
            let offered: Vec<&str> = servers.iter().map(|(n, _)| n.as_str()).collect();
            let text = config::connector_toml(&pki, &issued, &offered);
            let no_env = |_: &str| None;
            let config = sallyport_connector::Config::parse(&text, tmp.path(), &no_env)?;
            let bridges: HashMap<ServerName, Arc<dyn Bridge>> = servers
                .iter()
                .map(|(n, s)| Ok((ServerName::new(n.as_str())?, s.bridge())))
                .collect::<Result<_, Error>>()?;
            let stop = CancellationToken::new();
            let task = tokio::spawn(sallyport_connector::run_in_memory(
                config,
                net.bind(connector_addr(i)),
                bridges,
                stop.clone(),
            ));
            connectors.push(Running {
                stop,
                task: Some(task),
            });
        }
        let world = World {
            net,
            alice,
            bob,
            router,
            registry,
            relay_stop,
            relay: Some(relay_task),
            connectors,
            reload,
            connector_cert: issued.cert_path.clone(),
            pki,
            tmp,
        };
        world.wait_links(b.connectors.len()).await?;
        for name in names {
            world.wait_served(name, true).await?;
        }
        Ok(world)
    }

    /// A client of the relay's HTTP endpoint with `key`'s bearer token.
    pub fn client(&self, key: &ApiKey) -> Client {
        Client::new(self.router.clone(), Some(key.key().to_owned()))
    }

    /// A client with a bearer token (e.g. one [`Pki::mint_token`] signs).
    pub fn client_with_token(&self, token: &str) -> Client {
        Client::new(self.router.clone(), Some(token.to_owned()))
    }

    /// A client without credentials.
    pub fn anonymous(&self) -> Client {
        Client::new(self.router.clone(), None)
    }

    /// Waits (at most [`WAIT`]) until the relay routes `server` (`served`)
    /// or no longer does.
    pub async fn wait_served(&self, server: &str, served: bool) -> Result<(), Error> {
        let name = ServerName::new(server)?;
        let mut changes = self.registry.subscribe();
        let registry = Arc::clone(&self.registry);
        let wait = changes.wait_for(|_| registry.serves(&name) == served);
        match tokio::time::timeout(WAIT, wait).await {
            Ok(Ok(_)) => Ok(()),
            _ => Err(Error::NotServed(server.to_owned())),
        }
    }

    /// Waits (at most [`WAIT`]) until the relay has `n` links.
    pub async fn wait_links(&self, n: usize) -> Result<(), Error> {
        let mut changes = self.registry.subscribe();
        let registry = Arc::clone(&self.registry);
        let wait = changes.wait_for(|_| registry.len() == n);
        match tokio::time::timeout(WAIT, wait).await {
            Ok(Ok(_)) => Ok(()),
            _ => Err(Error::Timeout),
        }
    }

    /// Stops every connector and waits until they have stopped.
    pub async fn stop_connector(&mut self) -> Result<(), Error> {
        for i in 0..self.connectors.len() {
            self.stop_connector_at(i).await?;
        }
        Ok(())
    }

    /// Stops connector `i` (0: the first) and waits until it has stopped.
    pub async fn stop_connector_at(&mut self, i: usize) -> Result<(), Error> {
        let Some(running) = self.connectors.get_mut(i) else {
            return Ok(());
        };
        running.stop.cancel();
        if let Some(task) = &mut running.task {
            bounded(task).await??;
            running.task = None;
        }
        Ok(())
    }

    /// The world's PKI (to revoke a certificate, say).
    pub fn pki(&self) -> &Pki {
        &self.pki
    }

    /// The certificate every connector of the world presents.
    pub fn connector_cert(&self) -> &std::path::Path {
        &self.connector_cert
    }

    /// What SIGHUP does: the relay reloads its TLS material (and CRL),
    /// re-checks its live links, and re-reads its policy and credentials.
    pub fn reload(&self) {
        self.reload.reload();
    }

    /// Replaces the policy in the relay's config file (the rest stays)
    /// and reloads. Only for worlds built with [`Builder::policy`] or the
    /// default policy, which the file holds verbatim.
    pub fn set_policy(&self, old: &str, new: &str) -> Result<(), Error> {
        let path = self.tmp.path().join(RELAY_FILE);
        let text = std::fs::read_to_string(&path)?;
        if !text.contains(old) {
            return Err(Error::NoSuchPolicy);
        }
        std::fs::write(&path, text.replacen(old, new, 1))?;
        self.reload();
        Ok(())
    }

    /// Starts the relay's drain (what SIGTERM does): links get `GoAway`.
    pub fn begin_drain(&self) {
        self.relay_stop.cancel();
    }

    /// Waits (at most [`WAIT`]) until the relay has stopped, after
    /// [`World::begin_drain`]. Cancel-safe: a caller may time it out and
    /// wait again.
    pub async fn relay_stopped(&mut self) -> Result<(), Error> {
        if let Some(task) = &mut self.relay {
            bounded(task).await??;
            self.relay = None;
        }
        Ok(())
    }
}

impl World {
    /// Drains and stops the relay (which writes its last audit records),
    /// then returns every audit record, one JSON value per line.
    pub async fn audit(&mut self) -> Result<Vec<serde_json::Value>, Error> {
        self.begin_drain();
        self.relay_stopped().await?;
        let text = std::fs::read_to_string(self.tmp.path().join(AUDIT_FILE))?;
        Ok(text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or(serde_json::Value::Null))
            .collect())
    }
}

/// The relay's config file, in the world's directory.
const RELAY_FILE: &str = "relay.toml";

/// The relay's audit log, in the world's directory.
pub(crate) const AUDIT_FILE: &str = "audit.jsonl";

impl Drop for World {
    fn drop(&mut self) {
        for running in &self.connectors {
            running.stop.cancel();
        }
        self.relay_stop.cancel();
    }
}

async fn bounded<T>(task: &mut JoinHandle<T>) -> Result<T, Error> {
    match tokio::time::timeout(WAIT, task).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(Error::Task(e)),
        Err(_) => Err(Error::Timeout),
    }
}

fn addr(text: &str) -> SocketAddr {
    // The constants above are valid socket addresses.
    text.parse()
        .unwrap_or(SocketAddr::from(([127, 0, 0, 1], 0)))
}
