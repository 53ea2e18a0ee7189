#!/usr/bin/env python3
"""An oracle MCP server for Sallyport's hostile-input tests (stdlib only).

It follows JSON-RPC 2.0 to the letter and does not special-case MCP:

* a message with an ``id`` member (string, number or null) and a ``method``
  is a request: it is executed and answered with that id; an ``id`` of
  another type is an Invalid Request (-32600) and is not executed;
* a message with ``method`` and no ``id`` is a notification: it is executed
  too (a ``tools/call`` notification runs the tool) and nothing is sent
  back;
* a batch (a JSON array) is a list of such messages; parameters may be
  given by position (``params`` an array);
* duplicate keys take the last value (Python's json), and ``5`` and
  ``5.0`` are the same id: numeric ids are answered as a JavaScript server
  answers them, through a double (``5.0`` comes back as ``5``), so two
  requests whose ids differ only in spelling get answers with one id.

It is as permissive as many real servers about the shape of a target:
``params.name`` / ``params.uri`` / ``ref.name`` / ``ref.uri`` that is a
list means its first element, a number or boolean means ``str()`` of it;
an object or null names nothing (nothing is executed). A
``completion/complete`` whose ``ref.type`` is neither ``ref/prompt`` nor
``ref/resource`` uses ``ref.name`` if present, else ``ref.uri``. A
``file://`` URI is resolved as a filesystem server would (percent-decoded,
dot segments removed) and the log shows the resolved URI. The point: an
upstream may execute what a gateway failed to decide.

Every call it executes is appended to the log file (``--log PATH`` or
``ORACLE_LOG``) as one JSON line, written with one ``write`` on an
``O_APPEND`` descriptor (lines of concurrent processes never interleave):

    {"ev": "start", "transport": "stdio"|"http", "pid": ...}
    {"ev": "call", "method": ..., "target": <what it used>, "asked": <what
     the message named, before resolving>, "found": bool,
     "kind": "request"|"notification", "id": ..., "marker": <echo message>,
     "era": "session"|"stateless", "mcp_headers": {name: [values]}, ...}
    {"ev": "list", "method": "tools/list", ...}
    {"ev": "session", "sid": ...}   (the HTTP oracle opened a session)

Transports: stdio (newline-delimited JSON; ``initialize`` or, in the
stateless era, ``server/discover`` and requests carrying
``_meta["io.modelcontextprotocol/protocolVersion"]`` — neither is required
before a call) and Streamable HTTP (``--http``: ThreadingHTTPServer on
127.0.0.1, a port chosen by the OS, printed on stdout as
``{"listening": "127.0.0.1", "port": N}``; the ``Mcp-*`` headers of each
request are logged, base64 values decoded; session era with
``Mcp-Session-Id``, stateless era POST only; JSON answers).

``echo`` with ``arguments.delay_ms`` (at most 5000) answers that much
later, so a test can hold a request in flight.
"""

import base64
import binascii
import json
import os
import posixpath
import sys
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

TOOLS = ["echo", "add", "secret-delete", "secret-dump"]
RESOURCES = ["file:///public/readme", "file:///secret/keys"]
TEMPLATES = ["file:///public/{name}", "file:///secret/{name}"]
PROMPTS = ["greeting", "secret-prompt"]
VERSIONS = ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25", "2026-07-28"]
STATELESS = "2026-07-28"
META = "io.modelcontextprotocol/protocolVersion"
INFO = {"name": "oracle", "version": "1"}
CAPS = {"tools": {}, "resources": {"subscribe": True}, "prompts": {}, "completions": {}}

# Positional params: which position holds the target.
TARGET_MEMBER = {
    "tools/call": "name",
    "prompts/get": "name",
    "resources/read": "uri",
    "resources/subscribe": "uri",
    "resources/unsubscribe": "uri",
}
LISTS = ["tools/list", "resources/list", "resources/templates/list", "prompts/list"]


class Log:
    def __init__(self, path):
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT
        self.fd = os.open(path, flags, 0o644) if path else None

    def write(self, **record):
        if self.fd is None:
            return
        record["pid"] = os.getpid()
        os.write(self.fd, (json.dumps(record) + "\n").encode())


def coerce(value):
    """What a permissive server makes of a target member."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return coerce(value[0]) if value else None
    if isinstance(value, (bool, int, float)):
        return str(value)
    return None  # an object or null names nothing


def resolve(uri):
    """A ``file://`` URI as a filesystem server opens it after a WHATWG URL
    parser saw it: tabs and line breaks deleted, scheme lower-cased, then
    percent-decoded, dot segments resolved (``file:///public/../secret/keys``
    and ``FILE:///public/.\t./secret/keys`` are the secret)."""
    uri = uri.translate({9: None, 10: None, 13: None})
    scheme, sep, rest = uri.partition(":")
    if sep and scheme.isalpha():
        uri = scheme.lower() + ":" + rest
    if not uri.startswith("file://"):
        return uri
    path = posixpath.normpath(unquote(uri[len("file://"):]))
    return "file://" + path.replace("//", "/")


def target_of(method, params):
    """What the message names and the target the call uses (or None)."""
    asked = member_of(method, params)
    uses_uri = method.startswith("resources/") or (
        method == "completion/complete" and asked is not None and asked.startswith("file:")
    )
    return asked, resolve(asked) if uses_uri and asked is not None else asked


def member_of(method, params):
    """The member that names the target, coerced."""
    if isinstance(params, list):  # by position: [target, arguments]
        params = {TARGET_MEMBER.get(method, "ref"): params[0]} if params else {}
    if not isinstance(params, dict):
        return None
    if method == "completion/complete":
        ref = params.get("ref")
        if not isinstance(ref, dict):
            return None
        kind = ref.get("type")
        if kind == "ref/prompt":
            return coerce(ref.get("name"))
        if kind == "ref/resource":
            return coerce(ref.get("uri"))
        return coerce(ref["name"] if "name" in ref else ref.get("uri"))
    return coerce(params.get(TARGET_MEMBER[method]))


def js_number(rid):
    """An id as a JavaScript server answers it: numbers go through a double
    (``5.0`` and ``5e0`` come back as ``5``, 2^53 + 1 as 2^53)."""
    if isinstance(rid, (int, float)) and not isinstance(rid, bool):
        as_double = float(rid)
        return int(as_double) if as_double.is_integer() else as_double
    return rid


def error(code, message):
    return {"error": {"code": code, "message": message}}


def call(method, target, args):
    """Runs one policed call; returns (found, outcome)."""
    text = lambda t: {"content": [{"type": "text", "text": t}]}
    if method == "tools/call":
        if target == "echo":
            return True, text(str(args.get("message", "")))
        if target == "add":
            try:
                return True, text(str(args.get("a", 0) + args.get("b", 0)))
            except TypeError:
                return True, error(-32602, "add needs numbers")
        if target in TOOLS:
            return True, text(f"{target} executed")
        return False, error(-32602, f"Unknown tool: {target}")
    if method.startswith("resources/"):
        if target not in RESOURCES:
            return False, error(-32002, f"Resource not found: {target}")
        if method == "resources/read":
            return True, {"contents": [{"uri": target, "text": f"contents of {target}"}]}
        return True, {}
    if method == "prompts/get":
        if target not in PROMPTS:
            return False, error(-32602, f"Unknown prompt: {target}")
        msg = {"role": "user", "content": {"type": "text", "text": f"{target} text"}}
        return True, {"messages": [msg]}
    found = target in PROMPTS or target in RESOURCES or target in TEMPLATES
    return found, {"completion": {"values": [f"{target}-1"], "hasMore": False}}


def listing(method):
    if method == "tools/list":
        schema = {"type": "object"}
        return {"tools": [{"name": t, "inputSchema": schema} for t in TOOLS]}
    if method == "resources/list":
        return {"resources": [{"uri": u, "name": u} for u in RESOURCES]}
    if method == "resources/templates/list":
        return {"resourceTemplates": [{"uriTemplate": u, "name": u} for u in TEMPLATES]}
    return {"prompts": [{"name": p} for p in PROMPTS]}


class Oracle:
    def __init__(self, log, transport):
        self.log = log
        self.transport = transport
        self.log.write(ev="start", transport=transport)

    def handle(self, msg, extra, later):
        """One message; returns the answer (dict), or None (notification,
        response, or answer deferred through ``later(seconds, answer)``)."""
        if not isinstance(msg, dict) or not isinstance(msg.get("method", ""), str):
            return {"jsonrpc": "2.0", "id": None, **error(-32600, "Invalid Request")}
        if "method" not in msg:
            return None  # a response to a request we never send
        is_request = "id" in msg
        rid = msg.get("id")
        if is_request and (isinstance(rid, bool) or not (rid is None or isinstance(rid, (str, int, float)))):
            return {"jsonrpc": "2.0", "id": None, **error(-32600, "Invalid Request: id")}
        method, params = msg["method"], msg.get("params")
        outcome, delay = self.execute(method, params, is_request, rid, extra)
        if not is_request or outcome is None:
            return None
        answer = {"jsonrpc": "2.0", "id": js_number(rid), **outcome}
        if delay:
            later(delay, answer)
            return None
        return answer

    def execute(self, method, params, is_request, rid, extra):
        record = dict(extra, method=method, id=rid,
                      kind="request" if is_request else "notification")
        if method in TARGET_MEMBER or method == "completion/complete":
            asked, target = target_of(method, params)
            if target is None:
                return error(-32602, f"{method}: no usable target"), 0
            if isinstance(params, list):
                args = params[1] if len(params) > 1 else None
            else:
                args = params.get("arguments") if isinstance(params, dict) else None
            args = args if isinstance(args, dict) else {}
            found, outcome = call(method, target, args)
            marker = args.get("message")
            self.log.write(ev="call", target=target, asked=asked, found=found,
                           marker=marker if isinstance(marker, str) else None, **record)
            delay = args.get("delay_ms") if target == "echo" else 0
            delay = min(delay, 5000) / 1000 if isinstance(delay, int) and delay > 0 else 0
            return {"result": outcome} if "error" not in outcome else outcome, delay
        if method in LISTS:
            self.log.write(ev="list", **record)
            return {"result": listing(method)}, 0
        if method == "initialize":
            asked = params.get("protocolVersion") if isinstance(params, dict) else None
            version = asked if asked in VERSIONS[:4] else "2025-11-25"
            return {"result": {"protocolVersion": version, "capabilities": CAPS, "serverInfo": INFO}}, 0
        if method == "server/discover":
            return {"result": {"supportedVersions": VERSIONS, "capabilities": CAPS, "serverInfo": INFO}}, 0
        if method == "ping":
            return {"result": {}}, 0
        if method.startswith("notifications/"):
            return None, 0
        return error(-32601, f"Method not found: {method}"), 0

    def handle_text(self, text, extra, later):
        """A whole body or line: one message or a batch; returns the answer
        as a JSON value, or None."""
        try:
            msg = json.loads(text)
        except ValueError:
            return {"jsonrpc": "2.0", "id": None, **error(-32700, "Parse error")}
        if isinstance(msg, list):
            answers = [a for a in (self.handle(m, extra, later) for m in msg) if a is not None]
            return answers or None
        return self.handle(msg, extra, later)


def header_value(raw):
    """A header value as MCP carries it: ``=?base64?...?=`` is decoded."""
    if raw.startswith("=?base64?") and raw.endswith("?="):
        try:
            return base64.b64decode(raw[9:-2], validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return raw
    return raw


def era_of(version_header, msg):
    params = msg.get("params") if isinstance(msg, dict) else None
    meta = params.get("_meta") if isinstance(params, dict) else None
    meta = meta if isinstance(meta, dict) else {}
    return "stateless" if STATELESS in (version_header, meta.get(META)) else "session"


def serve_stdio(log):
    oracle = Oracle(log, "stdio")
    out = threading.Lock()

    def send(answer):
        with out:
            sys.stdout.write(json.dumps(answer) + "\n")
            sys.stdout.flush()

    def later(seconds, answer):
        threading.Timer(seconds, send, [answer]).start()

    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            era = era_of(None, json.loads(line))
        except ValueError:
            era = "session"
        answer = oracle.handle_text(line, {"transport": "stdio", "era": era}, later)
        if answer is not None:
            send(answer)


def serve_http(log):
    oracle = Oracle(log, "http")
    sessions = set()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def reply(self, status, body=None, headers=()):
            data = json.dumps(body).encode() if body is not None else b""
            self.send_response(status)
            for k, v in headers:
                self.send_header(k, v)
            if body is not None:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            self.reply(405)

        def do_DELETE(self):
            with lock:
                sessions.discard(self.headers.get("Mcp-Session-Id"))
            self.reply(200)

        def do_POST(self):
            text = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode("utf-8", "replace")
            try:
                msg = json.loads(text)
            except ValueError:
                msg = None
            era = era_of(self.headers.get("MCP-Protocol-Version"), msg)
            mcp = {}
            for name in self.headers.keys():
                low = name.lower()
                if low.startswith("mcp-") and low not in ("mcp-session-id", "mcp-protocol-version"):
                    mcp[low] = [header_value(v) for v in self.headers.get_all(name)]
            sid, new_sid = self.headers.get("Mcp-Session-Id"), None
            is_init = isinstance(msg, dict) and msg.get("method") == "initialize"
            if era == "session" and is_init:
                new_sid = uuid.uuid4().hex
                with lock:
                    sessions.add(new_sid)
                log.write(ev="session", sid=new_sid, mcp_headers=mcp, era=era, method="initialize")
            elif era == "session":
                with lock:
                    known = sid in sessions
                if not known:
                    return self.reply(404 if sid else 400, {"jsonrpc": "2.0", "id": None,
                                                            **error(-32600, "session required")})
            done = threading.Event()
            deferred = []

            def later(seconds, answer):
                deferred.append(answer)
                done.wait(seconds)

            extra = {"transport": "http", "era": era, "mcp_headers": mcp}
            answer = oracle.handle_text(text, extra, later)
            answer = answer if answer is not None else (deferred[0] if deferred else None)
            headers = [("Mcp-Session-Id", new_sid)] if new_sid else []
            if answer is None:
                return self.reply(202, None, headers)
            self.reply(200, answer, headers)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(json.dumps({"listening": "127.0.0.1", "port": server.server_address[1]}), flush=True)
    server.serve_forever()


def main():
    args = sys.argv[1:]
    path = os.environ.get("ORACLE_LOG")
    if "--log" in args:
        path = args[args.index("--log") + 1]
    log = Log(path)
    if "--http" in args:
        serve_http(log)
    else:
        serve_stdio(log)


if __name__ == "__main__":
    main()
