//! Read requests (search, scroll, count, retrieve) in Qdrant's JSON shapes.

use serde::{Deserialize, Serialize};

use super::point::{PointId, WithPayload, WithVector, DEFAULT_VECTOR_NAME};
use super::sparse::SparseVector;
use crate::filter::Filter;

/// The query vector of a search: unnamed, `{"name": ..., "vector": [...]}`, a named sparse
/// vector `{"name": ..., "vector": {"indices": [...], "values": [...]}}` or a named
/// multivector `{"name": ..., "vector": [[...], ...]}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum NamedVector {
    Default(Vec<f32>),
    Named { name: String, vector: Vec<f32> },
    Sparse { name: String, vector: SparseVector },
    Multi { name: String, vector: Vec<Vec<f32>> },
}

impl NamedVector {
    pub fn name(&self) -> &str {
        match self {
            NamedVector::Default(_) => DEFAULT_VECTOR_NAME,
            NamedVector::Named { name, .. }
            | NamedVector::Sparse { name, .. }
            | NamedVector::Multi { name, .. } => name,
        }
    }

    /// The dense query vector; `None` for a sparse one.
    pub fn dense(&self) -> Option<&[f32]> {
        match self {
            NamedVector::Default(v) | NamedVector::Named { vector: v, .. } => Some(v),
            NamedVector::Sparse { .. } | NamedVector::Multi { .. } => None,
        }
    }
}

/// Per-request search tuning.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SearchParams {
    /// Size of the HNSW candidate list; larger is more accurate and slower.
    #[serde(default)]
    pub hnsw_ef: Option<usize>,
    /// Score every (matching) point instead of walking the graph.
    #[serde(default)]
    pub exact: bool,
    #[serde(default)]
    pub indexed_only: bool,
    #[serde(default)]
    pub quantization: Option<super::quantization::QuantizationSearchParams>,
    #[serde(default)]
    pub acorn: Option<serde_json::Value>,
}

/// `POST /collections/{name}/points/search`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchRequest {
    pub vector: NamedVector,
    #[serde(default)]
    pub filter: Option<Filter>,
    #[serde(default)]
    pub params: Option<SearchParams>,
    pub limit: usize,
    #[serde(default)]
    pub offset: Option<usize>,
    #[serde(default)]
    pub with_payload: Option<WithPayload>,
    #[serde(default, alias = "with_vectors")]
    pub with_vector: Option<WithVector>,
    #[serde(default)]
    pub score_threshold: Option<f32>,
}

/// `POST /collections/{name}/points/scroll`: pages of points ordered by id.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ScrollRequest {
    /// Start from this id (inclusive).
    #[serde(default)]
    pub offset: Option<PointId>,
    #[serde(default)]
    pub limit: Option<usize>,
    #[serde(default)]
    pub filter: Option<Filter>,
    #[serde(default)]
    pub with_payload: Option<WithPayload>,
    #[serde(default, alias = "with_vectors")]
    pub with_vector: Option<WithVector>,
}

/// The default page size of scroll, as in Qdrant.
pub const DEFAULT_SCROLL_LIMIT: usize = 10;

/// One page of a scroll and where the next one starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScrollResult {
    pub points: Vec<super::point::Record>,
    pub next_page_offset: Option<PointId>,
}

/// `POST /collections/{name}/points/count`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CountRequest {
    #[serde(default)]
    pub filter: Option<Filter>,
    #[serde(default = "default_true")]
    pub exact: bool,
}

/// `POST /collections/{name}/points`: retrieve points by id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PointRequest {
    pub ids: Vec<PointId>,
    #[serde(default)]
    pub with_payload: Option<WithPayload>,
    #[serde(default, alias = "with_vectors")]
    pub with_vector: Option<WithVector>,
}

fn default_true() -> bool {
    true
}
