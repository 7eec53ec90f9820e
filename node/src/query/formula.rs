//! Formula rescoring of prefetched points. The prefetches' results are already merged across
//! shards here; what the formula reads of the union of their points — prefetch scores,
//! payload values, whether each condition holds — is gathered from the collection in a few
//! reads, then every point is scored by [`crate::formula::evaluate`].

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use super::{rank, union, Hit, Planner, Ranked};
use crate::error::{GrapeError, Result};
use crate::filter::{Condition, Filter};
use crate::formula::{evaluate, Expression, Scope};
use crate::payload::{JsonPath, Segment};
use crate::shard::Projection;
use crate::types::*;

/// The points a formula condition holds for, among the candidates.
type Matches<'f> = Vec<(&'f Condition, HashSet<PointId>)>;

impl Planner<'_> {
    /// Scores the union of the prefetches' points with the formula, best first.
    pub(super) fn formula(
        &self,
        query: &FormulaQuery,
        sources: Vec<Ranked>,
        top: usize,
    ) -> Result<Ranked> {
        let scores: Vec<HashMap<PointId, f32>> = sources
            .iter()
            .map(|s| s.hits.iter().map(|h| (h.id, h.score)).collect())
            .collect();
        let candidates = union(sources);
        let ids: Vec<PointId> = candidates.iter().map(|h| h.id).collect();
        let payloads = self.formula_payloads(&query.formula, &ids)?;
        let matches = self.condition_matches(&query.formula, &ids)?;
        let hits = candidates
            .into_iter()
            .map(|h| {
                let scope = Candidate {
                    id: h.id,
                    scores: &scores,
                    payload: payloads.get(&h.id),
                    matches: &matches,
                };
                let score = evaluate(&query.formula, &query.defaults, &scope)
                    .map_err(|e| GrapeError::bad_input(e.to_string()))?;
                Ok(Hit {
                    score,
                    order_value: None,
                    ..h
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(rank(hits, true, top))
    }

    /// The candidates' payloads, reduced to the top-level keys the formula reads.
    fn formula_payloads(
        &self,
        formula: &Expression,
        ids: &[PointId],
    ) -> Result<HashMap<PointId, Payload>> {
        let keys: HashSet<String> = formula.payload_keys().into_iter().map(top_key).collect();
        if keys.is_empty() || ids.is_empty() {
            return Ok(HashMap::new());
        }
        let projection = Projection {
            with_payload: WithPayload::Include(keys.into_iter().collect()),
            with_vector: WithVector::Bool(false),
        };
        Ok(self
            .collection
            .retrieve(ids, &projection, self.read)?
            .into_iter()
            .map(|r| (r.id, r.payload.unwrap_or_default()))
            .collect())
    }

    /// For each condition of the formula, the candidates it holds for, as the collection's
    /// filters decide (indexes, nested keys, vectors and all).
    fn condition_matches<'f>(
        &self,
        formula: &'f Expression,
        ids: &[PointId],
    ) -> Result<Matches<'f>> {
        let conditions = formula.conditions();
        if conditions.is_empty() || ids.is_empty() {
            return Ok(Vec::new());
        }
        let within = Condition::HasId {
            has_id: ids.iter().copied().collect(),
        };
        conditions
            .into_iter()
            .map(|condition| {
                let filter = Filter {
                    must: Some(vec![within.clone(), condition.clone()]),
                    ..Filter::default()
                };
                let page = self.collection.scroll(
                    &ScrollRequest {
                        offset: None,
                        limit: Some(ids.len()),
                        filter: Some(filter),
                        with_payload: Some(WithPayload::Bool(false)),
                        with_vector: Some(WithVector::Bool(false)),
                    },
                    self.read,
                )?;
                Ok((condition, page.points.into_iter().map(|r| r.id).collect()))
            })
            .collect()
    }
}

/// The payload key a path starts with: fetching it brings everything below.
fn top_key(path: &JsonPath) -> String {
    match path.segments().first() {
        Some(Segment::Key(key)) => key.clone(),
        _ => path.as_str().to_string(),
    }
}

/// One candidate as the formula sees it.
struct Candidate<'a> {
    id: PointId,
    scores: &'a [HashMap<PointId, f32>],
    payload: Option<&'a Payload>,
    matches: &'a Matches<'a>,
}

impl Scope for Candidate<'_> {
    fn score(&self, prefetch: usize) -> Option<f32> {
        self.scores.get(prefetch)?.get(&self.id).copied()
    }

    fn values(&self, path: &JsonPath) -> Vec<&Value> {
        self.payload.map(|p| path.values(p)).unwrap_or_default()
    }

    /// Conditions are told apart by address: they are the formula's own.
    fn matches(&self, condition: &Condition) -> bool {
        self.matches
            .iter()
            .any(|(c, ids)| std::ptr::eq(*c, condition) && ids.contains(&self.id))
    }
}
