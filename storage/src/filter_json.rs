//! NIP-01 JSON form of [`Filter`], for the `subscriptions.filters` column.
//!
//! Kept private and independent of whether `Filter` derives serde, so stored rows keep one
//! format: `{"ids":[..],"authors":[..],"kinds":[..],"#e":[..],"since":n,"until":n,"limit":n}`
//! with absent fields omitted.
use protocol::nostr::Filter;
use serde_json::{Map, Value};

use crate::StorageError;

/// One filter as a NIP-01 JSON object.
pub(crate) fn to_value(f: &Filter) -> Value {
    let mut m = Map::new();
    if let Some(ids) = &f.ids {
        m.insert("ids".into(), ids.clone().into());
    }
    if let Some(authors) = &f.authors {
        m.insert("authors".into(), authors.clone().into());
    }
    if let Some(kinds) = &f.kinds {
        m.insert("kinds".into(), kinds.clone().into());
    }
    for (name, values) in &f.tags {
        m.insert(format!("#{name}"), values.clone().into());
    }
    if let Some(since) = f.since {
        m.insert("since".into(), since.into());
    }
    if let Some(until) = f.until {
        m.insert("until".into(), until.into());
    }
    if let Some(limit) = f.limit {
        m.insert("limit".into(), limit.into());
    }
    Value::Object(m)
}

/// Parse a NIP-01 filter object written by [`to_value`]. Unknown keys are ignored.
pub(crate) fn from_value(v: &Value) -> Result<Filter, StorageError> {
    let bad = |what: &str| StorageError::Corrupt(format!("stored filter: {what}"));
    let obj = v.as_object().ok_or_else(|| bad("not an object"))?;
    let strings = |v: &Value| -> Result<Vec<String>, StorageError> {
        serde_json::from_value(v.clone()).map_err(|e| bad(&e.to_string()))
    };
    let mut f = Filter::default();
    for (key, val) in obj {
        match key.as_str() {
            "ids" => f.ids = Some(strings(val)?),
            "authors" => f.authors = Some(strings(val)?),
            "kinds" => f.kinds = Some(serde_json::from_value(val.clone()).map_err(|e| bad(&e.to_string()))?),
            "since" => f.since = Some(val.as_u64().ok_or_else(|| bad("since"))?),
            "until" => f.until = Some(val.as_u64().ok_or_else(|| bad("until"))?),
            "limit" => {
                let n = val.as_u64().ok_or_else(|| bad("limit"))?;
                f.limit = Some(usize::try_from(n).map_err(|_| bad("limit"))?);
            }
            k => {
                let mut chars = k.chars();
                if let (Some('#'), Some(c), None) = (chars.next(), chars.next(), chars.next()) {
                    f.tags.insert(c, strings(val)?);
                }
            }
        }
    }
    Ok(f)
}

/// The `filters` column text: a JSON array of filter objects.
pub(crate) fn to_text(filters: &[Filter]) -> String {
    Value::Array(filters.iter().map(to_value).collect()).to_string()
}

/// Parse the `filters` column text.
pub(crate) fn from_text(text: &str) -> Result<Vec<Filter>, StorageError> {
    let v: Value = serde_json::from_str(text)?;
    let arr = v.as_array().ok_or_else(|| StorageError::Corrupt("stored filters: not an array".into()))?;
    arr.iter().map(from_value).collect()
}

/// serde `serialize_with` for `Vec<Filter>` fields.
pub(crate) fn serialize_filters<S: serde::Serializer>(filters: &[Filter], s: S) -> Result<S::Ok, S::Error> {
    use serde::Serialize;
    Value::Array(filters.iter().map(to_value).collect()).serialize(s)
}

/// serde `deserialize_with` for `Vec<Filter>` fields (the form [`serialize_filters`] writes).
pub(crate) fn deserialize_filters<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<Filter>, D::Error> {
    use serde::Deserialize;
    let v = Value::deserialize(d)?;
    let arr = v.as_array().ok_or_else(|| serde::de::Error::custom("filters: not an array"))?;
    arr.iter().map(|f| from_value(f).map_err(serde::de::Error::custom)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut f = Filter {
            ids: Some(vec!["a".repeat(64)]),
            authors: Some(vec![]),
            kinds: Some(vec![1, 30023]),
            since: Some(10),
            until: Some(20),
            limit: Some(5),
            ..Filter::default()
        };
        f.tags.insert('e', vec!["x".into(), "y".into()]);
        f.tags.insert('P', vec![]);
        let text = to_text(&[f.clone(), Filter::default()]);
        assert_eq!(from_text(&text).unwrap(), vec![f, Filter::default()]);
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v[0]["#e"], serde_json::json!(["x", "y"]));
        assert_eq!(v[1], serde_json::json!({}));
    }
}
