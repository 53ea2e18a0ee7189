use bytes::{Bytes, BytesMut};
use sallyport_protocol::data::SseEvent;

use super::{SseError, SseParser};
use crate::bridge::SseItem;

const MAX: usize = 1024;

/// What a parser yielded: events with their pieces joined back on, and how
/// many pieces there were.
#[derive(Debug, Default)]
struct Parsed {
    events: Vec<SseEvent>,
    pieces: usize,
    error: Option<SseError>,
}

/// Feeds `chunks` in order and collects every event, joining data pieces
/// to the event that follows them, stopping at an error.
fn parse_with(mut parser: SseParser, chunks: &[&[u8]]) -> Parsed {
    let mut parsed = Parsed::default();
    let mut held = BytesMut::new();
    for chunk in chunks {
        parser.push(Bytes::copy_from_slice(chunk));
        loop {
            match parser.next_item() {
                Ok(Some(SseItem::Data(piece))) => {
                    assert!(!piece.is_empty(), "empty piece");
                    parsed.pieces += 1;
                    held.extend_from_slice(&piece);
                }
                Ok(Some(SseItem::Event(mut event))) => {
                    if parsed.pieces > 0 && !held.is_empty() {
                        held.extend_from_slice(&event.data);
                        event.data = std::mem::take(&mut held).freeze();
                    }
                    parsed.events.push(event);
                }
                Ok(None) => break,
                Err(e) => {
                    parsed.error = Some(e);
                    return parsed;
                }
            }
        }
    }
    parsed
}

/// Feeds `chunks` to a parser that does not stream.
fn parse_chunks(chunks: &[&[u8]], max: usize) -> (Vec<SseEvent>, Option<SseError>) {
    let parsed = parse_with(SseParser::new(max), chunks);
    assert_eq!(
        parsed.pieces, 0,
        "a parser without streaming yielded pieces"
    );
    (parsed.events, parsed.error)
}

/// The next item, which must be an event or nothing.
fn next_event(parser: &mut SseParser) -> Result<Option<SseEvent>, SseError> {
    match parser.next_item()? {
        Some(SseItem::Event(event)) => Ok(Some(event)),
        Some(SseItem::Data(piece)) => panic!("unexpected piece {piece:?}"),
        None => Ok(None),
    }
}

fn push(parser: &mut SseParser, bytes: &[u8]) {
    parser.push(Bytes::copy_from_slice(bytes));
}

fn parse(input: &[u8]) -> Vec<SseEvent> {
    let (events, error) = parse_chunks(&[input], MAX);
    assert_eq!(error, None);
    events
}

fn data(s: &str) -> SseEvent {
    SseEvent {
        data: Bytes::copy_from_slice(s.as_bytes()),
        ..Default::default()
    }
}

/// A stream exercising every rule at once: BOM, comments, CRLF, CR, LF,
/// multi-line data, every field, ignored fields and a trailing partial
/// event.
const MIXED: &[u8] = b"\xEF\xBB\xBF: hello\r\n\
id: 1\r\nevent: message\r\nretry: 3000\r\ndata: {\"a\":1}\r\n\r\n\
data:first\rdata: second\r\rdata:  two spaces\n\n\
:keep-alive\n\n\
id\nfoo: bar\ndata\n\n\
id: 7\nretry: 12x\n\n\
data: tail without blank line\n";

fn mixed_expected() -> Vec<SseEvent> {
    vec![
        SseEvent {
            id: Some("1".into()),
            event: Some("message".into()),
            data: Bytes::from_static(b"{\"a\":1}"),
            retry: Some(3000),
        },
        data("first\nsecond"),
        data(" two spaces"),
        SseEvent {
            id: Some(String::new()),
            ..data("")
        },
        SseEvent {
            id: Some("7".into()),
            ..data("")
        },
    ]
}

#[test]
fn parses_every_field_and_line_ending() {
    assert_eq!(parse(MIXED), mixed_expected());
}

#[test]
fn chunk_boundaries_at_every_offset_give_the_same_events() {
    let expected = mixed_expected();
    for i in 0..=MIXED.len() {
        for j in i..=MIXED.len() {
            let (events, error) = parse_chunks(&[&MIXED[..i], &MIXED[i..j], &MIXED[j..]], MAX);
            assert_eq!(error, None, "split at {i}/{j}");
            assert_eq!(events, expected, "split at {i}/{j}");
        }
    }
}

#[test]
fn byte_by_byte_gives_the_same_events() {
    let chunks: Vec<&[u8]> = MIXED.chunks(1).collect();
    let (events, error) = parse_chunks(&chunks, MAX);
    assert_eq!(error, None);
    assert_eq!(events, mixed_expected());
}

#[test]
fn an_event_is_yielded_as_soon_as_its_blank_line_arrives() {
    let mut parser = SseParser::new(MAX);
    push(&mut parser, b"data: progress\n");
    assert_eq!(next_event(&mut parser), Ok(None));
    push(&mut parser, b"\n");
    assert_eq!(next_event(&mut parser), Ok(Some(data("progress"))));
    // A CR ends the line at once, without waiting for a possible LF.
    push(&mut parser, b"data: result\r\r");
    assert_eq!(next_event(&mut parser), Ok(Some(data("result"))));
    push(&mut parser, b"\n");
    assert_eq!(next_event(&mut parser), Ok(None));
}

#[test]
fn cr_then_lf_in_the_next_chunk_is_one_line_ending() {
    let (events, _) = parse_chunks(&[b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n"], MAX);
    assert_eq!(events, vec![data("a\nb")]);
}

#[test]
fn comments_and_blank_lines_alone_yield_nothing() {
    assert_eq!(parse(b": ping\n\n:\r\n\r\n\n\n"), vec![]);
}

#[test]
fn multi_line_data_keeps_empty_lines() {
    assert_eq!(parse(b"data: a\ndata:\ndata: b\n\n"), vec![data("a\n\nb")]);
    assert_eq!(parse(b"data\ndata\n\n"), vec![data("\n")]);
}

#[test]
fn last_field_wins_and_empty_event_name_is_default() {
    let events = parse(b"id: 1\nid: 2\nevent: x\nevent:\ndata: d\n\n");
    assert_eq!(
        events,
        vec![SseEvent {
            id: Some("2".into()),
            ..data("d")
        }]
    );
}

#[test]
fn invalid_id_and_retry_are_ignored() {
    let events = parse(b"id: a\0b\nretry: -1\nretry: 99999999999\ndata: x\n\n");
    assert_eq!(events, vec![data("x")]);
    // Only ignored fields: no event at all.
    assert_eq!(parse(b"id: \0\nretry: soon\nunknown: 1\n\n"), vec![]);
}

#[test]
fn data_bytes_pass_untouched() {
    let events = parse(b"data: caf\xC3\xA9 \xFF\n\n");
    assert_eq!(events[0].data, Bytes::from_static(b"caf\xC3\xA9 \xFF"));
}

#[test]
fn bom_only_at_the_start() {
    assert_eq!(parse(b"\xEF\xBB\xBFdata: a\n\n"), vec![data("a")]);
    // A BOM later is part of the field name, so the line is ignored.
    assert_eq!(
        parse(b"data: a\n\n\xEF\xBB\xBFdata: b\n\n"),
        vec![data("a")]
    );
    let (events, _) = parse_chunks(&[b"\xEF", b"\xBB", b"\xBFdata: c\n\n"], MAX);
    assert_eq!(events, vec![data("c")]);
}

#[test]
fn an_unterminated_event_at_the_end_is_discarded() {
    assert_eq!(parse(b"data: a\n\ndata: b\n"), vec![data("a")]);
    assert_eq!(parse(b"data: a\n\ndata: b"), vec![data("a")]);
}

#[test]
fn a_line_without_ending_is_bounded() {
    let mut parser = SseParser::new(64);
    push(&mut parser, b"data: ok\n\n");
    assert_eq!(next_event(&mut parser), Ok(Some(data("ok"))));
    for _ in 0..10 {
        push(&mut parser, &[b'x'; 10]);
        if next_event(&mut parser).is_err() {
            break;
        }
    }
    let error = SseError::LineTooLong { limit: 80 };
    assert_eq!(next_event(&mut parser), Err(error));
    // Failed for good: later input is refused.
    push(&mut parser, b"\n\ndata: more\n\n");
    assert_eq!(next_event(&mut parser), Err(error));
}

#[test]
fn a_long_line_with_its_ending_in_one_chunk_is_bounded() {
    let mut line = b": ".to_vec();
    line.extend([b'c'; 100]);
    line.extend(b"\ndata: x\n\n");
    let (events, error) = parse_chunks(&[&line], 64);
    assert_eq!(events, vec![]);
    assert_eq!(error, Some(SseError::LineTooLong { limit: 80 }));
}

#[test]
fn an_event_is_bounded_across_lines() {
    let mut input = b"data: first\n\n".to_vec();
    for _ in 0..10 {
        input.extend(b"data: 0123456789\n");
    }
    input.extend(b"\n");
    let (events, error) = parse_chunks(&[&input], 64);
    assert_eq!(events, vec![data("first")]);
    assert_eq!(error, Some(SseError::EventTooLarge { limit: 64 }));
    // Exactly at the bound is fine: 5 data lines of 10 bytes + their 5
    // line feeds + a 9-byte id = 64; one more id byte is too much.
    let lines = "data: 0123456789\n".repeat(5);
    let ok = format!("id: 123456789\n{lines}\n");
    let (events, error) = parse_chunks(&[ok.as_bytes()], 64);
    assert_eq!(error, None);
    assert_eq!(events.len(), 1);
    let over = format!("id: 1234567890\n{lines}\n");
    let (_, error) = parse_chunks(&[over.as_bytes()], 64);
    assert_eq!(error, Some(SseError::EventTooLarge { limit: 64 }));
}

/// Long data lines split across lines, line endings and chunks.
fn long_lines() -> Vec<u8> {
    let mut input = b"id: 5\ndata: ".to_vec();
    input.extend([b'a'; 40]);
    input.extend(b"\r\ndata: ");
    input.extend([b'b'; 30]);
    input.extend(b"\ndata: short\n\ndata:");
    input.extend([b'c'; 50]);
    input.extend(b"\r\nevent: e\n\n: comment\n\ndata: ");
    input.extend([b'd'; 20]);
    input.extend(b"\n\ndata: first\ndata: ");
    input.extend([b'e'; 33]);
    input.extend(b"\rdata:\n\n");
    input
}

#[test]
fn streamed_data_joins_back_to_the_same_events_at_every_split() {
    let input = long_lines();
    let (expected, error) = parse_chunks(&[&input], MAX);
    assert_eq!(error, None);
    assert_eq!(expected.len(), 4);
    for from in [16, 17, 25, 39, 45] {
        let mut pieces = 0;
        for i in 0..=input.len() {
            for j in (i..=input.len()).step_by(7) {
                let chunks = [&input[..i], &input[i..j], &input[j..]];
                let parsed = parse_with(SseParser::new(MAX).streaming(from), &chunks);
                assert_eq!(parsed.error, None, "from {from}, split at {i}/{j}");
                assert_eq!(parsed.events, expected, "from {from}, split at {i}/{j}");
                pieces += parsed.pieces;
            }
        }
        assert!(pieces > 0, "nothing streamed from {from}");
    }
    // Byte by byte: every long line streams, one piece per byte after the
    // threshold.
    let chunks: Vec<&[u8]> = input.chunks(1).collect();
    let parsed = parse_with(SseParser::new(MAX).streaming(16), &chunks);
    assert_eq!(parsed.events, expected);
    assert!(parsed.pieces > 60, "{} pieces", parsed.pieces);
}

#[test]
fn a_streamed_line_passes_received_chunks_on_without_copying() {
    let mut parser = SseParser::new(MAX).streaming(16);
    push(&mut parser, b"event: big\ndata: 0123456789abcdef");
    let Ok(Some(SseItem::Data(first))) = parser.next_item() else {
        panic!("the line's start is not a piece");
    };
    assert_eq!(&first[..], b"0123456789abcdef");
    let chunk = Bytes::from(vec![b'z'; 100]);
    parser.push(chunk.clone());
    let Ok(Some(SseItem::Data(piece))) = parser.next_item() else {
        panic!("no piece");
    };
    assert_eq!(piece.as_ptr(), chunk.as_ptr(), "copied");
    assert_eq!(parser.next_item(), Ok(None));
    // The line's end: what precedes it is the last piece, the event (with
    // its other fields) follows.
    push(&mut parser, b"tail\nid: 3\n\n");
    assert_eq!(
        parser.next_item(),
        Ok(Some(SseItem::Data(Bytes::from_static(b"tail"))))
    );
    assert_eq!(
        parser.next_item(),
        Ok(Some(SseItem::Event(SseEvent {
            id: Some("3".into()),
            event: Some("big".into()),
            ..Default::default()
        })))
    );
    assert_eq!(parser.next_item(), Ok(None));
}

#[test]
fn a_streamed_event_is_still_bounded() {
    let mut parser = SseParser::new(64).streaming(16);
    push(&mut parser, b"data: 0123456789abcdef");
    assert!(matches!(parser.next_item(), Ok(Some(SseItem::Data(_)))));
    let mut error = None;
    for _ in 0..10 {
        push(&mut parser, &[b'x'; 10]);
        match parser.next_item() {
            Ok(Some(SseItem::Data(_))) => {}
            Ok(other) => panic!("unexpected {other:?}"),
            Err(e) => {
                error = Some(e);
                break;
            }
        }
    }
    assert_eq!(error, Some(SseError::EventTooLarge { limit: 64 }));
    push(&mut parser, b"\n\ndata: more\n\n");
    assert_eq!(
        parser.next_item(),
        Err(SseError::EventTooLarge { limit: 64 })
    );
}

#[test]
fn many_short_lines_are_yielded_once_they_add_up() {
    let line = format!("data: {}\n", "s".repeat(9));
    let mut input = String::from("id: 2\n");
    input.push_str(&line.repeat(10));
    input.push('\n');
    let (expected, _) = parse_chunks(&[input.as_bytes()], MAX);
    let parsed = parse_with(SseParser::new(MAX).streaming(16), &[input.as_bytes()]);
    assert_eq!(parsed.events, expected);
    assert!(parsed.pieces >= 4, "{} pieces", parsed.pieces);
    // What the parser holds of one event stays near the threshold.
    let mut parser = SseParser::new(MAX).streaming(16);
    for _ in 0..10 {
        push(&mut parser, line.as_bytes());
        while let Ok(Some(item)) = parser.next_item() {
            assert!(matches!(item, SseItem::Data(_)), "{item:?}");
        }
        let held = parser.pending.data.held();
        assert!(held < 16 + 10, "held {held} bytes");
    }
}

#[test]
fn a_stream_that_stops_inside_a_streamed_event_is_known() {
    let mut parser = SseParser::new(MAX).streaming(16);
    push(&mut parser, b"data: short\n\n");
    assert!(matches!(next_event(&mut parser), Ok(Some(_))));
    push(&mut parser, b"data: 0123456789abcdefgh");
    assert!(matches!(parser.next_item(), Ok(Some(SseItem::Data(_)))));
    assert!(parser.inside_streamed_event());
    push(&mut parser, b"\n\n");
    while let Ok(Some(_)) = parser.next_item() {}
    assert!(!parser.inside_streamed_event(), "the event was complete");
    // A short event cut off is not streamed: nothing to report.
    push(&mut parser, b"data: cut");
    assert_eq!(parser.next_item(), Ok(None));
    assert!(!parser.inside_streamed_event());
}

#[test]
fn streaming_agrees_with_whole_events_on_random_streams() {
    const TOKENS: &[&[u8]] = &[
        b"data: ",
        b"data:",
        b"data",
        b"id: 7",
        b"event: e",
        b"retry: 10",
        b": c",
        b"dat",
        b"\n",
        b"\n",
        b"\r",
        b"\r\n",
        b"x",
        b"yz",
        b"0123456789",
        b"\xEF\xBB\xBF",
        b" ",
    ];
    let mut rng = fastrand::Rng::with_seed(0x5EED_1234_ABCD_0001);
    let (mut pieces, mut compared) = (0, 0);
    for round in 0..3000 {
        let mut input = Vec::new();
        for _ in 0..rng.usize(..40) {
            let token = TOKENS[rng.usize(..TOKENS.len())];
            let times = if token.len() <= 2 && token[0] > b' ' {
                1 + rng.usize(..30)
            } else {
                1
            };
            for _ in 0..times {
                input.extend_from_slice(token);
            }
        }
        let mut chunks = Vec::new();
        let mut rest = &input[..];
        while !rest.is_empty() {
            let n = 1 + rng.usize(..rest.len().min(24));
            chunks.push(&rest[..n]);
            rest = &rest[n..];
        }
        let max = [64, 200, MAX][rng.usize(..3)];
        let from = 16 + rng.usize(..48);
        let (whole, whole_error) = parse_chunks(&chunks, max);
        let streamed = parse_with(SseParser::new(max).streaming(from), &chunks);
        pieces += streamed.pieces;
        if whole_error.is_none() && streamed.error.is_none() {
            compared += 1;
            assert_eq!(streamed.events, whole, "round {round}: {input:?}");
        } else {
            // A bound can trip earlier when streaming (before a line
            // ends); never on an event the whole parser accepted.
            assert!(
                streamed.events.len() <= whole.len()
                    && whole[..streamed.events.len()] == streamed.events[..],
                "round {round}: {input:?}"
            );
            assert!(
                streamed.error.is_some() || whole_error.is_none(),
                "round {round}"
            );
        }
    }
    assert!(
        pieces > 1000 && compared > 1000,
        "{pieces} pieces, {compared} compared"
    );
}
