//! Search inside one shard: the filter's selection (what the payload indexes know of it and
//! how many points it keeps), the plan chosen from it (see [`super::cost`]), and its
//! execution.

use std::cell::Cell;

use roaring::RoaringBitmap;

use crate::error::{GrapeError, Result};
use crate::filter::{AnyVariants, Condition, Filter, Match, MatchValue};
use crate::index::{self, ScoredOffset, Scoring};
use crate::payload::JsonPath;
use crate::types::{SearchParams, SparseVector};

use super::cost::{self, Costs};
use super::field_index::{Answer, FieldSchema, Key};
use super::space::VectorSpace;
use super::state::ShardState;
use super::validate::{check_multi_vector, check_sparse_vector, check_vector};
use super::value_graph::ValueTarget;

/// How many points are probed to estimate how many a filter matches.
const SELECTIVITY_SAMPLE: u64 = 512;

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

/// A search by sparse vector within one shard: exact dot-product scoring.
pub struct SparseQuery<'a> {
    pub vector_name: &'a str,
    /// The query, with IDF weights (if the space uses them) already applied.
    pub vector: &'a SparseVector,
    pub filter: Option<&'a Filter>,
    pub top: usize,
    pub score_threshold: Option<f32>,
}

/// A search by multivector within one shard: exact MaxSim scoring.
pub struct MultiQuery<'a> {
    pub vector_name: &'a str,
    pub vector: &'a [Vec<f32>],
    pub filter: Option<&'a Filter>,
    pub top: usize,
    pub score_threshold: Option<f32>,
}

/// The way a search is carried out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// Score every matching point.
    Exact,
    /// Walk the main graph, checking the filter (if any) at each visited point.
    Graph { ef: usize },
    /// Walk the graphs of the values an indexed `must` condition selects.
    ValueGraphs { ef: usize },
}

/// How a search actually ran: its plan, unless exact scoring replaced a walk's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    Exact,
    Graph,
    ValueGraphs,
    /// A walk whose filter was rare around the query, or left fewer results than asked.
    ExactAfterWalk,
}

impl Strategy {
    pub const ALL: [Strategy; 4] = [
        Strategy::Exact,
        Strategy::Graph,
        Strategy::ValueGraphs,
        Strategy::ExactAfterWalk,
    ];

    /// The name metrics and benchmarks use.
    pub fn label(self) -> &'static str {
        match self {
            Strategy::Exact => "exact",
            Strategy::Graph => "graph",
            Strategy::ValueGraphs => "value_graphs",
            Strategy::ExactAfterWalk => "exact_after_walk",
        }
    }
}

/// What is known of the points a filter keeps.
pub struct Selection<'a> {
    filter: &'a Filter,
    answer: Answer,
    /// Expected number of matching points.
    pub matches: u64,
    /// The values of an indexed `must` condition that have value graphs.
    target: Option<(JsonPath, Vec<Key>)>,
}

impl<'a> Selection<'a> {
    pub fn new(state: &ShardState, filter: &'a Filter) -> Selection<'a> {
        let answer = state.index_answer(filter);
        let matches = expected_matches(state, filter, &answer);
        Selection {
            filter,
            matches,
            target: value_target(state, filter),
            answer,
        }
    }

    /// Does the live point at `offset` pass the filter?
    pub fn accepts(&self, state: &ShardState, offset: u32) -> bool {
        let bounded = match &self.answer.set {
            Some(set) => set.contains(offset),
            None => state.is_live(offset),
        };
        bounded && (self.answer.exact || state.matches(offset, Some(self.filter)))
    }

    /// The offsets the filter may keep, when the indexes bound them.
    pub fn candidates(&self) -> Option<&RoaringBitmap> {
        self.answer.set.as_ref()
    }

    /// The matching live offsets.
    pub fn matching(&self, state: &ShardState) -> RoaringBitmap {
        match &self.answer.set {
            Some(set) => set.iter().filter(|&o| self.accepts(state, o)).collect(),
            None => state
                .ids
                .values()
                .copied()
                .filter(|&o| self.accepts(state, o))
                .collect(),
        }
    }

    /// The expected share of the live points that match.
    fn share(&self, state: &ShardState) -> f64 {
        self.matches as f64 / state.len().max(1) as f64
    }

    /// The exact number of matching points, when the indexes know it.
    pub fn exact_count(&self, state: &ShardState) -> Option<u64> {
        match (&self.answer.set, self.answer.exact) {
            (Some(set), true) => Some(set.len()),
            (None, true) => Some(state.len() as u64),
            _ => None,
        }
    }
}

/// Runs the search; results are best first and pass the score threshold.
pub fn search(state: &ShardState, query: &ShardQuery) -> Result<Vec<ScoredOffset>> {
    check_vector(state, query.vector_name, query.vector)?;
    if let Some(settings) = query.params.and_then(|p| p.quantization) {
        settings.validate().map_err(GrapeError::BadInput)?;
    }
    let space = &state.spaces[query.vector_name];
    let mut vector = query.vector.to_vec();
    index::preprocess(space.params.distance, &mut vector);
    let scoring = Scoring::new(
        &space.vectors,
        space.quantizer.as_ref(),
        &vector,
        query.params,
    );
    let selection = query.filter.map(|f| Selection::new(state, f));
    // `has` implies a live point: an unfiltered walk reads one bit per candidate.
    let accept = |offset: u32| {
        space.has(offset) && selection.as_ref().is_none_or(|s| s.accepts(state, offset))
    };
    let exact = || exact(state, &scoring, query.top, selection.as_ref(), &accept);

    let plan = plan(state, space, query, selection.as_ref());
    let (mut results, mut strategy) = match (plan, &selection) {
        (Plan::Exact, _) => (exact(), Strategy::Exact),
        (
            Plan::ValueGraphs { ef },
            Some(Selection {
                target: Some((path, keys)),
                ..
            }),
        ) => {
            let target = ValueTarget {
                path,
                keys,
                space: query.vector_name,
            };
            let found = state
                .value_graphs
                .search(&target, &vector, query.top, ef, &accept)
                .unwrap_or_default();
            (best_of(space, found, query.top), Strategy::ValueGraphs)
        }
        (Plan::Graph { ef } | Plan::ValueGraphs { ef }, _) => {
            let walk = WalkTally::new(&accept);
            let found = scoring.search_graph(&space.index, query.top, ef, &|o| walk.check(o));
            let share = selection.as_ref().map(|s| s.share(state));
            if share.is_some_and(|share| walk.found_rare(share)) {
                (exact(), Strategy::ExactAfterWalk)
            } else {
                (found, Strategy::Graph)
            }
        }
    };
    // A selective filter can starve a walk: then score the matching points exactly.
    let walked = matches!(strategy, Strategy::Graph | Strategy::ValueGraphs);
    if walked && results.len() < query.top {
        results = exact();
        strategy = Strategy::ExactAfterWalk;
    }
    crate::metrics::search::ran(strategy);
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

/// What a graph walk checked and accepted. A filter far rarer among the points the walk
/// checked than in the whole shard is rare around the query (it correlates with the
/// vectors, e.g. it keeps other clusters): the walk wandered through rejected points and can
/// miss the nearest matches beyond them, so exact scoring answers instead.
struct WalkTally<'a> {
    accept: &'a dyn Fn(u32) -> bool,
    checked: Cell<u64>,
    accepted: Cell<u64>,
}

/// A walk whose accepted share is below this fraction of the filter's share found it rare.
const RARE_AROUND_QUERY: f64 = 0.5;
/// Fewer checks than this say too little about the neighbourhood.
const TALLY_MIN_CHECKS: u64 = 100;

impl<'a> WalkTally<'a> {
    fn new(accept: &'a dyn Fn(u32) -> bool) -> Self {
        WalkTally {
            accept,
            checked: Cell::new(0),
            accepted: Cell::new(0),
        }
    }

    fn check(&self, offset: u32) -> bool {
        let accepted = (self.accept)(offset);
        self.checked.set(self.checked.get() + 1);
        self.accepted.set(self.accepted.get() + u64::from(accepted));
        accepted
    }

    /// Did the walk find the filter rare, given the share of points it keeps overall?
    fn found_rare(&self, share: f64) -> bool {
        let checked = self.checked.get();
        checked >= TALLY_MIN_CHECKS
            && (self.accepted.get() as f64) < RARE_AROUND_QUERY * share * checked as f64
    }
}

/// Runs a sparse search: through the posting lists of the query's dimensions, or, when the
/// filter's candidates are fewer than the posting entries, by scoring those candidates.
/// Only points sharing a dimension with the query are returned, best first.
pub fn search_sparse(state: &ShardState, query: &SparseQuery) -> Result<Vec<ScoredOffset>> {
    let space = check_sparse_vector(state, query.vector_name, query.vector)?;
    let vector = query.vector.sorted();
    let selection = query.filter.map(|f| Selection::new(state, f));
    let candidates = selection.as_ref().and_then(Selection::candidates);
    let mut results = match (candidates, &selection) {
        (Some(set), Some(selection))
            if (set.len() as usize) < space.index.postings_len(&vector) =>
        {
            let accepted = set.iter().filter(|&o| selection.accepts(state, o));
            space.index.score_candidates(&vector, query.top, accepted)
        }
        _ => {
            let accept = |offset: u32| {
                selection
                    .as_ref()
                    .map_or(state.is_live(offset), |s| s.accepts(state, offset))
            };
            space.index.search(&vector, query.top, &accept)
        }
    };
    if let Some(threshold) = query.score_threshold {
        results.retain(|r| r.score >= threshold);
    }
    Ok(results)
}

/// Scores every matching point holding the multivector by MaxSim (the index candidates
/// when the filter is bounded by them); best first.
pub fn search_multi(state: &ShardState, query: &MultiQuery) -> Result<Vec<ScoredOffset>> {
    let space = check_multi_vector(state, query.vector_name, query.vector)?;
    let selection = query.filter.map(|f| Selection::new(state, f));
    let mut results = match &selection {
        Some(selection) => {
            let matching = selection.matching(state);
            space
                .vectors
                .search(query.vector, query.top, matching.iter())
        }
        None => space
            .vectors
            .search(query.vector, query.top, state.ids.values().copied()),
    };
    if let Some(threshold) = query.score_threshold {
        results.retain(|r| r.score >= threshold);
    }
    Ok(results)
}

/// Exact scoring when the request asks for it or the shard is below `full_scan_threshold`
/// (in KB of vectors, as Qdrant counts); otherwise the cheapest plan by the cost model.
pub fn plan(
    state: &ShardState,
    space: &VectorSpace,
    query: &ShardQuery,
    selection: Option<&Selection>,
) -> Plan {
    let exact_requested = query.params.is_some_and(|p| p.exact);
    let threshold = cost::full_scan_points(&space.hnsw, space.params.size);
    if exact_requested || state.len() <= threshold {
        return Plan::Exact;
    }
    let ef = query
        .params
        .and_then(|p| p.hnsw_ef)
        .unwrap_or(space.hnsw.ef_construct)
        .max(query.top);
    let Some(selection) = selection else {
        return Plan::Graph { ef };
    };
    let value_points = selection.target.as_ref().and_then(|(path, keys)| {
        let covered = state.value_graphs.covers(path, keys, query.vector_name);
        covered.then(|| value_points(state, path, keys))
    });
    let costs = Costs {
        points: state.len() as u64,
        matches: selection.matches,
        candidates: selection.candidates().map(RoaringBitmap::len),
        checked: !selection.answer.exact,
        ef: ef as u64,
        value_points,
    };
    cost::cheapest(&costs, ef)
}

/// How many points match: counted by the indexes when they know exactly, else estimated by
/// checking the filter on evenly spread samples of the candidates (or of all points).
fn expected_matches(state: &ShardState, filter: &Filter, answer: &Answer) -> u64 {
    match (&answer.set, answer.exact) {
        (Some(set), true) => set.len(),
        (None, true) => state.len() as u64,
        (Some(set), false) => {
            let n = set.len();
            let probes = n.min(SELECTIVITY_SAMPLE);
            let hits = (0..probes)
                .filter_map(|i| set.select((i * n / probes.max(1)) as u32))
                .filter(|&o| state.matches(o, Some(filter)))
                .count() as u64;
            (hits * n).div_ceil(probes.max(1))
        }
        (None, false) => estimate_matches(state, filter),
    }
}

/// Estimates how many live points match by probing evenly spaced offsets.
fn estimate_matches(state: &ShardState, filter: &Filter) -> u64 {
    let slots = state.slots.len();
    let step = (slots / SELECTIVITY_SAMPLE as usize).max(1);
    let (mut live, mut matching) = (0u64, 0u64);
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
    (matching * state.len() as u64).div_ceil(live)
}

/// The first `must` condition selecting values of a field with value graphs
/// (`match: value` or `match: any`).
fn value_target(state: &ShardState, filter: &Filter) -> Option<(JsonPath, Vec<Key>)> {
    filter.must.iter().flatten().find_map(|condition| {
        let Condition::Field(field) = condition else {
            return None;
        };
        let index = state.field_indexes.field(&field.key)?;
        if !index.schema.wants_value_graphs() {
            return None;
        }
        let integers = matches!(index.schema, FieldSchema::Integer { .. });
        let keys = match (field.r#match.as_ref()?, integers) {
            (Match::Value(MatchValue::Keyword(s)), false) => vec![Key::Text(s.clone())],
            (Match::Value(MatchValue::Integer(i)), true) => vec![Key::Integer(*i)],
            (Match::Any(AnyVariants::Keywords(list)), false) => {
                list.iter().cloned().map(Key::Text).collect()
            }
            (Match::Any(AnyVariants::Integers(list)), true) => {
                list.iter().copied().map(Key::Integer).collect()
            }
            _ => return None,
        };
        Some((field.key.clone(), keys))
    })
}

/// Points holding each of the values.
fn value_points(state: &ShardState, path: &JsonPath, keys: &[Key]) -> Vec<u64> {
    let index = state.field_indexes.field(path);
    keys.iter()
        .map(|k| {
            index
                .and_then(|i| i.key_points(k))
                .map_or(0, RoaringBitmap::len)
        })
        .collect()
}

/// Merges the results of several graphs: distinct points, best first.
fn best_of(space: &VectorSpace, lists: Vec<Vec<ScoredOffset>>, top: usize) -> Vec<ScoredOffset> {
    let mut all: Vec<ScoredOffset> = lists.into_iter().flatten().collect();
    if space.params.distance.higher_is_better() {
        all.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.offset.cmp(&b.offset)));
    } else {
        all.sort_by(|a, b| a.score.total_cmp(&b.score).then(a.offset.cmp(&b.offset)));
    }
    all.dedup_by_key(|hit| hit.offset);
    all.truncate(top);
    all
}

/// Scores every accepted point (with the codes first, when quantized): among the index
/// candidates when bounded, else all points.
fn exact(
    state: &ShardState,
    scoring: &Scoring,
    top: usize,
    selection: Option<&Selection>,
    accept: &dyn Fn(u32) -> bool,
) -> Vec<ScoredOffset> {
    match selection.and_then(Selection::candidates) {
        Some(set) => scoring.scan(top, set.iter().filter(|&o| accept(o))),
        None => scoring.scan(top, state.ids.values().copied().filter(|&o| accept(o))),
    }
}
