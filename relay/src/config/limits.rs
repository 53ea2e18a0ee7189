//! `[limits]` of relay.toml: every caller's share of the relay.

use serde::Deserialize;

use super::ConfigError;

/// `[limits]` of the relay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayLimits {
    /// Requests in flight plus open response streams of one principal
    /// (subject + agent) at this relay.
    pub max_streams_per_principal: u32,
}

impl Default for RelayLimits {
    fn default() -> Self {
        Self {
            max_streams_per_principal: crate::shares::DEFAULT_MAX_STREAMS_PER_PRINCIPAL,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLimits {
    pub(super) max_streams_per_principal: Option<u32>,
}

pub(super) fn relay_limits(raw: Option<RawLimits>) -> Result<RelayLimits, ConfigError> {
    let mut limits = RelayLimits::default();
    if let Some(n) = raw.and_then(|l| l.max_streams_per_principal) {
        if n == 0 {
            return Err(ConfigError::invalid(
                "[limits] max_streams_per_principal must be at least 1",
            ));
        }
        limits.max_streams_per_principal = n;
    }
    Ok(limits)
}
