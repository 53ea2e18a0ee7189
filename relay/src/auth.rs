//! Who is calling: authentication of remote clients (DESIGN §3).
//!
//! [`Authenticator::authenticate`] takes the `Authorization` header and the
//! exact URL the request targets, and accepts:
//!
//! - **API keys** (`sp_…`, `[[api_key]]`): hashed and compared in constant
//!   time with every entry ([`ApiKeyEntry`]).
//! - **JWTs** from the relay's own issuer (tokens minted by `sallyport pki
//!   token`, verified with `token.pub`) and from each `[[auth.idp]]`
//!   (keys from a JWKS endpoint, a JWKS file or a PEM file), checked for
//!   issuer, key, algorithm, signature, expiry and audience ([`AuthConfig`]).
//!
//! [`principal_from_client_cert`] names the caller of an mTLS connection.
//!
//! The token itself is never stored, logged, returned in an error or passed
//! upstream. Every refusal is a typed [`AuthError`] that knows its HTTP
//! status and `WWW-Authenticate` error code.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

mod api_key;
mod claims;
mod config;
mod error;
mod issuer;
mod jwks;
mod jwt;
mod keys;
mod mtls;
mod reload;
#[cfg(test)]
mod tests;

pub(crate) use api_key::decode_hex32;
pub use api_key::{API_KEY_PREFIX, ApiKeyEntry};
pub use config::{
    AgentClaim, AuthConfig, DEFAULT_GROUPS_CLAIM, DEFAULT_LEEWAY_SECS, IdpConfig, MAX_LEEWAY_SECS,
};
pub use error::{AuthError, AuthSetupError};
pub use jwks::{MIN_REFRESH_INTERVAL, REFRESH_AFTER};
pub use mtls::principal_from_client_cert;

use api_key::ApiKeys;
use issuer::{Issuer, KeySource};

/// An authenticated caller: the user (or service) and the agent acting for
/// it. `Debug` only; it holds no secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The user or service subject (`sub`, the API key's subject, or the
    /// client certificate's name).
    pub subject: String,
    /// Groups, for policy bindings.
    pub groups: Vec<String>,
    /// The acting agent, when known.
    pub agent: Option<String>,
    /// How the caller proved who it is.
    pub method: AuthMethod,
}

/// How a [`Principal`] was authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthMethod {
    /// A static API key (`[[api_key]]`).
    ApiKey,
    /// A JWT from this issuer.
    Jwt {
        /// The token's `iss`.
        issuer: String,
    },
    /// An mTLS client certificate.
    ClientCert {
        /// The certificate's SPIFFE ID.
        spiffe_id: String,
    },
    /// No credential (only where policy allows anonymous callers).
    Anonymous,
}

impl Principal {
    /// The unauthenticated caller: subject `anonymous`, no groups, method
    /// [`AuthMethod::Anonymous`]. Policy must decide on `method`, not on the
    /// subject text.
    pub fn anonymous() -> Self {
        Self {
            subject: "anonymous".into(),
            groups: Vec::new(),
            agent: None,
            method: AuthMethod::Anonymous,
        }
    }

    /// Whether this is [`Principal::anonymous`].
    pub fn is_anonymous(&self) -> bool {
        self.method == AuthMethod::Anonymous
    }
}

/// The relay's credential store: API keys and trusted token issuers.
///
/// Cheap to clone (issuers and their key caches are shared).
#[derive(Debug, Clone, Default)]
pub struct Authenticator {
    api_keys: ApiKeys,
    issuers: Arc<Vec<Issuer>>,
    leeway: u64,
    public_url: Option<String>,
    trust_domain: Option<String>,
}

impl Authenticator {
    /// Builds the store from `[[api_key]]` and `[auth]` (paths already
    /// resolved with [`AuthConfig::resolve`]): validates the configuration
    /// and reads every key file. JWKS endpoints are not contacted; they are
    /// fetched on the first token (use [`Authenticator::load`] to fetch at
    /// start).
    ///
    /// `trust_domain_hint` (e.g. `acme.internal`, from the relay's
    /// certificate) gives the default issuer of `sallyport pki token`
    /// tokens, `sallyport:<trust-domain>`, and the trust domain client
    /// certificates must belong to; `[auth] token_issuer` overrides the
    /// former.
    pub fn new(
        api_keys: &[ApiKeyEntry],
        auth: &AuthConfig,
        trust_domain_hint: Option<&str>,
    ) -> Result<Self, AuthSetupError> {
        let api_keys = ApiKeys::new(api_keys)?;
        auth.validate()?;
        let own_issuer = match (&auth.token_public_key, &auth.token_issuer) {
            (None, _) => None,
            (Some(_), Some(iss)) => Some(iss.clone()),
            (Some(_), None) => match trust_domain_hint {
                Some(td) => Some(format!("{}{td}", sallyport_pki::token::ISSUER_PREFIX)),
                None => {
                    return Err(AuthSetupError::invalid(
                        "[auth] token_public_key is set but the relay cannot tell its trust domain: set [auth] token_issuer = \"sallyport:<trust-domain>\" (the iss printed tokens carry)",
                    ));
                }
            },
        };
        let issuers = issuer::build(auth, own_issuer)?;
        Ok(Self {
            api_keys,
            issuers: Arc::new(issuers),
            leeway: auth.leeway(),
            public_url: None,
            trust_domain: trust_domain_hint.map(str::to_owned),
        })
    }

    /// Like [`Authenticator::new`], then fetches every JWKS endpoint
    /// concurrently. An endpoint that fails is logged and retried when a
    /// token from that issuer arrives; it does not fail the start.
    pub async fn load(
        api_keys: &[ApiKeyEntry],
        auth: &AuthConfig,
        trust_domain_hint: Option<&str>,
    ) -> Result<Self, AuthSetupError> {
        let this = Self::new(api_keys, auth, trust_domain_hint)?;
        this.prefetch().await;
        Ok(this)
    }

    /// Also accepts JWTs whose `aud` is the relay's `public_url` (e.g.
    /// `https://relay.acme.com`), besides the exact resource URL passed to
    /// [`Authenticator::authenticate`].
    pub fn with_public_url(mut self, public_url: impl Into<String>) -> Self {
        self.public_url = Some(public_url.into());
        self
    }

    /// The trusted JWT issuers, the relay's own first: the
    /// `authorization_servers` candidates for Protected Resource Metadata.
    pub fn issuers(&self) -> impl Iterator<Item = &str> {
        self.issuers.iter().map(|i| i.name.as_str())
    }

    /// How many times `issuer`'s JWKS was fetched (`None`: not a JWKS
    /// issuer), for metrics and tests.
    pub fn jwks_fetches(&self, issuer: &str) -> Option<u64> {
        self.issuers.iter().find_map(|i| match &i.keys {
            KeySource::Remote(r) if r.issuer() == issuer => Some(r.fetch_count()),
            _ => None,
        })
    }

    /// Authenticates the value of an `Authorization` header for a request
    /// to `resource`, the exact canonical URL it targets (e.g.
    /// `https://relay.acme.com/mcp/contracts`).
    ///
    /// `Bearer sp_…` is an API key; `Bearer <a>.<b>.<c>` is a JWT, accepted
    /// when its `aud` names `resource`, the `public_url` given to
    /// [`Authenticator::with_public_url`], or an audience the issuer's
    /// `[[auth.idp]]` lists; anything else is [`AuthError::Invalid`].
    pub async fn authenticate(
        &self,
        authorization: Option<&str>,
        resource: &str,
    ) -> Result<Principal, AuthError> {
        self.authenticate_at(authorization, resource, SystemTime::now())
            .await
    }

    /// [`Authenticator::authenticate`] with the clock passed in.
    pub async fn authenticate_at(
        &self,
        authorization: Option<&str>,
        resource: &str,
        now: SystemTime,
    ) -> Result<Principal, AuthError> {
        let header = authorization.ok_or(AuthError::Missing)?;
        let (scheme, token) = header.split_once(' ').ok_or(AuthError::Malformed)?;
        let token = token.trim();
        if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
            return Err(AuthError::Malformed);
        }
        if token.starts_with(API_KEY_PREFIX) {
            return self.api_keys.authenticate(token);
        }
        if !jwt::looks_like_jws(token) {
            return Err(AuthError::Invalid);
        }
        let cx = jwt::Context {
            issuers: &self.issuers,
            audiences: [resource, self.public_url.as_deref().unwrap_or("")],
            now: now
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
            leeway: self.leeway,
        };
        let result = jwt::verify(token, &cx).await;
        if let Err(reason) = &result {
            tracing::debug!(%reason, "bearer token refused");
        }
        result
    }

    /// The principal of a verified mTLS client certificate (see
    /// [`principal_from_client_cert`]); when the trust domain is known, the
    /// certificate's SPIFFE ID must be in it.
    pub fn authenticate_client_cert(&self, cert_der: &[u8]) -> Result<Principal, AuthError> {
        match &self.trust_domain {
            Some(td) => mtls::principal_in_domain(cert_der, td),
            None => principal_from_client_cert(cert_der),
        }
    }
}
