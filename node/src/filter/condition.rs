//! The conditions a filter clause holds, told apart by their distinctive key.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use super::{FieldCondition, Filter, FilterError, IdSet, KeyRef, NestedCondition};

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Condition {
    Field(FieldCondition),
    IsEmpty { is_empty: KeyRef },
    IsNull { is_null: KeyRef },
    HasId { has_id: IdSet },
    HasVector { has_vector: String },
    Nested { nested: NestedCondition },
    Filter(Filter),
}

impl Condition {
    /// Decodes a condition, naming the kind it was taken for when its body is wrong.
    pub fn from_value(value: Value) -> Result<Condition, FilterError> {
        let Some(object) = value.as_object() else {
            return Err(FilterError(format!(
                "a condition must be an object, got {value}"
            )));
        };
        let Some(kind) = kind(object) else {
            let keys: Vec<&String> = object.keys().collect();
            return Err(FilterError(format!(
                "unknown condition with keys {keys:?}: expected a field condition (`key`), \
                 `is_empty`, `is_null`, `has_id`, `has_vector`, `nested` or a nested filter"
            )));
        };
        let decoded = match kind {
            "field condition" => serde_json::from_value(value).map(Condition::Field),
            "filter" => serde_json::from_value(value).map(Condition::Filter),
            _ => serde_json::from_value::<Tagged>(value).map(Tagged::into_condition),
        };
        decoded.map_err(|e| FilterError(format!("invalid {kind}: {e}")))
    }

    /// Does the object have a condition's distinctive key? (It may still be malformed.)
    pub fn is_condition(object: &Map<String, Value>) -> bool {
        kind(object).is_some()
    }

    pub fn validate(&self) -> Result<(), FilterError> {
        match self {
            Condition::Field(field) => validate_field(field),
            Condition::Nested { nested } => nested.filter.validate(),
            Condition::Filter(filter) => filter.validate(),
            _ => Ok(()),
        }
    }
}

/// The kind of condition an object is, by its distinctive key.
fn kind(object: &Map<String, Value>) -> Option<&'static str> {
    let has = |k: &str| object.contains_key(k);
    let kind = if has("key") {
        "field condition"
    } else if has("is_empty") {
        "is_empty"
    } else if has("is_null") {
        "is_null"
    } else if has("has_id") {
        "has_id"
    } else if has("has_vector") {
        "has_vector"
    } else if has("nested") {
        "nested"
    } else if ["must", "should", "must_not", "min_should"]
        .iter()
        .any(|k| has(k))
    {
        "filter"
    } else {
        return None;
    };
    Some(kind)
}

fn validate_field(field: &FieldCondition) -> Result<(), FilterError> {
    let predicates = [
        field.r#match.is_some(),
        field.range.is_some(),
        field.geo_bounding_box.is_some(),
        field.geo_radius.is_some(),
        field.geo_polygon.is_some(),
        field.values_count.is_some(),
        field.is_empty.is_some(),
        field.is_null.is_some(),
    ];
    if !predicates.contains(&true) {
        return Err(FilterError(format!(
            "the condition on `{}` must specify at least one of match, range, geo_bounding_box, \
             geo_radius, geo_polygon, values_count, is_empty, is_null",
            field.key
        )));
    }
    let geo_points = field
        .geo_bounding_box
        .iter()
        .flat_map(|b| [b.top_left, b.bottom_right])
        .chain(field.geo_radius.iter().map(|r| r.center))
        .chain(field.geo_polygon.iter().flat_map(|p| p.points()));
    for point in geo_points {
        point.validate()?;
    }
    if let Some(radius) = &field.geo_radius {
        if radius.radius.is_nan() || radius.radius < 0.0 {
            return Err(FilterError(
                "geo_radius: radius must be non-negative".into(),
            ));
        }
    }
    if let Some(polygon) = &field.geo_polygon {
        polygon.validate()?;
    }
    Ok(())
}

/// The single-key conditions, decoded by serde's externally tagged enum.
#[derive(Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum Tagged {
    IsEmpty(KeyRef),
    IsNull(KeyRef),
    HasId(IdSet),
    HasVector(String),
    Nested(NestedCondition),
}

impl Tagged {
    fn into_condition(self) -> Condition {
        match self {
            Tagged::IsEmpty(key) => Condition::IsEmpty { is_empty: key },
            Tagged::IsNull(key) => Condition::IsNull { is_null: key },
            Tagged::HasId(ids) => Condition::HasId { has_id: ids },
            Tagged::HasVector(name) => Condition::HasVector { has_vector: name },
            Tagged::Nested(nested) => Condition::Nested { nested },
        }
    }
}

impl<'de> Deserialize<'de> for Condition {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(d)?;
        Condition::from_value(value).map_err(serde::de::Error::custom)
    }
}
