//! Raw Streamable HTTP requests for tests that must act in the middle of a
//! response (kill a process mid-call, read an SSE stream event by event).

use std::time::Duration;

use serde_json::{Value, json};

/// A session opened by hand: `initialize` + `notifications/initialized`.
pub struct RawSession {
    pub http: reqwest::Client,
    pub url: String,
    pub key: String,
    pub session: String,
}

impl RawSession {
    pub async fn open(url: &str, key: &str) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::new();
        let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "raw", "version": "0"}}});
        let resp = try_post_raw(&http, url, key, None, &init)
            .await
            .expect("send");
        assert!(resp.status().is_success(), "initialize: {}", resp.status());
        let session = resp.headers()["mcp-session-id"]
            .to_str()
            .expect("ascii")
            .to_owned();
        let _ = resp.bytes().await;
        let s = Self {
            http,
            url: url.to_owned(),
            key: key.to_owned(),
            session,
        };
        let resp = s
            .post(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await;
        assert_eq!(resp.status(), 202);
        s
    }

    pub async fn post(&self, body: &Value) -> reqwest::Response {
        self.try_post(body).await.expect("send")
    }

    /// [`Self::post`], for a request that may fail before its head.
    pub async fn try_post(&self, body: &Value) -> reqwest::Result<reqwest::Response> {
        try_post_raw(&self.http, &self.url, &self.key, Some(&self.session), body).await
    }
}

async fn try_post_raw(
    http: &reqwest::Client,
    url: &str,
    key: &str,
    session: Option<&str>,
    body: &Value,
) -> reqwest::Result<reqwest::Response> {
    let mut r = http
        .post(url)
        .bearer_auth(key)
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .header("mcp-protocol-version", "2025-11-25")
        .body(body.to_string());
    if let Some(s) = session {
        r = r.header("mcp-session-id", s);
    }
    r.send().await
}

/// Reads a streaming body until `done(text so far)` holds, the body ends,
/// or `limit` passes. Returns the text and whether the body ended.
pub async fn read_until(
    resp: &mut reqwest::Response,
    limit: Duration,
    done: impl Fn(&str) -> bool,
) -> (String, bool) {
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if done(&text) {
            return (text, false);
        }
        match tokio::time::timeout_at(deadline, resp.chunk()).await {
            Err(_) => panic!("no end within {limit:?}; got so far:\n{text}"),
            Ok(Ok(Some(chunk))) => text.push_str(&String::from_utf8_lossy(&chunk)),
            Ok(Ok(None)) | Ok(Err(_)) => return (text, true),
        }
    }
}

/// The JSON payloads of the SSE `data:` lines in `text`.
pub fn sse_messages(text: &str) -> Vec<Value> {
    text.lines()
        .filter_map(|l| l.strip_prefix("data: ").or_else(|| l.strip_prefix("data:")))
        .filter_map(|d| serde_json::from_str(d.trim()).ok())
        .collect()
}
