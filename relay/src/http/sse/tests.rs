//! The event-stream body: pieces written as they come, never an event
//! completed with part of its data, filtered events held whole and bounded.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt;
use sallyport_protocol::data::SseEvent;
use serde_json::value::RawValue;
use tokio::sync::mpsc;

use super::{ListFilter, events_body};
use crate::filter::ListKind;
use crate::forward::{ForwardError, Piece};

type Item = Result<Piece, ForwardError>;

fn piece(s: &str) -> Item {
    Ok(Piece::EventData(Bytes::copy_from_slice(s.as_bytes())))
}

fn event(id: Option<&str>, data: &str) -> Item {
    Ok(Piece::Event(SseEvent {
        id: id.map(str::to_owned),
        data: Bytes::copy_from_slice(data.as_bytes()),
        ..Default::default()
    }))
}

fn broken() -> Item {
    Err(ForwardError::Link(crate::forward::LinkError::Ended(
        "the event",
    )))
}

fn request_id() -> Option<Box<RawValue>> {
    Some(RawValue::from_string("5".into()).expect("raw id"))
}

/// Tools named `secret…` are denied.
fn tools_filter() -> ListFilter {
    ListFilter {
        kind: Some(ListKind::Tools),
        hold_pieces: true,
        keep: Arc::new(|_, name: &str| !name.starts_with("secret")),
    }
}

/// The filter of a request that is not a list: names `secret…` denied in
/// any list.
fn guard_filter() -> ListFilter {
    ListFilter {
        kind: None,
        hold_pieces: false,
        keep: Arc::new(|_, name: &str| !name.starts_with("secret")),
    }
}

/// The whole body, or the bytes before it was aborted.
async fn body(items: Vec<Item>, limit: usize, filter: Option<ListFilter>) -> Result<Bytes, Bytes> {
    let mut data = events_body(
        futures_util::stream::iter(items).boxed(),
        limit,
        request_id(),
        filter,
    )
    .into_data_stream();
    let mut got = Vec::new();
    while let Some(chunk) = data.next().await {
        match chunk {
            Ok(chunk) => got.extend_from_slice(&chunk),
            Err(_) => return Err(Bytes::from(got)),
        }
    }
    Ok(Bytes::from(got))
}

#[tokio::test]
async fn pieces_go_out_as_one_event() {
    let items = vec![
        event(Some("1"), "{}"),
        piece("{\"a\""),
        piece(":1}\n{\"b\""),
        event(Some("2"), ":2}"),
    ];
    let got = body(items, 1 << 20, None).await.expect("complete");
    assert_eq!(
        &got[..],
        b"id: 1\ndata: {}\n\ndata: {\"a\":1}\ndata: {\"b\":2}\nid: 2\n\n"
    );
}

#[tokio::test]
async fn a_failure_or_an_end_inside_an_event_aborts_the_body() {
    for items in [
        vec![event(None, "{}"), piece("{\"partial\""), broken()],
        vec![event(None, "{}"), piece("{\"partial\"")],
        vec![
            event(None, "{}"),
            piece("{\"partial\""),
            Ok(Piece::Body(Bytes::from_static(b"{}"))),
            event(None, ""),
        ],
    ] {
        let got = body(items, 1 << 20, None).await.expect_err("aborted");
        assert_eq!(&got[..], b"data: {}\n\ndata: {\"partial\"");
    }
}

#[tokio::test]
async fn a_failure_between_events_ends_with_an_error_event() {
    let got = body(vec![event(None, "{}"), broken()], 1 << 20, None)
        .await
        .expect("a clean end");
    let text = String::from_utf8(got.to_vec()).expect("utf-8");
    assert!(text.starts_with("data: {}\n\ndata: {"), "{text}");
    assert!(text.contains(r#""id":5"#), "{text}");
    // The client reads the category; the link's own words stay in the log.
    assert!(text.contains("the connector link failed"), "{text}");
    assert!(!text.contains("the link went away"), "{text}");
    assert!(text.ends_with("\n\n"), "{text}");
}

const LIST: &str =
    r#"{"jsonrpc":"2.0","id":5,"result":{"tools":[{"name":"open"},{"name":"secret-x"}]}}"#;

#[tokio::test]
async fn a_filtered_event_is_held_whole_and_filtered() {
    let (head, tail) = LIST.split_at(40);
    let got = body(
        vec![piece(head), event(Some("3"), tail)],
        1 << 20,
        Some(tools_filter()),
    )
    .await
    .expect("complete");
    let text = String::from_utf8(got.to_vec()).expect("utf-8");
    assert!(text.starts_with("id: 3\ndata: {"), "{text}");
    assert!(text.contains("open") && !text.contains("secret"), "{text}");
    // A body chunk in an event stream is filtered too.
    let got = body(
        vec![Ok(Piece::Body(Bytes::from_static(LIST.as_bytes())))],
        1 << 20,
        Some(tools_filter()),
    )
    .await
    .expect("complete");
    assert!(!String::from_utf8_lossy(&got).contains("secret"));
}

#[tokio::test]
async fn a_filtered_event_over_the_limit_is_withheld() {
    let (head, tail) = LIST.split_at(40);
    let limit = LIST.len() - 1;
    for items in [
        vec![piece(head), piece(tail), event(None, "")],
        vec![piece(head), event(None, tail)],
    ] {
        let got = body(items, limit, Some(tools_filter()))
            .await
            .expect("a clean end");
        let text = String::from_utf8(got.to_vec()).expect("utf-8");
        assert!(!text.contains("open") && !text.contains("secret"), "{text}");
        assert!(text.contains("list result could not be read"), "{text}");
    }
}

#[tokio::test(start_paused = true)]
async fn no_keep_alive_inside_an_event() {
    let (tx, rx) = mpsc::channel::<Item>(4);
    let pieces = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    let mut data = events_body(pieces.boxed(), 1 << 20, None, None).into_data_stream();
    let mut next = async || data.next().await.expect("more body").expect("not aborted");
    // Between events, an idle stream gets a keep-alive comment.
    assert_eq!(&next().await[..], b": keep-alive\n\n");
    tx.send(piece("{\"a\"")).await.expect("send");
    assert_eq!(&next().await[..], b"data: ");
    assert_eq!(&next().await[..], b"{\"a\"");
    // Inside an event, none: the next bytes are the event's end, however
    // long it takes.
    let end = async {
        tokio::time::sleep(std::time::Duration::from_secs(60)).await;
        tx.send(event(None, "}")).await.expect("send");
    };
    let (_, got) = tokio::join!(end, next());
    assert_eq!(&got[..], b"}");
}

#[tokio::test]
async fn a_list_answer_on_another_requests_stream_is_filtered() {
    let list = r#"{"jsonrpc":"2.0","id":5,"result":{"tools":[{"name":"echo"},{"name":"secret-x"}],"prompts":[{"name":"secret-p"},{"name":"hi"}]}}"#;
    let ping = r#"{"jsonrpc":"2.0","id":5,"result":{}}"#;
    let items = vec![event(None, ping), event(None, list)];
    let out = body(items, 1 << 20, Some(guard_filter()))
        .await
        .expect("whole");
    let text = String::from_utf8(out.to_vec()).expect("utf8");
    assert!(!text.contains("secret"), "{text}");
    assert!(
        text.contains(r#"{"name":"echo"}"#) && text.contains(r#"{"name":"hi"}"#),
        "{text}"
    );
    // Without the guard the same stream shows everything: the test can fail.
    let items = vec![event(None, ping), event(None, list)];
    let out = body(items, 1 << 20, None).await.expect("whole");
    assert!(String::from_utf8_lossy(&out).contains("secret-x"));
}

#[tokio::test]
async fn a_guarded_stream_still_streams_large_events_in_pieces() {
    let items = vec![
        Ok(Piece::EventData(Bytes::from_static(
            b"{\"jsonrpc\":\"2.0\",\"id\":1,",
        ))),
        Ok(Piece::Event(SseEvent {
            data: Bytes::from_static(b"\"result\":{}}"),
            ..Default::default()
        })),
    ];
    let out = body(items, 8, Some(guard_filter())).await.expect("whole");
    assert!(String::from_utf8_lossy(&out).contains(r#""result":{}"#));
}

#[tokio::test]
async fn a_get_stream_filters_a_replayed_list_answer_sent_in_pieces() {
    let head = r#"{"jsonrpc":"2.0","id":5,"result":{"tools":[{"name":"echo"},"#;
    let tail = r#"{"name":"secret-x"}]}}"#;
    let items = || {
        vec![
            Ok(Piece::EventData(Bytes::from_static(head.as_bytes()))),
            Ok(Piece::Event(SseEvent {
                data: Bytes::from_static(tail.as_bytes()),
                ..Default::default()
            })),
        ]
    };
    let get = ListFilter {
        hold_pieces: true,
        ..guard_filter()
    };
    let out = body(items(), 1 << 20, Some(get)).await.expect("whole");
    let text = String::from_utf8_lossy(&out).into_owned();
    assert!(!text.contains("secret") && text.contains("echo"), "{text}");
    // A POST stream that did not ask for a list lets the pieces through.
    let out = body(items(), 1 << 20, Some(guard_filter()))
        .await
        .expect("whole");
    assert!(String::from_utf8_lossy(&out).contains("secret-x"));
}
