//! An MCP client of the relay's router: requests go through
//! `tower::ServiceExt::oneshot`, with no listener and no socket.

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, Response, StatusCode};
use bytes::Bytes;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::Error;

/// The session-era version the client speaks.
pub const SESSION_VERSION: &str = "2025-06-18";
/// The stateless-era version the client speaks.
pub const STATELESS_VERSION: &str = sallyport_mcp::era::STATELESS_ERA;

/// A client with one bearer token (or none).
#[derive(Debug, Clone)]
pub struct Client {
    router: axum::Router,
    token: Option<String>,
}

/// A whole response.
#[derive(Debug, Clone)]
pub struct Reply {
    /// Its status.
    pub status: StatusCode,
    /// Its headers.
    pub headers: HeaderMap,
    /// Its body, read to the end.
    pub body: Bytes,
}

impl Reply {
    /// The JSON-RPC message of the body: the document itself, or for an
    /// event stream, the `data` of its first event.
    pub fn json(&self) -> Value {
        let text = String::from_utf8_lossy(&self.body);
        let data: String = if self.is_sse() {
            text.lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .map(str::trim_start)
                .collect::<Vec<_>>()
                .join("\n")
        } else {
            text.into_owned()
        };
        serde_json::from_str(&data).unwrap_or(Value::Null)
    }

    /// Whether the body is an event stream.
    pub fn is_sse(&self) -> bool {
        self.header("content-type")
            .is_some_and(|v| v.starts_with("text/event-stream"))
    }

    /// A header's value, if it is text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The names in a `tools/list` result.
    pub fn tool_names(&self) -> Vec<String> {
        let json = self.json();
        let tools = json["result"]["tools"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        tools
            .iter()
            .filter_map(|t| t["name"].as_str().map(str::to_owned))
            .collect()
    }
}

/// A session-era session the client opened.
#[derive(Debug, Clone)]
pub struct Session {
    /// The relay's `Mcp-Session-Id`.
    pub id: String,
    /// The server.
    pub server: String,
}

impl Client {
    pub(crate) fn new(router: axum::Router, token: Option<String>) -> Self {
        Self { router, token }
    }

    /// A request to `/mcp/<server>` with the client's credentials and the
    /// `Host` and `Accept` a real client sends.
    pub fn request(
        &self,
        method: Method,
        server: &str,
        body: Option<&Value>,
    ) -> axum::http::request::Builder {
        let mut b = Request::builder()
            .method(method)
            .uri(format!("/mcp/{server}"))
            .header("host", "relay.test")
            .header("accept", "application/json, text/event-stream");
        if body.is_some() {
            b = b.header("content-type", "application/json");
        }
        if let Some(token) = &self.token {
            b = b.header("authorization", format!("Bearer {token}"));
        }
        b
    }

    /// Sends `request` through the router and reads the whole response.
    pub async fn send(&self, request: Request<Body>) -> Result<Reply, Error> {
        let (parts, body) = self.open(request).await.into_parts();
        let body = body.collect().await.map_err(Error::Body)?.to_bytes();
        Ok(Reply {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }

    /// Sends `request` through the router and returns the response as it
    /// starts: its body is read (or dropped) by the caller.
    pub async fn open(&self, request: Request<Body>) -> Response<Body> {
        // The router's error type is `Infallible`.
        let Ok(response) = self.router.clone().oneshot(request).await;
        response
    }

    /// A session-era POST of `message` (in `session`, if given).
    pub fn post_request(
        &self,
        server: &str,
        session: Option<&Session>,
        message: &Value,
    ) -> Result<Request<Body>, Error> {
        let mut b = self
            .request(Method::POST, server, Some(message))
            .header("mcp-protocol-version", SESSION_VERSION);
        if let Some(s) = session {
            b = b.header("mcp-session-id", &s.id);
        }
        Ok(b.body(Body::from(message.to_string()))?)
    }

    /// POSTs `message` in the session era (in `session`, if given).
    pub async fn post(
        &self,
        server: &str,
        session: Option<&Session>,
        message: &Value,
    ) -> Result<Reply, Error> {
        self.send(self.post_request(server, session, message)?)
            .await
    }

    /// POSTs `message` in the stateless era: the version in the header and
    /// in `params._meta`.
    pub async fn stateless(&self, server: &str, message: &Value) -> Result<Reply, Error> {
        let mut message = message.clone();
        message["params"]["_meta"][sallyport_mcp::era::META_PROTOCOL_VERSION] =
            json!(STATELESS_VERSION);
        let b = self
            .request(Method::POST, server, Some(&message))
            .header("mcp-protocol-version", STATELESS_VERSION);
        self.send(b.body(Body::from(message.to_string()))?).await
    }

    /// `initialize` then `notifications/initialized`; the session on 200,
    /// or the refusal.
    pub async fn initialize(&self, server: &str) -> Result<Result<Session, Reply>, Error> {
        let init = rpc(
            1,
            "initialize",
            json!({
                "protocolVersion": SESSION_VERSION,
                "capabilities": {},
                "clientInfo": {"name": "testkit", "version": "1"},
            }),
        );
        let reply = self.post(server, None, &init).await?;
        let Some(id) = reply
            .header("mcp-session-id")
            .filter(|_| reply.status.is_success())
        else {
            return Ok(Err(reply));
        };
        let session = Session {
            id: id.to_owned(),
            server: server.to_owned(),
        };
        let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
        let done = self.post(server, Some(&session), &initialized).await?;
        if done.status != StatusCode::ACCEPTED {
            return Ok(Err(done));
        }
        Ok(Ok(session))
    }

    /// A request in `session`.
    pub async fn call(&self, session: &Session, message: &Value) -> Result<Reply, Error> {
        self.post(&session.server, Some(session), message).await
    }

    /// DELETEs `session`.
    pub async fn delete(&self, session: &Session) -> Result<Reply, Error> {
        let b = self
            .request(Method::DELETE, &session.server, None)
            .header("mcp-protocol-version", SESSION_VERSION)
            .header("mcp-session-id", &session.id);
        self.send(b.body(Body::empty())?).await
    }
}

/// A JSON-RPC request.
pub fn rpc(id: u64, method: &str, params: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
}

/// A `tools/call` request.
pub fn call_tool(id: u64, tool: &str, arguments: Value) -> Value {
    rpc(
        id,
        "tools/call",
        json!({"name": tool, "arguments": arguments}),
    )
}
