//! Borrowed reads of what the filter needs: the items of `result.<list>`
//! (one pass over the message), then each item's name (one pass over each
//! item). Keys are compared decoded and without allocating; other values
//! are skipped by serde_json, never built.

use std::borrow::Cow;
use std::cell::Cell;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserialize, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::error::Category;
use serde_json::value::RawValue;

use super::FilterError;

/// The items of `result.<key>` in the message `body`, as their raw text:
/// `None` when there is no `result`, it is not an object, or it has no
/// `key` (or `key` is null).
pub(super) fn list_items<'a>(
    body: &'a [u8],
    key: &'static str,
) -> Result<Option<Vec<&'a RawValue>>, FilterError> {
    let bad_list = Cell::new(None);
    let seed = Field {
        key: "result",
        seed: ResultSeed {
            key,
            bad_list: &bad_list,
        },
    };
    let mut de = serde_json::Deserializer::from_slice(body);
    let read = seed.deserialize(&mut de).and_then(|items| {
        de.end()?;
        Ok(items.flatten())
    });
    read.map_err(|e| match (bad_list.take(), e.classify()) {
        // A syntax error inside the list is the message's, not the list's.
        (Some(reason), Category::Data) => FilterError::BadList { key, reason },
        _ => FilterError::Malformed(e.to_string()),
    })
}

/// An item's name: the string under `key` in the object `item`, decoded.
/// `None` when it cannot be read: not an object, no such key, not a
/// string, or the key twice.
pub(super) fn name<'a>(item: &'a RawValue, key: &str) -> Option<Cow<'a, str>> {
    if !item.get().starts_with('{') {
        return None;
    }
    let seed = Field {
        key,
        seed: PhantomData::<Name<'a>>,
    };
    let mut de = serde_json::Deserializer::from_str(item.get());
    seed.deserialize(&mut de).ok()?.map(|n| n.0)
}

/// Reads one field of a JSON object with `seed`, skipping the others; an
/// error if the input is not an object or has the field twice.
struct Field<'k, S> {
    key: &'k str,
    seed: S,
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Field<'_, S> {
    type Value = Option<S::Value>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, S: DeserializeSeed<'de>> Visitor<'de> for Field<'_, S> {
    type Value = Option<S::Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut seed = Some(self.seed);
        let mut found = None;
        while let Some(is_key) = map.next_key_seed(KeyIs(self.key))? {
            match (is_key, seed.take()) {
                (false, s) => {
                    seed = s;
                    map.next_value::<IgnoredAny>()?;
                }
                (true, Some(s)) => found = Some(map.next_value_seed(s)?),
                (true, None) => return Err(de::Error::custom(Duplicate(self.key))),
            }
        }
        Ok(found)
    }
}

/// The value of `result`: the list's items when it is an object holding
/// the list; `None` for any other value. Problems with the list itself
/// are noted in `bad_list`, so that they are told apart from a malformed
/// message.
struct ResultSeed<'c> {
    key: &'static str,
    bad_list: &'c Cell<Option<String>>,
}

impl<'de> DeserializeSeed<'de> for ResultSeed<'_> {
    type Value = Option<Vec<&'de RawValue>>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ResultSeed<'_> {
    type Value = Option<Vec<&'de RawValue>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut items = None;
        while let Some(is_key) = map.next_key_seed(KeyIs(self.key))? {
            if !is_key {
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            if items.is_some() {
                self.bad_list.set(Some(Duplicate(self.key).to_string()));
                return Err(de::Error::custom(Duplicate(self.key)));
            }
            items = Some(map.next_value_seed(ListSeed).inspect_err(|e| {
                self.bad_list.set(Some(e.to_string()));
            })?);
        }
        Ok(items.flatten())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }
}

/// The list value: its items' raw text, `None` for null, an error for
/// anything else.
struct ListSeed;

impl<'de> DeserializeSeed<'de> for ListSeed {
    type Value = Option<Vec<&'de RawValue>>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ListSeed {
    type Value = Option<Vec<&'de RawValue>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "an array")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Some(items))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

/// Reads an object key and says whether it is the wanted one, decoded
/// (`"t\u006fols"` is `tools`).
#[derive(Clone, Copy)]
struct KeyIs<'k>(&'k str);

impl<'de> DeserializeSeed<'de> for KeyIs<'_> {
    type Value = bool;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for KeyIs<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<bool, E> {
        Ok(key == self.0)
    }
}

/// A JSON string, borrowed unless it holds escapes.
struct Name<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Name<'de> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Name<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "a string")
            }

            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Name<'de>, E> {
                Ok(Name(Cow::Borrowed(s)))
            }

            fn visit_str<E: de::Error>(self, s: &str) -> Result<Name<'de>, E> {
                Ok(Name(Cow::Owned(s.to_owned())))
            }
        }
        d.deserialize_str(V)
    }
}

/// The message for a key given twice.
struct Duplicate<'k>(&'k str);

impl fmt::Display for Duplicate<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "key {:?} appears twice", self.0)
    }
}
