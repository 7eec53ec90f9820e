//! How one search scores candidates: with the original vectors, or, when the space has
//! quantized codes and the request does not opt out, with the codes first. Then
//! `oversampling × top` candidates are gathered by their approximate keys and (unless
//! `rescore` is false) the original vectors re-score them to pick the `top`.

use crate::types::SearchParams;

use super::quantization::{QuantizedQuery, Quantizer};
use super::{exact_search, nearest_by_key, order_key, to_scores, DenseVectors, HnswIndex, WalkKey};
use super::{KeyedOffset, ScoredOffset};

pub struct Scoring<'a> {
    vectors: &'a DenseVectors,
    query: &'a [f32],
    quantized: Option<QuantizedQuery<'a>>,
    rescore: bool,
    oversampling: f64,
}

impl<'a> Scoring<'a> {
    /// Scoring of a preprocessed `query`. The codes are used unless the request sets
    /// `quantization.ignore` or asks for an `exact` search.
    pub fn new(
        vectors: &'a DenseVectors,
        quantizer: Option<&'a Quantizer>,
        query: &'a [f32],
        params: Option<&SearchParams>,
    ) -> Self {
        let exact = params.is_some_and(|p| p.exact);
        let settings = params.and_then(|p| p.quantization).unwrap_or_default();
        let quantized = quantizer
            .filter(|_| !exact && !settings.ignore)
            .map(|q| q.query(query));
        Scoring {
            vectors,
            query,
            quantized,
            rescore: settings.rescore.unwrap_or(true),
            oversampling: settings.oversampling.unwrap_or(1.0).max(1.0),
        }
    }

    /// How many candidates to gather for `top` results.
    pub fn candidates(&self, top: usize) -> usize {
        match self.quantized {
            Some(_) => (top as f64 * self.oversampling).ceil() as usize,
            None => top,
        }
    }

    /// The order key of a candidate: approximate with codes, exact otherwise.
    #[inline]
    pub fn key(&self, offset: u32) -> f32 {
        match &self.quantized {
            Some(q) => q.key(offset),
            None => order_key(
                self.vectors.distance(),
                self.query,
                self.vectors.get(offset),
            ),
        }
    }

    /// The `top` best accepted offsets of a walk of the graph with `ef` candidates.
    pub fn search_graph(
        &self,
        graph: &HnswIndex,
        top: usize,
        ef: usize,
        accept: &dyn Fn(u32) -> bool,
    ) -> Vec<ScoredOffset> {
        let wanted = self.candidates(top);
        let found = graph.search_by(self, wanted, ef.max(wanted), accept);
        self.finish(found, top)
    }

    /// The `top` best of the given offsets, all scored.
    pub fn scan(&self, top: usize, offsets: impl Iterator<Item = u32>) -> Vec<ScoredOffset> {
        let found = nearest_by_key(|o| self.key(o), self.candidates(top), offsets);
        self.finish(found, top)
    }

    /// Candidates, closest first, turned into the `top` results: re-scored with the
    /// original vectors when they were picked by codes (unless `rescore` is off).
    fn finish(&self, mut found: Vec<KeyedOffset>, top: usize) -> Vec<ScoredOffset> {
        if self.quantized.is_some() && self.rescore {
            let offsets = found.iter().map(|k| k.offset);
            return exact_search(self.vectors, self.query, top, offsets);
        }
        found.truncate(top);
        to_scores(self.vectors.distance(), found)
    }
}

impl WalkKey for Scoring<'_> {
    #[inline]
    fn key(&self, offset: u32) -> f32 {
        Scoring::key(self, offset)
    }

    #[inline]
    fn prefetch(&self, offset: u32) {
        match &self.quantized {
            Some(q) => q.prefetch(offset),
            None => self.vectors.prefetch(offset),
        }
    }
}
