//! Session era: the ids of the requests in flight in each upstream session,
//! so that no two are in flight at once that an upstream could take for
//! one.
//!
//! An HTTP upstream routes each answer to the stream of the request whose
//! id it bears. Two requests in flight with ids that the upstream's parser
//! cannot tell apart would get each other's answers — a `tools/list`
//! answer on a `ping`'s stream, past the relay's list filter. The relay
//! already refuses ids that differ only in spelling (`5.0`); this refuses
//! the rest: the same id twice, and `5` beside `"5"` (one id to a server
//! that compares `str(id)`, as the Python SDK does).

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};

use serde_json::value::RawValue;

/// The ids in flight, per upstream session.
#[derive(Debug, Default)]
pub(super) struct InFlightIds {
    claimed: Mutex<HashSet<(String, String)>>,
}

/// A claimed id; given back when dropped (the response ended or the
/// client went away).
#[derive(Debug)]
pub(super) struct IdClaim {
    ids: Arc<InFlightIds>,
    key: (String, String),
}

impl InFlightIds {
    /// Claims `id` in `session`; `None` if an id the upstream could take
    /// for it is in flight there.
    pub(super) fn claim(self: &Arc<Self>, session: &str, id: &RawValue) -> Option<IdClaim> {
        let key = (session.to_owned(), loose_key(id));
        let mut claimed = self.claimed.lock().unwrap_or_else(PoisonError::into_inner);
        claimed.insert(key.clone()).then(|| IdClaim {
            ids: Arc::clone(self),
            key,
        })
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.claimed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

impl Drop for IdClaim {
    fn drop(&mut self) {
        let mut claimed = self
            .ids
            .claimed
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        claimed.remove(&self.key);
    }
}

/// The id as the loosest upstream compares it: a string's text, or a
/// number's (the relay lets only plain integers through).
fn loose_key(id: &RawValue) -> String {
    match serde_json::from_str::<serde_json::Value>(id.get()) {
        Ok(serde_json::Value::String(s)) => s,
        _ => id.get().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(s: &str) -> Box<RawValue> {
        RawValue::from_string(s.to_owned()).expect("raw")
    }

    #[test]
    fn an_id_the_upstream_could_confuse_waits_for_the_first() {
        let ids = Arc::new(InFlightIds::default());
        let first = ids.claim("s1", &raw("5")).expect("free");
        assert!(ids.claim("s1", &raw("5")).is_none());
        assert!(ids.claim("s1", &raw(r#""5""#)).is_none());
        assert!(ids.claim("s1", &raw(r#""\u0035""#)).is_none());
        let other_session = ids.claim("s2", &raw("5")).expect("another session");
        let other_id = ids.claim("s1", &raw("6")).expect("another id");
        drop(first);
        assert!(ids.claim("s1", &raw(r#""5""#)).is_some(), "given back");
        drop((other_session, other_id));
        assert_eq!(ids.len(), 0);
    }
}
