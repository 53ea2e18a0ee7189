//! Protocol versions across a link: a connector of this build behind a
//! relay that speaks only protocol 1 (played here by the test, on a real
//! QUIC link with real certificates) never sends that relay a frame of a
//! later version — a large event it would stream in pieces to a current
//! relay arrives as one whole `Event` frame; and a relay that chooses a
//! version the connector does not speak gets the link closed.

mod common;

use std::sync::Arc;

use bytes::Bytes;
use common::*;
use futures_util::{SinkExt, StreamExt};
use sallyport_protocol::control::{ControlFrame, Decision, Welcome};
use sallyport_protocol::data::{Caller, DataFrame, Method, RequestHead};
use sallyport_protocol::framed::DataCodec;
use sallyport_protocol::version::{EVENT_DATA, Preamble};
use sallyport_protocol::{ALPN, CloseCode, FrameCodec, ServerName};
use tokio_util::codec::{FramedRead, FramedWrite};

/// A QUIC endpoint with the relay's certificate, checking connector
/// certificates against the bundle as a relay does.
fn old_relay(pki: &TestPki) -> quinn::Endpoint {
    let tls = sallyport_pki::tls::quic_server_config(
        &pki.path("relay.pem"),
        &pki.path("relay.key"),
        &pki.path("bundle.pem"),
        None,
        ALPN,
    )
    .expect("relay tls");
    let crypto = quinn::crypto::rustls::QuicServerConfig::try_from(tls).expect("quic tls");
    let config = quinn::ServerConfig::with_crypto(Arc::new(crypto));
    quinn::Endpoint::server(config, "127.0.0.1:0".parse().expect("addr")).expect("endpoint")
}

/// `future`'s output, or a panic naming `what` after [`WAIT`].
async fn within<T>(what: &str, future: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(WAIT, future)
        .await
        .unwrap_or_else(|_| panic!("{what} took longer than {WAIT:?}"))
}

/// A connector dialing a fake relay, and the link once the fake relay has
/// answered its `Hello` with a `Welcome` for `version`.
struct Linked {
    conn: quinn::Connection,
    connector: Proc,
    // Held so that the control stream stays open.
    _control: (
        FramedWrite<quinn::SendStream, FrameCodec<ControlFrame>>,
        FramedRead<quinn::RecvStream, FrameCodec<ControlFrame>>,
    ),
    _tmp: tempfile::TempDir,
}

async fn link(version: u16) -> Linked {
    let servers = common::upstream::serve_chunked().await;
    let tmp = tempfile::tempdir().expect("tempdir");
    let pki = TestPki::new(tmp.path(), "acme.internal");
    let cert = pki.connector("legal");
    let relay = old_relay(&pki);
    let relay_addr = relay.local_addr().expect("relay addr");
    let cfg = connector_config_toml(tmp.path(), &pki, &cert, relay_addr, &servers);
    let connector = Proc::start(
        "connector",
        &["connector", "--config", cfg.to_str().expect("utf-8")],
    );

    let incoming = within("the connector's dial", relay.accept())
        .await
        .expect("a connection");
    let conn = incoming.await.expect("handshake");
    // The control stream: the connector offers versions 1 and 2.
    let (control_send, mut control_recv) = within("the control stream", conn.accept_bi())
        .await
        .expect("control stream");
    let mut preamble = [0u8; Preamble::LEN];
    control_recv
        .read_exact(&mut preamble)
        .await
        .expect("preamble");
    let offered = Preamble::decode(&preamble)
        .expect("valid preamble")
        .versions;
    assert!(offered.min <= 1 && offered.max >= EVENT_DATA, "{offered:?}");
    let mut control = FramedRead::new(control_recv, FrameCodec::<ControlFrame>::default());
    let hello = control.next().await.expect("a frame").expect("Hello");
    assert!(matches!(hello, ControlFrame::Hello(_)), "{hello:?}");
    let mut control_write = FramedWrite::new(control_send, FrameCodec::<ControlFrame>::default());
    control_write
        .send(ControlFrame::Welcome(Welcome {
            version,
            relay: "old-relay".into(),
            decision: Decision {
                accepted: vec![ServerName::new("chunked").expect("name")],
                refused: vec![],
            },
        }))
        .await
        .expect("welcome");
    Linked {
        conn,
        connector,
        _control: (control_write, control),
        _tmp: tmp,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_choosing_a_version_the_connector_lacks_is_refused() {
    let linked = link(9).await;
    let closed = within("the connector's close", linked.conn.closed()).await;
    let quinn::ConnectionError::ApplicationClosed(close) = closed else {
        panic!("expected the connector to close the link, got {closed:?}");
    };
    assert_eq!(
        close.error_code.into_inner(),
        u64::from(CloseCode::ProtocolError.to_u32())
    );
    let reason = String::from_utf8_lossy(&close.reason);
    assert!(reason.contains("protocol version 9"), "{reason}");
    let line = linked.connector.wait_event("link.attempt_failed", &[]);
    let error = field(&line, "error").unwrap_or_default();
    assert!(error.contains("does not speak (1..=2)"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_protocol_1_relay_gets_whole_events() {
    let linked = link(1).await;
    let conn = &linked.conn;
    let chunked = ServerName::new("chunked").expect("name");
    // One request whose answer is a ~300 kB event.
    let (send, recv) = conn.open_bi().await.expect("data stream");
    let mut write = FramedWrite::new(send, DataCodec::default());
    let body =
        r#"{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"test://sse-big"}}"#;
    for frame in [
        DataFrame::RequestHead(RequestHead {
            request_id: 1,
            method: Method::Post,
            server: chunked,
            session: None,
            protocol_version: None,
            last_event_id: None,
            caller: Caller::default(),
            headers: vec![],
        }),
        DataFrame::Body(Bytes::from_static(body.as_bytes())),
        DataFrame::BodyEnd,
    ] {
        write.feed(frame).await.expect("request");
    }
    write.flush().await.expect("request sent");
    let mut read = FramedRead::new(recv, DataCodec::default());
    let mut frames = Vec::new();
    loop {
        let frame = within("the response", read.next())
            .await
            .expect("the stream goes on until End")
            .expect("a valid frame");
        let end = matches!(frame, DataFrame::End | DataFrame::Error(_));
        frames.push(frame);
        if end {
            break;
        }
    }
    let names: Vec<&str> = frames
        .iter()
        .map(|f| match f {
            DataFrame::ResponseHead(_) => "head",
            DataFrame::Event(_) => "event",
            DataFrame::EventData(_) => "event data",
            DataFrame::End => "end",
            _ => "other",
        })
        .collect();
    assert_eq!(names, ["head", "event", "end"]);
    let DataFrame::Event(event) = &frames[1] else {
        unreachable!()
    };
    assert_eq!(event.id.as_deref(), Some("4"));
    assert!(
        event.data == common::upstream::big_body(),
        "event altered ({} bytes)",
        event.data.len()
    );
}
