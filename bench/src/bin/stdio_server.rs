//! `sallyport-bench-stdio`: the tiny MCP server of the bench's stdio
//! scenario. It reads newline-delimited JSON-RPC on stdin and answers on
//! stdout, line by line: `initialize`, `ping`, `tools/list`, and
//! `tools/call` of `echo` (the `message` argument copied back byte for
//! byte). Notifications get no answer; anything else is "method not found".
//! It ends when stdin closes.

use std::io::{BufRead, BufWriter, Write};

use sallyport_bench::jsonrpc::{Request, echo_result};

/// The answer line to one request line; `None` for notifications.
fn answer(line: &str) -> Option<String> {
    let req: Request<'_> = match serde_json::from_str(line) {
        Ok(r) => r,
        Err(_) => {
            return Some(
                r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"parse error"}}"#
                    .to_owned(),
            );
        }
    };
    let id = req.id?.get();
    Some(match req.method {
        "initialize" => format!(
            r#"{{"jsonrpc":"2.0","id":{id},"result":{{"protocolVersion":"2025-11-25","capabilities":{{"tools":{{}}}},"serverInfo":{{"name":"sallyport-bench-stdio","version":"0"}}}}}}"#
        ),
        "ping" => format!(r#"{{"jsonrpc":"2.0","id":{id},"result":{{}}}}"#),
        "tools/list" => format!(
            r#"{{"jsonrpc":"2.0","id":{id},"result":{{"tools":[{{"name":"echo","inputSchema":{{"type":"object","properties":{{"message":{{"type":"string"}}}}}}}}]}}}}"#
        ),
        "tools/call" => match req.echo_message() {
            Some(m) => echo_result(id, m),
            None => format!(
                r#"{{"jsonrpc":"2.0","id":{id},"error":{{"code":-32602,"message":"only echo {{message}} is served"}}}}"#
            ),
        },
        _ => format!(
            r#"{{"jsonrpc":"2.0","id":{id},"error":{{"code":-32601,"message":"method not found"}}}}"#
        ),
    })
}

fn main() {
    let stdin = std::io::stdin().lock();
    let mut out = BufWriter::new(std::io::stdout().lock());
    for line in stdin.lines() {
        let Ok(line) = line else { break };
        if line.trim().is_empty() {
            continue;
        }
        if let Some(a) = answer(&line)
            && (out.write_all(a.as_bytes()).is_err()
                || out.write_all(b"\n").is_err()
                || out.flush().is_err())
        {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::answer;

    #[test]
    fn answers() {
        let a = answer(r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":{"message":"h\"i"}}}"#)
            .expect("answer");
        assert_eq!(
            a,
            r#"{"jsonrpc":"2.0","id":7,"result":{"content":[{"type":"text","text":"h\"i"}]}}"#
        );
        assert!(answer(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#).is_none());
        assert!(
            answer(r#"{"jsonrpc":"2.0","id":"x","method":"initialize","params":{}}"#)
                .expect("answer")
                .contains(r#""id":"x","result""#)
        );
        assert!(answer("garbage").expect("answer").contains("-32700"));
    }
}
