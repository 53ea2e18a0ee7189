//! `[limits]`: bounds on what relayed clients can make the connector hold.

use std::time::Duration;

use serde::Deserialize;

use crate::error::ConfigError;

/// The per-caller share of a server's stdio sessions when
/// `max_sessions_per_caller` is not set (or `max_sessions_per_server`, if
/// that is lower).
pub const DEFAULT_SESSIONS_PER_CALLER: usize = 8;

/// Bounds on what relayed clients can make the connector hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest request body accepted from the relay.
    pub max_body: usize,
    /// Most concurrent sessions (stdio: child processes) per server.
    pub max_sessions: usize,
    /// Most of a server's stdio sessions one caller (subject and agent)
    /// may hold at once; at most `max_sessions`.
    pub max_sessions_per_caller: usize,
    /// A session unused for this long is ended (its process killed).
    pub session_idle: Duration,
    /// Time an upstream server has to answer a request.
    pub upstream_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body: 16 * 1024 * 1024,
            max_sessions: 64,
            max_sessions_per_caller: DEFAULT_SESSIONS_PER_CALLER,
            session_idle: Duration::from_secs(30 * 60),
            upstream_timeout: Duration::from_secs(300),
        }
    }
}

/// `[limits]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLimits {
    max_body_bytes: Option<usize>,
    max_sessions_per_server: Option<usize>,
    max_sessions_per_caller: Option<usize>,
    session_idle_timeout_ms: Option<u64>,
    upstream_timeout_ms: Option<u64>,
}

/// The validated limits of `raw`: defaults for what is unset; the share
/// defaults to at most the server's limit.
pub(super) fn limits(raw: &RawLimits) -> Result<Limits, ConfigError> {
    let d = Limits::default();
    let max_sessions = raw.max_sessions_per_server.unwrap_or(d.max_sessions);
    let l = Limits {
        max_body: raw.max_body_bytes.unwrap_or(d.max_body),
        max_sessions,
        max_sessions_per_caller: raw
            .max_sessions_per_caller
            .unwrap_or(d.max_sessions_per_caller.min(max_sessions)),
        session_idle: raw
            .session_idle_timeout_ms
            .map(Duration::from_millis)
            .unwrap_or(d.session_idle),
        upstream_timeout: raw
            .upstream_timeout_ms
            .map(Duration::from_millis)
            .unwrap_or(d.upstream_timeout),
    };
    let max_frame = sallyport_protocol::codec::HARD_MAX_FRAME_LEN;
    if l.max_body == 0 || l.max_body > max_frame {
        return Err(ConfigError::invalid(format!(
            "[limits] max_body_bytes must be between 1 and {max_frame}"
        )));
    }
    if l.max_sessions == 0 {
        return Err(ConfigError::invalid(
            "[limits] max_sessions_per_server must be at least 1",
        ));
    }
    if l.max_sessions_per_caller == 0 || l.max_sessions_per_caller > l.max_sessions {
        return Err(ConfigError::invalid(format!(
            "[limits] max_sessions_per_caller must be between 1 and max_sessions_per_server ({})",
            l.max_sessions
        )));
    }
    if l.session_idle.is_zero() || l.upstream_timeout.is_zero() {
        return Err(ConfigError::invalid("[limits] timeouts must be above 0"));
    }
    Ok(l)
}
