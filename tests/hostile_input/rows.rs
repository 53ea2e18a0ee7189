//! The rows of the hostile-input table: one request each, written as it
//! goes on the wire, and the answer it must get. `@META@` is the
//! stateless era's `_meta` (nothing in the session era); the era adds its
//! headers (see `common::hostile::Era`) unless the row names them.

use super::common::oracle::{DOWN, MISSING};

/// The answer a row must get.
#[derive(Debug, Clone, Copy)]
pub enum Want {
    /// This HTTP status, and this JSON-RPC error code when given.
    Status(u16, Option<i64>),
    /// HTTP 200 with a JSON-RPC result: an allowed call goes through.
    Result,
    /// One of these fail-closed answers, where the rules leave the choice.
    Either(&'static [Want]),
    /// 5xx: the upstream cannot be reached.
    Failed,
}

/// Which eras a row runs in.
#[derive(Debug, Clone, Copy)]
pub enum Eras {
    Both,
    Session,
    Stateless,
    Bare,
}

/// Where a row is sent.
#[derive(Debug, Clone, Copy)]
pub enum On {
    /// `/mcp/oracle` (stdio) and `/mcp/oracle-http`.
    Oracles,
    /// `/mcp/<this server>` only.
    Server(&'static str),
    /// This path, as written.
    Path(&'static str),
}

pub struct Row {
    pub name: &'static str,
    pub eras: Eras,
    pub on: On,
    pub auth: bool,
    pub headers: &'static [(&'static str, &'static str)],
    pub body: &'static str,
    pub want: Want,
    /// No stdio child and no upstream session may start.
    pub no_start: bool,
}

const fn row(name: &'static str, eras: Eras, body: &'static str, want: Want) -> Row {
    Row {
        name,
        eras,
        on: On::Oracles,
        auth: true,
        headers: &[],
        body,
        want,
        no_start: false,
    }
}

impl Row {
    const fn headers(mut self, headers: &'static [(&'static str, &'static str)]) -> Row {
        self.headers = headers;
        self
    }
    const fn on(mut self, on: On) -> Row {
        self.on = on;
        self
    }
    const fn anonymous(mut self) -> Row {
        self.auth = false;
        self
    }
    const fn no_start(mut self) -> Row {
        self.no_start = true;
        self
    }
}

use Eras::{Bare, Both, Session, Stateless};

const INVALID_REQUEST: Want = Want::Status(400, Some(-32600));
const INVALID_PARAMS: Want = Want::Status(400, Some(-32602));
const UNKNOWN_TOOL: Want = Want::Status(200, Some(-32602));
const UNKNOWN_RESOURCE: Want = Want::Status(200, Some(-32002));
const MISMATCH: Want = Want::Status(400, Some(-32020));
const UNSUPPORTED: Want = Want::Status(400, Some(-32022));
const BAD_REQUEST: Want = Want::Status(400, None);
const UNAUTHENTICATED: Want = Want::Status(401, None);
/// A completion whose `ref/resource` names a denied URI: decided on the
/// URI and denied (looks unknown), or refused because the `ref` also
/// carries a `name`.
const COMPLETION_DENIED: Want = Want::Either(&[UNKNOWN_RESOURCE, INVALID_PARAMS]);

/// A URI that a server may resolve to another resource (dot segments,
/// encoded separators) is refused as undecidable.
const RESOLVED_DENIED: Want = INVALID_PARAMS;
const PARSE_ERROR: Want = Want::Status(400, Some(-32700));

const INIT: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"h","version":"0"}}}"#;
const ECHO: &str = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{@META@"name":"echo","arguments":{"message":"hi"}}}"#;

#[rustfmt::skip]
pub const ROWS: &[Row] = &[
    // The rig: allowed calls go through, denied ones look unknown.
    row("allowed echo", Both, ECHO, Want::Result),
    row("allowed public resource", Both, r#"{"jsonrpc":"2.0","id":2,"method":"resources/read","params":{@META@"uri":"file:///public/readme"}}"#, Want::Result),
    row("allowed prompt", Both, r#"{"jsonrpc":"2.0","id":"p","method":"prompts/get","params":{@META@"name":"greeting"}}"#, Want::Result),
    row("allowed completion of a public resource", Both, r#"{"jsonrpc":"2.0","id":3,"method":"completion/complete","params":{@META@"ref":{"type":"ref/resource","uri":"file:///public/{name}"},"argument":{"name":"name","value":"r"}}}"#, Want::Result),
    row("denied tool", Both, r#"{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{@META@"name":"secret-delete","arguments":{}}}"#, UNKNOWN_TOOL),
    row("denied resource", Both, r#"{"jsonrpc":"2.0","id":5,"method":"resources/read","params":{@META@"uri":"file:///secret/keys"}}"#, UNKNOWN_RESOURCE),
    row("denied prompt", Both, r#"{"jsonrpc":"2.0","id":6,"method":"prompts/get","params":{@META@"name":"secret-prompt"}}"#, UNKNOWN_TOOL),
    row("denied subscribe", Both, r#"{"jsonrpc":"2.0","id":7,"method":"resources/subscribe","params":{@META@"uri":"file:///secret/keys"}}"#, UNKNOWN_RESOURCE),
    row("denied unsubscribe", Both, r#"{"jsonrpc":"2.0","id":8,"method":"resources/unsubscribe","params":{@META@"uri":"file:///secret/keys"}}"#, UNKNOWN_RESOURCE),
    // Id confusion: an id member makes a request, and MCP forbids a null
    // one, so null is refused like every other shape some parser would
    // confuse; an allowed tool with a null id is refused too.
    row("id null, denied tool", Both, r#"{"jsonrpc":"2.0","id":null,"method":"tools/call","params":{@META@"name":"secret-delete"}}"#, INVALID_REQUEST),
    row("id null, denied resource", Both, r#"{"jsonrpc":"2.0","id":null,"method":"resources/read","params":{@META@"uri":"file:///secret/keys"}}"#, INVALID_REQUEST),
    row("id null, allowed tool", Both, r#"{"jsonrpc":"2.0","id":null,"method":"tools/call","params":{@META@"name":"echo","arguments":{"message":"x"}}}"#, INVALID_REQUEST),
    row("id 5.0", Both, r#"{"jsonrpc":"2.0","id":5.0,"method":"tools/call","params":{@META@"name":"secret-delete"}}"#, INVALID_REQUEST),
    row("id 5.0 on an allowed tool", Both, r#"{"jsonrpc":"2.0","id":5.0,"method":"tools/call","params":{@META@"name":"echo","arguments":{"message":"x"}}}"#, INVALID_REQUEST),
    row("id 5e0", Both, r#"{"jsonrpc":"2.0","id":5e0,"method":"tools/call","params":{@META@"name":"secret-delete"}}"#, INVALID_REQUEST),
    row("id 1E2", Both, r#"{"jsonrpc":"2.0","id":1E2,"method":"tools/call","params":{@META@"name":"echo"}}"#, INVALID_REQUEST),
    row("id -0", Both, r#"{"jsonrpc":"2.0","id":-0,"method":"tools/call","params":{@META@"name":"secret-delete"}}"#, INVALID_REQUEST),
    row("id 2^53+1", Both, r#"{"jsonrpc":"2.0","id":9007199254740993,"method":"tools/call","params":{@META@"name":"secret-delete"}}"#, INVALID_REQUEST),
    row("id -(2^53)", Both, r#"{"jsonrpc":"2.0","id":-9007199254740992,"method":"tools/call","params":{@META@"name":"echo"}}"#, INVALID_REQUEST),
    row("id 2^53-1 is fine", Both, r#"{"jsonrpc":"2.0","id":9007199254740991,"method":"tools/call","params":{@META@"name":"echo","arguments":{"message":"max"}}}"#, Want::Result),
    row("id true", Both, r#"{"jsonrpc":"2.0","id":true,"method":"tools/call","params":{@META@"name":"secret-delete"}}"#, INVALID_REQUEST),
    row("id object", Both, r#"{"jsonrpc":"2.0","id":{"n":5},"method":"tools/call","params":{@META@"name":"secret-delete"}}"#, INVALID_REQUEST),
    row("id array", Both, r#"{"jsonrpc":"2.0","id":[5],"method":"tools/call","params":{@META@"name":"secret-delete"}}"#, INVALID_REQUEST),
    // Policed methods as notifications.
    row("notification: denied tool", Both, r#"{"jsonrpc":"2.0","method":"tools/call","params":{@META@"name":"secret-delete"}}"#, INVALID_REQUEST),
    row("notification: allowed tool", Both, r#"{"jsonrpc":"2.0","method":"tools/call","params":{@META@"name":"echo","arguments":{"message":"n"}}}"#, INVALID_REQUEST),
    row("notification: denied resource", Both, r#"{"jsonrpc":"2.0","method":"resources/read","params":{@META@"uri":"file:///secret/keys"}}"#, INVALID_REQUEST),
    row("notification: subscribe", Both, r#"{"jsonrpc":"2.0","method":"resources/subscribe","params":{@META@"uri":"file:///secret/keys"}}"#, INVALID_REQUEST),
    row("notification: denied prompt", Both, r#"{"jsonrpc":"2.0","method":"prompts/get","params":{@META@"name":"secret-prompt"}}"#, INVALID_REQUEST),
    row("notification: completion", Both, r#"{"jsonrpc":"2.0","method":"completion/complete","params":{@META@"ref":{"type":"ref/prompt","name":"secret-prompt"},"argument":{"name":"a","value":"b"}}}"#, INVALID_REQUEST),
    // Type confusion: a target that is not a string, params not an object.
    row("name is an array", Both, r#"{"jsonrpc":"2.0","id":10,"method":"tools/call","params":{@META@"name":["secret-delete"]}}"#, INVALID_PARAMS),
    row("name is a number", Both, r#"{"jsonrpc":"2.0","id":11,"method":"tools/call","params":{@META@"name":5}}"#, INVALID_PARAMS),
    row("name is an object", Both, r#"{"jsonrpc":"2.0","id":12,"method":"tools/call","params":{@META@"name":{"name":"secret-delete"}}}"#, INVALID_PARAMS),
    row("name is null", Both, r#"{"jsonrpc":"2.0","id":13,"method":"tools/call","params":{@META@"name":null}}"#, INVALID_PARAMS),
    row("name is missing", Both, r#"{"jsonrpc":"2.0","id":14,"method":"tools/call","params":{@META@"arguments":{}}}"#, INVALID_PARAMS),
    row("params by position", Both, r#"{"jsonrpc":"2.0","id":15,"method":"tools/call","params":["secret-delete",{}]}"#, INVALID_PARAMS),
    row("params a string", Both, r#"{"jsonrpc":"2.0","id":16,"method":"tools/call","params":"secret-delete"}"#, INVALID_PARAMS),
    row("params missing", Both, r#"{"jsonrpc":"2.0","id":17,"method":"tools/call"}"#, INVALID_PARAMS),
    row("uri is an array", Both, r#"{"jsonrpc":"2.0","id":18,"method":"resources/read","params":{@META@"uri":["file:///secret/keys"]}}"#, INVALID_PARAMS),
    row("subscribe uri is an array", Both, r#"{"jsonrpc":"2.0","id":19,"method":"resources/subscribe","params":{@META@"uri":["file:///secret/keys"]}}"#, INVALID_PARAMS),
    row("unsubscribe uri missing", Both, r#"{"jsonrpc":"2.0","id":20,"method":"resources/unsubscribe","params":{@META@"name":"file:///secret/keys"}}"#, INVALID_PARAMS),
    row("prompt name is an array", Both, r#"{"jsonrpc":"2.0","id":21,"method":"prompts/get","params":{@META@"name":["secret-prompt"]}}"#, INVALID_PARAMS),
    row("resource params by position", Both, r#"{"jsonrpc":"2.0","id":22,"method":"resources/read","params":["file:///secret/keys"]}"#, INVALID_PARAMS),
    // Completion: decided on what the upstream uses.
    row("completion ref/resource: allowed name, denied uri", Both, r#"{"jsonrpc":"2.0","id":30,"method":"completion/complete","params":{@META@"ref":{"type":"ref/resource","name":"greeting","uri":"file:///secret/keys"},"argument":{"name":"a","value":"b"}}}"#, COMPLETION_DENIED),
    row("completion ref/resource: denied uri", Both, r#"{"jsonrpc":"2.0","id":31,"method":"completion/complete","params":{@META@"ref":{"type":"ref/resource","uri":"file:///secret/keys"},"argument":{"name":"a","value":"b"}}}"#, UNKNOWN_RESOURCE),
    row("completion ref/prompt: denied name", Both, r#"{"jsonrpc":"2.0","id":32,"method":"completion/complete","params":{@META@"ref":{"type":"ref/prompt","name":"secret-prompt"},"argument":{"name":"a","value":"b"}}}"#, UNKNOWN_TOOL),
    row("completion of another ref type", Both, r#"{"jsonrpc":"2.0","id":33,"method":"completion/complete","params":{@META@"ref":{"type":"ref/tool","name":"secret-delete"},"argument":{"name":"a","value":"b"}}}"#, INVALID_PARAMS),
    row("completion ref without type", Both, r#"{"jsonrpc":"2.0","id":34,"method":"completion/complete","params":{@META@"ref":{"uri":"file:///secret/keys"},"argument":{"name":"a","value":"b"}}}"#, INVALID_PARAMS),
    row("completion ref/prompt name is an array", Both, r#"{"jsonrpc":"2.0","id":35,"method":"completion/complete","params":{@META@"ref":{"type":"ref/prompt","name":["secret-prompt"]},"argument":{"name":"a","value":"b"}}}"#, INVALID_PARAMS),
    row("completion ref is a string", Both, r#"{"jsonrpc":"2.0","id":36,"method":"completion/complete","params":{@META@"ref":"secret-prompt","argument":{"name":"a","value":"b"}}}"#, INVALID_PARAMS),
    row("completion ref missing", Both, r#"{"jsonrpc":"2.0","id":37,"method":"completion/complete","params":{@META@"argument":{"name":"a","value":"b"}}}"#, INVALID_PARAMS),
    // Duplicate keys among the members the relay reads.
    row("name twice, denied last", Both, r#"{"jsonrpc":"2.0","id":40,"method":"tools/call","params":{@META@"name":"echo","name":"secret-delete"}}"#, INVALID_REQUEST),
    row("name twice, denied first", Both, r#"{"jsonrpc":"2.0","id":41,"method":"tools/call","params":{@META@"name":"secret-delete","name":"echo"}}"#, INVALID_REQUEST),
    row("method twice", Both, r#"{"jsonrpc":"2.0","id":42,"method":"ping","method":"tools/call","params":{@META@"name":"secret-delete"}}"#, INVALID_REQUEST),
    row("id twice", Both, r#"{"jsonrpc":"2.0","id":43,"id":null,"method":"tools/call","params":{@META@"name":"secret-delete"}}"#, INVALID_REQUEST),
    row("params twice", Both, r#"{"jsonrpc":"2.0","id":44,"method":"tools/call","params":{@META@"name":"echo"},"params":{@META@"name":"secret-delete"}}"#, INVALID_REQUEST),
    row("jsonrpc twice", Both, r#"{"jsonrpc":"2.0","jsonrpc":"2.0","id":45,"method":"tools/call","params":{@META@"name":"secret-delete"}}"#, INVALID_REQUEST),
    row("uri twice", Both, r#"{"jsonrpc":"2.0","id":46,"method":"resources/read","params":{@META@"uri":"file:///public/readme","uri":"file:///secret/keys"}}"#, INVALID_REQUEST),
    row("ref twice", Both, r#"{"jsonrpc":"2.0","id":47,"method":"completion/complete","params":{@META@"ref":{"type":"ref/prompt","name":"greeting"},"ref":{"type":"ref/prompt","name":"secret-prompt"},"argument":{"name":"a","value":"b"}}}"#, INVALID_REQUEST),
    row("ref.type twice", Both, r#"{"jsonrpc":"2.0","id":48,"method":"completion/complete","params":{@META@"ref":{"type":"ref/prompt","type":"ref/resource","name":"greeting","uri":"file:///secret/keys"},"argument":{"name":"a","value":"b"}}}"#, INVALID_REQUEST),
    row("ref.name twice", Both, r#"{"jsonrpc":"2.0","id":49,"method":"completion/complete","params":{@META@"ref":{"type":"ref/prompt","name":"greeting","name":"secret-prompt"},"argument":{"name":"a","value":"b"}}}"#, INVALID_REQUEST),
    row("_meta twice", Stateless, r#"{"jsonrpc":"2.0","id":50,"method":"tools/call","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2025-11-25"},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"},"name":"echo"}}"#, INVALID_REQUEST),
    row("name twice, once escaped", Both, r#"{"jsonrpc":"2.0","id":51,"method":"tools/call","params":{@META@"name":"echo","n\u0061me":"secret-delete"}}"#, INVALID_REQUEST),
    row("method twice, once escaped", Both, r#"{"jsonrpc":"2.0","id":52,"method":"ping","\u006dethod":"tools/call","params":{@META@"name":"secret-delete"}}"#, INVALID_REQUEST),
    row("id twice, once escaped", Both, r#"{"jsonrpc":"2.0","id":53,"\u0069d":null,"method":"tools/call","params":{@META@"name":"secret-delete"}}"#, INVALID_REQUEST),
    // Escapes alone: the relay reads what every JSON parser reads.
    row("escaped key name", Both, r#"{"jsonrpc":"2.0","id":60,"method":"tools/call","params":{@META@"n\u0061me":"secret-delete"}}"#, UNKNOWN_TOOL),
    row("escaped tool name", Both, r#"{"jsonrpc":"2.0","id":61,"method":"tools/call","params":{@META@"name":"secret\u002ddelete"}}"#, UNKNOWN_TOOL),
    row("escaped method", Both, r#"{"jsonrpc":"2.0","id":62,"method":"tools\/call","params":{@META@"name":"secret-delete"}}"#, UNKNOWN_TOOL),
    row("escaped uri", Both, r#"{"jsonrpc":"2.0","id":63,"method":"resources/read","params":{@META@"uri":"file:\/\/\/secret\/keys"}}"#, UNKNOWN_RESOURCE),
    row("escaped key params", Both, r#"{"jsonrpc":"2.0","id":64,"method":"tools/call","\u0070arams":{@META@"name":"secret-delete"}}"#, UNKNOWN_TOOL),
    // Parser differentials: what the upstream resolves is what is decided.
    row("a tab inside a dot segment", Both, r#"{"jsonrpc":"2.0","id":68,"method":"resources/read","params":{@META@"uri":"file:///public/.\t./secret/keys"}}"#, RESOLVED_DENIED),
    row("a line break inside a dot segment", Both, r#"{"jsonrpc":"2.0","id":69,"method":"resources/read","params":{@META@"uri":"file:///public/.\n./secret/keys"}}"#, RESOLVED_DENIED),
    row("an upper-case scheme and a tab", Both, r#"{"jsonrpc":"2.0","id":70,"method":"resources/read","params":{@META@"uri":"FILE:///public/.\t./secret/keys"}}"#, RESOLVED_DENIED),
    row("dot segments out of the public prefix", Both, r#"{"jsonrpc":"2.0","id":65,"method":"resources/read","params":{@META@"uri":"file:///public/../secret/keys"}}"#, RESOLVED_DENIED),
    row("percent-encoded dot segments", Both, r#"{"jsonrpc":"2.0","id":66,"method":"resources/read","params":{@META@"uri":"file:///public/%2e%2e/secret/keys"}}"#, RESOLVED_DENIED),
    row("dot segments in a completion ref", Both, r#"{"jsonrpc":"2.0","id":67,"method":"completion/complete","params":{@META@"ref":{"type":"ref/resource","uri":"file:///public/../secret/{name}"},"argument":{"name":"a","value":"b"}}}"#, RESOLVED_DENIED),
    row("two messages in one body", Both, concat!(r#"{"jsonrpc":"2.0","id":68,"method":"tools/call","params":{@META@"name":"echo"}}"#, "\n", r#"{"jsonrpc":"2.0","id":69,"method":"tools/call","params":{"name":"secret-delete"}}"#), Want::Either(&[PARSE_ERROR, INVALID_REQUEST])),
    row("lone surrogate in a name", Both, r#"{"jsonrpc":"2.0","id":70,"method":"tools/call","params":{@META@"name":"secret-delete\ud800"}}"#, Want::Either(&[PARSE_ERROR, INVALID_REQUEST, UNKNOWN_TOOL])),
    // Batches (removed from MCP) are refused whole.
    row("batch with a denied call", Both, r#"[{"jsonrpc":"2.0","id":70,"method":"tools/call","params":{"name":"secret-delete"}}]"#, INVALID_REQUEST),
    row("batch with a list", Both, r#"[{"jsonrpc":"2.0","id":71,"method":"tools/list"}]"#, INVALID_REQUEST),
    // Lists are filtered whatever the spelling of the request.
    row("tools/list", Both, r#"{"jsonrpc":"2.0","id":80,"method":"tools/list","params":{@META@"cursor":null}}"#, Want::Result),
    row("prompts/list", Both, r#"{"jsonrpc":"2.0","id":81,"method":"prompts/list","params":{@META@"x":1}}"#, Want::Result),
    row("resources/list", Both, r#"{"jsonrpc":"2.0","id":82,"method":"resources/list","params":{@META@"x":1}}"#, Want::Result),
    row("resources/templates/list", Both, r#"{"jsonrpc":"2.0","id":83,"method":"resources/templates/list","params":{@META@"x":1}}"#, Want::Result),
    row("tools/list, escaped method", Both, r#"{"jsonrpc":"2.0","id":84,"method":"tools\/list","params":{@META@"x":1}}"#, Want::Result),
    row("tools/list, id escaped string", Both, r#"{"jsonrpc":"2.0","id":"\u0035","method":"tools/list","params":{@META@"x":1}}"#, Want::Result),
    row("tools/list, id null", Both, r#"{"jsonrpc":"2.0","id":null,"method":"tools/list","params":{@META@"x":1}}"#, INVALID_REQUEST),
    row("tools/list, id 5.0", Both, r#"{"jsonrpc":"2.0","id":5.0,"method":"tools/list","params":{@META@"x":1}}"#, INVALID_REQUEST),
    row("tools/list hidden behind ping", Both, r#"{"jsonrpc":"2.0","id":85,"method":"ping","method":"tools/list","params":{@META@"x":1}}"#, INVALID_REQUEST),
    // Stateless era: routing headers twice, or disagreeing with the body.
    row("Mcp-Name twice", Stateless, ECHO, BAD_REQUEST).headers(&[("Mcp-Name", "echo"), ("Mcp-Name", "secret-delete")]),
    row("Mcp-Method twice", Stateless, ECHO, BAD_REQUEST).headers(&[("Mcp-Method", "tools/call"), ("Mcp-Method", "tools/list")]),
    row("MCP-Protocol-Version twice", Stateless, ECHO, BAD_REQUEST).headers(&[("MCP-Protocol-Version", "2026-07-28"), ("MCP-Protocol-Version", "2026-07-28")]),
    row("Mcp-Session-Id twice", Stateless, ECHO, BAD_REQUEST).headers(&[("Mcp-Session-Id", "a"), ("Mcp-Session-Id", "b")]),
    row("Mcp-Name disagrees (denied body)", Stateless, r#"{"jsonrpc":"2.0","id":90,"method":"tools/call","params":{@META@"name":"secret-delete"}}"#, MISMATCH).headers(&[("Mcp-Name", "echo")]),
    row("Mcp-Name disagrees (denied header)", Stateless, ECHO, MISMATCH).headers(&[("Mcp-Name", "secret-delete")]),
    row("Mcp-Method disagrees", Stateless, ECHO, MISMATCH).headers(&[("Mcp-Method", "ping")]),
    row("Mcp-Name names a uri the body does not", Stateless, r#"{"jsonrpc":"2.0","id":91,"method":"resources/read","params":{@META@"uri":"file:///secret/keys"}}"#, MISMATCH).headers(&[("Mcp-Name", "file:///public/readme")]),
    row("Mcp-Name in base64 agrees", Stateless, ECHO, Want::Result).headers(&[("Mcp-Name", "=?base64?ZWNobw==?=")]),
    row("version header disagrees with _meta", Stateless, ECHO, MISMATCH).headers(&[("MCP-Protocol-Version", "2025-11-25")]),
    row("Mcp-Param-* mirroring no argument", Stateless, ECHO, Want::Either(&[Want::Result, MISMATCH])).headers(&[("Mcp-Param-Region", "eu")]),
    // Session era: the client's Mcp-* headers never reach the upstream.
    row("session era with client Mcp-* headers", Session, ECHO, Want::Result).headers(&[("Mcp-Method", "tools/call"), ("Mcp-Name", "secret-delete"), ("Mcp-Param-Region", "eu")]),
    row("session era, Mcp-Session-Id twice", Session, ECHO, BAD_REQUEST).headers(&[("Mcp-Session-Id", "forged")]),
    // An unknown version is refused before anything starts.
    row("initialize with version 9999", Bare, INIT, UNSUPPORTED).headers(&[("MCP-Protocol-Version", "9999")]).no_start(),
    row("tools/call with version 9999", Bare, ECHO, UNSUPPORTED).headers(&[("MCP-Protocol-Version", "9999")]).no_start(),
    row("tools/call with version DRAFT", Bare, ECHO, UNSUPPORTED).headers(&[("MCP-Protocol-Version", "DRAFT-2026-v1")]).no_start(),
    row("version 9999 in a session", Session, ECHO, UNSUPPORTED).headers(&[("MCP-Protocol-Version", "9999")]).no_start(),
    row("_meta version 9999", Bare, r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"9999"},"name":"echo"}}"#, UNSUPPORTED).no_start(),
    // Authentication comes before any server lookup.
    row("anonymous, existing server", Bare, INIT, UNAUTHENTICATED).on(On::Path("/mcp/oracle")).anonymous(),
    row("anonymous, unknown server", Bare, INIT, UNAUTHENTICATED).on(On::Path("/mcp/no-such-server")).anonymous(),
    row("anonymous, invalid server name", Bare, INIT, UNAUTHENTICATED).on(On::Path("/mcp/..%2fadmin")).anonymous(),
    row("bad key, unknown server", Bare, INIT, UNAUTHENTICATED).on(On::Path("/mcp/no-such-server")).anonymous().headers(&[("Authorization", "Bearer sp_not-a-key")]),
    row("authenticated, unknown server", Bare, INIT, Want::Status(404, None)).on(On::Path("/mcp/no-such-server")),
    // Errors never show an upstream's address, a command or OS errors.
    row("unreachable HTTP upstream (session)", Bare, INIT, Want::Failed).on(On::Server(DOWN)).headers(&[("MCP-Protocol-Version", "2025-11-25")]),
    row("unreachable HTTP upstream (stateless)", Stateless, ECHO, Want::Failed).on(On::Server(DOWN)),
    row("stdio command missing (session)", Bare, INIT, Want::Failed).on(On::Server(MISSING)).headers(&[("MCP-Protocol-Version", "2025-11-25")]),
    row("stdio command missing (stateless)", Stateless, ECHO, Want::Failed).on(On::Server(MISSING)),
];

/// Two requests in flight in one session: a slow echo with id `a_id`,
/// then `tools/list` with id `b_id`.
pub struct Pair {
    pub name: &'static str,
    pub a_id: &'static str,
    pub b_id: &'static str,
    pub b_want: Want,
}

/// A second request in flight with the id of the first: served on its own
/// stream, or refused.
const SAME_ID: Want = Want::Either(&[Want::Result, INVALID_REQUEST]);

#[rustfmt::skip]
pub const PAIRS: &[Pair] = &[
    // 5 and "5" are one id to a server that compares str(id) (the Python
    // SDK): answered apart (stdio: the connector's own ids), or refused
    // while the first is in flight (HTTP, session era).
    Pair { name: "5 and \"5\"", a_id: "5", b_id: r#""5""#, b_want: SAME_ID },
    Pair { name: "\"5\" and 5", a_id: r#""5""#, b_id: "5", b_want: SAME_ID },
    // "\u0035" is "5": the same id twice, which may be refused.
    Pair { name: "\"5\" and \"\\u0035\"", a_id: r#""5""#, b_id: r#""\u0035""#, b_want: SAME_ID },
    Pair { name: "\"\\u0035\" and \"5\"", a_id: r#""\u0035""#, b_id: r#""5""#, b_want: SAME_ID },
    Pair { name: "5 and 5 (the same id twice)", a_id: "5", b_id: "5", b_want: SAME_ID },
    Pair { name: "5 and 5.0", a_id: "5", b_id: "5.0", b_want: INVALID_REQUEST },
];
