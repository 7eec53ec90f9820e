//! Vector storage, distance kernels, quantized codes and the HNSW graph.

mod codec;
mod distance;
mod hnsw;
mod multi;
mod prefetch;
mod quantization;
mod scoring;
mod sparse;
mod vectors;

pub use distance::{key_to_score, order_key, preprocess, score};
pub use hnsw::{HnswIndex, WalkKey};
pub use multi::{max_sim, MultiVectors};
pub use quantization::Quantizer;
pub use scoring::Scoring;
pub use sparse::{SparseIndex, SparseStats};
pub use vectors::DenseVectors;

/// A result inside one vector space: an offset and the score Qdrant reports for it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoredOffset {
    pub offset: u32,
    pub score: f32,
}

/// The `top` highest scores, best first (ties by offset).
pub fn top_k(scored: impl Iterator<Item = ScoredOffset>, top: usize) -> Vec<ScoredOffset> {
    let mut all: Vec<ScoredOffset> = scored.collect();
    all.sort_unstable_by(|a, b| b.score.total_cmp(&a.score).then(a.offset.cmp(&b.offset)));
    all.truncate(top);
    all
}

/// A candidate and its order key (lower is closer), before it becomes a score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KeyedOffset {
    pub offset: u32,
    pub key: f32,
}

/// Scores every candidate and keeps the `top` best (exact, brute-force search).
pub fn exact_search(
    vectors: &DenseVectors,
    query: &[f32],
    top: usize,
    candidates: impl Iterator<Item = u32>,
) -> Vec<ScoredOffset> {
    let distance = vectors.distance();
    let key = |o: u32| order_key(distance, query, vectors.get(o));
    to_scores(distance, nearest_by_key(key, top, candidates))
}

/// The `top` candidates of lowest key, closest first (ties by offset).
pub fn nearest_by_key(
    key: impl Fn(u32) -> f32,
    top: usize,
    candidates: impl Iterator<Item = u32>,
) -> Vec<KeyedOffset> {
    let mut best: std::collections::BinaryHeap<(OrderedKey, u32)> = Default::default();
    for offset in candidates {
        let key = OrderedKey(key(offset));
        if best.len() < top {
            best.push((key, offset));
        } else if best.peek().is_some_and(|worst| key < worst.0) {
            best.pop();
            best.push((key, offset));
        }
    }
    best.into_sorted_vec()
        .into_iter()
        .map(|(key, offset)| KeyedOffset { offset, key: key.0 })
        .collect()
}

/// Order keys turned into the scores Qdrant reports.
pub fn to_scores(distance: crate::types::Distance, keyed: Vec<KeyedOffset>) -> Vec<ScoredOffset> {
    keyed
        .into_iter()
        .map(|k| ScoredOffset {
            offset: k.offset,
            score: key_to_score(distance, k.key),
        })
        .collect()
}

/// An order key with a total order, for heaps.
#[derive(Debug, Clone, Copy, PartialEq)]
struct OrderedKey(f32);

impl Eq for OrderedKey {}

impl PartialOrd for OrderedKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for OrderedKey {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}
