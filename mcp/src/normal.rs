//! Normal form of a target: what a policy decides must be what every
//! parser a server may run the text through reads.

use crate::target::Target;

/// Whether `target` names exactly what it says, to every parser a server
/// may run it through (see [`Undecidable::Uri`](crate::Undecidable::Uri)). Refused anywhere: a
/// control character (WHATWG URL parsers delete tabs and line breaks, so
/// `.<TAB>.` becomes `..`), a backslash, a `.` or `..` segment, and a
/// percent-encoded unreserved character, `/` or backslash (`%73ecret` is
/// `secret` to a server that decodes). For a resource URI also: a space,
/// and an upper-case scheme or authority (`FILE:///secret` is
/// `file:///secret` to a URL parser, but not to a glob).
pub fn is_normal(target: Target<'_>) -> bool {
    let text = target.name();
    let controls = text.chars().any(|c| c.is_ascii_control());
    let dots = text
        .split(['/', '?', '#'])
        .any(|segment| segment == "." || segment == "..");
    let ok = !controls && !dots && !text.contains('\\') && !encodes_plain_characters(text);
    match target {
        Target::Resource(uri) => ok && !uri.contains(' ') && lower_case_origin(uri),
        _ => ok,
    }
}

/// A `%XX` that stands for a character that needs no encoding (letters,
/// digits, `-._~`) or for `/` or a backslash.
fn encodes_plain_characters(text: &str) -> bool {
    text.as_bytes().windows(3).any(|w| {
        let hex = |b: u8| (b as char).to_digit(16);
        match (w[0], hex(w[1]), hex(w[2])) {
            (b'%', Some(hi), Some(lo)) => {
                let c = (hi * 16 + lo) as u8;
                c.is_ascii_alphanumeric() || b"-._~/\\".contains(&c)
            }
            _ => false,
        }
    })
}

/// The scheme, and the authority after `//`, have no upper-case letter.
fn lower_case_origin(uri: &str) -> bool {
    let Some((scheme, rest)) = uri.split_once(':') else {
        return true;
    };
    let is_scheme = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    if !is_scheme {
        return true;
    }
    let authority = rest
        .strip_prefix("//")
        .map(|r| r.split(['/', '?', '#']).next().unwrap_or(""))
        .unwrap_or("");
    !scheme.chars().any(|c| c.is_ascii_uppercase())
        && !authority.chars().any(|c| c.is_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_a_server_may_resolve_elsewhere_are_refused() {
        for uri in [
            "file:///public/../secret/keys",
            "file:///public/./x",
            "file:///public/..",
            "file:///public/%2e%2e/secret",
            "file:///public/%2E%2E/secret",
            "file:///public%2fsecret",
            "file:///public/..%5csecret",
            r"file:///public\..\secret",
        ] {
            assert!(!is_normal(Target::Resource(uri)), "{uri}");
        }
        for uri in [
            "file:///public/a.txt",
            "file:///My%20Docs/x",
            "file:///caf%C3%A9",
            "db://x/...",
            "file:///{path}",
            "demo://readme",
            "urn:isbn:0451450523",
            "file:///public/Upper/Case.txt",
        ] {
            assert!(is_normal(Target::Resource(uri)), "{uri}");
        }
        for uri in [
            "file:///public/.\t./secret/keys",
            "file:///public/.\n./secret",
            "file:///secr\tet/x",
            "file:///secret\u{7f}",
            "FILE:///secret/x",
            "File:///secret/x",
            "https://EXAMPLE.com/x",
            "file:///%73ecret/x",
            "file:///public/%7e",
            "file:///public/a b",
        ] {
            assert!(!is_normal(Target::Resource(uri)), "{uri:?}");
        }
        assert!(is_normal(Target::Prompt("Code review")));
        assert!(!is_normal(Target::Tool("echo\t")));
        assert!(!is_normal(Target::Prompt("a/../b")));
    }
}
