//! Keys fetched from an IdP's JWKS endpoint, refreshed on demand.
//!
//! The set is fetched at start ([`RemoteJwks::refresh_now`]); an endpoint
//! that is down then only delays JWT logins from that issuer. Afterwards a
//! token whose `kid` matches no cached key (or any token while no set could
//! be loaded yet) triggers a refresh, and a set older than [`REFRESH_AFTER`]
//! is refreshed in the background. These on-demand refreshes are bounded:
//! at most one attempt per issuer per [`MIN_REFRESH_INTERVAL`] (the fetch at
//! start does not count), and concurrent callers wait for the same fetch
//! instead of starting their own. A failed refresh keeps the cached keys.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use jsonwebtoken::Algorithm;
use rustls::pki_types::CertificateDer;
use tokio::time::Instant;

use super::AuthError;
use super::keys::{self, KeySet, VerifyKey};

/// Least time between two fetches of one issuer's JWKS.
pub const MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(30);
/// Age after which a cached JWKS is refreshed in the background.
pub const REFRESH_AFTER: Duration = Duration::from_secs(15 * 60);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest JWKS document accepted.
const MAX_BODY: usize = 512 * 1024;

/// One issuer's JWKS endpoint and its cached keys.
#[derive(Debug)]
pub(crate) struct RemoteJwks {
    issuer: String,
    url: reqwest::Url,
    client: reqwest::Client,
    allowed: Option<Vec<Algorithm>>,
    state: RwLock<State>,
    /// Held while fetching: concurrent callers queue here and then see the
    /// result instead of fetching again.
    fetching: tokio::sync::Mutex<()>,
    /// Bumped after every fetch attempt.
    generation: AtomicU64,
    fetches: AtomicU64,
}

#[derive(Debug, Default, Clone)]
struct State {
    keys: Arc<KeySet>,
    loaded: bool,
    last_attempt: Option<Instant>,
    last_success: Option<Instant>,
}

impl RemoteJwks {
    pub(crate) fn new(
        issuer: String,
        url: reqwest::Url,
        client: reqwest::Client,
        allowed: Option<Vec<Algorithm>>,
    ) -> Self {
        Self {
            issuer,
            url,
            client,
            allowed,
            state: RwLock::new(State::default()),
            fetching: tokio::sync::Mutex::new(()),
            generation: AtomicU64::new(0),
            fetches: AtomicU64::new(0),
        }
    }

    pub(crate) fn issuer(&self) -> &str {
        &self.issuer
    }

    /// How many fetches were attempted.
    pub(crate) fn fetch_count(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    /// Whether a key set was ever loaded.
    pub(crate) fn is_loaded(&self) -> bool {
        self.state
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .loaded
    }

    /// Takes over `old`'s cached keys, refresh times and fetch count when
    /// it is the same endpoint of the same issuer with the same
    /// algorithms, so that a reload leaving an issuer unchanged fetches
    /// nothing (and cannot be used to hammer the IdP). Returns whether it
    /// did.
    pub(crate) fn inherit(&self, old: &RemoteJwks) -> bool {
        if self.issuer != old.issuer || self.url != old.url || self.allowed != old.allowed {
            return false;
        }
        let cached = old
            .state
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        *self.state.write().unwrap_or_else(PoisonError::into_inner) = cached;
        self.fetches.store(old.fetch_count(), Ordering::Relaxed);
        true
    }

    /// Fetches now, for start-up; does not count against the refresh
    /// interval. Failures are logged and reported.
    pub(crate) async fn refresh_now(&self) -> Result<(), String> {
        self.refresh(self.generation.load(Ordering::Acquire), false)
            .await;
        let state = self.state.read().unwrap_or_else(PoisonError::into_inner);
        if state.loaded {
            Ok(())
        } else {
            Err(format!("JWKS of {} is unavailable", self.issuer))
        }
    }

    /// The keys to try for a token with `kid`, refreshing first when no
    /// cached key can match it.
    pub(crate) async fn keys_for(
        self: &Arc<Self>,
        kid: Option<&str>,
    ) -> Result<Arc<KeySet>, AuthError> {
        let generation = self.generation.load(Ordering::Acquire);
        let (keys, stale) = self.snapshot();
        if keys.candidates(kid).next().is_some() {
            if stale {
                let this = Arc::clone(self);
                tokio::spawn(async move { this.refresh(generation, true).await });
            }
            return Ok(keys);
        }
        self.refresh(generation, true).await;
        let state = self.state.read().unwrap_or_else(PoisonError::into_inner);
        if !state.loaded {
            return Err(AuthError::JwksUnavailable);
        }
        Ok(Arc::clone(&state.keys))
    }

    fn snapshot(&self) -> (Arc<KeySet>, bool) {
        let state = self.state.read().unwrap_or_else(PoisonError::into_inner);
        let stale = state
            .last_success
            .is_none_or(|t| t.elapsed() >= REFRESH_AFTER);
        (Arc::clone(&state.keys), stale)
    }

    /// Fetches the JWKS unless another caller fetched since `seen` (the
    /// generation the caller read before deciding to refresh) or, when
    /// `on_demand`, an on-demand attempt was made within
    /// [`MIN_REFRESH_INTERVAL`].
    async fn refresh(&self, seen: u64, on_demand: bool) {
        let _guard = self.fetching.lock().await;
        if self.generation.load(Ordering::Acquire) != seen {
            return;
        }
        if on_demand {
            let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
            if state
                .last_attempt
                .is_some_and(|t| t.elapsed() < MIN_REFRESH_INTERVAL)
            {
                return;
            }
            state.last_attempt = Some(Instant::now());
        }
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let result = self.fetch().await;
        {
            let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
            match result {
                Ok(keys) => {
                    tracing::info!(issuer = %self.issuer, url = %self.url, keys = keys.len(), "JWKS loaded");
                    state.keys = Arc::new(KeySet::new(keys));
                    state.loaded = true;
                    state.last_success = Some(Instant::now());
                }
                Err(error) => tracing::warn!(
                    issuer = %self.issuer,
                    url = %self.url,
                    %error,
                    cached_keys = state.keys.len(),
                    retry_after_secs = MIN_REFRESH_INTERVAL.as_secs(),
                    "JWKS fetch failed; keeping the cached keys"
                ),
            }
        }
        self.generation.fetch_add(1, Ordering::Release);
    }

    async fn fetch(&self) -> Result<Vec<VerifyKey>, String> {
        let mut response = self
            .client
            .get(self.url.clone())
            .header(
                reqwest::header::ACCEPT,
                "application/jwk-set+json, application/json",
            )
            .send()
            .await
            .map_err(|e| error_chain(&e))?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!(
                "HTTP status {status} (redirects are not followed; configure the final URL)"
            ));
        }
        if response
            .content_length()
            .is_some_and(|n| n > MAX_BODY as u64)
        {
            return Err(format!("JWKS larger than {MAX_BODY} bytes"));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| error_chain(&e))? {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(format!("JWKS larger than {MAX_BODY} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        let (keys, skipped) = keys::from_jwks(&body)?;
        for note in skipped {
            tracing::debug!(issuer = %self.issuer, note, "JWKS key ignored");
        }
        let keys: Vec<VerifyKey> = keys
            .into_iter()
            .filter_map(|k| k.restrict(self.allowed.as_deref()))
            .collect();
        if keys.is_empty() {
            return Err("no JWKS key fits the configured algorithms".into());
        }
        Ok(keys)
    }
}

/// An HTTP client for one JWKS endpoint: ring, TLS 1.2/1.3, the system
/// roots plus `extra_roots`, no redirects, bounded time. For `http://`
/// (loopback only, checked by the config) no root store is loaded.
pub(crate) fn http_client(
    url: &reqwest::Url,
    extra_roots: Vec<CertificateDer<'static>>,
) -> Result<reqwest::Client, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let tls = if url.scheme() == "https" {
        let verifier = if extra_roots.is_empty() {
            rustls_platform_verifier::Verifier::new(provider)
        } else {
            rustls_platform_verifier::Verifier::new_with_extra_roots(extra_roots, provider)
        }
        .map_err(|e| {
            format!("{e} (install the system CA certificates, e.g. the ca-certificates package, or set jwks_ca)")
        })?;
        // Not a relaxation: the platform verifier does full WebPKI path and
        // name verification; rustls names every custom verifier "dangerous".
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth()
    } else {
        builder
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth()
    };
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(FETCH_TIMEOUT)
        .user_agent(concat!("sallyport-relay/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| error_chain(&e))
}

/// An error and its sources, e.g. "error sending request: ... invalid peer
/// certificate: UnknownIssuer".
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
