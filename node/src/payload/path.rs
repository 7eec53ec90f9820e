//! Payload key paths, as Qdrant writes them: `a.b`, `a[].b`, `a[2].b`, `"dotted.key".c`.
//!
//! Reading a path flattens arrays the way Qdrant does: a key applied to an array applies to
//! each element, and an array found at the end yields its elements.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::types::Payload;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Segment {
    Key(String),
    /// `[n]`: one element of an array.
    Index(usize),
    /// `[]`: every element of an array.
    All,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct JsonPath {
    text: String,
    segments: Vec<Segment>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid payload key `{path}`: {reason}")]
pub struct PathError {
    pub path: String,
    pub reason: String,
}

impl JsonPath {
    pub fn parse(text: &str) -> Result<JsonPath, PathError> {
        let fail = |reason: &str| PathError {
            path: text.to_string(),
            reason: reason.to_string(),
        };
        let mut segments = Vec::new();
        let mut rest = text;
        let mut expect_key = true;
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix('[') {
                let close = after.find(']').ok_or_else(|| fail("unclosed `[`"))?;
                let inner = &after[..close];
                segments.push(if inner.is_empty() {
                    Segment::All
                } else {
                    Segment::Index(inner.parse().map_err(|_| fail("bad array index"))?)
                });
                rest = &after[close + 1..];
                expect_key = false;
                continue;
            }
            if !expect_key {
                rest = rest
                    .strip_prefix('.')
                    .ok_or_else(|| fail("expected `.` or `[` after a key"))?;
            }
            let (key, after) = split_key(rest).ok_or_else(|| fail("empty key"))?;
            segments.push(Segment::Key(key));
            rest = after;
            expect_key = false;
        }
        match segments.first() {
            Some(Segment::Key(_)) => Ok(JsonPath {
                text: text.to_string(),
                segments,
            }),
            _ => Err(fail("a path starts with a key")),
        }
    }

    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The values at this path, with arrays flattened (Qdrant's reading of a key).
    pub fn values<'a>(&self, payload: &'a Payload) -> Vec<&'a Value> {
        let mut out = Vec::new();
        for value in self.raw_values(payload) {
            match value {
                Value::Array(items) => out.extend(items.iter()),
                other => out.push(other),
            }
        }
        out
    }

    /// The values at this path without flattening an array found at the end.
    pub fn raw_values<'a>(&self, payload: &'a Payload) -> Vec<&'a Value> {
        let (Segment::Key(first), rest) = (&self.segments[0], &self.segments[1..]) else {
            return Vec::new();
        };
        let mut current: Vec<&Value> = payload.get(first).into_iter().collect();
        for segment in rest {
            current = current
                .into_iter()
                .flat_map(|value| step(value, segment))
                .collect();
        }
        current
    }
}

/// Applies one segment to a value; keys reach into arrays of objects element by element.
fn step<'a>(value: &'a Value, segment: &Segment) -> Vec<&'a Value> {
    match (segment, value) {
        (Segment::Key(k), Value::Object(map)) => map.get(k).into_iter().collect(),
        (Segment::Key(k), Value::Array(items)) => items
            .iter()
            .filter_map(|item| item.as_object()?.get(k))
            .collect(),
        (Segment::Index(i), Value::Array(items)) => items.get(*i).into_iter().collect(),
        (Segment::All, Value::Array(items)) => items.iter().collect(),
        _ => Vec::new(),
    }
}

/// Splits off a leading key: a quoted `"..."` key, or characters up to `.` or `[`.
fn split_key(s: &str) -> Option<(String, &str)> {
    if let Some(quoted) = s.strip_prefix('"') {
        let end = quoted.find('"')?;
        let key = &quoted[..end];
        return (!key.is_empty()).then(|| (key.to_string(), &quoted[end + 1..]));
    }
    let end = s.find(['.', '[']).unwrap_or(s.len());
    let key = &s[..end];
    (!key.is_empty() && !key.contains([']', '"'])).then(|| (key.to_string(), &s[end..]))
}

impl fmt::Display for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for JsonPath {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for JsonPath {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        JsonPath::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn payload(v: Value) -> Payload {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn parses_qdrant_key_syntax() {
        let p = JsonPath::parse(r#"a[].b[2]."c.d".e"#).unwrap();
        assert_eq!(
            p.segments(),
            &[
                Segment::Key("a".into()),
                Segment::All,
                Segment::Key("b".into()),
                Segment::Index(2),
                Segment::Key("c.d".into()),
                Segment::Key("e".into()),
            ]
        );
        for bad in ["", ".a", "a..b", "a[", "a[x]", "[0]", "a]b", "a.\"\""] {
            assert!(JsonPath::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn reads_flatten_arrays_like_qdrant() {
        let p = payload(json!({
            "city": ["Berlin", "Paris"],
            "country": {"cities": [{"name": "Lyon", "sights": ["a", "b"]}, {"name": "Nice"}]},
            "n": 3
        }));
        let read = |path: &str| -> Vec<Value> {
            JsonPath::parse(path)
                .unwrap()
                .values(&p)
                .into_iter()
                .cloned()
                .collect()
        };
        assert_eq!(read("city"), vec![json!("Berlin"), json!("Paris")]);
        assert_eq!(read("city[1]"), vec![json!("Paris")]);
        assert_eq!(
            read("country.cities.name"),
            vec![json!("Lyon"), json!("Nice")]
        );
        assert_eq!(
            read("country.cities[].name"),
            vec![json!("Lyon"), json!("Nice")]
        );
        assert_eq!(
            read("country.cities[].sights"),
            vec![json!("a"), json!("b")]
        );
        assert_eq!(read("n"), vec![json!(3)]);
        assert!(read("missing.key").is_empty());
        assert!(read("n.deeper").is_empty());
    }
}
