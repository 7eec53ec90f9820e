//! The vector spaces of a shard. A dense one: the vectors by point offset, which offsets hold
//! a vector, the HNSW graph over them and, when configured, their quantized codes. A sparse
//! one: its inverted index. A multivector one: each offset's list of vectors.

use crate::index::{DenseVectors, HnswIndex, MultiVectors, Quantizer, SparseIndex};
use crate::types::{HnswConfig, QuantizationConfig, VectorParams};

use super::DenseConfig;

/// Seed of the HNSW level generator, fixed so a replayed shard draws the same levels.
const HNSW_SEED: u64 = 0x0067_7261_7065;

pub struct VectorSpace {
    pub params: VectorParams,
    pub hnsw: HnswConfig,
    pub vectors: DenseVectors,
    /// `present[offset]`: a live point at `offset` has this vector (named vectors are
    /// optional); false once the point is deleted or moved to a new offset, so an
    /// unfiltered search needs no other liveness check.
    pub present: Vec<bool>,
    pub index: HnswIndex,
    pub quantization: Option<QuantizationConfig>,
    /// The codes of every offset, kept in step with `vectors` by [`Self::index_offsets`];
    /// `None` without quantization or while the space is empty.
    pub quantizer: Option<Quantizer>,
}

impl VectorSpace {
    pub fn new(config: DenseConfig) -> Self {
        let DenseConfig {
            params,
            hnsw,
            quantization,
        } = config;
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
            quantization,
            quantizer: None,
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

    /// The point at `offset` no longer has this vector (deleted, moved, or the vector
    /// removed); the graph keeps the node as a waypoint.
    pub fn retire(&mut self, offset: u32) {
        self.present[offset as usize] = false;
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
        self.update_codes();
    }

    /// Changes the quantization: the codes are rebuilt when the setting differs.
    pub fn set_quantization(&mut self, config: Option<QuantizationConfig>) {
        self.quantization = config;
        self.update_codes();
    }

    /// Brings the codes in line with the setting and the stored vectors.
    fn update_codes(&mut self) {
        let Some(config) = self.quantization.filter(|_| !self.vectors.is_empty()) else {
            self.quantizer = None;
            return;
        };
        match &mut self.quantizer {
            Some(q) if *q.config() == config => q.update(&self.vectors, &self.present),
            _ => self.quantizer = Some(Quantizer::build(config, &self.vectors, &self.present)),
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
