//! The host a request is for, by RFC 9112 §3.2 (HTTP/1.1: exactly one
//! `Host`; an absolute-form target's authority wins over it) and RFC 9113
//! §8.3.1 (HTTP/2: `:authority`, which a `Host` field must not contradict).
//! Every route of both listeners goes through [`require_host`] before any
//! handler, so the allowed-host checks always see the host the request is
//! really for.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::uri::Authority;
use axum::http::{HeaderMap, HeaderValue, Uri, Version, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tracing::info;

use crate::http::error::HttpError;
use crate::http::guard;
use crate::http::state::AppState;
use crate::http::wire::ErrorKind;

/// The lowercase `host[:port]` `uri` and `headers` name, or a 400 saying
/// why the request has no single valid host.
pub fn request_host(version: Version, uri: &Uri, headers: &HeaderMap) -> Result<String, HttpError> {
    let bad = |msg: String| HttpError::new(ErrorKind::BadHeader, msg);
    let mut fields = headers.get_all(header::HOST).iter();
    let field = fields.next();
    if fields.next().is_some() {
        return Err(bad("more than one Host header".into()));
    }
    let field = field
        .map(|v| {
            v.to_str()
                .ok()
                .and_then(|s| s.parse::<Authority>().ok())
                .filter(|a| !a.as_str().contains('@'))
                .ok_or_else(|| bad("the Host header is not a valid host[:port]".into()))
        })
        .transpose()?;
    let target = uri
        .authority()
        .map(|a| {
            if a.as_str().contains('@') {
                Err(bad(
                    "the request target's authority holds user information".into()
                ))
            } else {
                Ok(a.clone())
            }
        })
        .transpose()?;
    let host = match version {
        Version::HTTP_2 | Version::HTTP_3 => match (target, field) {
            (Some(target), Some(field))
                if !target.as_str().eq_ignore_ascii_case(field.as_str()) =>
            {
                return Err(bad(format!(
                    "the Host header {:?} disagrees with :authority {:?}",
                    field.as_str(),
                    target.as_str()
                )));
            }
            (Some(target), _) => target,
            (None, Some(field)) => field,
            (None, None) => return Err(bad("the request has neither :authority nor Host".into())),
        },
        Version::HTTP_11 => match (target, field) {
            (_, None) => return Err(bad("an HTTP/1.1 request needs a Host header".into())),
            // RFC 9112 §3.2.2: the absolute-form target's authority wins.
            (Some(target), Some(_)) => target,
            (None, Some(field)) => field,
        },
        // HTTP/1.0 does not require Host, but without a host there is
        // nothing to check it against: refused rather than served.
        _ => match target.or(field) {
            Some(host) => host,
            None => return Err(bad("the request names no host (send a Host header)".into())),
        },
    };
    Ok(host.as_str().to_ascii_lowercase())
}

/// The host of `req` ([`request_host`]), also written into its `Host`
/// header so the handlers' checks see exactly that host; the refusal
/// otherwise, logged with the peer's address.
pub fn settle_host(req: &mut Request) -> Result<String, HttpError> {
    let host = request_host(req.version(), req.uri(), req.headers()).inspect_err(|e| {
        info!(remote = %remote(req), status = e.status().as_u16(), reason = %e.message, "request refused: Host");
    })?;
    let value = HeaderValue::from_str(&host)
        .map_err(|_| HttpError::new(ErrorKind::BadHeader, "the host is not valid text"))?;
    req.headers_mut().insert(header::HOST, value);
    Ok(host)
}

/// The peer's address (put in the request by the listener), for logs.
pub fn remote(req: &Request) -> String {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "unknown".to_owned(), |c| c.0.to_string())
}

/// The public router's first layer: the RFC rules (400), then the host
/// must be this relay's (403: `public_url`'s host, `allowed_hosts`, or the
/// listener's own literals).
pub async fn require_host(
    State(app): State<Arc<AppState>>,
    mut req: Request,
    next: Next,
) -> Response {
    let host = match settle_host(&mut req) {
        Ok(host) => host,
        Err(e) => return e.into_response(),
    };
    if let Err(e) = guard::check_host(&app.http, &app.local_hosts, &host) {
        info!(remote = %remote(&req), %host, "request refused: not this relay's host");
        return e.into_response();
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    use super::*;

    fn host(version: Version, uri: &str, hosts: &[&'static str]) -> Result<String, StatusCode> {
        let mut headers = HeaderMap::new();
        for h in hosts {
            headers.append(header::HOST, HeaderValue::from_static(h));
        }
        let uri: Uri = uri.parse().expect("uri");
        request_host(version, &uri, &headers).map_err(|e| e.status())
    }

    #[test]
    fn http1_needs_exactly_one_valid_host() {
        let v = Version::HTTP_11;
        assert_eq!(
            host(v, "/mcp/x", &["Relay.Acme.com:8443"]).as_deref(),
            Ok("relay.acme.com:8443")
        );
        for bad in [
            host(v, "/mcp/x", &[]),
            host(v, "/mcp/x", &["relay.acme.com", "relay.acme.com"]),
            host(v, "/mcp/x", &["relay.acme.com", "evil.com"]),
            host(v, "/mcp/x", &["user@relay.acme.com"]),
            host(v, "/mcp/x", &["relay acme"]),
            host(v, "/mcp/x", &[""]),
            host(v, "http://relay.acme.com/mcp/x", &[]),
        ] {
            assert_eq!(bad, Err(StatusCode::BAD_REQUEST));
        }
        // Absolute form: the target's authority is the host.
        assert_eq!(
            host(v, "http://evil.com/mcp/x", &["relay.acme.com"]).as_deref(),
            Ok("evil.com")
        );
        assert_eq!(
            host(v, "http://u@relay.acme.com/mcp/x", &["relay.acme.com"]),
            Err(StatusCode::BAD_REQUEST)
        );
        assert_eq!(
            host(Version::HTTP_10, "/x", &[]),
            Err(StatusCode::BAD_REQUEST)
        );
        assert_eq!(host(Version::HTTP_10, "/x", &["a.b"]).as_deref(), Ok("a.b"));
    }

    #[test]
    fn http2_authority_is_the_host() {
        let v = Version::HTTP_2;
        assert_eq!(
            host(v, "https://Relay.acme.com/mcp/x", &[]).as_deref(),
            Ok("relay.acme.com")
        );
        assert_eq!(
            host(v, "https://relay.acme.com/mcp/x", &["RELAY.acme.com"]).as_deref(),
            Ok("relay.acme.com")
        );
        assert_eq!(
            host(v, "https://evil.com/mcp/x", &[]).as_deref(),
            Ok("evil.com")
        );
        assert_eq!(
            host(v, "/mcp/x", &["relay.acme.com"]).as_deref(),
            Ok("relay.acme.com")
        );
        for bad in [
            host(v, "https://relay.acme.com/mcp/x", &["evil.com"]),
            host(
                v,
                "https://relay.acme.com/mcp/x",
                &["relay.acme.com", "relay.acme.com"],
            ),
            host(v, "/mcp/x", &[]),
        ] {
            assert_eq!(bad, Err(StatusCode::BAD_REQUEST));
        }
    }
}
