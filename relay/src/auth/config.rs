//! `[auth]` and `[[auth.idp]]`: which token issuers the relay trusts.
//!
//! ```toml
//! [auth]
//! token_public_key = "pki/token.pub"   # tokens from `sallyport pki token`
//! # token_issuer = "sallyport:acme.internal"   # default: from the trust domain
//! # leeway_secs = 60                           # clock skew for exp/nbf, at most 300
//!
//! [[auth.idp]]
//! issuer = "https://login.acme.com"
//! jwks_url = "https://login.acme.com/.well-known/jwks.json"  # or jwks_file, or public_key_pem
//! audience = ["api://sallyport"]   # accepted besides the relay's URLs
//! groups_claim = "groups"          # array, or space/comma-separated string
//! agent_claim = "azp"              # azp | client_id | act.sub | agent
//! algorithms = ["RS256"]           # default: whatever the keys' types allow
//! ```

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use jsonwebtoken::Algorithm;
use serde::{Deserialize, Deserializer};

use super::AuthSetupError;

/// `leeway_secs` when not given.
pub const DEFAULT_LEEWAY_SECS: u64 = 60;
/// The largest `leeway_secs` accepted.
pub const MAX_LEEWAY_SECS: u64 = 300;
/// `groups_claim` when not given.
pub const DEFAULT_GROUPS_CLAIM: &str = "groups";

/// `[auth]`: JWT issuers. API keys stay in `[[api_key]]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// `token.pub` from `sallyport pki init`: one or more Ed25519 `PUBLIC
    /// KEY` sections (old and new while rotating). Enables tokens minted by
    /// `sallyport pki token`.
    #[serde(default)]
    pub token_public_key: Option<PathBuf>,
    /// The `iss` of those tokens; default `sallyport:<trust-domain>`.
    #[serde(default)]
    pub token_issuer: Option<String>,
    /// External OIDC / OAuth issuers.
    #[serde(default)]
    pub idp: Vec<IdpConfig>,
    /// Clock skew tolerated on `exp`, `nbf` and `iat`, in seconds
    /// (default 60, at most 300).
    #[serde(default)]
    pub leeway_secs: Option<u64>,
}

/// One `[[auth.idp]]`: an external issuer and where its keys are.
/// (`Default` is for building one in code; an empty issuer does not
/// validate.)
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdpConfig {
    /// The exact `iss` of its tokens.
    pub issuer: String,
    /// JWKS endpoint: `https://` (or `http://` on a loopback address).
    /// Fetched at start and again when a token names an unknown `kid`.
    #[serde(default)]
    pub jwks_url: Option<String>,
    /// A JWKS document on disk.
    #[serde(default)]
    pub jwks_file: Option<PathBuf>,
    /// A PEM file of one or more `PUBLIC KEY` sections (RSA, EC P-256/P-384
    /// or Ed25519).
    #[serde(default)]
    pub public_key_pem: Option<PathBuf>,
    /// PEM CA certificates trusted for `jwks_url` besides the system roots
    /// (an IdP behind a private CA).
    #[serde(default)]
    pub jwks_ca: Option<PathBuf>,
    /// Audiences accepted besides the relay's `public_url` and the exact
    /// endpoint URL (e.g. an API identifier such as `api://sallyport`).
    #[serde(default, deserialize_with = "one_or_many")]
    pub audience: Vec<String>,
    /// The claim holding the groups (default `groups`); an array of strings
    /// or a space- or comma-separated string. A dotted name such as
    /// `realm_access.roles` is looked up as a path when no claim has that
    /// exact name.
    #[serde(default)]
    pub groups_claim: Option<String>,
    /// The claim naming the acting agent; default: `act.sub`, then `azp`,
    /// then `client_id`.
    #[serde(default)]
    pub agent_claim: Option<AgentClaim>,
    /// Accepted `alg` values; default: every algorithm the keys' types
    /// support. `none` and HMAC (`HS*`) are never accepted.
    #[serde(default)]
    pub algorithms: Option<Vec<String>>,
}

/// Where the acting agent is read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum AgentClaim {
    /// `azp`: the OAuth client the token was issued to (OIDC).
    #[serde(rename = "azp")]
    Azp,
    /// `client_id` (RFC 9068 access tokens).
    #[serde(rename = "client_id")]
    ClientId,
    /// `act.sub`: the actor of a delegated token (RFC 8693).
    #[serde(rename = "act.sub")]
    ActSub,
    /// `agent`: as in tokens from `sallyport pki token`.
    #[serde(rename = "agent")]
    Agent,
}

impl AgentClaim {
    /// The order tried when `agent_claim` is not set.
    pub const DEFAULT_ORDER: [AgentClaim; 3] =
        [AgentClaim::ActSub, AgentClaim::Azp, AgentClaim::ClientId];

    /// The configuration spelling.
    pub fn name(self) -> &'static str {
        match self {
            AgentClaim::Azp => "azp",
            AgentClaim::ClientId => "client_id",
            AgentClaim::ActSub => "act.sub",
            AgentClaim::Agent => "agent",
        }
    }
}

fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
    })
}

impl AuthConfig {
    /// Makes every relative path relative to `base_dir` (the directory of
    /// the configuration file).
    pub fn resolve(mut self, base_dir: &Path) -> Self {
        let fix = |p: &mut Option<PathBuf>| {
            if let Some(path) = p.as_mut().filter(|p| p.is_relative()) {
                *path = base_dir.join(&*path);
            }
        };
        fix(&mut self.token_public_key);
        for idp in &mut self.idp {
            fix(&mut idp.jwks_file);
            fix(&mut idp.public_key_pem);
            fix(&mut idp.jwks_ca);
        }
        self
    }

    /// Whether no JWT issuer is configured.
    pub fn is_empty(&self) -> bool {
        self.token_public_key.is_none() && self.idp.is_empty()
    }

    /// The clock-skew leeway in seconds.
    pub fn leeway(&self) -> u64 {
        self.leeway_secs.unwrap_or(DEFAULT_LEEWAY_SECS)
    }

    /// Checks everything that can be checked without reading files or the
    /// network; each message names the key at fault.
    pub fn validate(&self) -> Result<(), AuthSetupError> {
        let invalid = |m: String| Err(AuthSetupError::Invalid(m));
        if self.leeway() > MAX_LEEWAY_SECS {
            return invalid(format!(
                "[auth] leeway_secs = {} is too large (at most {MAX_LEEWAY_SECS})",
                self.leeway()
            ));
        }
        if let Some(iss) = &self.token_issuer {
            if self.token_public_key.is_none() {
                return invalid(
                    "[auth] token_issuer is set but token_public_key is not: set token_public_key = \"pki/token.pub\" or remove token_issuer".into(),
                );
            }
            check_text("[auth] token_issuer", iss)?;
        }
        let mut seen: Vec<&str> = Vec::new();
        for idp in &self.idp {
            idp.validate()?;
            if seen.contains(&idp.issuer.as_str()) {
                return invalid(format!(
                    "[[auth.idp]] issuer {:?} is listed twice",
                    idp.issuer
                ));
            }
            if self.token_issuer.as_deref() == Some(idp.issuer.as_str()) {
                return invalid(format!(
                    "[[auth.idp]] issuer {:?} is also [auth] token_issuer",
                    idp.issuer
                ));
            }
            seen.push(&idp.issuer);
        }
        Ok(())
    }
}

impl IdpConfig {
    fn validate(&self) -> Result<(), AuthSetupError> {
        check_text("[[auth.idp]] issuer", &self.issuer)?;
        let at = format!("[[auth.idp]] {}", self.issuer);
        let sources = [
            self.jwks_url.is_some(),
            self.jwks_file.is_some(),
            self.public_key_pem.is_some(),
        ];
        if sources.iter().filter(|s| **s).count() != 1 {
            return Err(AuthSetupError::invalid(format!(
                "{at}: set exactly one of jwks_url, jwks_file or public_key_pem"
            )));
        }
        if let Some(url) = &self.jwks_url {
            check_jwks_url(url).map_err(|e| AuthSetupError::invalid(format!("{at}: {e}")))?;
        }
        if self.jwks_ca.is_some() && self.jwks_url.is_none() {
            return Err(AuthSetupError::invalid(format!(
                "{at}: jwks_ca applies only with jwks_url"
            )));
        }
        for aud in &self.audience {
            check_text(&format!("{at}: audience"), aud)?;
        }
        if let Some(claim) = &self.groups_claim {
            check_text(&format!("{at}: groups_claim"), claim)?;
        }
        if let Some(algs) = &self.algorithms {
            if algs.is_empty() {
                return Err(AuthSetupError::invalid(format!(
                    "{at}: algorithms must not be empty (omit it to allow what the keys support)"
                )));
            }
            for alg in algs {
                parse_algorithm(alg)
                    .map_err(|e| AuthSetupError::invalid(format!("{at}: algorithms: {e}")))?;
            }
        }
        Ok(())
    }

    /// The configured algorithms, parsed (after [`AuthConfig::validate`]).
    pub(crate) fn allowed_algorithms(&self) -> Option<Vec<Algorithm>> {
        self.algorithms.as_ref().map(|algs| {
            algs.iter()
                .filter_map(|a| parse_algorithm(a).ok())
                .collect()
        })
    }
}

fn check_text(what: &str, value: &str) -> Result<(), AuthSetupError> {
    if value.trim().is_empty() || value.chars().any(char::is_control) {
        return Err(AuthSetupError::invalid(format!(
            "{what} must be non-empty text without control characters"
        )));
    }
    Ok(())
}

/// An asymmetric JWS algorithm name; `none`, `HS*` and unknown names are
/// refused with the reason.
pub(crate) fn parse_algorithm(name: &str) -> Result<Algorithm, String> {
    Ok(match name {
        "RS256" => Algorithm::RS256,
        "RS384" => Algorithm::RS384,
        "RS512" => Algorithm::RS512,
        "PS256" => Algorithm::PS256,
        "PS384" => Algorithm::PS384,
        "PS512" => Algorithm::PS512,
        "ES256" => Algorithm::ES256,
        "ES384" => Algorithm::ES384,
        "EdDSA" => Algorithm::EdDSA,
        n if n.eq_ignore_ascii_case("none") => {
            return Err("\"none\" (unsigned tokens) is never allowed".into());
        }
        n if n.starts_with("HS") => {
            return Err(format!(
                "{n:?}: HMAC (shared-secret) algorithms are never allowed; use the IdP's asymmetric keys"
            ));
        }
        n => {
            return Err(format!(
                "unknown algorithm {n:?} (expected RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384 or EdDSA)"
            ));
        }
    })
}

/// `https://` anywhere, `http://` only on a loopback host.
pub(crate) fn check_jwks_url(url: &str) -> Result<reqwest::Url, String> {
    let parsed =
        reqwest::Url::parse(url).map_err(|e| format!("jwks_url {url:?} is not a URL: {e}"))?;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(format!("jwks_url {url:?} must not contain credentials"));
    }
    let Some(host) = parsed.host_str().filter(|h| !h.is_empty()) else {
        return Err(format!("jwks_url {url:?} has no host"));
    };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = host.eq_ignore_ascii_case("localhost")
        || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    match parsed.scheme() {
        "https" => Ok(parsed),
        "http" if loopback => Ok(parsed),
        "http" => Err(format!(
            "jwks_url {url:?} must use https:// (plain http:// is allowed only for loopback addresses, for tests): keys fetched in clear text could be replaced in transit"
        )),
        other => Err(format!(
            "jwks_url {url:?}: unsupported scheme {other:?} (expected https://)"
        )),
    }
}
