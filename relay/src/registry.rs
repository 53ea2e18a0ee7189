//! The live registry of connector links and the servers each one serves.
//!
//! A link task inserts itself when it sends `Welcome` and holds the returned
//! [`LinkGuard`]; dropping the guard (on any exit path) removes the link.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use sallyport_pki::identity::SpiffeId;
use sallyport_protocol::ServerName;
use sallyport_protocol::control::{Decision, Refusal, ServerOffer};
use serde::Serialize;
use time::OffsetDateTime;

use crate::metrics::Metrics;

/// A link's id, unique within one relay process.
pub type LinkId = u64;

/// What the admin API shows about one link.
#[derive(Debug, Clone, Serialize)]
pub struct LinkInfo {
    /// The link's id within this relay.
    pub link_id: LinkId,
    /// The SPIFFE id from the connector's certificate.
    pub identity: String,
    /// The connector's self-chosen label.
    pub label: String,
    /// The connector's software and version.
    pub software: String,
    /// The connector's address as seen by the relay.
    pub remote: SocketAddr,
    /// The negotiated protocol version.
    pub protocol_version: u16,
    /// The connector process's instance id.
    pub instance: u64,
    /// Requests in flight on this link (open data streams).
    pub in_flight: usize,
    /// When the link was established (RFC 3339).
    #[serde(with = "time::serde::rfc3339")]
    pub connected_at: OffsetDateTime,
    /// Servers routed to this link.
    pub servers: Vec<ServerName>,
    /// How the connector reaches each routed server (`stdio` or `http`),
    /// as it offered them.
    pub transports: BTreeMap<ServerName, &'static str>,
    /// Servers it offered that were refused, with the reason.
    pub refused: Vec<RefusalInfo>,
}

/// A refused server, for JSON output.
#[derive(Debug, Clone, Serialize)]
pub struct RefusalInfo {
    /// The server.
    pub server: ServerName,
    /// Why.
    pub reason: String,
}

impl From<&Refusal> for RefusalInfo {
    fn from(r: &Refusal) -> Self {
        Self {
            server: r.server.clone(),
            reason: r.reason.clone(),
        }
    }
}

/// How the connector reaches each server of `decision` it accepted, from
/// the `offers` it was decided on.
fn transports(offers: &[ServerOffer], decision: &Decision) -> BTreeMap<ServerName, &'static str> {
    offers
        .iter()
        .filter(|o| decision.accepted.contains(&o.name))
        .map(|o| (o.name.clone(), o.transport.as_str()))
        .collect()
}

/// Everything the relay needs about a new link.
#[derive(Debug, Clone)]
pub struct NewLink {
    /// Certificate identity.
    pub identity: SpiffeId,
    /// Self-chosen label.
    pub label: String,
    /// Software and version.
    pub software: String,
    /// Peer address.
    pub remote: SocketAddr,
    /// Negotiated version.
    pub protocol_version: u16,
    /// The connector process's instance id (from `Hello`).
    pub instance: u64,
    /// The QUIC connection, for opening data streams.
    pub conn: quinn::Connection,
    /// The connector's leaf certificate, re-checked when CRLs change.
    pub cert: rustls::pki_types::CertificateDer<'static>,
}

#[derive(Debug)]
struct Entry {
    info: LinkInfo,
    conn: quinn::Connection,
    cert: rustls::pki_types::CertificateDer<'static>,
    load: Arc<AtomicUsize>,
}

/// A link chosen to carry a request; holding it counts as load.
#[derive(Debug)]
pub struct Route {
    /// The link's connection.
    pub conn: quinn::Connection,
    /// The link's id.
    pub link_id: LinkId,
    /// The connector instance behind it.
    pub instance: u64,
    /// The connector's SPIFFE id.
    pub identity: String,
    load: Arc<AtomicUsize>,
}

impl Route {
    fn new(id: LinkId, entry: &Entry) -> Self {
        entry.load.fetch_add(1, Ordering::Relaxed);
        Self {
            conn: entry.conn.clone(),
            link_id: id,
            instance: entry.info.instance,
            identity: entry.info.identity.clone(),
            load: Arc::clone(&entry.load),
        }
    }
}

impl Drop for Route {
    fn drop(&mut self) {
        self.load.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The set of live links.
#[derive(Debug)]
pub struct Registry {
    links: Mutex<HashMap<LinkId, Entry>>,
    next_id: AtomicU64,
    turn: AtomicU64,
    metrics: Arc<Metrics>,
    /// Bumped after every insert, update and removal.
    changes: tokio::sync::watch::Sender<u64>,
}

impl Registry {
    /// An empty registry that keeps `metrics` up to date.
    pub fn new(metrics: Arc<Metrics>) -> Self {
        Self {
            links: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            turn: AtomicU64::new(0),
            metrics,
            changes: tokio::sync::watch::Sender::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<LinkId, Entry>> {
        // A panic while holding this lock cannot leave the map inconsistent
        // (every critical section is a single insert/remove/update), so a
        // poisoned lock is safe to keep using.
        self.links.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers a link with its first decision on `offers`; the link
    /// stays registered until the returned guard is dropped.
    pub fn insert(
        self: &Arc<Self>,
        link: NewLink,
        offers: &[ServerOffer],
        decision: &Decision,
    ) -> LinkGuard {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let info = LinkInfo {
            link_id: id,
            identity: link.identity.to_string(),
            label: link.label,
            software: link.software,
            remote: link.remote,
            protocol_version: link.protocol_version,
            instance: link.instance,
            in_flight: 0,
            connected_at: OffsetDateTime::now_utc(),
            servers: decision.accepted.clone(),
            transports: transports(offers, decision),
            refused: decision.refused.iter().map(RefusalInfo::from).collect(),
        };
        let n = {
            let mut links = self.lock();
            links.insert(
                id,
                Entry {
                    info,
                    conn: link.conn,
                    cert: link.cert,
                    load: Arc::default(),
                },
            );
            links.len()
        };
        self.metrics.set_connectors(n);
        self.changed();
        LinkGuard {
            registry: Arc::clone(self),
            id,
        }
    }

    /// Replaces a link's server set after an `Announce` of `offers`.
    pub fn update(&self, id: LinkId, offers: &[ServerOffer], decision: &Decision) {
        if let Some(entry) = self.lock().get_mut(&id) {
            entry.info.servers = decision.accepted.clone();
            entry.info.transports = transports(offers, decision);
            entry.info.refused = decision.refused.iter().map(RefusalInfo::from).collect();
        }
        self.changed();
    }

    /// A receiver that sees a new value after every change to the set of
    /// links or their servers, so a caller can wait for a link instead of
    /// polling: `rx.wait_for(|_| registry.serves(&server))`.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changes.subscribe()
    }

    fn changed(&self) {
        self.changes.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// The least loaded link serving `server`, for a new session or a
    /// stateless request.
    ///
    /// Load is the number of open data streams (a session's GET stream
    /// counts for as long as it is open); ties rotate, so sessions spread
    /// over equally idle connectors.
    pub fn pick(&self, server: &ServerName) -> Option<Route> {
        let links = self.lock();
        let mut candidates: Vec<(usize, LinkId)> = links
            .iter()
            .filter(|(_, e)| e.info.servers.contains(server))
            .map(|(id, e)| (e.load.load(Ordering::Relaxed), *id))
            .collect();
        let least = candidates.iter().map(|(load, _)| *load).min()?;
        candidates.retain(|(load, _)| *load == least);
        candidates.sort_unstable_by_key(|(_, id)| *id);
        let turn = self.turn.fetch_add(1, Ordering::Relaxed) as usize;
        let (_, id) = candidates[turn % candidates.len()];
        links.get(&id).map(|e| Route::new(id, e))
    }

    /// A link to connector `instance` serving `server` (where its session
    /// lives), if that instance is still connected.
    pub fn route_to(&self, instance: u64, server: &ServerName) -> Option<Route> {
        let links = self.lock();
        links
            .iter()
            .filter(|(_, e)| e.info.instance == instance && e.info.servers.contains(server))
            .min_by_key(|(id, e)| (e.load.load(Ordering::Relaxed), **id))
            .map(|(id, e)| Route::new(*id, e))
    }

    /// Re-checks every live link's certificate with `verify` and closes the
    /// links that fail (revoked or expired since they connected). Returns
    /// how many were closed.
    pub fn revalidate(
        &self,
        verify: impl Fn(&rustls::pki_types::CertificateDer<'static>) -> Result<(), String>,
    ) -> usize {
        let failing: Vec<(LinkId, String, quinn::Connection, String)> = self
            .lock()
            .iter()
            .filter_map(|(id, e)| {
                verify(&e.cert)
                    .err()
                    .map(|why| (*id, e.info.identity.clone(), e.conn.clone(), why))
            })
            .collect();
        for (id, identity, conn, why) in &failing {
            tracing::warn!(event = "link.revoked", link.id = id, connector.id = %identity, reason = %why,
                "closing link: its certificate is no longer valid");
            let code =
                quinn::VarInt::from_u32(sallyport_protocol::CloseCode::Unauthorized.to_u32());
            conn.close(code, b"certificate no longer valid");
        }
        failing.len()
    }

    /// Whether any live link serves `server`.
    pub fn serves(&self, server: &ServerName) -> bool {
        self.lock()
            .values()
            .any(|e| e.info.servers.contains(server))
    }

    /// Every live link, ordered by id.
    pub fn snapshot(&self) -> Vec<LinkInfo> {
        let mut all: Vec<LinkInfo> = self
            .lock()
            .values()
            .map(|e| LinkInfo {
                in_flight: e.load.load(Ordering::Relaxed),
                ..e.info.clone()
            })
            .collect();
        all.sort_by_key(|l| l.link_id);
        all
    }

    /// How many links are live.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no link is live.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn remove(&self, id: LinkId) {
        let n = {
            let mut links = self.lock();
            links.remove(&id);
            links.len()
        };
        self.metrics.set_connectors(n);
        self.changed();
    }
}

/// Keeps a link registered; removes it when dropped.
#[derive(Debug)]
pub struct LinkGuard {
    registry: Arc<Registry>,
    id: LinkId,
}

impl LinkGuard {
    /// The registered link's id.
    pub fn id(&self) -> LinkId {
        self.id
    }
}

impl Drop for LinkGuard {
    fn drop(&mut self) {
        self.registry.remove(self.id);
    }
}

#[cfg(test)]
mod tests {
    use sallyport_protocol::control::Transport;

    use super::*;

    fn name(s: &str) -> ServerName {
        ServerName::new(s).expect("valid name")
    }

    #[test]
    fn transports_name_each_routed_server_as_offered() {
        let offers = [
            ServerOffer {
                name: name("contracts"),
                transport: Transport::Stdio,
            },
            ServerOffer {
                name: name("wiki"),
                transport: Transport::Http,
            },
            ServerOffer {
                name: name("hr"),
                transport: Transport::Http,
            },
        ];
        let decision = Decision {
            accepted: vec![name("contracts"), name("wiki")],
            refused: vec![Refusal {
                server: name("hr"),
                reason: "not listed".into(),
            }],
        };
        let shown = transports(&offers, &decision);
        assert_eq!(
            serde_json::to_value(&shown).expect("serializes"),
            serde_json::json!({ "contracts": "stdio", "wiki": "http" })
        );
    }
}
