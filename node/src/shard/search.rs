//! Search planning inside one shard: exact scoring or HNSW traversal with the filter checked
//! during the walk, chosen from the collection size and an estimate of the filter's selectivity.

use std::collections::BTreeSet;

use crate::error::Result;
use crate::filter::Filter;
use crate::index::{self, ScoredOffset};
use crate::types::{HnswConfig, SearchParams};

use super::space::VectorSpace;
use super::state::ShardState;
use super::validate::check_vector;

/// How many points are probed to estimate how many a filter matches.
const SELECTIVITY_SAMPLE: usize = 512;

/// A search within one shard, already validated by the caller except for the vector.
pub struct ShardQuery<'a> {
    pub vector_name: &'a str,
    pub vector: &'a [f32],
    pub filter: Option<&'a Filter>,
    pub params: Option<&'a SearchParams>,
    /// Number of best results wanted (the request's offset plus limit).
    pub top: usize,
    pub score_threshold: Option<f32>,
}

/// The way a search is carried out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// Score every matching point.
    Exact,
    /// Walk the graph, checking the filter at each visited point.
    Graph { ef: usize },
}

/// Runs the search; results are best first and pass the score threshold.
pub fn search(state: &ShardState, query: &ShardQuery) -> Result<Vec<ScoredOffset>> {
    check_vector(state, query.vector_name, query.vector)?;
    let space = &state.spaces[query.vector_name];
    let mut vector = query.vector.to_vec();
    index::preprocess(space.params.distance, &mut vector);
    let accept = |offset: u32| space.has(offset) && state.matches(offset, query.filter);
    // Candidates are collected only when scoring exactly: for broad filters that would cost
    // more than the search itself.
    let exact = || {
        let candidates = query.filter.and_then(|f| state.index_candidates(f));
        exact(
            state,
            space,
            &vector,
            query.top,
            candidates.as_ref(),
            &accept,
        )
    };
    let cardinality = query.filter.and_then(|f| state.index_cardinality(f));

    let mut results = match plan(state, space, query, cardinality) {
        Plan::Exact => exact(),
        Plan::Graph { ef } => {
            let found = space
                .index
                .search(&space.vectors, &vector, query.top, ef, &accept);
            // A selective filter can starve the walk: then score the matching points exactly.
            if found.len() < query.top {
                exact()
            } else {
                found
            }
        }
    };
    if let Some(threshold) = query.score_threshold {
        let higher_is_better = space.params.distance.higher_is_better();
        results.retain(|r| {
            if higher_is_better {
                r.score >= threshold
            } else {
                r.score <= threshold
            }
        });
    }
    Ok(results)
}

/// Chooses exact scoring when the request asks for it, when the shard's vectors are below
/// `full_scan_threshold` (in KB, as Qdrant counts), or when the filter matches fewer points
/// than that threshold: bounded from the payload indexes when they constrain it
/// (`cardinality`), else estimated by sampling.
pub fn plan(
    state: &ShardState,
    space: &VectorSpace,
    query: &ShardQuery,
    cardinality: Option<usize>,
) -> Plan {
    let exact_requested = query.params.is_some_and(|p| p.exact);
    let threshold_points = full_scan_points(&space.hnsw, space.params.size);
    if exact_requested || state.len() <= threshold_points {
        return Plan::Exact;
    }
    if let Some(filter) = query.filter {
        let matches = cardinality.unwrap_or_else(|| estimate_matches(state, filter));
        if matches <= threshold_points {
            return Plan::Exact;
        }
    }
    let ef = query
        .params
        .and_then(|p| p.hnsw_ef)
        .unwrap_or(space.hnsw.ef_construct);
    Plan::Graph {
        ef: ef.max(query.top),
    }
}

/// The number of vectors whose storage fits in `full_scan_threshold` KB.
fn full_scan_points(hnsw: &HnswConfig, dim: usize) -> usize {
    hnsw.full_scan_threshold.saturating_mul(1024) / (dim.max(1) * std::mem::size_of::<f32>())
}

/// Estimates how many live points match by probing evenly spaced offsets.
fn estimate_matches(state: &ShardState, filter: &Filter) -> usize {
    let slots = state.slots.len();
    let step = (slots / SELECTIVITY_SAMPLE).max(1);
    let (mut live, mut matching) = (0usize, 0usize);
    for offset in (0..slots).step_by(step) {
        if let Some(point) = state.point(offset as u32) {
            live += 1;
            if filter.check(&point) {
                matching += 1;
            }
        }
    }
    if live == 0 {
        return 0;
    }
    // Round up so a filter seen matching once is never estimated at zero.
    (matching * state.len()).div_ceil(live)
}

/// Scores every accepted point: among the index candidates when known, else all points.
fn exact(
    state: &ShardState,
    space: &VectorSpace,
    vector: &[f32],
    top: usize,
    candidates: Option<&BTreeSet<u32>>,
    accept: &dyn Fn(u32) -> bool,
) -> Vec<ScoredOffset> {
    match candidates {
        Some(set) => {
            let offsets = set.iter().copied().filter(|&o| accept(o));
            index::exact_search(&space.vectors, vector, top, offsets)
        }
        None => {
            let offsets = state.ids.values().copied().filter(|&o| accept(o));
            index::exact_search(&space.vectors, vector, top, offsets)
        }
    }
}
