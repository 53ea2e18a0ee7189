//! Rebuilding the credential store when `relay.toml` is read again
//! (SIGHUP or a change of the file): the new store replaces the old one
//! whole, so a removed API key or issuer stops working at the next
//! request and an added one works.

use super::issuer::KeySource;
use super::{ApiKeyEntry, AuthConfig, AuthSetupError, Authenticator};

impl Authenticator {
    /// A new store from a re-read `[[api_key]]` and `[auth]`, as
    /// [`Authenticator::new`] builds it, with this store's `public_url`.
    /// A JWKS issuer whose endpoint and algorithms are unchanged keeps its
    /// cached keys and refresh schedule, so nothing is fetched for it; the
    /// JWKS of new issuers are fetched by [`Authenticator::prefetch`] (or
    /// on their first token). Fails, with the reason, on anything
    /// [`Authenticator::new`] refuses; the caller then keeps this store.
    pub fn reloaded(
        &self,
        api_keys: &[ApiKeyEntry],
        auth: &AuthConfig,
        trust_domain_hint: Option<&str>,
    ) -> Result<Self, AuthSetupError> {
        let mut next = Self::new(api_keys, auth, trust_domain_hint)?;
        next.public_url.clone_from(&self.public_url);
        for issuer in next.issuers.iter() {
            let KeySource::Remote(fresh) = &issuer.keys else {
                continue;
            };
            let old = self.issuers.iter().find_map(|i| match &i.keys {
                KeySource::Remote(r) if r.issuer() == fresh.issuer() => Some(r),
                _ => None,
            });
            if let Some(old) = old
                && fresh.inherit(old)
            {
                tracing::debug!(issuer = %fresh.issuer(), "JWKS cache kept across reload");
            }
        }
        Ok(next)
    }

    /// Fetches, concurrently, the JWKS of every endpoint issuer that has
    /// no keys yet. An endpoint that fails is logged and retried when a
    /// token from that issuer arrives.
    pub async fn prefetch(&self) {
        let fetches = self.issuers.iter().filter_map(|i| match &i.keys {
            KeySource::Remote(remote) if !remote.is_loaded() => Some(remote.refresh_now()),
            _ => None,
        });
        for result in futures_util::future::join_all(fetches).await {
            if let Err(error) = result {
                tracing::warn!(%error, "JWT logins from this issuer fail until its JWKS can be fetched");
            }
        }
    }

    /// How many API keys are accepted.
    pub fn api_key_count(&self) -> usize {
        self.api_keys.len()
    }
}
