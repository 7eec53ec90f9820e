//! The distance matrix of sampled points (`/points/search/matrix/pairs` and `/offsets`).

use serde::{Deserialize, Serialize};

use crate::filter::Filter;

use super::PointId;

pub const DEFAULT_MATRIX_SAMPLE: usize = 10;
pub const DEFAULT_MATRIX_LIMIT: usize = 3;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchMatrixRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard_key: Option<serde_json::Value>,
    #[serde(default)]
    pub filter: Option<Filter>,
    /// How many points to sample (at least 2).
    #[serde(default)]
    pub sample: Option<usize>,
    /// Neighbours per sampled point (at least 1).
    #[serde(default)]
    pub limit: Option<usize>,
    #[serde(default)]
    pub using: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchMatrixPair {
    pub a: PointId,
    pub b: PointId,
    pub score: f32,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SearchMatrixPairsResponse {
    pub pairs: Vec<SearchMatrixPair>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SearchMatrixOffsetsResponse {
    pub offsets_row: Vec<u64>,
    pub offsets_col: Vec<u64>,
    pub scores: Vec<f32>,
    pub ids: Vec<PointId>,
}
