//! Interning of caller-chosen label values (servers, tools) under the
//! caps, with the per-server metric handles.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::histogram::Histogram;

use super::{
    BytesLabels, MAX_LABEL_LEN, MAX_SERVERS, MAX_TOOL_SERIES, Metrics, OTHER, ServerLabel,
};

/// The interned label values and per-server handles.
#[derive(Debug, Default)]
pub(super) struct Series {
    pub(super) servers: HashMap<Arc<str>, ServerSeries>,
    pub(super) tool_pairs: usize,
}

/// One server's interned tool labels and metric handles.
#[derive(Debug)]
pub(super) struct ServerSeries {
    pub(super) name: Arc<str>,
    pub(super) tools: HashSet<Arc<str>>,
    pub(super) duration: Histogram,
    pub(super) bytes_in: Counter,
    pub(super) bytes_out: Counter,
    pub(super) rate_limited: Counter,
}

impl Series {
    /// The interned server label for `name`: itself, or [`OTHER`] past the
    /// caps.
    pub(super) fn admit_server(&mut self, name: &str, m: &Metrics) -> Arc<str> {
        if let Some((k, _)) = self.servers.get_key_value(name) {
            return Arc::clone(k);
        }
        let name = if self.servers.len() < MAX_SERVERS && name.len() <= MAX_LABEL_LEN {
            name
        } else {
            OTHER
        };
        if let Some((k, _)) = self.servers.get_key_value(name) {
            return Arc::clone(k);
        }
        let key: Arc<str> = Arc::from(name);
        let label = ServerLabel {
            server: Arc::clone(&key),
        };
        let bytes = |direction| BytesLabels {
            direction,
            server: Arc::clone(&key),
        };
        let s = ServerSeries {
            name: Arc::clone(&key),
            tools: HashSet::new(),
            duration: m.durations.get_or_create_owned(&label),
            bytes_in: m.bytes.get_or_create_owned(&bytes("in")),
            bytes_out: m.bytes.get_or_create_owned(&bytes("out")),
            rate_limited: m.rate_limited.get_or_create_owned(&label),
        };
        self.servers.insert(Arc::clone(&key), s);
        key
    }

    /// The interned tool label for `tool` under `server`.
    pub(super) fn admit_tool(&mut self, server: &Arc<str>, tool: &str) -> Arc<str> {
        let room = self.tool_pairs < MAX_TOOL_SERIES;
        let Some(s) = self.servers.get_mut(server) else {
            return Arc::from(OTHER);
        };
        if let Some(t) = s.tools.get(tool) {
            return Arc::clone(t);
        }
        let tool = if room && tool.len() <= MAX_LABEL_LEN {
            self.tool_pairs += 1;
            tool
        } else if let Some(t) = s.tools.get(OTHER) {
            return Arc::clone(t);
        } else {
            OTHER
        };
        let t: Arc<str> = Arc::from(tool);
        s.tools.insert(Arc::clone(&t));
        t
    }
}
