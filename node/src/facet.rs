//! Facets (`POST /collections/{name}/facet`): how many points hold each value of a keyword,
//! integer, bool or uuid index, counted from its posting lists shard by shard, most
//! frequent first.

use std::collections::BTreeMap;

use crate::engine::Engine;
use crate::error::{GrapeError, Result};
use crate::payload::JsonPath;
use crate::shard::{FieldSchema, Key};
use crate::types::*;

pub fn facet(
    engine: &Engine,
    collection: &str,
    request: FacetRequest,
    read: ReadConsistency,
) -> Result<FacetResponse> {
    let collection = engine.collection(collection)?;
    collection.validate_filter(request.filter.as_ref())?;
    let indexed = collection
        .meta()
        .payload_schema
        .get(&request.key)
        .and_then(|index| FieldSchema::parse(&index.schema).ok())
        .is_some_and(|schema| schema.has_values());
    if !indexed {
        return Err(GrapeError::BadInput(format!(
            "Bad request: Index required but not found for \"{}\" of one of the following types: [keyword, integer, bool, uuid]. Help: Create an index for this key or use a different filter.",
            request.key
        )));
    }
    let path = JsonPath::parse(&request.key)
        .map_err(|e| GrapeError::bad_input(format!("invalid facet key: {e}")))?;
    let exact = request.exact.unwrap_or(false);
    let mut counts: BTreeMap<Key, u64> = BTreeMap::new();
    for shard in collection.shards() {
        for (key, count) in shard.facet_counts(&path, request.filter.as_ref(), exact, read)? {
            *counts.entry(key).or_default() += count;
        }
    }
    let mut hits: Vec<FacetValueHit> = counts
        .into_iter()
        .map(|(key, count)| FacetValueHit {
            value: facet_value(key),
            count: count as usize,
        })
        .collect();
    hits.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
    hits.truncate(request.limit.unwrap_or(DEFAULT_FACET_LIMIT));
    Ok(FacetResponse { hits })
}

fn facet_value(key: Key) -> FacetValue {
    match key {
        Key::Text(s) => FacetValue::Keyword(s),
        Key::Integer(i) => FacetValue::Integer(i),
        Key::Bool(b) => FacetValue::Bool(b),
    }
}
