//! Golden tests: the tables in `README.md` against the code, both ways.
//!
//! The README is what a second implementation would be written from, so a
//! constant or close code that changes without it (or the reverse) fails
//! here.

use std::collections::BTreeMap;

use crate::close::CloseCode;
use crate::{codec, limits};

const README: &str = include_str!("../README.md");

/// The body rows of the Markdown table under `## {section}`, as cells with
/// backticks and surrounding spaces removed.
fn table(section: &str) -> Vec<Vec<String>> {
    let heading = format!("## {section}\n");
    let start = README
        .find(&heading)
        .unwrap_or_else(|| panic!("README.md has no section {section:?}"));
    let rest = &README[start + heading.len()..];
    let section_text = rest.split("\n## ").next().unwrap_or(rest);
    let rows: Vec<Vec<String>> = section_text
        .lines()
        .filter(|l| l.starts_with('|'))
        .skip(2) // header and separator
        .map(|l| {
            l.trim_matches('|')
                .split('|')
                .map(|c| c.trim().trim_matches('`').to_owned())
                .collect()
        })
        .collect();
    assert!(!rows.is_empty(), "section {section:?} has no table rows");
    rows
}

fn parse_hex(cell: &str) -> u32 {
    let digits = cell
        .strip_prefix("0x")
        .unwrap_or_else(|| panic!("close code {cell:?} is not hex"));
    u32::from_str_radix(digits, 16).unwrap_or_else(|e| panic!("close code {cell:?}: {e}"))
}

/// The names of the `pub const` items declared in a source file.
fn pub_consts(source: &str) -> Vec<&str> {
    source
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("pub const "))
        .filter_map(|l| l.split(':').next())
        .collect()
}

/// The value of a size constant by name; `None` for a name no source has.
fn constant(name: &str) -> Option<usize> {
    Some(match name {
        "MAX_CONTROL_FRAME" => limits::MAX_CONTROL_FRAME,
        "BODY_CHUNK" => limits::BODY_CHUNK,
        "DEFAULT_MAX_FRAME_LEN" => codec::DEFAULT_MAX_FRAME_LEN,
        "HARD_MAX_FRAME_LEN" => codec::HARD_MAX_FRAME_LEN,
        _ => return None,
    })
}

#[test]
fn constants_table_matches_the_code() {
    let mut rows = BTreeMap::new();
    for row in table("Constants") {
        let bytes: usize = row[1]
            .parse()
            .unwrap_or_else(|e| panic!("{}: value {:?}: {e}", row[0], row[1]));
        assert!(
            rows.insert(row[0].clone(), bytes).is_none(),
            "{} twice",
            row[0]
        );
    }
    // README -> code: every row names a constant with that value.
    for (name, bytes) in &rows {
        assert_eq!(constant(name), Some(*bytes), "README row {name}");
    }
    // code -> README: every public constant of these files has its row.
    let sources = [include_str!("limits.rs"), include_str!("codec.rs")];
    let declared: Vec<&str> = sources.into_iter().flat_map(pub_consts).collect();
    assert!(declared.len() >= 4, "found only {declared:?}");
    for name in declared {
        let value =
            constant(name).unwrap_or_else(|| panic!("constant {name}: add it to this test"));
        assert_eq!(
            rows.get(name).copied(),
            Some(value),
            "constant {name}: README row missing or different"
        );
    }
}

#[test]
fn close_code_table_matches_the_code() {
    let mut rows = BTreeMap::new();
    for row in table("Close codes") {
        let code = parse_hex(&row[0]);
        assert!(
            rows.insert(code, row[1].clone()).is_none(),
            "{code:#x} twice"
        );
    }
    // README -> code: each row decodes to the code of that name and back.
    for (&code, name) in &rows {
        let decoded = CloseCode::from_u32(code);
        assert_eq!(decoded.as_str(), name, "README row {code:#x}");
        assert_eq!(decoded.to_u32(), code, "README row {name}");
    }
    // code -> README: each known code has its row.
    for known in CloseCode::KNOWN {
        assert_eq!(
            rows.get(&known.to_u32()).map(String::as_str),
            Some(known.as_str()),
            "{known}: README row missing or different"
        );
    }
    // KNOWN is complete: no other value decodes to a known code.
    let decodable = (0..=0xffff)
        .filter(|&v| !matches!(CloseCode::from_u32(v), CloseCode::Unknown(_)))
        .count();
    assert_eq!(decodable, CloseCode::KNOWN.len());
    assert_eq!(rows.len(), CloseCode::KNOWN.len());
}
