//! The vector spaces of a shard. A dense one: the vectors by point offset, which offsets hold
//! a vector, and the HNSW graph over them. A sparse one: its inverted index. A multivector
//! one: each offset's list of vectors.

use crate::index::{DenseVectors, HnswIndex, MultiVectors, SparseIndex};
use crate::types::{HnswConfig, VectorParams};

/// Seed of the HNSW level generator, fixed so a replayed shard draws the same levels.
const HNSW_SEED: u64 = 0x0067_7261_7065;

pub struct VectorSpace {
    pub params: VectorParams,
    pub hnsw: HnswConfig,
    pub vectors: DenseVectors,
    /// `present[offset]`: the point at `offset` has this vector (named vectors are optional).
    pub present: Vec<bool>,
    pub index: HnswIndex,
}

impl VectorSpace {
    pub fn new(params: VectorParams, hnsw: HnswConfig) -> Self {
        VectorSpace {
            vectors: DenseVectors::new(params.size, params.distance),
            index: HnswIndex::new(
                hnsw.m,
                hnsw.ef_construct,
                HNSW_SEED,
                hnsw.max_indexing_threads,
            ),
            present: Vec::new(),
            params,
            hnsw,
        }
    }

    /// Appends a slot for a new offset: the vector, or zeros marked absent.
    pub fn push(&mut self, vector: Option<&[f32]>) -> u32 {
        let zeros;
        let v = match vector {
            Some(v) => v,
            None => {
                zeros = vec![0.0; self.params.size];
                &zeros
            }
        };
        self.present.push(vector.is_some());
        self.vectors.push(v)
    }

    pub fn has(&self, offset: u32) -> bool {
        self.present.get(offset as usize).copied().unwrap_or(false)
    }

    pub fn get(&self, offset: u32) -> Option<&[f32]> {
        self.has(offset).then(|| self.vectors.get(offset))
    }

    /// Adds the given new offsets that hold a vector to the graph.
    pub fn index_offsets(&mut self, offsets: &[u32]) {
        let with_vector: Vec<u32> = offsets.iter().copied().filter(|&o| self.has(o)).collect();
        if !with_vector.is_empty() {
            let start = std::time::Instant::now();
            self.index.insert_batch(&self.vectors, &with_vector);
            crate::metrics::storage::hnsw_build(with_vector.len(), start.elapsed());
        }
    }
}

/// One named sparse vector space of a shard: its inverted index. (Its `idf` modifier is
/// applied by the collection, over all shards.)
#[derive(Default)]
pub struct SparseSpace {
    pub index: SparseIndex,
}

/// One named multivector space of a shard: the vectors of each offset, scored exactly.
pub struct MultiSpace {
    pub params: VectorParams,
    pub vectors: MultiVectors,
}

impl MultiSpace {
    pub fn new(params: VectorParams) -> Self {
        MultiSpace {
            vectors: MultiVectors::new(params.size, params.distance),
            params,
        }
    }
}
