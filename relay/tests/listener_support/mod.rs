//! Shared by `http_timeouts` and `http_hosts`: a whole relay in this
//! process on loopback (QUIC, admin and HTTP listeners on ephemeral ports,
//! small timeouts), and a raw HTTP/1.1 client that can trickle bytes and
//! tell when the relay closes the connection.

#![allow(dead_code, reason = "each test binary uses a different part")]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use sallyport_pki::{ApiKey, Pki, Validity};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// `[http] header_timeout_ms` and `[admin] header_timeout_ms`.
pub const HEADER: Duration = Duration::from_millis(400);
/// `[http] body_timeout_ms`.
pub const BODY: Duration = Duration::from_millis(600);
/// `[http] idle_timeout_ms` and `[admin] idle_timeout_ms`: longer than
/// `HEADER + MARGIN`, so a test tells which of the two closed.
pub const IDLE: Duration = Duration::from_millis(1500);
/// What a close may take beyond its deadline on a loaded 2-core machine.
pub const MARGIN: Duration = Duration::from_millis(700);
/// A deadline may fire this much before its nominal time (ms stamps).
pub const EARLY: Duration = Duration::from_millis(50);

/// The `public_url` of the test relay.
pub const PUBLIC_URL: &str = "http://relay.test";
/// A name in `[admin] allowed_hosts`.
pub const ADMIN_NAME: &str = "metrics.internal";

/// A relay serving in this process; stopped on drop.
pub struct TestRelay {
    pub http: SocketAddr,
    pub admin: SocketAddr,
    /// An API key allowed `*/*`.
    pub key: String,
    /// The CA bundle (for an HTTPS client).
    pub bundle: std::path::PathBuf,
    stop: CancellationToken,
    _dir: tempfile::TempDir,
}

impl Drop for TestRelay {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

fn quote(p: &Path) -> String {
    format!("{:?}", p.display().to_string())
}

impl TestRelay {
    /// Plain HTTP on the public listener.
    pub async fn start() -> Self {
        Self::start_with(false).await
    }

    /// HTTPS (the relay's certificate: 127.0.0.1, localhost) when `tls`.
    pub async fn start_with(tls: bool) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let td = "test.sallyport.local".parse().expect("trust domain");
        let pki = Pki::init(dir.path().join("pki"), td, false).expect("pki");
        let relay = pki
            .issue_relay(
                &["localhost".to_owned()],
                &[IpAddr::V4(Ipv4Addr::LOCALHOST)],
                Validity::days(1).expect("validity"),
                false,
            )
            .expect("relay cert");
        let key = ApiKey::generate("tester", &["testers".to_owned()]).expect("api key");
        let public_tls = if tls {
            format!(
                "tls_cert = {}\ntls_key = {}",
                quote(&relay.cert_path),
                quote(&relay.key_path)
            )
        } else {
            "insecure_plain_http = true".to_owned()
        };
        let text = format!(
            r#"
name = "listener-test"

[quic]
listen = "127.0.0.1:0"
cert = {cert}
key = {key_path}
trust_bundle = {bundle}
crl = {crl}

[admin]
listen = "127.0.0.1:0"
allowed_hosts = ["{ADMIN_NAME}"]
header_timeout_ms = {header}
idle_timeout_ms = {idle}

[http]
listen = "127.0.0.1:0"
public_url = "{PUBLIC_URL}"
{public_tls}
header_timeout_ms = {header}
body_timeout_ms = {body}
idle_timeout_ms = {idle}

[audit]
path = {audit}

[[api_key]]
sha256 = "{sha}"
subject = "tester"
groups = ["testers"]

[[role]]
name = "all"
allow = ["*/*"]

[[binding]]
role = "all"
groups = ["testers"]

[[connector]]
id = "spiffe://test.sallyport.local/connector/c1"
servers = ["demo"]
"#,
            cert = quote(&relay.cert_path),
            key_path = quote(&relay.key_path),
            bundle = quote(&pki.bundle_path()),
            crl = quote(&pki.crl_path()),
            audit = quote(&dir.path().join("audit.jsonl")),
            header = HEADER.as_millis(),
            body = BODY.as_millis(),
            idle = IDLE.as_millis(),
            sha = key.sha256(),
        );
        let config = sallyport_relay::Config::parse(&text, dir.path()).expect("relay config");
        let relay = sallyport_relay::Relay::bind(config).await.expect("bind");
        let http = relay.http_addr().expect("http listener");
        let admin = relay.admin_addr().expect("admin listener");
        let stop = CancellationToken::new();
        tokio::spawn(relay.serve(stop.clone()));
        Self {
            http,
            admin,
            key: key.key().to_owned(),
            bundle: pki.bundle_path(),
            stop,
            _dir: dir,
        }
    }
}

/// A response read off a raw connection.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub head: String,
    pub body: String,
}

/// Reads one response with a `Content-Length` (what the relay sends for
/// its errors and small JSON answers), within `bound`.
pub async fn read_answer<S: AsyncRead + Unpin>(stream: &mut S, bound: Duration) -> Answer {
    tokio::time::timeout(bound, async {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        // Bounded: 64 KiB at most.
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            assert!(buf.len() < 64 * 1024, "response head too long");
            let n = stream.read(&mut chunk).await.expect("read response");
            assert!(
                n > 0,
                "connection closed before a response: {:?}",
                String::from_utf8_lossy(&buf)
            );
            buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no status in {head:?}"));
        let length: usize = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse().ok())?
            })
            .unwrap_or_else(|| panic!("no content-length in {head:?}"));
        assert!(length <= 1024 * 1024, "body too long");
        // Bounded by `length`.
        while buf.len() < head_end + length {
            let n = stream.read(&mut chunk).await.expect("read body");
            assert!(n > 0, "connection closed inside the body");
            buf.extend_from_slice(&chunk[..n]);
        }
        Answer {
            status,
            head,
            body: String::from_utf8_lossy(&buf[head_end..head_end + length]).into_owned(),
        }
    })
    .await
    .expect("no response in time")
}

/// Sends `request` on a fresh connection and reads the answer.
pub async fn exchange(addr: SocketAddr, request: &str) -> Answer {
    let mut tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    tcp.write_all(request.as_bytes()).await.expect("send");
    read_answer(&mut tcp, Duration::from_secs(5)).await
}

/// Waits until the peer closes `stream` (EOF or reset), at most `bound`;
/// `None` if it is still open then. Anything the peer sends meanwhile is
/// read and dropped (at most 1 MiB).
pub async fn closed_within<S: AsyncRead + Unpin>(
    stream: &mut S,
    bound: Duration,
) -> Option<Instant> {
    let deadline = Instant::now() + bound;
    let mut chunk = [0u8; 4096];
    let mut total = 0usize;
    // Bounded by the deadline and by 1 MiB read.
    while total < 1024 * 1024 {
        match tokio::time::timeout_at(deadline, stream.read(&mut chunk)).await {
            Err(_) => return None,
            Ok(Ok(0) | Err(_)) => return Some(Instant::now()),
            Ok(Ok(n)) => total += n,
        }
    }
    panic!("the peer kept sending");
}

/// Writes `bytes` one at a time, `every` apart, until done or a write
/// fails (the peer closed); the task runs beside the reader and keeps the
/// writing half open (no FIN) until it is aborted, at most a minute.
pub fn trickle<W>(mut writer: W, bytes: Vec<u8>, every: Duration) -> tokio::task::JoinHandle<()>
where
    W: AsyncWrite + Unpin + Send + 'static,
{
    tokio::spawn(async move {
        // Bounded by the length of `bytes`.
        for b in bytes {
            if writer.write_all(&[b]).await.is_err() || writer.flush().await.is_err() {
                return;
            }
            tokio::time::sleep(every).await;
        }
        tokio::time::sleep(Duration::from_secs(60)).await;
        drop(writer);
    })
}

/// Asserts `closed` (from `start`) is within `[nominal - EARLY, nominal +
/// MARGIN]`.
pub fn assert_closed_at(what: &str, start: Instant, closed: Option<Instant>, nominal: Duration) {
    let closed = closed
        .unwrap_or_else(|| panic!("{what}: still open {:?} after the start", nominal + MARGIN));
    let took = closed - start;
    assert!(
        took + EARLY >= nominal,
        "{what}: closed after {took:?}, before its timeout {nominal:?}"
    );
}
