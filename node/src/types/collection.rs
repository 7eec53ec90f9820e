//! Collection configuration and information, in Qdrant's JSON shapes.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::point::DEFAULT_VECTOR_NAME;
use super::quantization::{QuantizationConfig, QuantizationConfigDiff};
use super::sparse::SparseVectorParams;

/// How two vectors are compared. Cosine and Dot: higher score is better;
/// Euclid and Manhattan: the score is the distance, lower is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Distance {
    Cosine,
    Euclid,
    Dot,
    Manhattan,
}

impl Distance {
    /// True when a larger score means a closer match.
    pub fn higher_is_better(self) -> bool {
        matches!(self, Distance::Cosine | Distance::Dot)
    }
}

/// Parameters of one dense vector space.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VectorParams {
    pub size: usize,
    pub distance: Distance,
    /// Per-vector HNSW overrides of the collection's `hnsw_config`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hnsw_config: Option<HnswConfigDiff>,
    /// Accepted for compatibility; vectors are kept in memory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_disk: Option<bool>,
    /// Set for a multivector: each point holds a list of vectors of `size`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multivector_config: Option<MultiVectorConfig>,
    /// Per-vector override of the collection's `quantization_config`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantization_config: Option<QuantizationConfig>,
}

/// How the vectors of two multivectors are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MultiVectorConfig {
    pub comparator: MultiVectorComparator,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MultiVectorComparator {
    /// Σ over query vectors of the best similarity to any of the point's vectors.
    MaxSim,
}

/// One unnamed vector space, or several named ones.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum VectorsConfig {
    Single(VectorParams),
    Multi(BTreeMap<String, VectorParams>),
}

impl VectorsConfig {
    /// The vector spaces keyed by name; the unnamed one is keyed by [`DEFAULT_VECTOR_NAME`].
    pub fn named(&self) -> BTreeMap<String, VectorParams> {
        match self {
            VectorsConfig::Single(p) => {
                BTreeMap::from([(DEFAULT_VECTOR_NAME.to_string(), p.clone())])
            }
            VectorsConfig::Multi(m) => m.clone(),
        }
    }
}

/// HNSW index parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct HnswConfig {
    pub m: usize,
    pub ef_construct: usize,
    /// Below this many points (in KB of vectors, as Qdrant counts) a search scans exactly.
    pub full_scan_threshold: usize,
    #[serde(default)]
    pub max_indexing_threads: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_disk: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload_m: Option<usize>,
}

impl Default for HnswConfig {
    fn default() -> Self {
        HnswConfig {
            m: 16,
            ef_construct: 100,
            full_scan_threshold: 10_000,
            max_indexing_threads: 0,
            on_disk: Some(false),
            payload_m: None,
        }
    }
}

/// A partial update of [`HnswConfig`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct HnswConfigDiff {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub m: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ef_construct: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full_scan_threshold: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_indexing_threads: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_disk: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload_m: Option<usize>,
}

impl HnswConfig {
    /// This config with the fields set in `diff` replaced.
    pub fn updated(self, diff: &HnswConfigDiff) -> HnswConfig {
        HnswConfig {
            m: diff.m.unwrap_or(self.m),
            ef_construct: diff.ef_construct.unwrap_or(self.ef_construct),
            full_scan_threshold: diff.full_scan_threshold.unwrap_or(self.full_scan_threshold),
            max_indexing_threads: diff
                .max_indexing_threads
                .unwrap_or(self.max_indexing_threads),
            on_disk: diff.on_disk.or(self.on_disk),
            payload_m: diff.payload_m.or(self.payload_m),
        }
    }
}

/// Optimizer settings: accepted and reported for compatibility.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OptimizersConfig {
    pub deleted_threshold: f64,
    pub vacuum_min_vector_number: usize,
    pub default_segment_number: usize,
    #[serde(default)]
    pub max_segment_size: Option<usize>,
    #[serde(default)]
    pub memmap_threshold: Option<usize>,
    #[serde(default)]
    pub indexing_threshold: Option<usize>,
    pub flush_interval_sec: u64,
    #[serde(default)]
    pub max_optimization_threads: Option<usize>,
}

impl Default for OptimizersConfig {
    fn default() -> Self {
        OptimizersConfig {
            deleted_threshold: 0.2,
            vacuum_min_vector_number: 1000,
            default_segment_number: 0,
            max_segment_size: None,
            memmap_threshold: None,
            indexing_threshold: Some(10_000),
            flush_interval_sec: 5,
            max_optimization_threads: None,
        }
    }
}

/// Write-ahead-log settings: accepted and reported for compatibility.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WalConfig {
    pub wal_capacity_mb: usize,
    pub wal_segments_ahead: usize,
}

impl Default for WalConfig {
    fn default() -> Self {
        WalConfig {
            wal_capacity_mb: 32,
            wal_segments_ahead: 0,
        }
    }
}

/// Collection-wide parameters (`config.params` in Qdrant's collection info).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CollectionParams {
    pub vectors: VectorsConfig,
    #[serde(default = "one")]
    pub shard_number: u32,
    #[serde(default = "one")]
    pub replication_factor: u32,
    #[serde(default = "one")]
    pub write_consistency_factor: u32,
    #[serde(default)]
    pub on_disk_payload: bool,
    /// Named sparse vectors (`sparse_vectors` in Qdrant's collection info).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sparse_vectors: Option<BTreeMap<String, SparseVectorParams>>,
}

fn one() -> u32 {
    1
}

/// The full, persisted configuration of a collection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CollectionConfig {
    pub params: CollectionParams,
    pub hnsw_config: HnswConfig,
    pub optimizer_config: OptimizersConfig,
    pub wal_config: WalConfig,
    /// The default quantization of the dense vectors (a vector's own setting overrides it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantization_config: Option<QuantizationConfig>,
}

impl CollectionConfig {
    /// The effective quantization of one vector space: its own, else the collection's.
    /// Multivectors are scored exactly and are never quantized.
    pub fn quantization_for(&self, params: &VectorParams) -> Option<QuantizationConfig> {
        params.quantization_config.or(self.quantization_config)
    }

    /// The effective HNSW parameters of one vector space.
    pub fn hnsw_for(&self, params: &VectorParams) -> HnswConfig {
        match &params.hnsw_config {
            Some(diff) => self.hnsw_config.updated(diff),
            None => self.hnsw_config,
        }
    }
}

/// Request body of "create collection" (`PUT /collections/{name}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateCollection {
    /// Absent or `null`: no dense vectors (a collection of sparse vectors only).
    #[serde(default = "no_vectors", deserialize_with = "vectors_or_none")]
    pub vectors: VectorsConfig,
    #[serde(default)]
    pub shard_number: Option<u32>,
    #[serde(default)]
    pub replication_factor: Option<u32>,
    #[serde(default)]
    pub write_consistency_factor: Option<u32>,
    #[serde(default)]
    pub on_disk_payload: Option<bool>,
    #[serde(default)]
    pub hnsw_config: Option<HnswConfigDiff>,
    #[serde(default)]
    pub optimizers_config: Option<serde_json::Value>,
    #[serde(default)]
    pub wal_config: Option<serde_json::Value>,
    #[serde(default)]
    pub quantization_config: Option<QuantizationConfig>,
    #[serde(default)]
    pub sharding_method: Option<String>,
    #[serde(default)]
    pub sparse_vectors: Option<BTreeMap<String, SparseVectorParams>>,
    #[serde(default)]
    pub strict_mode_config: Option<serde_json::Value>,
    #[serde(default)]
    pub init_from: Option<serde_json::Value>,
    #[serde(default)]
    pub metadata: Option<serde_json::Value>,
}

fn no_vectors() -> VectorsConfig {
    VectorsConfig::Multi(BTreeMap::new())
}

fn vectors_or_none<'de, D: serde::Deserializer<'de>>(d: D) -> Result<VectorsConfig, D::Error> {
    Ok(Option::<VectorsConfig>::deserialize(d)?.unwrap_or_else(no_vectors))
}

/// Request body of "update collection" (`PATCH /collections/{name}`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UpdateCollection {
    /// Per-vector updates of `hnsw_config` / `on_disk`, keyed by vector name.
    #[serde(default)]
    pub vectors: Option<HashMap<String, VectorParamsDiff>>,
    #[serde(default)]
    pub hnsw_config: Option<HnswConfigDiff>,
    #[serde(default)]
    pub params: Option<CollectionParamsDiff>,
    #[serde(default)]
    pub optimizers_config: Option<serde_json::Value>,
    /// A new collection-wide quantization, or `"Disabled"`.
    #[serde(default)]
    pub quantization_config: Option<QuantizationConfigDiff>,
    #[serde(default)]
    pub sparse_vectors: Option<serde_json::Value>,
    #[serde(default)]
    pub strict_mode_config: Option<serde_json::Value>,
    #[serde(default)]
    pub metadata: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VectorParamsDiff {
    #[serde(default)]
    pub hnsw_config: Option<HnswConfigDiff>,
    #[serde(default)]
    pub on_disk: Option<bool>,
    /// A new quantization of this vector, or `"Disabled"` to fall back to the collection's.
    #[serde(default)]
    pub quantization_config: Option<QuantizationConfigDiff>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CollectionParamsDiff {
    #[serde(default)]
    pub replication_factor: Option<u32>,
    #[serde(default)]
    pub write_consistency_factor: Option<u32>,
    #[serde(default)]
    pub on_disk_payload: Option<bool>,
}

/// Green: ready. Yellow: optimizing. Red: failed. Grey: optimizations pending.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CollectionStatus {
    Green,
    Yellow,
    Grey,
    Red,
}

/// A payload field index, as reported in `payload_schema`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PayloadIndexInfo {
    pub data_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<serde_json::Value>,
    pub points: usize,
}

/// `GET /collections/{name}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CollectionInfo {
    pub status: CollectionStatus,
    pub optimizer_status: String,
    pub points_count: usize,
    pub indexed_vectors_count: usize,
    pub segments_count: usize,
    pub config: CollectionConfig,
    pub payload_schema: BTreeMap<String, PayloadIndexInfo>,
}
