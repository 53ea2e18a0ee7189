//! Hot reload of what the HTTP side decides with: the policy (roles and
//! bindings) and the credentials (`[[api_key]]`, `[auth]`: the relay's
//! token key and every `[[auth.idp]]`). Both are re-read on SIGHUP and
//! when their file changes (mtime, polled), and swapped whole: a removed
//! key or issuer stops working at the next request, an added one works.
//! A broken file keeps what is in force, logged with the reason, and the
//! reload is counted as failed in `sallyport_policy_reloads`.
//!
//! SIGHUP also reloads the QUIC listener's TLS material ([`reload_tls`])
//! and re-checks live links against it ([`recheck_links`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tracing::{info, warn};

use crate::config::{Config, PolicySource};
use crate::http;
use crate::link::Shared;
use crate::quic;

/// Watches relay.toml and the policy file.
pub(super) struct ReloadWatch {
    /// Where the roles and bindings live.
    policy: PolicySource,
    /// relay.toml, whose `[[api_key]]` and `[auth]` are the credentials
    /// (empty when the config was not read from a file).
    config: PathBuf,
    /// The relay's certificate, whose trust domain names the issuer of
    /// `sallyport pki token` tokens.
    relay_cert: PathBuf,
    modified: [Option<SystemTime>; 2],
    interval: tokio::time::Interval,
}

impl ReloadWatch {
    pub(super) fn new(config: &Config) -> Self {
        let mut interval = tokio::time::interval(Duration::from_secs(2));
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut this = Self {
            policy: config.policy_source.clone(),
            config: config.path.clone(),
            relay_cert: config.quic.cert.clone(),
            modified: [None, None],
            interval,
        };
        this.modified = this.mtimes();
        this
    }

    pub(super) async fn tick(&mut self) {
        self.interval.tick().await;
    }

    fn mtimes(&self) -> [Option<SystemTime>; 2] {
        [self.policy.path().and_then(mtime), mtime(&self.config)]
    }

    /// Reloads when either file's mtime changed since the last reload.
    pub(super) fn reload_if_changed(&mut self, app: Option<&http::AppState>) {
        let now = self.mtimes();
        if now.iter().any(Option::is_some) && now != self.modified {
            self.reload(app);
        }
    }

    /// Re-reads the policy and the credentials; each that reads cleanly
    /// replaces the one in force. Never waits for a JWKS endpoint: new
    /// issuers' keys are fetched in the background, unchanged issuers keep
    /// their cached keys.
    pub(super) fn reload(&mut self, app: Option<&http::AppState>) {
        let Some(app) = app else { return };
        if self.policy.path().is_none() && self.config.as_os_str().is_empty() {
            return;
        }
        self.modified = self.mtimes();
        let mut ok = true;
        ok &= self.reload_policy(app);
        if !self.config.as_os_str().is_empty() {
            ok &= self.reload_credentials(app);
        }
        app.recorder.metrics.policy_reload(ok);
    }

    fn reload_policy(&self, app: &http::AppState) -> bool {
        // A policy parsed from text has no file to read again.
        let (Some(path), Some(reloaded)) = (self.policy.path(), self.policy.reload()) else {
            return true;
        };
        match reloaded {
            Ok(policy) => {
                app.policy.store(Arc::new(policy));
                info!(event = "policy.reloaded", source = %path.display(), "policy reloaded");
                true
            }
            Err(e) => {
                warn!(event = "policy.reload_failed", error = %crate::error::chain(&e), "policy reload failed; the previous policy stays in force");
                false
            }
        }
    }

    fn reload_credentials(&self, app: &http::AppState) -> bool {
        let refused = |error: &dyn std::fmt::Display| {
            warn!(
                event = "credentials.reload_failed",
                source = %self.config.display(),
                %error,
                "credentials reload failed; the previous API keys and token issuers stay in force"
            );
            false
        };
        // The whole file must be valid: a half-edited relay.toml changes
        // nothing.
        let config = match Config::load(&self.config) {
            Ok(c) => c,
            Err(e) => return refused(&e),
        };
        let trust_domain = quic::trust_domain_of(&self.relay_cert);
        let current = app.auth.load_full();
        let next = match current.reloaded(&config.api_keys, &config.auth, trust_domain.as_deref()) {
            Ok(next) => Arc::new(next),
            Err(e) => return refused(&e),
        };
        app.auth.store(Arc::clone(&next));
        info!(
            event = "credentials.reloaded",
            source = %self.config.display(),
            api_keys = next.api_key_count(),
            issuers = next.issuers().count(),
            "credentials reloaded"
        );
        tokio::spawn(async move { next.prefetch().await });
        true
    }
}

fn mtime(path: &Path) -> Option<SystemTime> {
    if path.as_os_str().is_empty() {
        return None;
    }
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// Loads the QUIC certificate, bundle and CRL again; new handshakes use
/// them, and live links whose certificate no longer passes are closed. A
/// broken file keeps the previous material in force.
pub(super) fn reload_tls(endpoint: &quinn::Endpoint, shared: &Shared) {
    match quic::server_config(&shared.config.quic) {
        Ok(config) => {
            endpoint.set_server_config(Some(config));
            info!(event = "tls.reloaded", "TLS material reloaded");
            recheck_links(shared);
        }
        Err(e) => {
            warn!(event = "tls.reload_failed", error = %crate::error::chain(&e), "TLS reload failed; keeping the previous certificates and CRL")
        }
    }
}

pub(super) fn recheck_links(shared: &Shared) {
    let q = &shared.config.quic;
    let verifier = match sallyport_pki::tls::client_verifier(&q.trust_bundle, q.crl.as_deref()) {
        Ok(v) => v,
        Err(e) => {
            warn!(error = %crate::error::chain(&e), "cannot re-check live links");
            return;
        }
    };
    let now = rustls::pki_types::UnixTime::now();
    let closed = shared.registry.revalidate(|cert| {
        verifier
            .verify_client_cert(cert, &[], now)
            .map(|_| ())
            .map_err(|e| e.to_string())
    });
    if closed > 0 {
        info!(closed, "links closed after re-checking certificates");
    }
}
