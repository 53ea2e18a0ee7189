//! The one table from what went wrong on the request path to what leaves
//! the relay: HTTP status, JSON-RPC error code and the audit event.
//!
//! Every [`HttpError`](crate::http::error::HttpError) is made from an
//! [`ErrorKind`]; no other place names a status or a code for an error.

use axum::http::StatusCode;

use crate::audit::AuditEvent;
use crate::limits::RATE_LIMITED;

/// JSON-RPC error code the relay uses for "upstream unavailable".
pub const UNAVAILABLE: i64 = -32002;
/// JSON-RPC code for a caller that is not (or no longer) allowed in, and
/// for a session that does not exist.
pub const UNAUTHORIZED: i64 = -32001;
/// JSON-RPC "invalid request".
pub const INVALID_REQUEST: i64 = -32600;
/// JSON-RPC "method not found".
pub const METHOD_NOT_FOUND: i64 = -32601;
/// JSON-RPC "parse error".
pub const PARSE_ERROR: i64 = -32700;
/// JSON-RPC "internal error".
pub const INTERNAL: i64 = -32603;
/// JSON-RPC "invalid params": what an MCP server answers for an unknown
/// tool or prompt (a denied one looks the same).
pub const INVALID_PARAMS: i64 = -32602;
/// MCP "resource not found" (a denied resource looks the same).
pub const RESOURCE_NOT_FOUND: i64 = -32002;

/// What went wrong with a request, as far as the wire is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// No credentials, or credentials that do not verify.
    Unauthenticated,
    /// The token issuer's keys cannot be fetched now.
    AuthUnavailable,
    /// The caller may not use the server.
    Forbidden,
    /// The `Host` or `Origin` is not this relay's.
    HostRefused,
    /// No server of that name at this relay.
    UnknownServer,
    /// An HTTP method the endpoint does not serve.
    MethodNotAllowed,
    /// A malformed header or `Host`.
    BadHeader,
    /// A malformed message; the code is the MCP rules' own.
    Malformed(i64),
    /// A message that cannot be decided by the policy (audited as a
    /// denial); the code is the MCP rules' own.
    Undecidable(i64),
    /// The body did not arrive in time.
    BodyTimeout,
    /// The body is larger than the limit.
    BodyTooLarge,
    /// The body could not be read.
    BodyUnreadable,
    /// A session-era request without `Mcp-Session-Id`.
    SessionMissing,
    /// A session id that is forged, expired, someone else's, or whose
    /// connector is gone (all alike to the caller).
    SessionNotFound,
    /// A role's quota is spent.
    QuotaExceeded,
    /// The quota limiter holds as many callers as it may.
    LimiterFull,
    /// The caller holds its share of requests and streams in flight.
    ShareExhausted,
    /// No connector serving the server is connected.
    NoConnector,
    /// The connector link failed.
    LinkFailed,
    /// The MCP server did not answer in time.
    UpstreamTimeout,
    /// The link, connector or server is at its limit.
    Overloaded,
    /// The MCP server failed.
    UpstreamFailed,
    /// The connector refused the request as malformed.
    UpstreamRefused,
    /// The relay itself failed.
    Internal,
}

/// What an [`ErrorKind`] looks like outside the relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wire {
    /// HTTP status.
    pub status: StatusCode,
    /// JSON-RPC error code.
    pub code: i64,
    /// The audit event of a refusal; `None` for a failure (audited with
    /// decision `error`).
    pub event: Option<AuditEvent>,
}

impl ErrorKind {
    /// The table.
    pub fn wire(self) -> Wire {
        use AuditEvent::{Denial, RateLimited};
        use ErrorKind as K;
        let (status, code, event) = match self {
            K::Unauthenticated => (StatusCode::UNAUTHORIZED, UNAUTHORIZED, Some(Denial)),
            K::AuthUnavailable => (StatusCode::SERVICE_UNAVAILABLE, UNAUTHORIZED, None),
            K::Forbidden => (StatusCode::FORBIDDEN, UNAUTHORIZED, Some(Denial)),
            K::HostRefused => (StatusCode::FORBIDDEN, INVALID_REQUEST, Some(Denial)),
            K::UnknownServer => (StatusCode::NOT_FOUND, METHOD_NOT_FOUND, None),
            K::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, INVALID_REQUEST, None),
            K::BadHeader | K::SessionMissing => (StatusCode::BAD_REQUEST, INVALID_REQUEST, None),
            K::Malformed(code) => (StatusCode::BAD_REQUEST, code, None),
            K::Undecidable(code) => (StatusCode::BAD_REQUEST, code, Some(Denial)),
            K::BodyTimeout => (StatusCode::REQUEST_TIMEOUT, INVALID_REQUEST, None),
            K::BodyTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, INVALID_REQUEST, None),
            K::BodyUnreadable => (StatusCode::BAD_REQUEST, PARSE_ERROR, None),
            K::SessionNotFound => (StatusCode::NOT_FOUND, UNAUTHORIZED, None),
            K::QuotaExceeded | K::ShareExhausted => (
                StatusCode::TOO_MANY_REQUESTS,
                RATE_LIMITED,
                Some(RateLimited),
            ),
            K::LimiterFull => (
                StatusCode::SERVICE_UNAVAILABLE,
                RATE_LIMITED,
                Some(RateLimited),
            ),
            K::NoConnector | K::Overloaded => (StatusCode::SERVICE_UNAVAILABLE, UNAVAILABLE, None),
            K::LinkFailed | K::UpstreamFailed => (StatusCode::BAD_GATEWAY, UNAVAILABLE, None),
            K::UpstreamTimeout => (StatusCode::GATEWAY_TIMEOUT, UNAVAILABLE, None),
            K::UpstreamRefused => (StatusCode::BAD_REQUEST, INVALID_REQUEST, None),
            K::Internal => (StatusCode::INTERNAL_SERVER_ERROR, INTERNAL, None),
        };
        Wire {
            status,
            code,
            event,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(kind: ErrorKind) -> (u16, i64, Option<AuditEvent>) {
        let w = kind.wire();
        (w.status.as_u16(), w.code, w.event)
    }

    #[test]
    fn every_rate_quota_and_share_refusal_is_rate_limited() {
        for kind in [
            ErrorKind::QuotaExceeded,
            ErrorKind::LimiterFull,
            ErrorKind::ShareExhausted,
        ] {
            let (_, code, event) = row(kind);
            assert_eq!(code, -32029, "{kind:?}");
            assert_eq!(event, Some(AuditEvent::RateLimited), "{kind:?}");
        }
        assert_eq!(row(ErrorKind::QuotaExceeded).0, 429);
        assert_eq!(row(ErrorKind::ShareExhausted).0, 429);
        assert_eq!(row(ErrorKind::LimiterFull).0, 503);
    }

    #[test]
    fn refusals_are_denials_and_failures_are_not() {
        use AuditEvent::Denial;
        assert_eq!(row(ErrorKind::Unauthenticated), (401, -32001, Some(Denial)));
        assert_eq!(row(ErrorKind::Forbidden), (403, -32001, Some(Denial)));
        assert_eq!(row(ErrorKind::HostRefused), (403, -32600, Some(Denial)));
        assert_eq!(
            row(ErrorKind::Undecidable(-32602)),
            (400, -32602, Some(Denial))
        );
        assert_eq!(row(ErrorKind::Malformed(-32700)), (400, -32700, None));
        assert_eq!(row(ErrorKind::AuthUnavailable), (503, -32001, None));
        assert_eq!(row(ErrorKind::UnknownServer), (404, -32601, None));
        assert_eq!(row(ErrorKind::SessionNotFound), (404, -32001, None));
        assert_eq!(row(ErrorKind::SessionMissing), (400, -32600, None));
    }

    #[test]
    fn upstream_failures_map_to_gateway_statuses() {
        assert_eq!(row(ErrorKind::NoConnector), (503, UNAVAILABLE, None));
        assert_eq!(row(ErrorKind::Overloaded), (503, UNAVAILABLE, None));
        assert_eq!(row(ErrorKind::LinkFailed), (502, UNAVAILABLE, None));
        assert_eq!(row(ErrorKind::UpstreamFailed), (502, UNAVAILABLE, None));
        assert_eq!(row(ErrorKind::UpstreamTimeout), (504, UNAVAILABLE, None));
        assert_eq!(row(ErrorKind::UpstreamRefused), (400, -32600, None));
        assert_eq!(row(ErrorKind::Internal), (500, -32603, None));
        assert_eq!(row(ErrorKind::BodyTooLarge), (413, -32600, None));
        assert_eq!(row(ErrorKind::BodyTimeout), (408, -32600, None));
        assert_eq!(row(ErrorKind::BodyUnreadable), (400, -32700, None));
        assert_eq!(row(ErrorKind::MethodNotAllowed), (405, -32600, None));
    }
}
