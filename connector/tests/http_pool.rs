//! The HTTP bridge's upstream connections: kept and reused after a
//! complete answer, replaced when the upstream closed one while idle,
//! never reused after an answer that was not read to its end.

mod http_support;

use std::sync::atomic::{AtomicUsize, Ordering};

use http_support::*;
use tokio::io::AsyncWriteExt;

const ANSWER: &str = r#"{"jsonrpc":"2.0","id":1,"result":{}}"#;

/// How the raw upstream treats a connection after answering.
#[derive(Clone, Copy)]
enum After {
    /// Keeps it open for the next request.
    KeepOpen,
    /// Closes it when told (without saying so in a header), like an
    /// upstream whose keep-alive timeout passed while it was idle.
    CloseWhenTold,
}

/// A raw upstream and its controls.
struct Raw {
    url: String,
    accepted: Arc<AtomicUsize>,
    /// Tells the upstream to close the connection it last answered on.
    close: Arc<tokio::sync::Notify>,
    /// Receives one message per connection the upstream closed.
    closed: mpsc::UnboundedReceiver<()>,
}

/// A raw HTTP/1.1 upstream: answers every request with [`ANSWER`] and
/// counts the connections it accepted.
async fn raw_upstream(after: After) -> Raw {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    let accepted = Arc::new(AtomicUsize::new(0));
    let close = Arc::new(tokio::sync::Notify::new());
    let (closed_tx, closed) = mpsc::unbounded_channel();
    let (count, told) = (Arc::clone(&accepted), Arc::clone(&close));
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            let (told, closed_tx) = (Arc::clone(&told), closed_tx.clone());
            tokio::spawn(async move {
                serve(socket, after, &told).await;
                let _ = closed_tx.send(());
            });
        }
    });
    Raw {
        url: format!("http://{addr}/mcp"),
        accepted,
        close,
        closed,
    }
}

async fn serve(mut socket: tokio::net::TcpStream, after: After, close: &tokio::sync::Notify) {
    let mut buf = Vec::new();
    loop {
        // One request: the head, then its Content-Length body.
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let mut chunk = [0u8; 4096];
            match socket.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .map_or(0, |v| v.trim().parse().expect("length"));
        while buf.len() < head_end + length {
            let mut chunk = [0u8; 4096];
            match socket.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        buf.drain(..head_end + length);
        let answer = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{ANSWER}",
            ANSWER.len()
        );
        if socket.write_all(answer.as_bytes()).await.is_err() {
            return;
        }
        if matches!(after, After::CloseWhenTold) {
            close.notified().await;
            return;
        }
    }
}

async fn call(bridge: &HttpBridge) {
    match handle(bridge, request(Method::Post, "{}")).await {
        Ok(BridgeReply::Json { status, body, .. }) => {
            assert_eq!(status, 200);
            assert_eq!(body, ANSWER.as_bytes());
        }
        other => panic!("expected the JSON answer, got {other:?}"),
    }
}

#[tokio::test]
async fn a_connection_is_reused_after_a_complete_answer() {
    let raw = raw_upstream(After::KeepOpen).await;
    let bridge = bridge(&raw.url, &[], WAIT);
    for _ in 0..5 {
        call(&bridge).await;
    }
    assert_eq!(
        raw.accepted.load(Ordering::SeqCst),
        1,
        "one connection for all"
    );
}

#[tokio::test]
async fn an_idle_connection_the_upstream_closed_is_replaced() {
    let mut raw = raw_upstream(After::CloseWhenTold).await;
    let bridge = bridge(&raw.url, &[], WAIT);
    for _ in 0..5 {
        call(&bridge).await;
        // The upstream drops the connection while the bridge holds it idle.
        raw.close.notify_one();
        timeout(WAIT, raw.closed.recv())
            .await
            .expect("closed in time");
    }
    assert_eq!(
        raw.accepted.load(Ordering::SeqCst),
        5,
        "a new one each time"
    );
}

#[tokio::test]
async fn a_connection_whose_answer_was_abandoned_is_not_reused() {
    let (tx, rx) = mpsc::channel::<std::io::Result<Bytes>>(1);
    let rx = Arc::new(Mutex::new(Some(rx)));
    let (url, _seen) = upstream(move |s: Seen| {
        let rx = rx.lock().expect("lock").take();
        async move {
            match rx {
                // The first request: an answer that never ends.
                Some(rx) => streamed("application/json", rx),
                None => reply(200, Some("application/json"), None, Body::from(s.body)),
            }
        }
    })
    .await;
    let bridge = bridge(&url, &[], WAIT);
    let Ok(BridgeReply::JsonStream { mut body, .. }) =
        handle(&bridge, request(Method::Post, "{}")).await
    else {
        panic!("a JSON body of unknown length is streamed");
    };
    tx.send(Ok(Bytes::from_static(b"{\"partial\":")))
        .await
        .expect("upstream");
    let first = timeout(WAIT, body.next()).await.expect("in time");
    assert!(matches!(first, Some(Ok(_))), "{first:?}");
    drop(body);
    // The abandoned answer's connection is closed (hyper drops the body
    // of a closed connection), not put back half-read.
    timeout(WAIT, tx.closed()).await.expect("connection closed");
    match handle(&bridge, request(Method::Post, "{\"next\":1}")).await {
        Ok(BridgeReply::Json { body, .. }) => assert_eq!(body, "{\"next\":1}".as_bytes()),
        other => panic!("expected the echo, got {other:?}"),
    }
}
