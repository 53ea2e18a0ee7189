//! `${VAR}` expansion for config values (server env and headers), so that
//! secrets stay in the environment and out of config files.

/// Why a value could not be expanded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExpandError {
    /// `${NAME}` refers to a variable that is not set.
    #[error("refers to ${{{0}}}, which is not set in the environment")]
    Unset(String),
    /// `${` without a closing `}` or with an empty or invalid name.
    #[error("has a malformed ${{…}} reference at byte {0} (use $$ for a literal $)")]
    Malformed(usize),
}

/// Expands `${NAME}` from `env`; `$$` is a literal `$`; any other `$` is
/// kept as is.
pub fn expand(value: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, ExpandError> {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    let mut offset = 0;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            offset += pos + 2;
            rest = tail;
        } else if let Some(tail) = after.strip_prefix('{') {
            let end = tail.find('}').ok_or(ExpandError::Malformed(offset + pos))?;
            let name = &tail[..end];
            let valid = !name.is_empty()
                && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                && !name.as_bytes()[0].is_ascii_digit();
            if !valid {
                return Err(ExpandError::Malformed(offset + pos));
            }
            out.push_str(&env(name).ok_or_else(|| ExpandError::Unset(name.to_owned()))?);
            offset += pos + 2 + end + 1;
            rest = &tail[end + 1..];
        } else {
            out.push('$');
            offset += pos + 1;
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(k: &str) -> Option<String> {
        match k {
            "TOKEN" => Some("s3cret".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn expands() {
        let cases = [
            ("Bearer ${TOKEN}", "Bearer s3cret"),
            ("${TOKEN}${TOKEN}", "s3crets3cret"),
            ("a${EMPTY}b", "ab"),
            ("cost $5", "cost $5"),
            ("$${TOKEN}", "${TOKEN}"),
            ("trailing $", "trailing $"),
            ("plain", "plain"),
        ];
        for (input, want) in cases {
            assert_eq!(expand(input, &env).as_deref(), Ok(want), "{input}");
        }
    }

    #[test]
    fn errors() {
        assert_eq!(
            expand("Bearer ${NOPE}", &env),
            Err(ExpandError::Unset("NOPE".into()))
        );
        assert_eq!(expand("x ${TOKEN", &env), Err(ExpandError::Malformed(2)));
        assert_eq!(expand("${}", &env), Err(ExpandError::Malformed(0)));
        assert_eq!(expand("${1A}", &env), Err(ExpandError::Malformed(0)));
        assert_eq!(expand("${A-B}", &env), Err(ExpandError::Malformed(0)));
    }
}
