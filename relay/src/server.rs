//! The relay process: binds its listeners, accepts connector links, serves
//! the admin API, and drains on shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use quinn::VarInt;
use sallyport_protocol::CloseCode;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use crate::admin::{self, AdminState};
use crate::auth::Authenticator;
use crate::config::Config;
use crate::error::RelayError;
use crate::http;
use crate::link::{self, Shared};
use crate::metrics::{HandshakeOutcome, Metrics};
use crate::quic;
use crate::registry::Registry;
use crate::session::{SessionKeys, Sessions};

mod https;
mod reload;

use https::ClientTrust;
use reload::{ReloadWatch, recheck_links, reload_tls};

/// A relay whose listeners are bound but not yet serving.
#[derive(Debug)]
pub struct Relay {
    shared: Arc<Shared>,
    reload: Arc<tokio::sync::Notify>,
    endpoint: quinn::Endpoint,
    /// `None` only in memory (`test-support`): no admin API.
    admin: Option<TcpListener>,
    public: Option<PublicEndpoint>,
}

/// The bound HTTP(S) endpoint for remote clients.
struct PublicEndpoint {
    /// `None` only in memory (`test-support`): requests come through
    /// [`Relay::http_router`].
    listener: Option<TcpListener>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    /// The client-certificate trust of `tls`, reloaded with the TLS
    /// material.
    client_trust: Option<Arc<ClientTrust>>,
    app: Arc<http::AppState>,
}

impl std::fmt::Debug for PublicEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublicEndpoint")
            .field("listener", &self.listener)
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

impl Relay {
    /// Loads the TLS material and binds the QUIC and admin listeners.
    pub async fn bind(config: Config) -> Result<Self, RelayError> {
        let endpoint = quic::bind_endpoint(&config.quic)?;
        let admin = TcpListener::bind(config.admin.listen)
            .await
            .map_err(|source| RelayError::Bind {
                what: "admin",
                addr: config.admin.listen,
                source,
            })?;
        let listener = match &config.http {
            Some(h) => {
                Some(
                    TcpListener::bind(h.listen)
                        .await
                        .map_err(|source| RelayError::Bind {
                            what: "HTTP",
                            addr: h.listen,
                            source,
                        })?,
                )
            }
            None => None,
        };
        Self::assemble(config, endpoint, Some(admin), listener).await
    }

    /// A relay without sockets, for in-process tests: its QUIC endpoint runs
    /// on `socket` (an in-memory network), it has no admin listener, and
    /// its `[http]` endpoint is served only through [`Relay::http_router`].
    /// Everything else (TLS, grants, auth, policy, audit) is as configured.
    #[cfg(feature = "test-support")]
    pub async fn bind_in_memory(
        config: Config,
        socket: Arc<dyn quinn::AsyncUdpSocket>,
    ) -> Result<Self, RelayError> {
        let endpoint = quic::endpoint_on(&config.quic, socket)?;
        Self::assemble(config, endpoint, None, None).await
    }

    /// The router of the `[http]` endpoint, with every layer a listener
    /// would serve (`Host` rules first) but without the connection
    /// timeouts; `None` without `[http]`. For in-process tests.
    #[cfg(feature = "test-support")]
    pub fn http_router(&self) -> Option<axum::Router> {
        let public = self.public.as_ref()?;
        Some(http::router(Arc::clone(&public.app)).router)
    }

    async fn assemble(
        config: Config,
        endpoint: quinn::Endpoint,
        admin: Option<TcpListener>,
        listener: Option<TcpListener>,
    ) -> Result<Self, RelayError> {
        let metrics = Arc::new(Metrics::new());
        let registry = Arc::new(Registry::new(Arc::clone(&metrics)));
        let audit = config.audit.open_with(
            &config.base_dir,
            crate::audit::AuditOptions {
                counters: metrics.audit_counters(),
                ..Default::default()
            },
        )?;
        let public = match &config.http {
            Some(h) => {
                let mut client_trust = None;
                let tls = match &h.tls {
                    Some((cert, key)) if h.client_certs => {
                        let trust = ClientTrust::load(http::ClientCertTrust {
                            bundle: config.quic.trust_bundle.clone(),
                            crl: config.quic.crl.clone(),
                        })?;
                        let acceptor = trust.acceptor(cert, key)?;
                        client_trust = Some(trust);
                        Some(acceptor)
                    }
                    Some((cert, key)) => Some(http::tls_acceptor(cert, key, None)?),
                    None => None,
                };
                let sessions = match &config.session_keys {
                    Some(paths) => SessionKeys::load(paths),
                    None => SessionKeys::ephemeral(),
                }?;
                // The trust domain of the relay's own certificate gives the
                // default issuer of `sallyport pki token` tokens.
                let trust_domain = quic::trust_domain_of(&config.quic.cert);
                let auth =
                    Authenticator::load(&config.api_keys, &config.auth, trust_domain.as_deref())
                        .await
                        .map_err(|e| crate::ConfigError::invalid(e.to_string()))?
                        .with_public_url(h.public_url.as_str());
                let local_hosts = listener
                    .as_ref()
                    .and_then(|l| l.local_addr().ok())
                    .map(http::local_hosts)
                    .unwrap_or_default();
                let app = Arc::new(http::AppState {
                    http: h.clone(),
                    local_hosts,
                    registry: Arc::clone(&registry),
                    auth: arc_swap::ArcSwap::from_pointee(auth),
                    shares: crate::shares::StreamShares::new(
                        config.limits.max_streams_per_principal,
                    ),
                    sessions: Sessions::new(sessions, config.session_ttl),
                    servers: config
                        .connectors
                        .iter()
                        .flat_map(|c| c.servers.iter().cloned())
                        .collect(),
                    max_frame: sallyport_protocol::codec::DEFAULT_MAX_FRAME_LEN,
                    next_id: std::sync::atomic::AtomicU64::new(1),
                    policy: arc_swap::ArcSwap::from_pointee(config.policy.clone()),
                    limiter: crate::limits::RateLimiter::new(100_000),
                    client_cert_check: client_trust.clone().map(|trust| {
                        http::CertCheck::new(move |der: &[u8]| trust.still_trusted(der))
                    }),
                    recorder: http::Recorder {
                        audit: audit.clone(),
                        metrics: Arc::clone(&metrics),
                        relay: config.name.clone(),
                    },
                });
                Some(PublicEndpoint {
                    listener,
                    tls,
                    client_trust,
                    app,
                })
            }
            None => None,
        };
        Ok(Self {
            shared: Arc::new(Shared {
                config: Arc::new(config),
                registry,
                metrics,
                audit,
            }),
            endpoint,
            admin,
            public,
            reload: Arc::new(tokio::sync::Notify::new()),
        })
    }

    /// The bound QUIC address (useful when the config asked for port 0).
    pub fn quic_addr(&self) -> std::io::Result<SocketAddr> {
        self.endpoint.local_addr()
    }

    /// The bound admin address.
    pub fn admin_addr(&self) -> std::io::Result<SocketAddr> {
        match &self.admin {
            Some(admin) => admin.local_addr(),
            None => Err(std::io::Error::other("no admin listener (in memory)")),
        }
    }

    /// The bound HTTP(S) address for remote clients, if enabled.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.public
            .as_ref()
            .and_then(|p| p.listener.as_ref()?.local_addr().ok())
    }

    /// A handle that makes the serving relay reload its TLS material (the
    /// QUIC certificate, trust bundle and CRL, which the HTTPS listener's
    /// client-certificate trust follows), re-check live links, and re-read
    /// the policy and the credentials (`[[api_key]]`, `[auth]`).
    pub fn reload_handle(&self) -> ReloadHandle {
        ReloadHandle(Arc::clone(&self.reload))
    }

    /// The live link registry.
    pub fn registry(&self) -> Arc<Registry> {
        Arc::clone(&self.shared.registry)
    }

    /// Serves until `shutdown` is cancelled, then drains: every link gets
    /// `GoAway` and up to `drain_timeout` to finish before the endpoint
    /// closes.
    pub async fn serve(self, shutdown: CancellationToken) -> Result<(), RelayError> {
        let Relay {
            shared,
            endpoint,
            admin,
            public,
            reload,
        } = self;
        let app = public.as_ref().map(|p| Arc::clone(&p.app));
        let client_trust = public.as_ref().and_then(|p| p.client_trust.clone());
        let mut watch = ReloadWatch::new(&shared.config);
        let http_stop = CancellationToken::new();
        let http_task = public.and_then(|p| {
            let listener = p.listener?;
            match listener.local_addr() {
                Ok(addr) => {
                    info!(event = "http.serving", http_addr = %addr, tls = p.tls.is_some(), "HTTP listener serving")
                }
                Err(e) => warn!(error = %e, "HTTP listener address unknown"),
            }
            let app = http::router(p.app);
            Some(tokio::spawn(http::serve(
                listener,
                p.tls,
                app,
                http_stop.clone(),
            )))
        });
        let draining = Arc::new(AtomicBool::new(false));
        let admin_stop = CancellationToken::new();
        let admin_task = admin.map(|admin| {
            tokio::spawn(serve_admin(
                admin,
                shared.config.admin.clone(),
                AdminState {
                    registry: Arc::clone(&shared.registry),
                    metrics: Arc::clone(&shared.metrics),
                    draining: Arc::clone(&draining),
                },
                admin_stop.clone(),
            ))
        });
        info!(
            event = "relay.serving",
            quic_addr = %endpoint.local_addr().map_err(|source| RelayError::Bind { what: "QUIC", addr: shared.config.quic.listen, source })?,
            relay = %shared.config.name,
            "relay serving"
        );

        let links = TaskTracker::new();
        let link_shutdown = CancellationToken::new();
        let permits = Arc::new(Semaphore::new(shared.config.quic.max_links));
        let mut recheck = tokio::time::interval(RECHECK);
        recheck.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                () = shutdown.cancelled() => break,
                () = reload.notified() => {
                    reload_tls(&endpoint, &shared);
                    if let Some(trust) = &client_trust {
                        trust.reload();
                    }
                    watch.reload(app.as_deref());
                }
                _ = recheck.tick() => {
                    recheck_links(&shared);
                    if let Some(app) = &app {
                        // Forget idle quota buckets: memory stays bounded.
                        app.limiter.housekeeping();
                    }
                }
                _ = watch.tick() => watch.reload_if_changed(app.as_deref()),
                incoming = endpoint.accept() => {
                    let Some(incoming) = incoming else { break };
                    match Arc::clone(&permits).try_acquire_owned() {
                        Ok(permit) => {
                            let shared = Arc::clone(&shared);
                            let stop = link_shutdown.child_token();
                            links.spawn(async move {
                                link::serve(incoming, shared, stop).await;
                                drop(permit);
                            });
                        }
                        Err(_) => {
                            shared.metrics.handshake(HandshakeOutcome::Refused);
                            warn!(event = "link.refused", remote = %incoming.remote_address(),
                                limit = shared.config.quic.max_links,
                                "link refused: connector link limit reached");
                            incoming.refuse();
                        }
                    }
                }
            }
        }

        info!(
            event = "relay.draining",
            links = shared.registry.len(),
            "relay draining"
        );
        draining.store(true, Ordering::Relaxed);
        let refuser = tokio::spawn(refuse_new(endpoint.clone(), Arc::clone(&shared.metrics)));
        http_stop.cancel();
        link_shutdown.cancel();
        links.close();
        let grace = shared.config.quic.drain_timeout + Duration::from_secs(1);
        if tokio::time::timeout(grace, links.wait()).await.is_err() {
            warn!("links still open after the drain timeout; closing them");
        }
        refuser.abort();
        if let Some(task) = http_task {
            let _ = task.await;
        }
        // Every response body is gone: write the last audit records.
        shared.audit.flush().await;
        shared.audit.clone().close().await;
        endpoint.close(
            VarInt::from_u32(CloseCode::GoingAway.to_u32()),
            b"relay shutting down",
        );
        let _ = tokio::time::timeout(Duration::from_secs(2), endpoint.wait_idle()).await;
        admin_stop.cancel();
        if let Some(task) = admin_task {
            let _ = task.await;
        }
        info!(event = "relay.stopped", "relay stopped");
        Ok(())
    }
}

/// Live links are re-checked (and idle quota buckets dropped) this often,
/// so a certificate that expires while connected is cut.
const RECHECK: Duration = Duration::from_secs(60);

/// Makes a serving relay reload its TLS material (see
/// [`Relay::reload_handle`]); the binary calls it on SIGHUP.
#[derive(Debug, Clone)]
pub struct ReloadHandle(Arc<tokio::sync::Notify>);

impl ReloadHandle {
    /// Requests a reload.
    pub fn reload(&self) {
        self.0.notify_one();
    }
}

/// Binds and serves until `shutdown` is cancelled.
pub async fn run(config: Config, shutdown: CancellationToken) -> Result<(), RelayError> {
    Relay::bind(config).await?.serve(shutdown).await
}

async fn refuse_new(endpoint: quinn::Endpoint, metrics: Arc<Metrics>) {
    while let Some(incoming) = endpoint.accept().await {
        metrics.handshake(HandshakeOutcome::Refused);
        info!(event = "link.refused", remote = %incoming.remote_address(), "link refused: relay is draining");
        incoming.refuse();
    }
}

/// Serves the admin API on `listener` until `stop`: only for its own
/// `Host` values, with the connection timeouts of `[admin]`.
async fn serve_admin(
    listener: TcpListener,
    config: crate::config::AdminConfig,
    state: AdminState,
    stop: CancellationToken,
) {
    let addr = match listener.local_addr() {
        Ok(addr) => {
            info!(event = "admin.serving", admin_addr = %addr, "admin listener serving");
            addr
        }
        Err(e) => {
            warn!(error = %e, "admin listener address unknown; its Host is [admin] listen");
            config.listen
        }
    };
    http::serve(listener, None, admin::served(state, &config, addr), stop).await;
}
