//! The request path in one process, without sockets: relay router →
//! forwarder → QUIC link on an in-memory network → connector streams →
//! an in-memory MCP server (`sallyport-testkit`).

mod inprocess {
    mod errors;
    mod identity;
    mod lifecycle;
    mod limits;
    mod policy;
    mod roundtrip;
    mod routing;
    mod tokens;
}
