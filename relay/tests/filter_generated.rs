//! `relay::filter` on generated list results: filtering changes nothing but
//! the list (every other byte, key order and number spelling kept).

use sallyport_relay::filter::{Filtered, ListKind, filter_response};
use serde_json::Value;

/// Generated list results from a seeded generator, so every failure is
/// reproducible from its seed.
struct Gen(fastrand::Rng);

impl Gen {
    fn below(&mut self, n: usize) -> usize {
        self.0.usize(..n)
    }

    fn ws(&mut self) -> &'static str {
        [" ", "", "", "", "\n  ", "\t", "\r\n"][self.below(7)]
    }

    fn string(&mut self) -> String {
        const WORDS: [&str; 10] = [
            "echo",
            "delete",
            "search_docs",
            "été",
            "😀",
            "a\"b",
            "back\\slash",
            "",
            "x y",
            "ctl\u{1}",
        ];
        let word = WORDS[self.below(WORDS.len())];
        let mut out = String::from("\"");
        for c in word.chars() {
            match (c, self.below(3)) {
                ('"', _) => out.push_str("\\\""),
                ('\\', _) => out.push_str("\\\\"),
                (c, _) if c.is_control() => out.push_str(&format!("\\u{:04x}", u32::from(c))),
                (c, 0) => {
                    for unit in c.encode_utf16(&mut [0; 2]) {
                        out.push_str(&format!("\\u{unit:04x}"));
                    }
                }
                (c, _) => out.push(c),
            }
        }
        out.push('"');
        out
    }

    fn value(&mut self, depth: usize) -> String {
        match self.below(if depth > 3 { 4 } else { 6 }) {
            0 => self.string(),
            1 => ["0", "-1.5e3", "42", "true", "false", "null"][self.below(6)].to_owned(),
            2 => self.string(),
            3 => "{}".to_owned(),
            4 => {
                let n = self.below(4);
                let items: Vec<String> = (0..n).map(|_| self.value(depth + 1)).collect();
                format!("[{}]", items.join(&format!(",{}", self.ws())))
            }
            _ => {
                let n = self.below(4);
                let fields: Vec<String> = (0..n)
                    .map(|i| format!("\"k{i}\"{}:{}", self.ws(), self.value(depth + 1)))
                    .collect();
                format!("{{{}{}}}", self.ws(), fields.join(","))
            }
        }
    }

    /// A tool: usually an object with a name somewhere among other
    /// fields; sometimes an item without a readable name.
    fn tool(&mut self) -> String {
        if self.below(12) == 0 {
            return self.value(2);
        }
        let mut fields = vec![
            format!("\"description\":{}", self.string()),
            format!("\"inputSchema\":{}", self.value(1)),
        ];
        if self.below(3) == 0 {
            fields.push(format!("\"_meta\":{}", self.value(1)));
        }
        let key = ["\"name\"", "\"n\\u0061me\"", "\"name\""][self.below(3)];
        let at = self.below(fields.len() + 1);
        fields.insert(
            at,
            format!("{key}{}:{}{}", self.ws(), self.ws(), self.string()),
        );
        format!(
            "{{{}{}}}",
            self.ws(),
            fields.join(&format!(",{}", self.ws()))
        )
    }

    fn body(&mut self) -> String {
        let n = self.below(12);
        let tools: Vec<String> = (0..n).map(|_| self.tool()).collect();
        let list = format!("[{}{}]", self.ws(), tools.join(&format!("{},", self.ws())));
        let mut result = vec![format!("\"tools\":{}{list}", self.ws())];
        if self.below(2) == 0 {
            result.push(format!("\"nextCursor\":{}", self.string()));
        }
        if self.below(2) == 0 {
            result.insert(0, format!("\"_meta\":{}", self.value(1)));
        }
        let mut top = vec![
            "\"jsonrpc\":\"2.0\"".to_owned(),
            format!(
                "\"id\":{}",
                ["1", "\"abc\"", "9007199254740993"][self.below(3)]
            ),
            format!("\"result\":{}{{{}}}", self.ws(), result.join(",")),
        ];
        if self.below(3) == 0 {
            top.push(format!("\"unknown\":{}", self.value(0)));
        }
        let first = self.below(top.len());
        top.swap(0, first);
        format!(
            "{}{{{}}}{}",
            self.ws(),
            top.join(&format!(",{}", self.ws())),
            self.ws()
        )
    }
}

/// The index of the `]` closing the array that opens at `open`.
fn matching_close(text: &str, open: usize) -> usize {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for (i, b) in text.bytes().enumerate().skip(open) {
        match (in_string, escaped, b) {
            (true, true, _) => escaped = false,
            (true, false, b'\\') => escaped = true,
            (true, false, b'"') => in_string = false,
            (true, false, _) => {}
            (false, _, b'"') => in_string = true,
            (false, _, b'[' | b'{') => depth += 1,
            (false, _, b']' | b'}') => {
                depth -= 1;
                if depth == 0 {
                    return i;
                }
            }
            _ => {}
        }
    }
    panic!("unbalanced")
}

/// Deny about half of the names, by a hash of the decoded name.
fn half(name: &str) -> bool {
    name.bytes()
        .fold(7u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)))
        % 2
        == 0
}

#[test]
fn generated_bodies() {
    let mut g = Gen(fastrand::Rng::with_seed(0x5a11_9047));
    let mut rewritten = 0;
    for round in 0..3000 {
        let body = g.body();
        // Keep-all: the input, byte for byte, unless an item was unreadable.
        let input: Value =
            serde_json::from_str(&body).unwrap_or_else(|e| panic!("{round}: {e}\n{body}"));
        let items = input["result"]["tools"].as_array().expect("array").clone();
        let readable = |t: &Value| t.get("name").and_then(Value::as_str).map(str::to_owned);
        let all_readable = items.iter().all(|t| readable(t).is_some());
        let out = filter_response(body.as_bytes(), ListKind::Tools, |_| true).expect("filters");
        assert_eq!(
            matches!(out, Filtered::Unchanged),
            all_readable,
            "{round}: {body}"
        );

        // Half denied: the output is the input with exactly those items gone.
        let out = filter_response(body.as_bytes(), ListKind::Tools, half).expect("filters");
        let want: Vec<Value> = items
            .iter()
            .filter(|t| readable(t).is_some_and(|n| half(&n)))
            .cloned()
            .collect();
        match out {
            Filtered::Unchanged => assert_eq!(want.len(), items.len(), "{round}: {body}"),
            Filtered::Rewritten {
                body: out,
                kept,
                removed,
            } => {
                rewritten += 1;
                assert_eq!((kept, removed), (want.len(), items.len() - want.len()));
                let mut expected = input.clone();
                expected["result"]["tools"] = Value::Array(want);
                let got: Value = serde_json::from_slice(&out).expect("valid JSON");
                assert_eq!(got, expected, "{round}: {body}");
                // Outside the array, the bytes are the input's.
                let start = body.find("\"tools\"").expect("key");
                let open = start + body[start..].find('[').expect("[");
                assert_eq!(&out[..=open], &body.as_bytes()[..=open], "{round}");
                let tail = body.len() - matching_close(&body, open);
                assert_eq!(
                    &out[out.len() - tail..],
                    &body.as_bytes()[body.len() - tail..]
                );
            }
        }
    }
    assert!(
        rewritten > 1000,
        "the generator should exercise rewrites: {rewritten}"
    );
}
