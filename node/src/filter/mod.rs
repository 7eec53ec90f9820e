//! Qdrant's filter language: its JSON model (this module), its evaluation against a point
//! ([`check`]) and the geometry and time helpers it needs.
//!
//! A filter is `{must, should, must_not, min_should}`; each clause holds conditions, and a
//! condition may itself be a filter. Field conditions read payload values through
//! [`JsonPath`], so `a.b[].c` reaches into arrays exactly as Qdrant does.

mod check;
mod condition;
mod datetime;
mod geo;
mod text;

use std::collections::HashSet;

use serde::{Deserialize, Deserializer, Serialize};

use crate::payload::JsonPath;
use crate::types::{Payload, PointId};

pub use condition::Condition;
pub use datetime::{parse_datetime, DateTimeValue};
pub use geo::{GeoBoundingBox, GeoLineString, GeoPoint, GeoPolygon, GeoRadius};
pub use text::{Tokenizer, TokenizerKind};

/// What a filter can see of a point.
pub trait PointView {
    fn id(&self) -> PointId;
    fn payload(&self) -> &Payload;
    fn has_vector(&self, name: &str) -> bool;
    /// The tokenizer of a full-text index on `key`: text matches on it compare tokens.
    fn text_index(&self, _key: &JsonPath) -> Option<&Tokenizer> {
        None
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct FilterError(pub String);

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    #[serde(
        default,
        deserialize_with = "one_or_many",
        skip_serializing_if = "Option::is_none"
    )]
    pub must: Option<Vec<Condition>>,
    #[serde(
        default,
        deserialize_with = "one_or_many",
        skip_serializing_if = "Option::is_none"
    )]
    pub should: Option<Vec<Condition>>,
    #[serde(
        default,
        deserialize_with = "one_or_many",
        skip_serializing_if = "Option::is_none"
    )]
    pub must_not: Option<Vec<Condition>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_should: Option<MinShould>,
}

/// At least `min_count` of `conditions` must hold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MinShould {
    pub conditions: Vec<Condition>,
    pub min_count: usize,
}

/// A condition on the values at one payload key. Several predicates given together must
/// all hold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldCondition {
    pub key: JsonPath,
    #[serde(default, rename = "match", skip_serializing_if = "Option::is_none")]
    pub r#match: Option<Match>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<Range>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub geo_bounding_box: Option<GeoBoundingBox>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub geo_radius: Option<GeoRadius>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub geo_polygon: Option<GeoPolygon>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values_count: Option<ValuesCount>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_empty: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_null: Option<bool>,
}

/// The `match` of a field condition, written `{"value": ..}`, `{"any": [..]}`, etc.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Match {
    /// Some value equals this keyword, integer or bool.
    Value(MatchValue),
    /// Some string value contains this text (with a text index: holds all its tokens).
    Text(String),
    /// Some string value contains one of these whitespace-separated words (with a text
    /// index: holds one of its tokens).
    TextAny(String),
    /// Some string value contains this exact phrase (with a text index: its tokens in a row).
    Phrase(String),
    /// Some value is one of these.
    Any(AnyVariants),
    /// No value is one of these.
    Except(AnyVariants),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum MatchValue {
    Bool(bool),
    Integer(i64),
    Keyword(String),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum AnyVariants {
    Keywords(Vec<String>),
    Integers(Vec<i64>),
}

/// Numeric bounds, or datetime bounds written as RFC 3339 strings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Range {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lt: Option<RangeBound>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gt: Option<RangeBound>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gte: Option<RangeBound>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lte: Option<RangeBound>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RangeBound {
    Number(f64),
    Datetime(DateTimeValue),
}

/// Bounds on how many values a key holds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValuesCount {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lt: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gt: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gte: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lte: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyRef {
    pub key: JsonPath,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NestedCondition {
    /// A key holding an array of objects; the filter must hold for one of them.
    pub key: JsonPath,
    pub filter: Filter,
}

impl Filter {
    /// Checks what the JSON shape cannot: every field condition names a predicate, and
    /// geometry is within range.
    pub fn validate(&self) -> Result<(), FilterError> {
        let clauses = [&self.must, &self.should, &self.must_not];
        let min_should = self.min_should.iter().map(|m| &m.conditions);
        clauses
            .into_iter()
            .flatten()
            .chain(min_should)
            .flatten()
            .try_for_each(Condition::validate)
    }

    /// Does the point pass the filter? An empty filter passes every point.
    pub fn check(&self, point: &impl PointView) -> bool {
        check::filter(self, point as &dyn PointView)
    }
}

/// HasId, as a set for fast membership tests.
pub type IdSet = HashSet<PointId>;

/// Accepts a single condition where Qdrant accepts one or a list.
fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<Condition>>, D::Error> {
    use serde::de::Error;
    let value = Option::<serde_json::Value>::deserialize(d)?;
    let conditions = match value {
        None | Some(serde_json::Value::Null) => return Ok(None),
        Some(serde_json::Value::Array(items)) => items
            .into_iter()
            .map(Condition::from_value)
            .collect::<Result<Vec<_>, _>>(),
        Some(single) => Condition::from_value(single).map(|c| vec![c]),
    };
    conditions.map(Some).map_err(D::Error::custom)
}

#[cfg(test)]
mod tests;
