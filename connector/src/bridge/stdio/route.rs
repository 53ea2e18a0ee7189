//! Routing decisions, as plain functions: which stream a server message
//! goes on (session era), and which HTTP status a stateless-era answer
//! gets.

use crate::bridge::SseItem;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::envelope::{Envelope, Key, Kind, upstream_id};

/// A client request in flight on a session-era child.
///
/// The child never sees the client's id: it gets `upstream`, a number of
/// the connector's own, unique in the session and never reused, and so
/// does the request's progress token. Answers are matched by that number
/// exactly, so two client ids the child would read as one (`5` and `5.0`
/// for a JavaScript or Python server) cannot get each other's answers.
#[derive(Debug)]
pub(crate) struct Entry {
    /// The connector's id for it upstream (and its upstream progress
    /// token, when it has one).
    pub upstream: u64,
    /// The client's id, compared by value: at most one request per id is
    /// in flight, so that `notifications/cancelled` names exactly one.
    pub key: Key,
    /// The client's id as it wrote it (raw JSON), restored on the way out.
    pub client_id: String,
    /// The client's `params._meta.progressToken` as it wrote it.
    pub client_token: Option<String>,
    /// The request's event stream; `None` once the client went away.
    pub tx: Option<mpsc::Sender<SseItem>>,
    /// Fired when the entry is removed (answered, timed out, cancelled,
    /// session over).
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
    /// The final response of entry `i`: restore the client's id, deliver,
    /// then end its stream.
    Final(usize),
    /// Progress for entry `i`: restore the client's token and deliver.
    Progress(usize),
    /// The stream of entry `i`, untouched (a server message while it is
    /// the newest open request).
    Stream(usize),
    /// The session's GET stream.
    Get,
    /// Nobody can take it now: keep it for the next GET stream.
    Backlog,
    /// A response whose id is no upstream id in flight.
    Unmatched,
    /// Progress for a request whose client went away.
    Drop,
}

/// Chooses the stream for `message` given the requests in flight (oldest
/// first) and whether a GET stream is open.
///
/// Responses go to the request whose upstream id they carry, and to no
/// other. Progress goes to the request whose upstream token it names.
/// Anything else the server initiates (requests such as
/// `sampling/createMessage`, which keep the server's ids, notifications,
/// progress naming a token of its own) goes to the most recently started
/// request still open, else to the GET stream, else to the backlog.
pub(crate) fn target(message: &Envelope<'_>, entries: &[Entry], get_open: bool) -> Target {
    match message.kind() {
        Kind::Response => {
            return upstream_id(message.id)
                .and_then(|n| entries.iter().position(|e| e.upstream == n))
                .map_or(Target::Unmatched, Target::Final);
        }
        Kind::Notification if message.method() == "notifications/progress" => {
            let owner = upstream_id(message.progress_token).and_then(|n| {
                entries
                    .iter()
                    .position(|e| e.upstream == n && e.client_token.is_some())
            });
            if let Some(i) = owner {
                return if entries[i].is_open() {
                    Target::Progress(i)
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
        upstream: u64,
        id: &str,
        token: Option<&str>,
        open: bool,
    ) -> (Entry, mpsc::Receiver<SseItem>) {
        let (tx, rx) = mpsc::channel(1);
        let raw = serde_json::value::RawValue::from_string(id.to_owned()).expect("raw");
        let e = Entry {
            upstream,
            key: Key::of(&raw).expect("key"),
            client_id: id.to_owned(),
            client_token: token.map(str::to_owned),
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
    fn responses_and_progress_match_upstream_ids_exactly() {
        // Client ids 5 and 5.0: upstream they are 1 and 2.
        let (a, _ra) = entry(1, "5", Some(r#""p1""#), true);
        let (b, _rb) = entry(2, "5.0", None, true);
        let entries = [a, b];
        assert_eq!(
            route(r#"{"id":2,"result":{}}"#, &entries, false),
            Target::Final(1)
        );
        assert_eq!(
            route(r#"{"id":1,"result":{}}"#, &entries, false),
            Target::Final(0)
        );
        for unmatched in ["5", "5.0", "1.0", r#""1""#, "3", "null"] {
            let line = format!(r#"{{"id":{unmatched},"result":{{}}}}"#);
            assert_eq!(route(&line, &entries, true), Target::Unmatched, "{line}");
        }
        let progress =
            r#"{"method":"notifications/progress","params":{"progressToken":1,"progress":1}}"#;
        assert_eq!(route(progress, &entries, false), Target::Progress(0));
        // Entry 2 asked for no progress: a token 2 is the server's own.
        let stray = r#"{"method":"notifications/progress","params":{"progressToken":2}}"#;
        assert_eq!(route(stray, &entries, true), Target::Stream(1));
        let client_token = r#"{"method":"notifications/progress","params":{"progressToken":"p1"}}"#;
        assert_eq!(route(client_token, &entries, true), Target::Stream(1));
        let sampling = r#"{"id":1,"method":"sampling/createMessage","params":{}}"#;
        assert_eq!(route(sampling, &entries, false), Target::Stream(1));
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
        let progress = r#"{"method":"notifications/progress","params":{"progressToken":1}}"#;
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
