//! What the HTTP handlers share: config, link registry, credentials and
//! session keys, with the small decisions that need them.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::http::{HeaderMap, header};
use sallyport_protocol::ServerName;

use crate::auth::{Authenticator, Principal};
use crate::config::HttpConfig;
use crate::http::error::HttpError;
use crate::http::wire::ErrorKind;
use crate::policy::{Bound, Policy, Target};
use crate::registry::{Registry, Route};
use crate::session::{NewSession, SessionClaims, SessionError, Sessions, unix_now};
use crate::shares::StreamPermit;

/// `Retry-After` of a caller over its stream share: streams end at no
/// predictable time, so a short, fixed wait.
const SHARE_RETRY_AFTER_SECS: u64 = 2;

/// State shared by every HTTP handler.
#[derive(Debug)]
pub(crate) struct AppState {
    pub http: HttpConfig,
    /// `Host` values naming the listener's own address.
    pub local_hosts: Vec<String>,
    pub registry: Arc<Registry>,
    /// The credential store in force; swapped whole on reload.
    pub auth: arc_swap::ArcSwap<Authenticator>,
    /// Each principal's share of requests in flight and open streams.
    pub shares: crate::shares::StreamShares,
    /// Minting and resuming sessions.
    pub sessions: Sessions,
    /// Every server some `[[connector]]` entry grants: the relay's catalogue.
    pub servers: BTreeSet<ServerName>,
    pub max_frame: usize,
    pub next_id: AtomicU64,
    /// The policy in force; swapped whole on reload.
    pub policy: arc_swap::ArcSwap<crate::policy::Policy>,
    /// Per-principal quotas.
    pub limiter: crate::limits::RateLimiter,
    /// Audit log and metrics.
    pub recorder: crate::http::trail::Recorder,
    /// Re-checks a connection's client certificate against the trust in
    /// force, when the listener asks for client certificates.
    pub client_cert_check: Option<CertCheck>,
}

impl AppState {
    pub fn next_request_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Whether `server` is in the relay's catalogue.
    pub fn knows(&self, server: &ServerName) -> bool {
        self.servers.contains(server)
    }

    /// Authenticates the caller, or answers 401 with the challenge that
    /// points at the protected resource metadata. Runs before the server
    /// is looked up, so `known` is `None` for a name that is not in the
    /// catalogue: such a caller gets the same 401 as for a real server
    /// (names cannot be enumerated without credentials).
    pub async fn authenticate(
        &self,
        headers: &HeaderMap,
        client_cert: Option<&crate::http::ClientCert>,
        known: Option<&ServerName>,
        policy: &Arc<Policy>,
    ) -> Result<Principal, HttpError> {
        // One store for the whole request, even if a reload swaps it.
        let auth = self.auth.load_full();
        let value = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        // A bearer token wins; without one, a verified client certificate
        // (from `sallyport pki issue client`) names the caller.
        if let (None, Some(cert)) = (value, client_cert) {
            // Checked again per request: the connection may have outlived a
            // revocation (SIGHUP re-reads the CRL).
            if let Some(check) = &self.client_cert_check
                && !check.passes(&cert.0)
            {
                tracing::info!("client certificate no longer trusted (revoked or expired)");
                return Err(HttpError::new(
                    ErrorKind::Unauthenticated,
                    "unauthorized: the client certificate is no longer trusted",
                ));
            }
            return auth.authenticate_client_cert(&cert.0).map_err(|e| {
                HttpError::new(ErrorKind::Unauthenticated, format!("unauthorized: {e}"))
            });
        }
        // The exact endpoint URL: a JWT's `aud` must name it or public_url.
        let public = &self.http.public_url;
        let resource = known.map(|server| public.resource(server));
        if let (None, Some(server)) = (value, known) {
            // No credentials: only an opt-in `anonymous = true` binding
            // lets such a caller in.
            if Bound::anonymous(Arc::clone(policy)).allows(server, Target::Server) {
                return Ok(Principal::anonymous());
            }
        }
        let resource = resource.as_deref().unwrap_or(public.as_str());
        auth.authenticate(value, resource).await.map_err(|e| {
            let mut err = HttpError::new(
                if e.status() == 503 {
                    ErrorKind::AuthUnavailable
                } else {
                    ErrorKind::Unauthenticated
                },
                format!("unauthorized: {e}"),
            );
            let metadata = public.metadata_url(known);
            err.challenge = Some(match e.challenge_error() {
                None => format!("Bearer resource_metadata=\"{metadata}\""),
                Some(code) => {
                    format!("Bearer error=\"{code}\", resource_metadata=\"{metadata}\"")
                }
            });
            err
        })
    }

    /// Takes one of `principal`'s streams (`[limits]
    /// max_streams_per_principal`) for this request until its response
    /// ends, or answers 429 with `Retry-After` when it holds its share.
    pub fn admit(&self, principal: &Principal) -> Result<StreamPermit, HttpError> {
        let agent = principal.agent.as_deref();
        self.shares
            .try_acquire(&principal.subject, agent)
            .map_err(|e| {
                tracing::warn!(
                    event = "share.exhausted",
                    user = %principal.subject,
                    agent = agent.unwrap_or(""),
                    held = e.held,
                    max = e.max,
                    "stream share exhausted"
                );
                let mut err = HttpError::new(
                    ErrorKind::ShareExhausted,
                    format!("too many requests and streams open: {e}; close one and retry"),
                );
                err.retry_after = Some(SHARE_RETRY_AFTER_SECS);
                err.with_rule(format!("[limits] max_streams_per_principal = {}", e.max))
            })
    }

    /// The least loaded link for a new session or stateless request.
    pub fn pick(&self, server: &ServerName) -> Result<Route, HttpError> {
        self.registry.pick(server).ok_or_else(|| {
            let mut e = HttpError::new(
                ErrorKind::NoConnector,
                format!("no connector serving {server} is connected"),
            );
            e.retry_after = Some(5);
            e
        })
    }

    /// Opens the caller's session id and finds the link to its connector.
    /// Every failure is a 404 (400 when the header is missing), so a caller
    /// cannot tell a forged id from an expired one.
    pub fn resume(
        &self,
        headers: &HeaderMap,
        server: &ServerName,
        principal: &Principal,
    ) -> Result<(Route, SessionClaims), HttpError> {
        let token = headers
            .get(sallyport_mcp::headers::SESSION_ID)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| {
                HttpError::new(
                    ErrorKind::SessionMissing,
                    "missing Mcp-Session-Id: send initialize first",
                )
            })?;
        let not_found = || {
            HttpError::new(
                ErrorKind::SessionNotFound,
                "session not found: initialize a new session",
            )
        };
        let claims = self
            .sessions
            .resume(token, server, principal, unix_now())
            .map_err(|e| {
                match e {
                    SessionError::Mismatch => tracing::warn!("{e}"),
                    e => tracing::info!(reason = %e, "session id refused"),
                }
                not_found()
            })?;
        let route = self
            .registry
            .route_to(claims.instance, server)
            .ok_or_else(|| {
                tracing::info!(instance = claims.instance, "session's connector is gone");
                not_found()
            })?;
        Ok((route, claims))
    }

    /// Mints the id of `principal`'s new session, or answers 500.
    pub fn mint(&self, session: NewSession, principal: &Principal) -> Result<String, HttpError> {
        self.sessions
            .mint(session, principal, unix_now())
            .map_err(|e| HttpError::new(ErrorKind::Internal, format!("cannot mint session: {e}")))
    }
}

/// Whether a client certificate (leaf, DER) passes.
type CheckFn = dyn Fn(&[u8]) -> bool + Send + Sync;

/// A check of a client certificate against the current trust.
#[derive(Clone)]
pub(crate) struct CertCheck(Arc<CheckFn>);

impl CertCheck {
    pub fn new(check: impl Fn(&[u8]) -> bool + Send + Sync + 'static) -> Self {
        Self(Arc::new(check))
    }

    pub fn passes(&self, leaf_der: &[u8]) -> bool {
        (self.0)(leaf_der)
    }
}

impl std::fmt::Debug for CertCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CertCheck")
    }
}
