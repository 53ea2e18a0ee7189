//! The Streamable HTTP bridge: relays each client request to an upstream
//! MCP server over HTTP and streams its answer back.
//!
//! One [`HttpBridge`] per configured `url` server, holding one client
//! (HTTP/1.1, pooled connections driven in the request's own task; see
//! the `client` submodule). A request keeps its method; the bridge sets the
//! transport headers, forwards only the client's `Mcp-Method`, `Mcp-Name`
//! and `Mcp-Param-*` headers and only in the stateless era (the era is the
//! relay's decision, [`era`](crate::bridge::era); an unknown protocol
//! version is refused), refuses routing headers given twice, and adds the
//! configured service credentials last (the `request` submodule has the
//! exact rules). The answer's
//! status and `Mcp-Session-Id` pass through; an `application/json` body
//! passes byte for byte (bounded: a short one read whole and sent with the
//! head, a long one or one of unknown length relayed as it arrives, so the
//! connector never holds it whole); a `text/event-stream` body is parsed
//! incrementally and each event relayed as soon as it is complete.
//!
//! The bridge keeps no per-session state: the upstream owns its sessions.
//! Relay resets, link loss and shutdown drop the in-flight upstream
//! requests, which closes their connections.
//!
//! Failures returned to the link are logged there (at warn, in the
//! stream's span, which carries `server`); the bridge itself warns only of
//! failures the link cannot see: an event stream that breaks midway.

mod client;
mod dial;
mod ids;
mod remap;
mod request;
mod response;
mod scope;
mod setup;
mod sse;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use http::header::{HOST, HeaderValue, USER_AGENT};
use http_body_util::Full;
use sallyport_mcp::Era;
use sallyport_protocol::ServerName;
use sallyport_protocol::data::{Method, StreamError, StreamErrorKind};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use url::Url;

use self::client::Client;
pub use self::request::CallerHeaders;
use self::request::CallerNames;
use self::response::Inflight;
use self::scope::Scopes;
use crate::bridge::{Bridge, BridgeFuture, BridgeReply, BridgeRequest, LinkTag, stream_error};
use crate::config::Limits;
use crate::error::ConfigError;

/// Largest `application/json` body accepted from an upstream; more is an
/// [`StreamErrorKind::Overloaded`] error.
pub const MAX_JSON_BODY: usize = 64 * 1024 * 1024;
/// Largest body of another content type (an error page, say) relayed as
/// is; more is an [`StreamErrorKind::Overloaded`] error.
pub const MAX_OTHER_BODY: usize = 64 * 1024;
/// Largest server-sent event (data, id and name together): it must fit in
/// one data frame. A larger one ends the stream.
pub const MAX_EVENT: usize = 32 * 1024 * 1024;

/// Serves one MCP server reached over Streamable HTTP.
pub struct HttpBridge {
    target: Arc<Target>,
    /// The request target: path and query of the URL.
    path: http::Uri,
    /// `Host` header: the URL's host and port as written.
    host: HeaderValue,
    /// Configured headers (credentials), values marked sensitive.
    headers: http::HeaderMap,
    /// Identity forwarding; `None` (the default) sends nothing derived
    /// from the caller.
    caller: Option<CallerNames>,
    limits: Limits,
    client: Client,
    scopes: Scopes,
    /// Session era: the ids in flight per upstream session.
    ids: Arc<ids::InFlightIds>,
    /// Stateless era: the random part of the connector's own ids, and the
    /// counter of the rest (see [`remap`]).
    nonce: u64,
    next_id: std::sync::atomic::AtomicU64,
}

const AGENT: HeaderValue =
    HeaderValue::from_static(concat!("sallyport-connector/", env!("CARGO_PKG_VERSION")));

/// The upstream as named in messages and logs: never the full URL (its
/// query may hold a secret) nor a header value.
#[derive(Debug)]
struct Target {
    server: ServerName,
    /// `host:port` of the upstream URL.
    authority: String,
    /// The limit on the response head, for messages.
    timeout: std::time::Duration,
}

impl Target {
    fn error(&self, kind: StreamErrorKind, what: impl fmt::Display) -> StreamError {
        stream_error(
            kind,
            format!("{} upstream {}: {what}", self.server, self.authority),
        )
    }

    fn timed_out(&self) -> StreamError {
        self.error(
            StreamErrorKind::Upstream,
            format_args!("did not answer within {:?}", self.timeout),
        )
    }

    fn stopped(&self) -> StreamError {
        self.error(
            StreamErrorKind::Upstream,
            "request ended: link closed or connector stopping",
        )
    }
}

impl HttpBridge {
    /// A bridge to the Streamable HTTP endpoint `url`, adding `headers`
    /// (values already `${VAR}`-expanded) to every request.
    ///
    /// Refuses a URL that is not `http://` or `https://` with a host, or
    /// that holds `user:password@`; a header whose name is not an HTTP
    /// token, whose value is empty or not printable ASCII, that is given
    /// twice, or that the bridge sets itself (`Host`, `Content-Type`,
    /// `Accept`, `Mcp-Session-Id`, `MCP-Protocol-Version`,
    /// `Last-Event-ID`, hop-by-hop headers). Messages never show a value.
    ///
    /// `https://` endpoints are verified against the system trust store;
    /// if no ring provider is installed as the process default yet, this
    /// installs it.
    pub fn new(
        server: ServerName,
        url: Url,
        headers: BTreeMap<String, String>,
        limits: Limits,
    ) -> Result<HttpBridge, ConfigError> {
        let endpoint = setup::endpoint(&server, url)?;
        let headers = setup::headers(&server, &headers)?;
        let client = setup::client(&server, &endpoint, limits.upstream_timeout)?;
        let (path, host) = setup::origin_form(&server, &endpoint.url)?;
        Ok(HttpBridge {
            target: Arc::new(Target {
                server,
                authority: endpoint.authority,
                timeout: limits.upstream_timeout,
            }),
            path,
            host,
            headers,
            caller: None,
            limits,
            client,
            scopes: Scopes::default(),
            ids: Arc::default(),
            nonce: fastrand::u64(..),
            next_id: std::sync::atomic::AtomicU64::new(1),
        })
    }

    /// Sends the caller's identity upstream in the headers `caller` names
    /// (replacing any client header of those names; configured headers
    /// still win). Off unless called; a `[[server]]` turns it on with
    /// `caller_headers = { subject = "...", ... }`.
    pub fn with_caller_headers(mut self, caller: CallerHeaders) -> Result<Self, ConfigError> {
        self.caller = Some(CallerNames::new(&self.target.server, &caller)?);
        Ok(self)
    }

    async fn exchange(
        &self,
        request: BridgeRequest,
        cancel: CancellationToken,
    ) -> Result<BridgeReply, StreamError> {
        let target = &self.target;
        let era = crate::bridge::era(&request.head, None)?;
        let id = self.claim_id(&request, era)?;
        let lease = self.scopes.lease(request.origin);
        let headers = request::headers(&request.head, era, &self.headers, self.caller.as_ref())
            .map_err(|m| stream_error(StreamErrorKind::BadRequest, m))?;
        // Stateless era: the upstream sees ids of the connector's own.
        let (body, remap) = match (era, request.head.method) {
            (Era::Stateless, Method::Post) => {
                let n = self
                    .next_id
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                match remap::rewrite(&request.body, self.nonce, n) {
                    Some((body, remap)) => (body, Some(remap)),
                    None => (request.body, None),
                }
            }
            _ => (request.body, None),
        };
        let (method, body) = match request.head.method {
            Method::Post => (http::Method::POST, body),
            Method::Get => (http::Method::GET, Bytes::new()),
            Method::Delete => (http::Method::DELETE, Bytes::new()),
        };
        let mut upstream = http::Request::new(Full::new(body));
        *upstream.method_mut() = method;
        *upstream.uri_mut() = self.path.clone();
        *upstream.headers_mut() = headers;
        upstream.headers_mut().insert(HOST, self.host.clone());
        upstream.headers_mut().insert(USER_AGENT, AGENT);
        let deadline = Instant::now() + self.limits.upstream_timeout;
        // Dropping the send future (cancel, timeout) drops the request and
        // closes its connection.
        let response = tokio::select! {
            _ = cancel.cancelled() => {
                return Err(target.error(StreamErrorKind::Upstream, "request cancelled"));
            }
            _ = lease.token().cancelled() => return Err(target.stopped()),
            sent = tokio::time::timeout_at(deadline, self.client.send(upstream)) => match sent {
                Err(_) => return Err(target.timed_out()),
                Ok(Err(e)) => return Err(target.error(StreamErrorKind::Upstream, e)),
                Ok(Ok(response)) => response,
            },
        };
        let inflight = Inflight {
            target: Arc::clone(target),
            cancel,
            lease,
            deadline,
            _id: id,
            remap,
        };
        response::reply(response, inflight).await
    }

    /// In a session-era session, the id of a POSTed request is claimed
    /// until its response ends (see [`ids`]); a second request whose id the
    /// upstream could take for one in flight is refused.
    fn claim_id(
        &self,
        request: &BridgeRequest,
        era: Era,
    ) -> Result<Option<ids::IdClaim>, StreamError> {
        let (Era::Session, Method::Post, Some(session)) =
            (era, request.head.method, &request.head.session)
        else {
            return Ok(None);
        };
        let Ok(env) = sallyport_mcp::envelope::parse(&request.body) else {
            return Ok(None); // the upstream answers what it cannot parse
        };
        let Some(id) = env.id.filter(|_| env.kind == sallyport_mcp::Kind::Request) else {
            return Ok(None);
        };
        match self.ids.claim(session, id) {
            Some(claim) => Ok(Some(claim)),
            None => {
                tracing::info!(server = %self.target.server, id = id.get(), "request id already in flight in its session; refused");
                Err(stream_error(
                    StreamErrorKind::BadRequest,
                    "a request with this id (or one the MCP server would take for it) is already in flight in this session",
                ))
            }
        }
    }
}

impl fmt::Debug for HttpBridge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Header names only: the values are credentials.
        f.debug_struct("HttpBridge")
            .field("server", &self.target.server)
            .field("upstream", &self.target.authority)
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("caller_headers", &self.caller.is_some())
            .finish_non_exhaustive()
    }
}

impl Bridge for HttpBridge {
    fn handle(&self, request: BridgeRequest, cancel: CancellationToken) -> BridgeFuture<'_> {
        Box::pin(self.exchange(request, cancel))
    }

    fn link_closed(&self, origin: LinkTag) {
        // Sessions are not tied to a link (another link may carry them), so
        // only the requests in flight on it end.
        self.scopes.link_closed(origin);
    }

    fn shutdown(&self) {
        // No DELETE is sent: the bridge tracks no sessions. The relay
        // answers 404 for this connector's sessions once it is gone, clients
        // re-initialize, and the upstream expires the old sessions.
        self.scopes.shutdown();
    }
}
