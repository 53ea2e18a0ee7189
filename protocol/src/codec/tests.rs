use bytes::{BufMut, Bytes, BytesMut};

use super::*;
use crate::control::*;
use crate::data::*;
use crate::names::{ConnectorLabel, ServerName};

fn server(name: &str) -> ServerName {
    ServerName::new(name).expect("valid test name")
}

fn hello() -> ControlFrame {
    ControlFrame::Hello(Hello {
        label: ConnectorLabel::new("host-1").expect("valid label"),
        instance: 300,
        software: "sallyport-connector/0.1.0".into(),
        servers: vec![
            ServerOffer {
                name: server("contracts"),
                transport: Transport::Stdio,
            },
            ServerOffer {
                name: server("wiki"),
                transport: Transport::Http,
            },
        ],
    })
}

fn all_control_frames() -> Vec<ControlFrame> {
    vec![
        hello(),
        ControlFrame::Welcome(Welcome {
            version: 1,
            relay: "relay.acme.com".into(),
            decision: Decision {
                accepted: vec![server("contracts")],
                refused: vec![Refusal {
                    server: server("wiki"),
                    reason: "not allowed".into(),
                }],
            },
        }),
        ControlFrame::Reject(Reject::new(CloseCode::Unauthorized, "no")),
        ControlFrame::Announce(Announce { servers: vec![] }),
        ControlFrame::Decision(Decision::default()),
        ControlFrame::GoAway(GoAway {
            reason: "restart".into(),
        }),
    ]
}

fn all_data_frames() -> Vec<DataFrame> {
    vec![
        DataFrame::RequestHead(RequestHead {
            request_id: 42,
            method: Method::Post,
            server: server("contracts"),
            session: Some("abc".into()),
            protocol_version: Some("2025-11-25".into()),
            last_event_id: None,
            caller: Caller {
                subject: "alice".into(),
                groups: vec!["legal".into()],
                agent: Some("claude".into()),
            },
            headers: vec![("mcp-method".into(), "tools/call".into())],
        }),
        DataFrame::Body(Bytes::from_static(br#"{"jsonrpc":"2.0"}"#)),
        DataFrame::BodyEnd,
        DataFrame::ResponseHead(ResponseHead {
            status: 200,
            kind: BodyKind::EventStream,
            session: None,
        }),
        DataFrame::Event(SseEvent {
            id: Some("1".into()),
            event: None,
            data: Bytes::from_static(b"{}"),
            retry: Some(1000),
        }),
        DataFrame::End,
        DataFrame::Error(StreamError {
            kind: StreamErrorKind::Upstream,
            message: "server exited".into(),
        }),
        DataFrame::EventData(Bytes::from_static(b"{\"partial\":")),
    ]
}

#[test]
fn every_frame_round_trips() {
    let c = FrameCodec::<ControlFrame>::default();
    let mut buf = BytesMut::new();
    for f in all_control_frames() {
        c.encode(&f, &mut buf).expect("encodes");
    }
    for f in all_control_frames() {
        assert_eq!(c.decode(&mut buf), Ok(Some(f)));
    }
    assert!(buf.is_empty());

    let d = FrameCodec::<DataFrame>::default();
    for f in all_data_frames() {
        let bytes = d.encode_to_bytes(&f).expect("encodes");
        let mut buf = BytesMut::from(&bytes[..]);
        assert_eq!(d.decode(&mut buf), Ok(Some(f)));
    }
}

/// Locks the wire format: a change here is a protocol version bump.
#[test]
fn golden_bytes() {
    let c = FrameCodec::<ControlFrame>::default();
    let goaway = ControlFrame::GoAway(GoAway { reason: "x".into() });
    assert_eq!(
        &c.encode_to_bytes(&goaway).expect("encodes")[..],
        &[0, 0, 0, 3, 5, 1, b'x']
    );
    let bytes = c.encode_to_bytes(&hello()).expect("encodes");
    let expected: &[u8] = &[
        0, 0, 0, 55, // length
        0,  // Hello
        6, b'h', b'o', b's', b't', b'-', b'1', // label
        251, 44, 1, // instance 300 (varint: 251 = u16 follows, little-endian)
        25, b's', b'a', b'l', b'l', b'y', b'p', b'o', b'r', b't', b'-', b'c', b'o', b'n', b'n',
        b'e', b'c', b't', b'o', b'r', b'/', b'0', b'.', b'1', b'.', b'0', // software
        2,    // two servers
        9, b'c', b'o', b'n', b't', b'r', b'a', b'c', b't', b's', 0, // contracts, stdio
        4, b'w', b'i', b'k', b'i', 1, // wiki, http
    ];
    assert_eq!(&bytes[..], expected);

    // Protocol 2's frame is appended: the frames of version 1 keep their tags.
    let d = FrameCodec::<DataFrame>::default();
    let piece = DataFrame::EventData(Bytes::from_static(b"ab"));
    assert_eq!(
        &d.encode_to_bytes(&piece).expect("encodes")[..],
        &[0, 0, 0, 4, 7, 2, b'a', b'b']
    );
    assert_eq!(
        &d.encode_to_bytes(&DataFrame::End).expect("encodes")[..],
        &[0, 0, 0, 1, 5]
    );
}

#[test]
fn partial_input_needs_more() {
    let c = FrameCodec::<ControlFrame>::default();
    let bytes = c.encode_to_bytes(&hello()).expect("encodes");
    let mut buf = BytesMut::new();
    for (i, b) in bytes.iter().enumerate() {
        buf.put_u8(*b);
        let got = c.decode(&mut buf).expect("valid so far");
        if i + 1 < bytes.len() {
            assert_eq!(got, None, "complete after only {} bytes", i + 1);
        } else {
            assert_eq!(got, Some(hello()));
        }
    }
}

#[test]
fn oversized_frame_refused_before_allocation() {
    let c = FrameCodec::<ControlFrame>::new(1024);
    let mut buf = BytesMut::with_capacity(8);
    buf.put_u32(u32::MAX);
    buf.put_u8(0);
    let cap = buf.capacity();
    assert_eq!(
        c.decode(&mut buf),
        Err(DecodeError::FrameTooLarge {
            len: u32::MAX as usize,
            max: 1024
        })
    );
    assert_eq!(buf.capacity(), cap, "decoder grew the buffer");
    assert_eq!(
        DecodeError::FrameTooLarge { len: 0, max: 0 }.close_code(),
        CloseCode::FrameTooLarge
    );
}

#[test]
fn encoder_refuses_oversized_frame_and_leaves_buffer_untouched() {
    let c = FrameCodec::<DataFrame>::new(16);
    let mut buf = BytesMut::from(&b"keep"[..]);
    let err = c
        .encode(&DataFrame::Body(Bytes::from(vec![0u8; 64])), &mut buf)
        .expect_err("too large");
    assert!(matches!(err, EncodeError::FrameTooLarge { max: 16, .. }));
    assert_eq!(&buf[..], b"keep");
}

#[test]
fn garbage_is_malformed() {
    let c = FrameCodec::<ControlFrame>::default();
    for payload in [
        &[0xffu8][..],
        &[],
        &[0, 200],
        &[5, 0xff, 0xff, 0xff, 0xff, 0x0f],
    ] {
        let mut buf = BytesMut::new();
        buf.put_u32(payload.len() as u32);
        buf.extend_from_slice(payload);
        let err = c.decode(&mut buf).expect_err("garbage");
        assert!(
            matches!(err, DecodeError::Malformed { .. }),
            "{payload:?} gave {err:?}"
        );
        assert_eq!(err.close_code(), CloseCode::ProtocolError);
    }
}

#[test]
fn hostile_length_inside_payload_does_not_allocate() {
    // GoAway whose string claims 2^62 bytes.
    let payload = [5u8, 0xff, 0, 0, 0, 0, 0, 0, 0, 0x40];
    let err = decode_payload::<ControlFrame>(&payload).expect_err("hostile");
    assert!(matches!(err, DecodeError::Malformed { .. }));
}

#[test]
fn trailing_bytes_refused() {
    let mut payload = vec![5u8, 1, b'x'];
    payload.push(0);
    assert_eq!(
        decode_payload::<ControlFrame>(&payload),
        Err(DecodeError::TrailingBytes { extra: 1 })
    );
}

#[test]
fn invalid_names_inside_frames_refused() {
    // Announce with one server named "Bad!" (uppercase and '!').
    let payload = [3u8, 1, 4, b'B', b'a', b'd', b'!', 0];
    let err = decode_payload::<ControlFrame>(&payload).expect_err("bad name");
    match err {
        DecodeError::Malformed { detail } => assert!(detail.contains("server name"), "{detail}"),
        other => panic!("unexpected {other:?}"),
    }
}
