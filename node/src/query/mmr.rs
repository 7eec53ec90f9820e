//! Maximal marginal relevance (`{"nearest": .., "mmr": {..}}`): the nearest candidates are
//! re-ranked greedily, each pick maximising `(1 − λ)·sim(query, p) − λ·max sim(p, picked)`
//! with λ the diversity. Similarities are Qdrant's internal ones (higher is better); the
//! points keep their search scores, in the order picked, as Qdrant returns them.

use std::collections::{HashMap, HashSet};

use super::{similarity, vector_of, Hit, Planner, Ranked, Stage};
use crate::error::{GrapeError, Result};
use crate::types::*;

/// Qdrant's default diversity and largest candidates limit.
const DEFAULT_DIVERSITY: f32 = 0.5;
const MAX_CANDIDATES: usize = 16_384;

impl Mmr {
    /// The diversity and the number of candidates (`top` when not given), checked.
    fn params(&self, top: usize) -> Result<(f32, usize)> {
        let diversity = self.diversity.unwrap_or(DEFAULT_DIVERSITY);
        if !(0.0..=1.0).contains(&diversity) {
            return Err(GrapeError::bad_input(format!(
                "mmr diversity must be between 0 and 1, got {diversity}"
            )));
        }
        let candidates = self.candidates_limit.unwrap_or(top);
        if candidates > MAX_CANDIDATES {
            return Err(GrapeError::bad_input(format!(
                "mmr candidates_limit must be at most {MAX_CANDIDATES}, got {candidates}"
            )));
        }
        Ok((diversity, candidates))
    }
}

impl Planner<'_> {
    /// The `top` points MMR picks among the nearest candidates of `vector` (preprocessed).
    pub(super) fn nearest_mmr(
        &self,
        stage: &Stage,
        vector: Vec<f32>,
        exclude: &HashSet<PointId>,
        mmr: &Mmr,
        top: usize,
    ) -> Result<Ranked> {
        let (_, candidates) = mmr.params(top)?;
        let nearest = self.nearest(stage, vector.clone(), exclude, candidates)?;
        self.rerank_mmr(stage, &vector, nearest, mmr, top)
    }

    /// Re-ranks candidates (best first) by MMR, reading their vectors.
    pub(super) fn rerank_mmr(
        &self,
        stage: &Stage,
        query: &[f32],
        mut candidates: Ranked,
        mmr: &Mmr,
        top: usize,
    ) -> Result<Ranked> {
        let (diversity, limit) = mmr.params(top)?;
        candidates.hits.truncate(limit);
        let distance = self.distance(stage.using)?;
        let ids: Vec<PointId> = candidates.hits.iter().map(|h| h.id).collect();
        let records = self.with_vectors(&ids, stage.using)?;
        let mut vectors: HashMap<PointId, &[f32]> = records
            .iter()
            .filter_map(|r| Some((r.id, vector_of(r, stage.using)?)))
            .collect();
        let (hits, points): (Vec<Hit>, Vec<&[f32]>) = candidates
            .hits
            .into_iter()
            .filter_map(|h| {
                let v = vectors.remove(&h.id)?;
                Some((h, v))
            })
            .unzip();
        let relevance: Vec<f32> = points
            .iter()
            .map(|p| similarity(distance, query, p))
            .collect();
        let picked = select(
            &relevance,
            |a, b| similarity(distance, points[a], points[b]),
            diversity,
            top,
        );
        Ok(Ranked {
            hits: picked.into_iter().map(|i| hits[i].clone()).collect(),
            higher_is_better: candidates.higher_is_better,
        })
    }
}

/// Greedy MMR over candidates `0..n` (most relevant first): the first candidate, then
/// repeatedly the one with the best `(1 − diversity)·relevance − diversity·max similarity to
/// the picked ones` (ties: the earlier), until `top` are picked. Indices in picking order.
pub fn select(
    relevance: &[f32],
    similarity: impl Fn(usize, usize) -> f32,
    diversity: f32,
    top: usize,
) -> Vec<usize> {
    if relevance.is_empty() || top == 0 {
        return Vec::new();
    }
    let mut picked = vec![0];
    // Each candidate's highest similarity to a picked one, kept up to date pick by pick.
    let mut closest: Vec<f32> = (0..relevance.len()).map(|i| similarity(i, 0)).collect();
    let mut pending: Vec<usize> = (1..relevance.len()).collect();
    while picked.len() < top && !pending.is_empty() {
        let mmr = |i: usize| (1.0 - diversity) * relevance[i] - diversity * closest[i];
        let mut best = 0;
        for (position, &i) in pending.iter().enumerate().skip(1) {
            if mmr(i) > mmr(pending[best]) {
                best = position;
            }
        }
        let chosen = pending.remove(best);
        picked.push(chosen);
        for &i in &pending {
            closest[i] = closest[i].max(similarity(i, chosen));
        }
    }
    picked
}

#[cfg(test)]
mod tests {
    use super::select;

    /// Candidates 0 and 1 are near duplicates; 2 is less relevant but different.
    fn similarity(a: usize, b: usize) -> f32 {
        let matrix = [[1.0, 0.95, 0.1], [0.95, 1.0, 0.2], [0.1, 0.2, 1.0]];
        matrix[a][b]
    }

    const RELEVANCE: [f32; 3] = [0.9, 0.85, 0.5];

    #[test]
    fn diversity_passes_over_near_duplicates() {
        // After 0: candidate 1 scores 0.5·0.85 − 0.5·0.95 = −0.05, candidate 2
        // 0.5·0.5 − 0.5·0.1 = 0.2.
        assert_eq!(select(&RELEVANCE, similarity, 0.5, 3), [0, 2, 1]);
        assert_eq!(select(&RELEVANCE, similarity, 0.5, 2), [0, 2]);
        assert_eq!(select(&RELEVANCE, similarity, 1.0, 2), [0, 2]);
    }

    #[test]
    fn no_diversity_keeps_relevance_order() {
        assert_eq!(select(&RELEVANCE, similarity, 0.0, 3), [0, 1, 2]);
    }

    #[test]
    fn ties_go_to_the_earlier_candidate_and_limits_hold() {
        assert_eq!(select(&[1.0, 0.5, 0.5], |_, _| 0.0, 0.5, 3), [0, 1, 2]);
        assert_eq!(select(&RELEVANCE, similarity, 0.5, 10), [0, 2, 1]);
        assert!(select(&RELEVANCE, similarity, 0.5, 0).is_empty());
        assert!(select(&[], similarity, 0.5, 3).is_empty());
    }
}
