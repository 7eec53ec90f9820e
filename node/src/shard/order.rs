//! Points in the order of a numeric payload index (`order_by` of scroll and of the Query
//! API), read from the index instead of sorting a scan.

use std::collections::HashSet;

use crate::filter::Filter;
use crate::payload::JsonPath;
use crate::types::{PointId, Record};

use super::search::Selection;
use super::{record, Projection, Shard};

/// Where an ordered read starts and how much it takes.
pub struct OrderQuery<'a> {
    pub path: &'a JsonPath,
    pub descending: bool,
    /// The first value taken (inclusive), in the index's units.
    pub start: Option<f64>,
    pub limit: usize,
    pub filter: Option<&'a Filter>,
}

impl Shard {
    /// Up to `limit` points matching the filter, by their value at an indexed numeric key:
    /// a point comes at its first value in the walk (its smallest ascending, its largest
    /// descending), ties in id order. Points without a value are left out.
    pub fn order_by(&self, query: &OrderQuery, projection: &Projection) -> Vec<(f64, Record)> {
        let state = self.state.read();
        let Some(index) = state.field_indexes.field(query.path) else {
            return Vec::new();
        };
        let selection = query.filter.map(|f| Selection::new(&state, f));
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for (value, points) in index.numbers_from(query.start, query.descending) {
            let mut group: Vec<(PointId, u32)> = points
                .iter()
                .filter(|&o| selection.as_ref().is_none_or(|s| s.accepts(&state, o)))
                .filter(|&o| seen.insert(o))
                .map(|o| (state.slot_id(o), o))
                .collect();
            group.sort_unstable();
            for (_, offset) in group {
                if out.len() == query.limit {
                    return out;
                }
                out.push((value, record(&state, offset, projection)));
            }
        }
        out
    }
}
