//! A deliberately thin MCP client: plain `reqwest` with hand-built JSON-RPC
//! bodies, parsing only what it must (the status, `Mcp-Session-Id`, and
//! whether the answer holds a `result`). It measures the tunnel, not an SDK.

use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue};

use crate::error::{BenchError, Result};

/// The protocol version the client speaks (session era).
pub const PROTOCOL_VERSION: &str = "2025-11-25";
/// How much of an answer is inspected for `"result"` / `"error"`.
const PEEK: usize = 512;

/// One endpoint (direct upstream or relay `/mcp/<server>`).
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    url: String,
    auth: Option<HeaderValue>,
}

/// One MCP session: its id and the next JSON-RPC id.
#[derive(Debug, Clone, Default)]
pub struct Session {
    /// `Mcp-Session-Id`, if the server gave one.
    pub id: Option<String>,
    next: u64,
}

impl Session {
    fn next_id(&mut self) -> u64 {
        self.next += 1;
        self.next
    }
}

/// A shared HTTP client for many sessions: HTTP/1.1, unbounded idle pool
/// (one connection per concurrent session), no proxy, Nagle off.
pub fn http_client() -> Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .http1_only()
        .no_proxy()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(usize::MAX)
        .pool_idle_timeout(Duration::from_secs(90))
        .connect_timeout(Duration::from_secs(5))
        .build()?)
}

impl Client {
    /// A client of `url`, sending `bearer` (a full `Authorization` value)
    /// when given.
    pub fn new(
        http: reqwest::Client,
        url: impl Into<String>,
        bearer: Option<&str>,
    ) -> Result<Self> {
        let auth = bearer
            .map(|b| {
                let mut v = HeaderValue::from_str(b)
                    .map_err(|_| BenchError::Setup("bad Authorization value".into()))?;
                v.set_sensitive(true);
                Ok::<_, BenchError>(v)
            })
            .transpose()?;
        Ok(Self {
            http,
            url: url.into(),
            auth,
        })
    }

    /// The endpoint URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    fn request(&self, method: reqwest::Method, session: &Session) -> reqwest::RequestBuilder {
        let mut b = self
            .http
            .request(method, &self.url)
            .header(ACCEPT, "application/json, text/event-stream");
        if let Some(auth) = &self.auth {
            b = b.header(AUTHORIZATION, auth.clone());
        }
        if let Some(id) = &session.id {
            b = b
                .header("mcp-session-id", id)
                .header("mcp-protocol-version", PROTOCOL_VERSION);
        }
        b
    }

    fn post(&self, session: &Session, body: String) -> reqwest::RequestBuilder {
        self.request(reqwest::Method::POST, session)
            .header(CONTENT_TYPE, "application/json")
            .body(body)
    }

    /// `initialize` then `notifications/initialized`: a new session.
    pub async fn initialize(&self) -> Result<Session> {
        let mut s = Session::default();
        let id = s.next_id();
        let body = format!(
            r#"{{"jsonrpc":"2.0","id":{id},"method":"initialize","params":{{"protocolVersion":"{PROTOCOL_VERSION}","capabilities":{{}},"clientInfo":{{"name":"sallyport-bench","version":"0"}}}}}}"#
        );
        let resp = self.post(&s, body).send().await?;
        let sid = resp
            .headers()
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = checked(resp).await?;
        expect_result(&body)?;
        s.id = sid;
        let note = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#.to_owned();
        let resp = self.post(&s, note).send().await?;
        checked(resp).await?;
        Ok(s)
    }

    /// `tools/call` of `echo` with `message` (plain text, no escaping
    /// needed); checks the answer holds a result.
    pub async fn echo(&self, s: &mut Session, message: &str) -> Result<()> {
        let id = s.next_id();
        let body = format!(
            r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"echo","arguments":{{"message":"{message}"}}}}}}"#
        );
        let resp = self.post(s, body).send().await?;
        let body = checked(resp).await?;
        expect_result(&body)
    }

    /// `resources/read` of `uri`, streaming the body; returns its length.
    pub async fn read_resource(&self, s: &mut Session, uri: &str) -> Result<u64> {
        let id = s.next_id();
        let body = format!(
            r#"{{"jsonrpc":"2.0","id":{id},"method":"resources/read","params":{{"uri":"{uri}"}}}}"#
        );
        let resp = self.post(s, body).send().await?;
        let resp = ok_status(resp).await?;
        let mut stream = resp.bytes_stream();
        let mut head = Vec::with_capacity(PEEK);
        let mut total = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            if head.len() < PEEK {
                let take = chunk.len().min(PEEK - head.len());
                head.extend_from_slice(&chunk[..take]);
            }
            total += chunk.len() as u64;
        }
        expect_result(&head)?;
        Ok(total)
    }

    /// Opens the session's GET stream and waits for its first event;
    /// returns the response so that the caller can hold it open.
    pub async fn open_stream(&self, s: &Session) -> Result<OpenStream> {
        let resp = self
            .request(reqwest::Method::GET, s)
            .header(ACCEPT, "text/event-stream")
            .send()
            .await?;
        let resp = ok_status(resp).await?;
        let mut stream = Box::pin(resp.bytes_stream());
        let mut seen = Vec::new();
        while let Some(chunk) = stream.next().await {
            seen.extend_from_slice(&chunk?);
            if find(&seen, b"data:").is_some() && find(&seen, b"\n\n").is_some() {
                return Ok(OpenStream { _body: stream });
            }
            if seen.len() > 64 * 1024 {
                break;
            }
        }
        Err(BenchError::Mcp(
            "GET stream ended before its first event".into(),
        ))
    }

    /// Ends the session (`DELETE`); errors are ignored by callers that
    /// only tidy up.
    pub async fn delete(&self, s: &Session) -> Result<()> {
        if s.id.is_none() {
            return Ok(());
        }
        let resp = self.request(reqwest::Method::DELETE, s).send().await?;
        checked(resp).await.map(drop)
    }
}

/// An open GET stream; dropping it closes the stream.
pub struct OpenStream {
    _body: std::pin::Pin<Box<dyn futures_util::Stream<Item = reqwest::Result<Bytes>> + Send>>,
}

impl std::fmt::Debug for OpenStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OpenStream")
    }
}

async fn ok_status(resp: reqwest::Response) -> Result<reqwest::Response> {
    let status = resp.status();
    if status.is_success() {
        return Ok(resp);
    }
    let body = resp.bytes().await.unwrap_or_default();
    let text = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
    Err(BenchError::Status {
        status: status.as_u16(),
        body: text,
    })
}

/// The whole body of a 2xx answer.
async fn checked(resp: reqwest::Response) -> Result<Bytes> {
    Ok(ok_status(resp).await?.bytes().await?)
}

/// The answer (JSON, or SSE whose last event is the response) carries a
/// `result`, not an `error`.
fn expect_result(body: &[u8]) -> Result<()> {
    if find(body, b"\"result\"").is_some() {
        return Ok(());
    }
    let text = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
    if find(body, b"\"error\"").is_some() {
        Err(BenchError::Mcp(format!("error answer: {text}")))
    } else {
        Err(BenchError::Mcp(format!("no result in answer: {text}")))
    }
}

/// First position of `needle` in `hay`.
pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_and_errors() {
        assert!(expect_result(br#"{"jsonrpc":"2.0","id":1,"result":{}}"#).is_ok());
        assert!(expect_result(b"event: message\ndata: {\"id\":2,\"result\":{}}\n\n").is_ok());
        let e = expect_result(br#"{"id":1,"error":{"code":-1}}"#).expect_err("error");
        assert!(e.to_string().contains("error answer"), "{e}");
        assert!(expect_result(b"").is_err());
        assert_eq!(find(b"abcabc", b"ca"), Some(2));
        assert_eq!(find(b"ab", b"abc"), None);
    }
}
