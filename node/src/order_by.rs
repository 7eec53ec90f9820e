//! `order_by`: points ordered by a payload value, read from the key's range index (integer
//! with `range`, float or datetime) shard by shard and merged. Like Qdrant, an ordered
//! scroll has no next page offset: the next page starts from the last value seen
//! (`start_from`).

use crate::collection::Collection;
use crate::engine::Engine;
use crate::error::{GrapeError, Result};
use crate::filter::{parse_datetime, Filter};
use crate::payload::JsonPath;
use crate::shard::{FieldSchema, Projection, ShardOrder};
use crate::types::*;

/// `POST /points/scroll` with `order_by`.
pub fn scroll_ordered(
    engine: &Engine,
    collection: &str,
    request: ScrollRequest,
    order: OrderBy,
    read: ReadConsistency,
) -> Result<ScrollResult> {
    let collection = engine.collection(collection)?;
    let projection = Projection {
        with_payload: request.with_payload.unwrap_or(WithPayload::Bool(true)),
        with_vector: request.with_vector.unwrap_or_default(),
    };
    let limit = request.limit.unwrap_or(DEFAULT_SCROLL_LIMIT);
    let points = ordered(
        &collection,
        &order,
        request.filter.as_ref(),
        limit,
        &projection,
        read,
    )?;
    Ok(ScrollResult {
        points,
        next_page_offset: None,
    })
}

/// The first `limit` points matching the filter in the order asked, with their order value.
pub fn ordered(
    collection: &Collection,
    order: &OrderBy,
    filter: Option<&Filter>,
    limit: usize,
    projection: &Projection,
    read: ReadConsistency,
) -> Result<Vec<Record>> {
    let schema = require_range_index(collection, &order.key)?;
    let path = JsonPath::parse(&order.key)
        .map_err(|e| GrapeError::bad_input(format!("invalid order_by key: {e}")))?;
    let descending = order.direction == Some(Direction::Desc);
    let start = order
        .start_from
        .as_ref()
        .map(|s| start_value(s, &schema))
        .transpose()?;
    let order = ShardOrder {
        key: path,
        descending,
        start,
        limit,
        filter: filter.cloned(),
        projection: projection.clone(),
    };
    let mut found: Vec<(f64, Record)> = Vec::new();
    for shard in collection.shards() {
        found.extend(shard.order_by(&order, read)?);
    }
    found.sort_by(|(a, ra), (b, rb)| {
        let by_value = a.total_cmp(b);
        if descending {
            by_value.reverse()
        } else {
            by_value
        }
        .then(ra.id.cmp(&rb.id))
    });
    found.truncate(limit);
    Ok(found
        .into_iter()
        .map(|(value, record)| Record {
            order_value: Some(order_value(value, &schema)),
            ..record
        })
        .collect())
}

/// The schema of the range index on `key`, or Qdrant's error when there is none.
pub fn require_range_index(collection: &Collection, key: &str) -> Result<FieldSchema> {
    collection
        .meta()
        .payload_schema
        .get(key)
        .and_then(|index| FieldSchema::parse(&index.schema).ok())
        .filter(FieldSchema::has_range)
        .ok_or_else(|| {
            GrapeError::BadInput(format!(
                "Bad request: No range index for `order_by` key: `{key}`. Please create one to use `order_by`. Check https://qdrant.tech/documentation/concepts/indexing/#payload-index to see which payload schemas support Range conditions"
            ))
        })
}

/// `start_from` in the index's units (date-times are indexed in microseconds; a number given
/// for them counts seconds, as order values do).
fn start_value(start: &StartFrom, schema: &FieldSchema) -> Result<f64> {
    let datetime = *schema == FieldSchema::Datetime;
    match start {
        StartFrom::Integer(i) if datetime => Ok(*i as f64 * 1e6),
        StartFrom::Float(f) if datetime => Ok(f * 1e6),
        StartFrom::Integer(i) => Ok(*i as f64),
        StartFrom::Float(f) => Ok(*f),
        StartFrom::Datetime(s) => parse_datetime(s)
            .map(|d| d.0 as f64)
            .ok_or_else(|| GrapeError::bad_input(format!("invalid date-time in start_from: {s}"))),
    }
}

/// The order value reported: integers for an integer index, seconds since the epoch for
/// date-times.
fn order_value(value: f64, schema: &FieldSchema) -> OrderValue {
    match schema {
        FieldSchema::Integer { .. } if value.fract() == 0.0 => OrderValue::Int(value as i64),
        FieldSchema::Datetime => OrderValue::Float(value / 1e6),
        _ => OrderValue::Float(value),
    }
}
