use bytes::Bytes;
use sallyport_protocol::data::SseEvent;

use super::{SseError, SseParser};

const MAX: usize = 1024;

/// Feeds `chunks` in order and collects every event, stopping at an error.
fn parse_chunks(chunks: &[&[u8]], max: usize) -> (Vec<SseEvent>, Option<SseError>) {
    let mut parser = SseParser::new(max);
    let mut events = Vec::new();
    for chunk in chunks {
        parser.push(chunk);
        loop {
            match parser.next_event() {
                Ok(Some(event)) => events.push(event),
                Ok(None) => break,
                Err(e) => return (events, Some(e)),
            }
        }
    }
    (events, None)
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
    parser.push(b"data: progress\n");
    assert_eq!(parser.next_event(), Ok(None));
    parser.push(b"\n");
    assert_eq!(parser.next_event(), Ok(Some(data("progress"))));
    // A CR ends the line at once, without waiting for a possible LF.
    parser.push(b"data: result\r\r");
    assert_eq!(parser.next_event(), Ok(Some(data("result"))));
    parser.push(b"\n");
    assert_eq!(parser.next_event(), Ok(None));
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
    parser.push(b"data: ok\n\n");
    assert_eq!(parser.next_event(), Ok(Some(data("ok"))));
    for _ in 0..10 {
        parser.push(&[b'x'; 10]);
        if parser.next_event().is_err() {
            break;
        }
    }
    let error = SseError::LineTooLong { limit: 80 };
    assert_eq!(parser.next_event(), Err(error));
    // Failed for good: later input is refused.
    parser.push(b"\n\ndata: more\n\n");
    assert_eq!(parser.next_event(), Err(error));
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
