//! `[[server]]`: how the connector reaches each local MCP server.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use http::HeaderName;
use sallyport_protocol::ServerName;
use serde::Deserialize;
use url::Url;

use crate::bridge::http::CallerHeaders;
use crate::envsubst::expand;
use crate::error::ConfigError;

/// How the connector reaches a local MCP server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Upstream {
    /// A child process speaking MCP over stdio.
    Stdio {
        /// Program and arguments.
        command: Vec<String>,
        /// Extra environment variables (values already expanded).
        env: BTreeMap<String, String>,
        /// Working directory.
        cwd: Option<PathBuf>,
    },
    /// A Streamable HTTP endpoint.
    Http {
        /// The endpoint URL (`http` or `https`).
        url: Url,
        /// Headers added to every request (values already expanded).
        headers: BTreeMap<String, String>,
        /// Header names that carry the caller's identity upstream
        /// (`caller_headers`); `None` sends nothing about the caller.
        caller: Option<CallerHeaders>,
    },
}

/// One `[[server]]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawServer {
    pub name: ServerName,
    command: Option<Vec<String>>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    cwd: Option<PathBuf>,
    url: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    caller_headers: Option<RawCallerHeaders>,
}

/// `caller_headers = { subject = "...", groups = "...", agent = "..." }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCallerHeaders {
    subject: String,
    groups: Option<String>,
    agent: Option<String>,
}

/// The upstream of `s`: exactly one of `command` (stdio) or `url` (HTTP),
/// with only the keys that apply to it; `${VAR}` expanded through `env`.
pub(super) fn upstream(
    s: &RawServer,
    base: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Upstream, ConfigError> {
    let name = &s.name;
    let invalid = |message: String| ConfigError::invalid(format!("[[server]] {name}: {message}"));
    let expand_map = |map: &BTreeMap<String, String>, what: &str| {
        map.iter()
            .map(|(k, v)| {
                expand(v, env)
                    .map(|v| (k.clone(), v))
                    .map_err(|e| invalid(format!("{what} {k}: {e}")))
            })
            .collect::<Result<BTreeMap<_, _>, _>>()
    };
    match (&s.command, &s.url) {
        (Some(command), None) => {
            if command.is_empty() || command[0].is_empty() {
                return Err(invalid("command must name a program".into()));
            }
            if !s.headers.is_empty() || s.caller_headers.is_some() {
                return Err(invalid(
                    "headers and caller_headers apply to url servers only".into(),
                ));
            }
            Ok(Upstream::Stdio {
                command: command.clone(),
                env: expand_map(&s.env, "env")?,
                cwd: s.cwd.as_ref().map(|c| base.join(c)),
            })
        }
        (None, Some(url)) => {
            let url = Url::parse(url)
                .map_err(|e| invalid(format!("url {url:?} is not a valid URL: {e}")))?;
            if !matches!(url.scheme(), "http" | "https") {
                return Err(invalid(format!(
                    "url {:?} must start with http:// or https://",
                    url.as_str()
                )));
            }
            if !s.env.is_empty() || s.cwd.is_some() {
                return Err(invalid("env and cwd apply to command servers only".into()));
            }
            Ok(Upstream::Http {
                url,
                headers: expand_map(&s.headers, "header")?,
                caller: s
                    .caller_headers
                    .as_ref()
                    .map(|c| caller_headers(c).map_err(invalid))
                    .transpose()?,
            })
        }
        _ => Err(invalid(
            "set exactly one of command = [...] (stdio) or url = \"...\" (HTTP)".into(),
        )),
    }
}

/// Checks that every name is an HTTP header name.
fn caller_headers(raw: &RawCallerHeaders) -> Result<CallerHeaders, String> {
    let names = [Some(&raw.subject), raw.groups.as_ref(), raw.agent.as_ref()];
    for name in names.into_iter().flatten() {
        if HeaderName::from_bytes(name.as_bytes()).is_err() {
            return Err(format!(
                "caller_headers: {name:?} is not a valid HTTP header name"
            ));
        }
    }
    Ok(CallerHeaders {
        subject: raw.subject.clone(),
        groups: raw.groups.clone(),
        agent: raw.agent.clone(),
    })
}
