//! TEMPORARY brute-force stub until the index branch lands.
use std::path::Path;

use crate::types::Distance;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoredOffset {
    pub offset: u32,
    pub score: f32,
}

pub fn preprocess(distance: Distance, v: &mut [f32]) {
    if distance == Distance::Cosine {
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        if n > 0.0 {
            v.iter_mut().for_each(|x| *x /= n);
        }
    }
}

pub fn score(distance: Distance, a: &[f32], b: &[f32]) -> f32 {
    match distance {
        Distance::Cosine | Distance::Dot => a.iter().zip(b).map(|(x, y)| x * y).sum(),
        Distance::Euclid => a
            .iter()
            .zip(b)
            .map(|(x, y)| (x - y) * (x - y))
            .sum::<f32>()
            .sqrt(),
        Distance::Manhattan => a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum(),
    }
}

pub struct DenseVectors {
    dim: usize,
    distance: Distance,
    data: Vec<f32>,
}

impl DenseVectors {
    pub fn new(dim: usize, distance: Distance) -> Self {
        DenseVectors {
            dim,
            distance,
            data: Vec::new(),
        }
    }
    pub fn push(&mut self, v: &[f32]) -> u32 {
        let mut v = v.to_vec();
        preprocess(self.distance, &mut v);
        self.data.extend_from_slice(&v);
        (self.len() - 1) as u32
    }
    pub fn get(&self, offset: u32) -> &[f32] {
        &self.data[offset as usize * self.dim..(offset as usize + 1) * self.dim]
    }
    pub fn len(&self) -> usize {
        self.data.len() / self.dim
    }
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
    pub fn dim(&self) -> usize {
        self.dim
    }
    pub fn distance(&self) -> Distance {
        self.distance
    }
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let bytes: Vec<u8> = self.data.iter().flat_map(|f| f.to_le_bytes()).collect();
        std::fs::write(path, bytes)
    }
    pub fn load(path: &Path) -> std::io::Result<Self> {
        let _ = path;
        unimplemented!()
    }
}

pub struct HnswIndex {
    members: Vec<u32>,
}

impl HnswIndex {
    pub fn new(_m: usize, _ef_construct: usize, _seed: u64) -> Self {
        HnswIndex {
            members: Vec::new(),
        }
    }
    pub fn insert_batch(&mut self, _vectors: &DenseVectors, offsets: &[u32]) {
        self.members.extend_from_slice(offsets);
    }
    pub fn search(
        &self,
        vectors: &DenseVectors,
        query: &[f32],
        top: usize,
        _ef: usize,
        accept: &dyn Fn(u32) -> bool,
    ) -> Vec<ScoredOffset> {
        exact_search(
            vectors,
            query,
            top,
            self.members.iter().copied().filter(|&o| accept(o)),
        )
    }
    pub fn len(&self) -> usize {
        self.members.len()
    }
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }
    pub fn save(&self, _path: &Path) -> std::io::Result<()> {
        Ok(())
    }
    pub fn load(_path: &Path) -> std::io::Result<Self> {
        unimplemented!()
    }
}

pub fn exact_search(
    vectors: &DenseVectors,
    query: &[f32],
    top: usize,
    candidates: impl Iterator<Item = u32>,
) -> Vec<ScoredOffset> {
    let d = vectors.distance();
    let mut all: Vec<ScoredOffset> = candidates
        .map(|offset| ScoredOffset {
            offset,
            score: score(d, query, vectors.get(offset)),
        })
        .collect();
    if d.higher_is_better() {
        all.sort_by(|a, b| b.score.total_cmp(&a.score));
    } else {
        all.sort_by(|a, b| a.score.total_cmp(&b.score));
    }
    all.truncate(top);
    all
}
