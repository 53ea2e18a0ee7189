//! Routing decisions, as plain functions: which stream a server message
//! goes on (session era), and which HTTP status a stateless-era answer
//! gets.

use crate::bridge::SseItem;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::envelope::{Envelope, Key, Kind};

/// A client request in flight on a session-era child.
#[derive(Debug)]
pub(crate) struct Entry {
    /// Unique within the session (ids may be reused by the client).
    pub seq: u64,
    /// The JSON-RPC id.
    pub key: Key,
    /// The id as the client wrote it, for error responses we make up.
    pub raw_id: String,
    /// `params._meta.progressToken`.
    pub token: Option<Key>,
    /// The request's event stream; `None` once the client went away.
    pub tx: Option<mpsc::Sender<SseItem>>,
    /// Fired when the entry is removed (answered, timed out, session over).
    pub done: CancellationToken,
    /// Whether unrelated server messages may go on this stream (not for
    /// `initialize`, whose answer is one JSON document).
    pub takes_unrelated: bool,
}

impl Entry {
    /// The client is still reading this request's stream.
    pub fn is_open(&self) -> bool {
        self.tx.as_ref().is_some_and(|tx| !tx.is_closed())
    }
}

/// Where a message from a session-era server goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    /// The final response of entry `i`: deliver, then end its stream.
    Final(usize),
    /// The stream of entry `i` (a progress notification for it, or a
    /// server message while it is the newest open request).
    Stream(usize),
    /// The session's GET stream.
    Get,
    /// Nobody can take it now: keep it for the next GET stream.
    Backlog,
    /// A response to no request in flight, or progress for a request whose
    /// client went away.
    Drop,
}

/// Chooses the stream for `message` given the requests in flight (oldest
/// first) and whether a GET stream is open.
///
/// Responses go to the request with their id. Progress goes to the request
/// whose `_meta.progressToken` it names. Anything else the server
/// initiates (requests such as `sampling/createMessage`, notifications)
/// goes to the most recently started request still open, else to the GET
/// stream, else to the backlog.
pub(crate) fn target(message: &Envelope<'_>, entries: &[Entry], get_open: bool) -> Target {
    match message.kind() {
        Kind::Response => {
            let key = message.id.and_then(Key::of);
            return key
                .and_then(|k| entries.iter().position(|e| e.key == k))
                .map_or(Target::Drop, Target::Final);
        }
        Kind::Notification if message.method() == "notifications/progress" => {
            let token = message.progress_token.and_then(Key::of);
            let owner =
                token.and_then(|t| entries.iter().position(|e| e.token.as_ref() == Some(&t)));
            if let Some(i) = owner {
                return if entries[i].is_open() {
                    Target::Stream(i)
                } else {
                    Target::Drop
                };
            }
        }
        Kind::Notification | Kind::Request => {}
    }
    if let Some(i) = entries
        .iter()
        .rposition(|e| e.takes_unrelated && e.is_open())
    {
        Target::Stream(i)
    } else if get_open {
        Target::Get
    } else {
        Target::Backlog
    }
}

/// The HTTP status of a stateless-era request whose first message from the
/// server is its final `response`.
///
/// A failed `server/discover` is 400 whatever the code, so that dual-era
/// clients fall back to `initialize` (a session-era server answers -32601,
/// and 404 + -32601 would read as "modern server, unknown method").
/// Otherwise -32601 is 404, the header/capability/version errors are 400,
/// and everything else, errors included, is 200.
pub(crate) fn stateless_status(response: &Envelope<'_>, discover: bool) -> u16 {
    if !response.is_error {
        return 200;
    }
    if discover {
        return 400;
    }
    match response.error_code {
        Some(-32601) => 404,
        Some(-32022..=-32020) => 400,
        _ => 200,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(
        seq: u64,
        id: &str,
        token: Option<&str>,
        open: bool,
    ) -> (Entry, mpsc::Receiver<SseItem>) {
        let (tx, rx) = mpsc::channel(1);
        let raw = |s: &str| serde_json::value::RawValue::from_string(s.to_owned()).expect("raw");
        let e = Entry {
            seq,
            key: Key::of(&raw(id)).expect("key"),
            raw_id: id.to_owned(),
            token: token.and_then(|t| Key::of(&raw(t))),
            tx: open.then_some(tx),
            done: CancellationToken::new(),
            takes_unrelated: true,
        };
        (e, rx)
    }

    fn route(line: &str, entries: &[Entry], get_open: bool) -> Target {
        target(&Envelope::parse(line).expect("json"), entries, get_open)
    }

    #[test]
    fn responses_progress_and_server_requests() {
        let (a, _ra) = entry(1, "1", Some(r#""p1""#), true);
        let (b, _rb) = entry(2, r#""two""#, None, true);
        let entries = [a, b];
        assert_eq!(
            route(r#"{"id":"two","result":{}}"#, &entries, false),
            Target::Final(1)
        );
        assert_eq!(
            route(r#"{"id":2,"result":{}}"#, &entries, false),
            Target::Drop
        );
        let progress =
            r#"{"method":"notifications/progress","params":{"progressToken":"p1","progress":1}}"#;
        assert_eq!(route(progress, &entries, false), Target::Stream(0));
        let sampling = r#"{"id":0,"method":"sampling/createMessage","params":{}}"#;
        assert_eq!(route(sampling, &entries, false), Target::Stream(1));
        let stray = r#"{"method":"notifications/progress","params":{"progressToken":"zz"}}"#;
        assert_eq!(route(stray, &entries, true), Target::Stream(1));
    }

    #[test]
    fn without_open_requests_messages_go_to_get_or_backlog() {
        let (a, _ra) = entry(1, "1", Some("9"), false);
        let mut init = entry(2, "2", None, true).0;
        init.takes_unrelated = false;
        let entries = [a, init];
        let note = r#"{"method":"notifications/tools/list_changed"}"#;
        assert_eq!(route(note, &entries, true), Target::Get);
        assert_eq!(route(note, &entries, false), Target::Backlog);
        let progress = r#"{"method":"notifications/progress","params":{"progressToken":9}}"#;
        assert_eq!(route(progress, &entries, true), Target::Drop);
        assert_eq!(
            route(r#"{"id":1,"result":{}}"#, &entries, true),
            Target::Final(0)
        );
    }

    #[test]
    fn stateless_statuses() {
        let status = |line: &str, discover| {
            stateless_status(&Envelope::parse(line).expect("json"), discover)
        };
        let not_found = r#"{"id":1,"error":{"code":-32601,"message":"Method not found"}}"#;
        assert_eq!(status(not_found, true), 400);
        assert_eq!(status(not_found, false), 404);
        assert_eq!(
            status(r#"{"id":1,"error":{"code":-32021,"message":"x"}}"#, false),
            400
        );
        assert_eq!(
            status(r#"{"id":1,"error":{"code":-32603,"message":"x"}}"#, false),
            200
        );
        assert_eq!(status(r#"{"id":1,"result":{}}"#, true), 200);
    }
}
