//! The inverted index of one sparse vector space: the vectors by point offset, and a posting
//! list per dimension (the offsets holding it, with their values). Scoring is the exact dot
//! product, accumulated over the query's posting lists.
//!
//! Offsets only grow (as in the dense spaces): a retired offset drops its vector, and its
//! posting entries are skipped until a checkpoint is loaded, which rebuilds the lists.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::Path;

use crate::types::SparseVector;

use super::codec::{self, invalid};
use super::{top_k, ScoredOffset};

const MAGIC: &[u8; 8] = b"GRAPESPV";

#[derive(Default)]
pub struct SparseIndex {
    /// `vectors[offset]`: the vector (sorted by index), `None` when absent or retired.
    vectors: Vec<Option<SparseVector>>,
    /// Dimension → (offset, value), in offset order.
    postings: HashMap<u32, Vec<(u32, f32)>>,
    /// Dimension → how many live vectors hold it (the `n` of IDF).
    doc_freq: HashMap<u32, u64>,
    /// Number of live vectors (the `N` of IDF).
    live: u64,
}

/// What IDF needs from one shard: its live vectors and how many hold each asked dimension.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SparseStats {
    pub vectors: u64,
    pub doc_freq: Vec<u64>,
}

impl SparseIndex {
    /// Appends a slot for a new offset; `vector` must be valid.
    pub fn push(&mut self, vector: Option<&SparseVector>) -> u32 {
        let offset = self.vectors.len() as u32;
        let stored = vector.map(SparseVector::sorted);
        if let Some(v) = &stored {
            for (&dim, &value) in v.indices.iter().zip(&v.values) {
                self.postings.entry(dim).or_default().push((offset, value));
                *self.doc_freq.entry(dim).or_default() += 1;
            }
            self.live += 1;
        }
        self.vectors.push(stored);
        offset
    }

    /// Drops the vector at `offset` (the point was removed, updated or lost this vector).
    pub fn retire(&mut self, offset: u32) {
        let Some(v) = self.vectors.get_mut(offset as usize).and_then(Option::take) else {
            return;
        };
        for dim in &v.indices {
            if let Some(n) = self.doc_freq.get_mut(dim) {
                *n -= 1;
                if *n == 0 {
                    self.doc_freq.remove(dim);
                }
            }
        }
        self.live -= 1;
    }

    pub fn get(&self, offset: u32) -> Option<&SparseVector> {
        self.vectors.get(offset as usize)?.as_ref()
    }

    pub fn has(&self, offset: u32) -> bool {
        self.get(offset).is_some()
    }

    /// Number of offsets (live, absent and retired).
    pub fn offsets(&self) -> usize {
        self.vectors.len()
    }

    pub fn stats(&self, dims: &[u32]) -> SparseStats {
        SparseStats {
            vectors: self.live,
            doc_freq: dims
                .iter()
                .map(|d| self.doc_freq.get(d).copied().unwrap_or(0))
                .collect(),
        }
    }

    /// Number of posting entries a search for `query` walks.
    pub fn postings_len(&self, query: &SparseVector) -> usize {
        query
            .indices
            .iter()
            .filter_map(|d| self.postings.get(d))
            .map(Vec::len)
            .sum()
    }

    /// The `top` accepted vectors with the largest dot product with `query`, among those
    /// sharing at least one dimension with it.
    pub fn search(
        &self,
        query: &SparseVector,
        top: usize,
        accept: &dyn Fn(u32) -> bool,
    ) -> Vec<ScoredOffset> {
        let mut scores: HashMap<u32, f32> = HashMap::new();
        for (dim, weight) in query.indices.iter().zip(&query.values) {
            let Some(list) = self.postings.get(dim) else {
                continue;
            };
            for &(offset, value) in list {
                if self.has(offset) {
                    *scores.entry(offset).or_default() += weight * value;
                }
            }
        }
        let scored = scores
            .into_iter()
            .filter(|&(offset, _)| accept(offset))
            .map(|(offset, score)| ScoredOffset { offset, score });
        top_k(scored, top)
    }

    /// Scores the given candidates directly (cheaper than the posting lists for few of them).
    pub fn score_candidates(
        &self,
        query: &SparseVector,
        top: usize,
        candidates: impl Iterator<Item = u32>,
    ) -> Vec<ScoredOffset> {
        let query = query.sorted();
        let scored = candidates.filter_map(|offset| {
            let v = self.get(offset)?;
            let overlaps = v
                .indices
                .iter()
                .any(|d| query.indices.binary_search(d).is_ok());
            overlaps.then(|| ScoredOffset {
                offset,
                score: query.dot(v),
            })
        });
        top_k(scored, top)
    }

    /// Bytes held by the stored vectors and the posting lists.
    pub fn memory_bytes(&self) -> usize {
        let stored: usize = self
            .vectors
            .iter()
            .flatten()
            .map(|v| v.indices.capacity() * 4 + v.values.capacity() * 4)
            .sum();
        let postings: usize = self.postings.values().map(|l| l.capacity() * 8).sum();
        stored + postings
    }

    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let mut w = BufWriter::new(File::create(path)?);
        codec::write_magic(&mut w, MAGIC)?;
        let present: Vec<u8> = self.vectors.iter().map(|v| v.is_some() as u8).collect();
        codec::write_u8s(&mut w, &present)?;
        let stored = || self.vectors.iter().flatten();
        let lengths: Vec<u32> = stored().map(|v| v.indices.len() as u32).collect();
        let indices: Vec<u32> = stored().flat_map(|v| v.indices.iter().copied()).collect();
        let values: Vec<f32> = stored().flat_map(|v| v.values.iter().copied()).collect();
        codec::write_u32s(&mut w, &lengths)?;
        codec::write_u32s(&mut w, &indices)?;
        codec::write_f32s(&mut w, &values)?;
        w.into_inner().map_err(|e| e.into_error())?.sync_all()
    }

    /// Loads the vectors and rebuilds the posting lists from them.
    pub fn load(path: &Path) -> std::io::Result<Self> {
        let mut r = BufReader::new(File::open(path)?);
        codec::read_magic(&mut r, MAGIC)?;
        let present = codec::read_u8s(&mut r)?;
        let lengths = codec::read_u32s(&mut r)?;
        let indices = codec::read_u32s(&mut r)?;
        let values = codec::read_f32s(&mut r)?;
        let total: usize = lengths.iter().map(|&l| l as usize).sum();
        let stored = present.iter().filter(|&&p| p != 0).count();
        if stored != lengths.len() || total != indices.len() || total != values.len() {
            return Err(invalid("sparse vector data does not match its lengths"));
        }
        let mut index = SparseIndex::default();
        let (mut next, mut start) = (0, 0);
        for &p in &present {
            if p == 0 {
                index.push(None);
                continue;
            }
            let end = start + lengths[next] as usize;
            index.push(Some(&SparseVector {
                indices: indices[start..end].to_vec(),
                values: values[start..end].to_vec(),
            }));
            (next, start) = (next + 1, end);
        }
        Ok(index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sparse(indices: &[u32], values: &[f32]) -> SparseVector {
        SparseVector {
            indices: indices.to_vec(),
            values: values.to_vec(),
        }
    }

    fn sample() -> SparseIndex {
        let mut index = SparseIndex::default();
        index.push(Some(&sparse(&[1, 3], &[1.0, 2.0])));
        index.push(None);
        index.push(Some(&sparse(&[3, 7], &[0.5, 4.0])));
        index.push(Some(&sparse(&[9], &[1.0])));
        index
    }

    #[test]
    fn search_scores_by_dot_product_over_shared_dimensions() {
        let index = sample();
        let query = sparse(&[3, 7], &[1.0, 1.0]);
        let found = index.search(&query, 10, &|_| true);
        assert_eq!(
            found,
            vec![
                ScoredOffset {
                    offset: 2,
                    score: 4.5
                },
                ScoredOffset {
                    offset: 0,
                    score: 2.0
                },
            ]
        );
        let only_first = index.search(&query, 10, &|o| o == 0);
        assert_eq!(only_first.len(), 1);
        assert_eq!(index.score_candidates(&query, 10, 0..4), found);
    }

    #[test]
    fn retired_vectors_leave_results_and_document_frequencies() {
        let mut index = sample();
        assert_eq!(index.stats(&[3, 9, 100]).doc_freq, vec![2, 1, 0]);
        index.retire(2);
        index.retire(1);
        assert_eq!(
            index.stats(&[3, 7]),
            SparseStats {
                vectors: 2,
                doc_freq: vec![1, 0]
            }
        );
        let found = index.search(&sparse(&[7, 3], &[1.0, 1.0]), 10, &|_| true);
        assert_eq!(found.iter().map(|h| h.offset).collect::<Vec<_>>(), vec![0]);
    }

    #[test]
    fn save_and_load_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let mut index = sample();
        index.retire(0);
        let path = dir.path().join("sparse.bin");
        index.save(&path).unwrap();
        let loaded = SparseIndex::load(&path).unwrap();
        assert_eq!(loaded.offsets(), 4);
        assert!(!loaded.has(0) && !loaded.has(1));
        assert_eq!(loaded.get(2), Some(&sparse(&[3, 7], &[0.5, 4.0])));
        assert_eq!(loaded.stats(&[3]), index.stats(&[3]));
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 2]).unwrap();
        assert!(SparseIndex::load(&path).is_err());
    }
}
