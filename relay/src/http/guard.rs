//! Checks every request passes before anything else: `Host` and `Origin`
//! (DNS rebinding and cross-site protection, 403), the body size (413)
//! and its arrival in time (408).

use axum::body::Body;
use axum::http::{HeaderMap, header};
use bytes::Bytes;

use crate::config::HttpConfig;
use crate::http::error::HttpError;
use crate::http::listener::BodyTimeout;
use crate::http::wire::ErrorKind;

/// The `Host` must be `public_url`'s host, one of `allowed_hosts`, or one
/// of `local_hosts` (the listener's own address literals); an `Origin`,
/// when present, must be `public_url`'s origin (or listed in
/// `allowed_origins`). The router's first layer (`host::require_host`)
/// has already put the request's real host (HTTP/2: `:authority`) in
/// `Host`; a request without one is refused.
pub fn check_host_and_origin(
    http: &HttpConfig,
    local_hosts: &[String],
    headers: &HeaderMap,
) -> Result<(), HttpError> {
    let forbidden = |msg: String| HttpError::new(ErrorKind::HostRefused, msg);
    let mut hosts = headers.get_all(header::HOST).iter();
    let host = hosts
        .next()
        .ok_or_else(|| forbidden("the request names no host".into()))?;
    if hosts.next().is_some() {
        return Err(HttpError::new(
            ErrorKind::BadHeader,
            "more than one Host header",
        ));
    }
    let host = host
        .to_str()
        .map_err(|_| forbidden("Host header is not valid text".into()))?
        .to_ascii_lowercase();
    check_host(http, local_hosts, &host)?;
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin
            .to_str()
            .map_err(|_| forbidden("Origin header is not valid text".into()))?
            .trim_end_matches('/')
            .to_ascii_lowercase();
        if origin != http.public_url.origin() && !http.allowed_origins.contains(&origin) {
            return Err(forbidden(format!("Origin {origin:?} is not allowed")));
        }
    }
    Ok(())
}

/// `host` (lowercase `host[:port]`) must be `public_url`'s host, one of
/// `allowed_hosts` or one of `local_hosts`: 403 otherwise.
pub fn check_host(http: &HttpConfig, local_hosts: &[String], host: &str) -> Result<(), HttpError> {
    let public_host = http.public_url.host();
    if host == public_host
        || http.allowed_hosts.iter().any(|h| h == host)
        || local_hosts.iter().any(|h| h == host)
    {
        return Ok(());
    }
    Err(HttpError::new(
        ErrorKind::HostRefused,
        format!("Host {host:?} is not this relay ({public_host:?})"),
    ))
}

/// The `Host` values that name the listener itself: its address literal,
/// and `localhost:<port>` when it is bound to loopback. An attacker's DNS
/// name (rebinding) is never among them.
pub fn local_hosts(addr: std::net::SocketAddr) -> Vec<String> {
    let port = addr.port();
    let mut hosts = Vec::new();
    if addr.ip().is_unspecified() {
        return hosts;
    }
    hosts.push(addr.to_string());
    if addr.ip().is_loopback() {
        hosts.push(format!("localhost:{port}"));
    }
    hosts
}

/// Reads the whole body, refusing more than `limit` bytes with 413 and a
/// body that did not arrive within `[http] body_timeout_ms` with 408.
pub async fn read_body(body: Body, limit: usize) -> Result<Bytes, HttpError> {
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&e);
        let mut too_large = false;
        let mut too_slow = None;
        // Bounded: an error's chain of sources is finite and short.
        while let Some(c) = cause {
            too_large |= c.is::<http_body_util::LengthLimitError>();
            too_slow = too_slow.or_else(|| c.downcast_ref::<BodyTimeout>());
            cause = c.source();
        }
        if let Some(slow) = too_slow {
            HttpError::new(ErrorKind::BodyTimeout, slow.to_string())
        } else if too_large {
            HttpError::new(
                ErrorKind::BodyTooLarge,
                format!("request body exceeds {limit} bytes"),
            )
        } else {
            HttpError::new(ErrorKind::BodyUnreadable, format!("cannot read body: {e}"))
        }
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use axum::http::{HeaderValue, StatusCode};

    use super::*;

    fn http() -> HttpConfig {
        HttpConfig {
            listen: "127.0.0.1:0".parse().expect("addr"),
            public_url: crate::config::PublicUrl::parse("https://relay.acme.com").expect("url"),
            tls: None,
            allowed_origins: vec!["https://app.acme.com".into()],
            allowed_hosts: vec!["127.0.0.1:8443".into()],
            max_body: 10,
            response_timeout: Duration::from_secs(1),
            client_certs: false,
            header_timeout: Duration::from_secs(1),
            body_timeout: Duration::from_secs(1),
            idle_timeout: Duration::from_secs(1),
        }
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn host_and_origin() {
        let c = http();
        for ok in [
            headers(&[("host", "relay.acme.com")]),
            headers(&[
                ("host", "RELAY.acme.com"),
                ("origin", "https://relay.acme.com"),
            ]),
            headers(&[
                ("host", "127.0.0.1:8443"),
                ("origin", "https://app.acme.com/"),
            ]),
        ] {
            assert!(check_host_and_origin(&c, &[], &ok).is_ok(), "{ok:?}");
        }
        for bad in [
            headers(&[("host", "evil.com")]),
            headers(&[("host", "relay.acme.com"), ("origin", "https://evil.com")]),
            headers(&[("host", "relay.acme.com"), ("origin", "null")]),
            // Fails closed: no host, nothing to check.
            headers(&[]),
        ] {
            let e = check_host_and_origin(&c, &[], &bad).expect_err("refused");
            assert_eq!(e.status(), StatusCode::FORBIDDEN, "{bad:?}");
        }
        let mut two = headers(&[("host", "relay.acme.com")]);
        two.append("host", HeaderValue::from_static("relay.acme.com"));
        let e = check_host_and_origin(&c, &[], &two).expect_err("two Host");
        assert_eq!(e.status(), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn listener_literals() {
        let c = http();
        let local = local_hosts("127.0.0.1:4000".parse().expect("addr"));
        assert_eq!(local, vec!["127.0.0.1:4000", "localhost:4000"]);
        assert!(check_host_and_origin(&c, &local, &headers(&[("host", "localhost:4000")])).is_ok());
        assert!(check_host_and_origin(&c, &local, &headers(&[("host", "evil.com:4000")])).is_err());
        assert!(local_hosts("0.0.0.0:4000".parse().expect("addr")).is_empty());
    }

    #[tokio::test]
    async fn body_limit() {
        assert_eq!(
            read_body(Body::from("0123456789"), 10)
                .await
                .expect("fits")
                .len(),
            10
        );
        let e = read_body(Body::from("0123456789X"), 10)
            .await
            .expect_err("too large");
        assert_eq!(e.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }

    #[tokio::test]
    async fn slow_body_is_408() {
        let never = http_body_util::StreamBody::new(futures_util::stream::pending::<
            Result<http_body::Frame<Bytes>, std::convert::Infallible>,
        >());
        let slow = crate::http::listener::TimedBody::new(never, Duration::from_millis(20));
        let e = read_body(Body::new(slow), 10).await.expect_err("too slow");
        assert_eq!(e.status(), StatusCode::REQUEST_TIMEOUT);
        assert_eq!(e.code(), -32600);
        assert!(e.message.contains("20 ms"), "{}", e.message);
    }
}
