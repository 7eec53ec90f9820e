//! Multivectors (late interaction, e.g. ColBERT): each point holds a list of dense vectors of
//! one dimension, compared by MaxSim — for every query vector its best similarity to any of
//! the point's vectors, summed. Scoring is exact (no graph over multivectors yet).

use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::Path;

use crate::types::Distance;

use super::codec::{self, invalid};
use super::distance::preprocess;
use super::{top_k, ScoredOffset};

const MAGIC: &[u8; 8] = b"GRAPEMUL";

pub struct MultiVectors {
    dim: usize,
    distance: Distance,
    /// Every stored vector, back to back (normalized for Cosine).
    data: Vec<f32>,
    /// `ranges[offset]`: the first vector and the number of vectors of that offset (0 when
    /// absent or retired).
    ranges: Vec<(u32, u32)>,
}

impl MultiVectors {
    pub fn new(dim: usize, distance: Distance) -> Self {
        MultiVectors {
            dim,
            distance,
            data: Vec::new(),
            ranges: Vec::new(),
        }
    }

    /// Appends a slot for a new offset; every vector must have the space's dimension.
    pub fn push(&mut self, vectors: Option<&[Vec<f32>]>) -> u32 {
        let first = (self.data.len() / self.dim) as u32;
        let vectors = vectors.unwrap_or_default();
        for v in vectors {
            debug_assert_eq!(v.len(), self.dim);
            let start = self.data.len();
            self.data.extend_from_slice(v);
            preprocess(self.distance, &mut self.data[start..]);
        }
        self.ranges.push((first, vectors.len() as u32));
        (self.ranges.len() - 1) as u32
    }

    /// Marks the offset's vectors absent (their space is reclaimed by no one: offsets only
    /// grow, as in the dense spaces).
    pub fn retire(&mut self, offset: u32) {
        if let Some(range) = self.ranges.get_mut(offset as usize) {
            range.1 = 0;
        }
    }

    pub fn has(&self, offset: u32) -> bool {
        self.ranges.get(offset as usize).is_some_and(|r| r.1 > 0)
    }

    /// Number of offsets (holding multivectors or not).
    pub fn offsets(&self) -> usize {
        self.ranges.len()
    }

    /// The offset's vectors, or `None` when absent.
    pub fn get(&self, offset: u32) -> Option<Vec<Vec<f32>>> {
        let &(first, count) = self.ranges.get(offset as usize)?;
        (count > 0).then(|| {
            (first..first + count)
                .map(|i| self.vector(i).to_vec())
                .collect()
        })
    }

    fn vector(&self, i: u32) -> &[f32] {
        let start = i as usize * self.dim;
        &self.data[start..start + self.dim]
    }

    /// MaxSim of a (preprocessed) query against the offset's vectors.
    pub fn max_sim(&self, query: &[Vec<f32>], offset: u32) -> f32 {
        let (first, count) = self.ranges[offset as usize];
        max_sim(
            self.distance,
            query,
            (first..first + count).map(|i| self.vector(i)),
        )
    }

    /// Exact top `top` of the candidates holding a multivector, by MaxSim (higher is better).
    pub fn search(
        &self,
        query: &[Vec<f32>],
        top: usize,
        candidates: impl Iterator<Item = u32>,
    ) -> Vec<ScoredOffset> {
        let mut query = query.to_vec();
        query.iter_mut().for_each(|q| preprocess(self.distance, q));
        let scored = candidates
            .filter(|&o| self.has(o))
            .map(|offset| ScoredOffset {
                offset,
                score: self.max_sim(&query, offset),
            });
        top_k(scored, top)
    }

    pub fn memory_bytes(&self) -> usize {
        self.data.capacity() * 4 + self.ranges.capacity() * 8
    }

    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let mut w = BufWriter::new(File::create(path)?);
        codec::write_magic(&mut w, MAGIC)?;
        codec::write_u64(&mut w, self.dim as u64)?;
        let (firsts, counts): (Vec<u32>, Vec<u32>) = self.ranges.iter().copied().unzip();
        codec::write_u32s(&mut w, &firsts)?;
        codec::write_u32s(&mut w, &counts)?;
        codec::write_f32s(&mut w, &self.data)?;
        w.into_inner().map_err(|e| e.into_error())?.sync_all()
    }

    pub fn load(path: &Path, distance: Distance) -> std::io::Result<Self> {
        let mut r = BufReader::new(File::open(path)?);
        codec::read_magic(&mut r, MAGIC)?;
        let dim = codec::read_usize(&mut r)?;
        let firsts = codec::read_u32s(&mut r)?;
        let counts = codec::read_u32s(&mut r)?;
        let data = codec::read_f32s(&mut r)?;
        let stored = data.len().checked_div(dim).unwrap_or(0);
        let in_bounds = firsts
            .iter()
            .zip(&counts)
            .all(|(&f, &c)| (f as usize + c as usize) <= stored);
        if dim == 0 || firsts.len() != counts.len() || data.len() % dim != 0 || !in_bounds {
            return Err(invalid("multivector data does not match its ranges"));
        }
        Ok(MultiVectors {
            dim,
            distance,
            data,
            ranges: firsts.into_iter().zip(counts).collect(),
        })
    }
}

/// Σ over query vectors of the best similarity to any document vector (higher is better;
/// distances count negated).
pub fn max_sim<'a>(
    distance: Distance,
    query: &[Vec<f32>],
    document: impl Iterator<Item = &'a [f32]> + Clone,
) -> f32 {
    query
        .iter()
        .map(|q| {
            document
                .clone()
                .map(|d| similarity(distance, q, d))
                .fold(f32::NEG_INFINITY, f32::max)
        })
        .sum()
}

fn similarity(distance: Distance, a: &[f32], b: &[f32]) -> f32 {
    let s = super::score(distance, a, b);
    if distance.higher_is_better() {
        s
    } else {
        -s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_sim_sums_each_query_vectors_best_match() {
        let doc = [vec![1.0, 0.0], vec![0.0, 2.0]];
        let query = [vec![3.0, 1.0], vec![-1.0, 1.0]];
        // [3,1]: max(3, 2) = 3; [-1,1]: max(-1, 2) = 2.
        let got = max_sim(Distance::Dot, &query, doc.iter().map(Vec::as_slice));
        assert_eq!(got, 5.0);
    }

    #[test]
    fn search_ranks_by_max_sim_and_skips_absent_points() {
        let mut m = MultiVectors::new(2, Distance::Dot);
        m.push(Some(&[vec![1.0, 0.0]]));
        m.push(None);
        m.push(Some(&[vec![0.0, 1.0], vec![2.0, 2.0]]));
        let found = m.search(&[vec![1.0, 0.0], vec![0.0, 1.0]], 5, 0..3);
        assert_eq!(
            found.iter().map(|h| h.offset).collect::<Vec<_>>(),
            vec![2, 0]
        );
        assert_eq!(found[0].score, 4.0);
        assert_eq!(found[1].score, 1.0);
        m.retire(2);
        assert!(!m.has(2));
        assert_eq!(m.search(&[vec![1.0, 0.0]], 5, 0..3).len(), 1);
    }

    #[test]
    fn cosine_vectors_are_normalized_and_files_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let mut m = MultiVectors::new(2, Distance::Cosine);
        m.push(Some(&[vec![3.0, 4.0], vec![0.0, 5.0]]));
        m.push(Some(&[vec![1.0, 0.0]]));
        assert_eq!(m.get(0).unwrap(), vec![vec![0.6, 0.8], vec![0.0, 1.0]]);
        let path = dir.path().join("multi.bin");
        m.save(&path).unwrap();
        let loaded = MultiVectors::load(&path, Distance::Cosine).unwrap();
        assert_eq!(loaded.get(0), m.get(0));
        assert_eq!(loaded.get(1), m.get(1));
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 4]).unwrap();
        assert!(MultiVectors::load(&path, Distance::Cosine).is_err());
    }
}
