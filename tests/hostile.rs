//! A hostile peer with a valid connector certificate: garbage, oversized
//! frames and unknown protocol versions close its link with a typed code,
//! and the relay keeps serving the well-behaved connector.

mod common;

use std::sync::Arc;

use bytes::BytesMut;
use common::*;
use quinn::ConnectionError;
use sallyport_protocol::control::ControlFrame;
use sallyport_protocol::version::{Preamble, VersionRange};
use sallyport_protocol::{CloseCode, FrameCodec};

const LEGAL: &str = "spiffe://acme.internal/connector/legal";
const ROGUE: &str = "spiffe://acme.internal/connector/rogue";

async fn dial(
    pki: &TestPki,
    cert: &std::path::Path,
    relay: std::net::SocketAddr,
) -> quinn::Connection {
    let tls = sallyport_pki::tls::quic_client_config(
        cert,
        &cert.with_extension("key"),
        &pki.path("bundle.pem"),
        sallyport_protocol::ALPN,
    )
    .expect("client tls");
    let crypto = quinn::crypto::rustls::QuicClientConfig::try_from(tls).expect("quic tls");
    let mut endpoint =
        quinn::Endpoint::client("127.0.0.1:0".parse().expect("addr")).expect("endpoint");
    endpoint.set_default_client_config(quinn::ClientConfig::new(Arc::new(crypto)));
    endpoint
        .connect(relay, "127.0.0.1")
        .expect("connect")
        .await
        .expect("handshake")
}

/// Sends `bytes` on a fresh control stream; returns the close code and the
/// frames the relay sent before closing.
async fn send_and_wait_close(
    conn: &quinn::Connection,
    bytes: &[u8],
) -> (CloseCode, Vec<ControlFrame>) {
    let (mut send, mut recv) = conn.open_bi().await.expect("open stream");
    send.write_all(bytes).await.expect("write");
    let received = tokio::time::timeout(WAIT, recv.read_to_end(1 << 20))
        .await
        .expect("bounded");
    let mut frames = Vec::new();
    if let Ok(data) = received {
        let codec = FrameCodec::<ControlFrame>::default();
        let mut buf = BytesMut::from(&data[..]);
        while let Ok(Some(f)) = codec.decode(&mut buf) {
            frames.push(f);
        }
    }
    let reason = tokio::time::timeout(WAIT, conn.closed())
        .await
        .expect("relay closes the link");
    match reason {
        ConnectionError::ApplicationClosed(c) => {
            (CloseCode::from_u64(c.error_code.into_inner()), frames)
        }
        other => panic!("expected an application close, got {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_streams_close_with_typed_codes_and_others_keep_working() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let tmp = tempfile::tempdir().expect("tempdir");
    let pki = TestPki::new(tmp.path(), "acme.internal");
    let good = pki.connector("legal");
    let rogue = pki.connector("rogue");
    let relay = RelayProc::start(&relay_config(
        tmp.path(),
        &pki,
        0,
        &[(LEGAL, &["contracts"]), (ROGUE, &["contracts"])],
    ));
    let cfg = connector_config(tmp.path(), &pki, &good, relay.quic, &["contracts"]);
    let connector = Proc::start(
        "connector",
        &["connector", "--config", cfg.to_str().expect("utf-8")],
    );
    relay
        .proc
        .wait_event("link.registered", &[("connector.id", LEGAL)]);

    // Garbage instead of the preamble.
    let conn = dial(&pki, &rogue, relay.quic).await;
    let (code, _) = send_and_wait_close(&conn, b"GET / HTTP/1.1\r\n\r\n").await;
    assert_eq!(code, CloseCode::ProtocolError);
    relay.proc.wait_event(
        "link.refused",
        &[("reason", "magic"), ("connector.id", ROGUE)],
    );

    // A valid preamble, then a frame claiming 4 GiB.
    let conn = dial(&pki, &rogue, relay.quic).await;
    let mut bytes = Preamble {
        versions: VersionRange::SUPPORTED,
    }
    .encode()
    .to_vec();
    bytes.extend_from_slice(&u32::MAX.to_be_bytes());
    let (code, _) = send_and_wait_close(&conn, &bytes).await;
    assert_eq!(code, CloseCode::FrameTooLarge);
    relay
        .proc
        .wait_event("link.refused", &[("reason", "exceeds the limit")]);

    // A valid preamble, then a frame of garbage.
    let conn = dial(&pki, &rogue, relay.quic).await;
    let mut bytes = Preamble {
        versions: VersionRange::SUPPORTED,
    }
    .encode()
    .to_vec();
    bytes.extend_from_slice(&[0, 0, 0, 3, 0xff, 0xff, 0xff]);
    let (code, _) = send_and_wait_close(&conn, &bytes).await;
    assert_eq!(code, CloseCode::ProtocolError);
    relay
        .proc
        .wait_event("link.refused", &[("reason", "malformed frame")]);

    // A protocol version from the future.
    let conn = dial(&pki, &rogue, relay.quic).await;
    let bytes = Preamble {
        versions: VersionRange { min: 7, max: 9 },
    }
    .encode();
    let (code, frames) = send_and_wait_close(&conn, &bytes).await;
    assert_eq!(code, CloseCode::VersionMismatch);
    match frames.as_slice() {
        [ControlFrame::Reject(r)] => assert!(
            r.reason.contains("no common protocol version"),
            "{}",
            r.reason
        ),
        other => panic!("expected one Reject, got {other:?}"),
    }

    // The well-behaved connector was never disturbed.
    let links = relay.connectors();
    assert_eq!(links.len(), 1, "{links:?}");
    assert_eq!(links[0]["identity"], LEGAL);
    let (_, metrics) = relay.admin_get("/metrics");
    assert!(
        metrics.contains("sallyport_link_handshakes_total{outcome=\"protocol_error\"} 3"),
        "{metrics}"
    );
    assert!(
        metrics.contains("sallyport_link_handshakes_total{outcome=\"version_mismatch\"} 1"),
        "{metrics}"
    );
    drop(connector);
}
