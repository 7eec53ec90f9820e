//! Filters: a gRPC `qdrant.Filter` is rewritten into Qdrant's REST filter JSON, which the
//! engine's [`Filter`] deserializes. This keeps the gRPC layer independent of the filter's
//! Rust representation: both APIs go through the one documented shape.

use qdrant_client::qdrant as grpc;
use qdrant_client::qdrant::{condition::ConditionOneOf, r#match::MatchValue};
use serde_json::{json, Map, Value as Json};

use super::point::point_ids_from_grpc;
use super::{put, timestamp_to_rfc3339};
use crate::filter::Filter;
use crate::server::grpc::error::ConvertError;

pub fn filter_from_grpc(filter: grpc::Filter) -> Result<Filter, ConvertError> {
    serde_json::from_value(filter_json(filter)?)
        .map_err(|e| ConvertError::invalid(format!("invalid filter: {e}")))
}

pub fn optional_filter_from_grpc(
    filter: Option<grpc::Filter>,
) -> Result<Option<Filter>, ConvertError> {
    filter.map(filter_from_grpc).transpose()
}

/// The REST JSON of a filter. Empty clause lists are left out: in Qdrant an absent `should`
/// is true, while an empty one would match nothing.
pub fn filter_json(filter: grpc::Filter) -> Result<Json, ConvertError> {
    let mut obj = Map::new();
    for (clause, conditions) in [
        ("should", filter.should),
        ("must", filter.must),
        ("must_not", filter.must_not),
    ] {
        if !conditions.is_empty() {
            obj.insert(clause.into(), conditions_json(conditions)?);
        }
    }
    if let Some(min_should) = filter.min_should {
        obj.insert(
            "min_should".into(),
            json!({
                "conditions": conditions_json(min_should.conditions)?,
                "min_count": min_should.min_count,
            }),
        );
    }
    Ok(Json::Object(obj))
}

fn conditions_json(conditions: Vec<grpc::Condition>) -> Result<Json, ConvertError> {
    conditions
        .into_iter()
        .map(condition_json)
        .collect::<Result<Vec<_>, _>>()
        .map(Json::Array)
}

pub(super) fn condition_json(condition: grpc::Condition) -> Result<Json, ConvertError> {
    let condition = condition
        .condition_one_of
        .ok_or_else(|| ConvertError::invalid("filter condition is empty"))?;
    Ok(match condition {
        ConditionOneOf::Field(field) => field_json(field)?,
        ConditionOneOf::IsEmpty(c) => json!({"is_empty": {"key": c.key}}),
        ConditionOneOf::IsNull(c) => json!({"is_null": {"key": c.key}}),
        ConditionOneOf::HasId(c) => json!({"has_id": point_ids_from_grpc(c.has_id)?}),
        ConditionOneOf::HasVector(c) => json!({"has_vector": c.has_vector}),
        ConditionOneOf::Filter(f) => filter_json(f)?,
        ConditionOneOf::Nested(nested) => {
            let filter = nested.filter.ok_or_else(|| {
                ConvertError::invalid(format!(
                    "nested condition on `{}` has no filter",
                    nested.key
                ))
            })?;
            json!({"nested": {"key": nested.key, "filter": filter_json(filter)?}})
        }
        ConditionOneOf::Slice(_) => return Err(ConvertError::unsupported("slice condition")),
    })
}

fn field_json(field: grpc::FieldCondition) -> Result<Json, ConvertError> {
    let key = field.key;
    let mut obj = Map::new();
    if let Some(m) = field.r#match {
        obj.insert("match".into(), match_json(m)?);
    }
    if let Some(range) = field.range {
        obj.insert("range".into(), range_json(range));
    }
    if let Some(range) = field.datetime_range {
        if obj.contains_key("range") {
            return Err(ConvertError::invalid(format!(
                "field condition on `{key}` has both range and datetime_range"
            )));
        }
        obj.insert("range".into(), datetime_range_json(range)?);
    }
    if let Some(bbox) = field.geo_bounding_box {
        obj.insert("geo_bounding_box".into(), geo_bounding_box_json(bbox)?);
    }
    if let Some(radius) = field.geo_radius {
        obj.insert("geo_radius".into(), geo_radius_json(radius)?);
    }
    if let Some(polygon) = field.geo_polygon {
        obj.insert("geo_polygon".into(), geo_polygon_json(polygon)?);
    }
    if let Some(count) = field.values_count {
        obj.insert("values_count".into(), values_count_json(count));
    }
    put(&mut obj, "is_empty", field.is_empty);
    put(&mut obj, "is_null", field.is_null);
    if obj.is_empty() {
        return Err(ConvertError::invalid(format!(
            "field condition on `{key}` has no condition"
        )));
    }
    obj.insert("key".into(), Json::String(key));
    Ok(Json::Object(obj))
}

fn match_json(m: grpc::Match) -> Result<Json, ConvertError> {
    let value = m
        .match_value
        .ok_or_else(|| ConvertError::invalid("match condition is empty"))?;
    Ok(match value {
        MatchValue::Keyword(s) => json!({"value": s}),
        MatchValue::Integer(i) => json!({"value": i}),
        MatchValue::Boolean(b) => json!({"value": b}),
        MatchValue::Text(s) => json!({"text": s}),
        MatchValue::TextAny(s) => json!({"text_any": s}),
        MatchValue::Phrase(s) => json!({"phrase": s}),
        MatchValue::Keywords(r) => json!({"any": r.strings}),
        MatchValue::Integers(r) => json!({"any": r.integers}),
        MatchValue::ExceptKeywords(r) => json!({"except": r.strings}),
        MatchValue::ExceptIntegers(r) => json!({"except": r.integers}),
        MatchValue::Prefix(_) => return Err(ConvertError::unsupported("match prefix")),
        MatchValue::Substring(_) => return Err(ConvertError::unsupported("match substring")),
    })
}

fn range_json(range: grpc::Range) -> Json {
    let mut obj = Map::new();
    put(&mut obj, "lt", range.lt);
    put(&mut obj, "gt", range.gt);
    put(&mut obj, "gte", range.gte);
    put(&mut obj, "lte", range.lte);
    Json::Object(obj)
}

fn datetime_range_json(range: grpc::DatetimeRange) -> Result<Json, ConvertError> {
    let mut obj = Map::new();
    for (bound, ts) in [
        ("lt", range.lt),
        ("gt", range.gt),
        ("gte", range.gte),
        ("lte", range.lte),
    ] {
        if let Some(ts) = ts {
            obj.insert(bound.into(), Json::String(timestamp_to_rfc3339(ts)?));
        }
    }
    Ok(Json::Object(obj))
}

fn values_count_json(count: grpc::ValuesCount) -> Json {
    let mut obj = Map::new();
    put(&mut obj, "lt", count.lt);
    put(&mut obj, "gt", count.gt);
    put(&mut obj, "gte", count.gte);
    put(&mut obj, "lte", count.lte);
    Json::Object(obj)
}

pub(super) fn geo_point_json(
    point: Option<grpc::GeoPoint>,
    what: &str,
) -> Result<Json, ConvertError> {
    let point = point.ok_or_else(|| ConvertError::invalid(format!("{what} is missing")))?;
    Ok(json!({"lon": point.lon, "lat": point.lat}))
}

fn geo_bounding_box_json(bbox: grpc::GeoBoundingBox) -> Result<Json, ConvertError> {
    Ok(json!({
        "top_left": geo_point_json(bbox.top_left, "geo_bounding_box.top_left")?,
        "bottom_right": geo_point_json(bbox.bottom_right, "geo_bounding_box.bottom_right")?,
    }))
}

fn geo_radius_json(radius: grpc::GeoRadius) -> Result<Json, ConvertError> {
    Ok(json!({
        "center": geo_point_json(radius.center, "geo_radius.center")?,
        "radius": radius.radius,
    }))
}

fn geo_polygon_json(polygon: grpc::GeoPolygon) -> Result<Json, ConvertError> {
    let line = |line: grpc::GeoLineString| {
        let points: Vec<Json> = line
            .points
            .into_iter()
            .map(|p| json!({"lon": p.lon, "lat": p.lat}))
            .collect();
        json!({ "points": points })
    };
    let exterior = polygon
        .exterior
        .ok_or_else(|| ConvertError::invalid("geo_polygon.exterior is missing"))?;
    let mut obj = Map::new();
    obj.insert("exterior".into(), line(exterior));
    if !polygon.interiors.is_empty() {
        let interiors = polygon.interiors.into_iter().map(line).collect();
        obj.insert("interiors".into(), Json::Array(interiors));
    }
    Ok(Json::Object(obj))
}

#[cfg(test)]
mod tests {
    use super::*;
    use qdrant_client::qdrant::{Condition, Range};

    fn field(key: &str, m: MatchValue) -> Condition {
        Condition {
            condition_one_of: Some(ConditionOneOf::Field(grpc::FieldCondition {
                key: key.into(),
                r#match: Some(grpc::Match {
                    match_value: Some(m),
                }),
                ..Default::default()
            })),
        }
    }

    #[test]
    fn clauses_and_conditions_become_rest_json() {
        let filter = grpc::Filter {
            must: vec![
                field("city", MatchValue::Keyword("Paris".into())),
                Condition {
                    condition_one_of: Some(ConditionOneOf::Field(grpc::FieldCondition {
                        key: "price".into(),
                        range: Some(Range {
                            gte: Some(10.0),
                            lt: Some(20.5),
                            ..Default::default()
                        }),
                        ..Default::default()
                    })),
                },
            ],
            must_not: vec![Condition {
                condition_one_of: Some(ConditionOneOf::IsEmpty(grpc::IsEmptyCondition {
                    key: "tags".into(),
                })),
            }],
            should: vec![field(
                "n",
                MatchValue::Integers(grpc::RepeatedIntegers {
                    integers: vec![1, 2],
                }),
            )],
            min_should: None,
        };
        assert_eq!(
            filter_json(filter).unwrap(),
            json!({
                "must": [
                    {"key": "city", "match": {"value": "Paris"}},
                    {"key": "price", "range": {"gte": 10.0, "lt": 20.5}},
                ],
                "must_not": [{"is_empty": {"key": "tags"}}],
                "should": [{"key": "n", "match": {"any": [1, 2]}}],
            })
        );
    }

    #[test]
    fn nested_ids_and_datetimes_convert() {
        let nested = Condition {
            condition_one_of: Some(ConditionOneOf::Nested(grpc::NestedCondition {
                key: "items".into(),
                filter: Some(grpc::Filter {
                    must: vec![field("kind", MatchValue::Boolean(true))],
                    ..Default::default()
                }),
            })),
        };
        let has_id = Condition {
            condition_one_of: Some(ConditionOneOf::HasId(grpc::HasIdCondition {
                has_id: vec![7u64.into()],
            })),
        };
        let when = Condition {
            condition_one_of: Some(ConditionOneOf::Field(grpc::FieldCondition {
                key: "at".into(),
                datetime_range: Some(grpc::DatetimeRange {
                    gt: Some(prost_types::Timestamp {
                        seconds: 0,
                        nanos: 0,
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            })),
        };
        let filter = grpc::Filter {
            must: vec![nested, has_id, when],
            ..Default::default()
        };
        assert_eq!(
            filter_json(filter).unwrap(),
            json!({"must": [
                {"nested": {"key": "items", "filter": {"must": [{"key": "kind", "match": {"value": true}}]}}},
                {"has_id": [7]},
                {"key": "at", "range": {"gt": "1970-01-01T00:00:00Z"}},
            ]})
        );
    }

    #[test]
    fn empty_and_unsupported_conditions_are_refused() {
        let empty = grpc::Filter {
            must: vec![Condition {
                condition_one_of: None,
            }],
            ..Default::default()
        };
        assert!(matches!(filter_json(empty), Err(ConvertError::Invalid(_))));
        let prefix = grpc::Filter {
            must: vec![field("k", MatchValue::Prefix("a".into()))],
            ..Default::default()
        };
        assert!(matches!(
            filter_json(prefix),
            Err(ConvertError::Unsupported(_))
        ));
    }
}
