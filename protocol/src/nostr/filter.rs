//! NIP-01 filters: the data shape, matching and the JSON form.
use std::collections::BTreeMap;

use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use super::event::{is_lower_hex, Event};
use super::message::MessageError;

/// One NIP-01 filter. Every present field must match (AND); within a list, any value (OR).
///
/// `ids` and `authors` hold lowercase 64-char hex. `tags` maps a single-letter tag name
/// (the `x` of a `#x` key) to the accepted values. `since` / `until` are unix seconds,
/// inclusive. `limit` caps the number of stored events returned for the initial query only.
///
/// A present but empty list (`"kinds": []`, `"#e": []`) matches nothing; an absent field
/// places no constraint. `Filter::default()` therefore matches every event.
///
/// JSON form (NIP-01): `{"ids":[..],"authors":[..],"kinds":[..],"#e":[..],"since":n,
/// "until":n,"limit":n}` — see [`Filter::from_json`] for the parsing rules. `Serialize`
/// writes that form (absent fields omitted, tag keys in `char` order); `Deserialize`
/// accepts it with the same rules and errors as [`Filter::from_json`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Event ids (64 lowercase hex); the event's `id` must be one of them.
    pub ids: Option<Vec<String>>,
    /// Pubkeys (64 lowercase hex); the event's `pubkey` must be one of them.
    pub authors: Option<Vec<String>>,
    /// Kinds; the event's `kind` must be one of them.
    pub kinds: Option<Vec<u16>>,
    /// `#x` filters: for each letter `x`, the event needs an `x` tag whose value is listed.
    pub tags: BTreeMap<char, Vec<String>>,
    /// Unix seconds; the event's `created_at` must be `>=` this.
    pub since: Option<u64>,
    /// Unix seconds; the event's `created_at` must be `<=` this.
    pub until: Option<u64>,
    /// Maximum number of stored events for the initial query (newest first); not used by
    /// [`Filter::matches`].
    pub limit: Option<usize>,
}

/// Why a JSON value is not a valid NIP-01 filter. The `Display` text carries the NIP-01
/// `invalid:` prefix, ready for `["CLOSED", <sub id>, <message>]`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    /// The filter is not a JSON object.
    #[error("invalid: filter must be a JSON object")]
    NotObject,
    /// `ids` / `authors` is not an array of exact 64-char lowercase hex strings. NIP-01 no
    /// longer allows prefix matching, so shorter hex strings land here too.
    #[error(
        "invalid: filter \"{key}\" must be an array of 64-character lowercase hex strings (prefixes are not supported)"
    )]
    NotHexList {
        /// `"ids"` or `"authors"`.
        key: &'static str,
    },
    /// `kinds` is not an array of integers in 0..=65535.
    #[error("invalid: filter \"kinds\" must be an array of integers between 0 and 65535")]
    BadKinds,
    /// A `#x` tag filter is not an array of strings.
    #[error("invalid: filter \"#{name}\" must be an array of strings")]
    BadTagList {
        /// The tag letter `x`.
        name: char,
    },
    /// `since`, `until` or `limit` is not a non-negative integer.
    #[error("invalid: filter \"{key}\" must be a non-negative integer")]
    NotUnsigned {
        /// `"since"`, `"until"` or `"limit"`.
        key: &'static str,
    },
}

impl Filter {
    /// Whether `event` passes this filter (NIP-01): `ids` contains `event.id`; `authors`
    /// contains `event.pubkey`; `kinds` contains `event.kind`; for every `#x` entry the
    /// event has an `x` tag whose value (element 1) is in the list; and
    /// `since <= created_at <= until` (unix seconds, both inclusive). `limit` is ignored
    /// (it only bounds the initial stored-event query). Does not verify the event.
    pub fn matches(&self, event: &Event) -> bool {
        if let Some(ids) = &self.ids {
            if !ids.contains(&event.id) {
                return false;
            }
        }
        if let Some(authors) = &self.authors {
            if !authors.contains(&event.pubkey) {
                return false;
            }
        }
        if let Some(kinds) = &self.kinds {
            if !kinds.contains(&event.kind) {
                return false;
            }
        }
        if self.since.is_some_and(|since| event.created_at < since) {
            return false;
        }
        if self.until.is_some_and(|until| event.created_at > until) {
            return false;
        }
        self.tags.iter().all(|(name, wanted)| event.tag_values(*name).any(|v| wanted.iter().any(|w| w == v)))
    }

    /// Parses the NIP-01 JSON filter object.
    ///
    /// Rules: `ids` and `authors` are arrays of exact 64-char lowercase hex strings;
    /// `kinds` is an array of integers 0..=65535; `#x` (x a single ASCII letter a-z/A-Z) is an
    /// array of strings; `since`, `until` (unix seconds) and `limit` are non-negative
    /// integers (`limit` saturates at `usize::MAX`). A `null` value counts as absent.
    /// Unknown keys (e.g. NIP-50 `search`) and `#` keys not followed by exactly one ASCII
    /// letter (`#emoji`, `#1`) are ignored. Empty arrays are kept and match nothing.
    ///
    /// # Errors
    /// [`FilterError`] for a non-object or a known key with a bad type or value.
    pub fn from_json(value: &Value) -> Result<Filter, FilterError> {
        let map = value.as_object().ok_or(FilterError::NotObject)?;
        let mut filter = Filter::default();
        for (key, v) in map {
            if v.is_null() {
                continue;
            }
            match key.as_str() {
                "ids" => filter.ids = Some(hex_list(v, "ids")?),
                "authors" => filter.authors = Some(hex_list(v, "authors")?),
                "kinds" => {
                    let arr = v.as_array().ok_or(FilterError::BadKinds)?;
                    let kinds = arr
                        .iter()
                        .map(|k| k.as_u64().and_then(|k| u16::try_from(k).ok()).ok_or(FilterError::BadKinds))
                        .collect::<Result<Vec<u16>, _>>()?;
                    filter.kinds = Some(kinds);
                }
                "since" => filter.since = Some(unsigned(v, "since")?),
                "until" => filter.until = Some(unsigned(v, "until")?),
                "limit" => {
                    filter.limit = Some(usize::try_from(unsigned(v, "limit")?).unwrap_or(usize::MAX));
                }
                other => {
                    if let Some(name) = single_letter_tag_key(other) {
                        let arr = v.as_array().ok_or(FilterError::BadTagList { name })?;
                        let values = arr
                            .iter()
                            .map(|s| s.as_str().map(str::to_owned).ok_or(FilterError::BadTagList { name }))
                            .collect::<Result<Vec<String>, _>>()?;
                        filter.tags.insert(name, values);
                    }
                }
            }
        }
        Ok(filter)
    }

    /// The compact NIP-01 JSON object, e.g. `{"kinds":[1],"#e":["…"],"limit":10}`.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("serializing a Filter to JSON cannot fail")
    }
}

/// Parses one NIP-01 filter object (as found in a `REQ`), like [`Filter::from_json`].
///
/// # Errors
/// [`MessageError::BadFilter`] (with no subscription id) wrapping the [`FilterError`].
pub fn parse_filter(value: &Value) -> Result<Filter, MessageError> {
    Filter::from_json(value).map_err(|source| MessageError::BadFilter { subscription_id: None, source })
}

/// Whether `event` matches at least one of `filters` (NIP-01: the filters of one `REQ` are
/// OR-ed). An empty slice matches nothing.
pub fn matches_any(filters: &[Filter], event: &Event) -> bool {
    filters.iter().any(|f| f.matches(event))
}

/// `Some(x)` when `key` is `#x` with `x` a single ASCII letter.
fn single_letter_tag_key(key: &str) -> Option<char> {
    match key.as_bytes() {
        [b'#', c] if c.is_ascii_alphabetic() => Some(*c as char),
        _ => None,
    }
}

fn hex_list(v: &Value, key: &'static str) -> Result<Vec<String>, FilterError> {
    let arr = v.as_array().ok_or(FilterError::NotHexList { key })?;
    arr.iter()
        .map(|s| match s.as_str() {
            Some(s) if is_lower_hex(s, 64) => Ok(s.to_owned()),
            _ => Err(FilterError::NotHexList { key }),
        })
        .collect()
}

fn unsigned(v: &Value, key: &'static str) -> Result<u64, FilterError> {
    v.as_u64().ok_or(FilterError::NotUnsigned { key })
}

impl Serialize for Filter {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        if let Some(ids) = &self.ids {
            map.serialize_entry("ids", ids)?;
        }
        if let Some(authors) = &self.authors {
            map.serialize_entry("authors", authors)?;
        }
        if let Some(kinds) = &self.kinds {
            map.serialize_entry("kinds", kinds)?;
        }
        for (name, values) in &self.tags {
            map.serialize_entry(&format!("#{name}"), values)?;
        }
        if let Some(since) = self.since {
            map.serialize_entry("since", &since)?;
        }
        if let Some(until) = self.until {
            map.serialize_entry("until", &until)?;
        }
        if let Some(limit) = self.limit {
            map.serialize_entry("limit", &limit)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Filter {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        Filter::from_json(&value).map_err(serde::de::Error::custom)
    }
}
