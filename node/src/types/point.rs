//! Points as Qdrant models them: ids, vectors, payloads and the records returned by reads.

use std::collections::HashMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::sparse::SparseVector;

/// A point's payload: a JSON object.
pub type Payload = serde_json::Map<String, serde_json::Value>;

/// The name of the default (unnamed) vector, as Qdrant spells it internally.
pub const DEFAULT_VECTOR_NAME: &str = "";

/// A point id: an unsigned integer or a UUID (Qdrant's `ExtendedPointId`).
///
/// Ordering follows Qdrant's scroll order: all numeric ids before all UUIDs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PointId {
    Num(u64),
    Uuid(Uuid),
}

impl fmt::Display for PointId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PointId::Num(n) => write!(f, "{n}"),
            PointId::Uuid(u) => write!(f, "{u}"),
        }
    }
}

impl From<u64> for PointId {
    fn from(n: u64) -> Self {
        PointId::Num(n)
    }
}

impl From<Uuid> for PointId {
    fn from(u: Uuid) -> Self {
        PointId::Uuid(u)
    }
}

/// One named vector of a point: dense or sparse.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Vector {
    Dense(Vec<f32>),
    Sparse(SparseVector),
    /// A multivector: several dense vectors of one dimension.
    Multi(Vec<Vec<f32>>),
}

impl Vector {
    pub fn as_dense(&self) -> Option<&[f32]> {
        match self {
            Vector::Dense(v) => Some(v),
            _ => None,
        }
    }

    pub fn as_sparse(&self) -> Option<&SparseVector> {
        match self {
            Vector::Sparse(v) => Some(v),
            _ => None,
        }
    }

    pub fn as_multi(&self) -> Option<&[Vec<f32>]> {
        match self {
            Vector::Multi(v) => Some(v),
            _ => None,
        }
    }
}

/// The vectors of one point: a single unnamed dense vector, or several named ones.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum VectorStruct {
    Single(Vec<f32>),
    Named(HashMap<String, Vector>),
}

impl VectorStruct {
    /// The vectors keyed by name; the unnamed vector is keyed by [`DEFAULT_VECTOR_NAME`].
    pub fn into_named(self) -> HashMap<String, Vector> {
        match self {
            VectorStruct::Single(v) => {
                HashMap::from([(DEFAULT_VECTOR_NAME.to_string(), Vector::Dense(v))])
            }
            VectorStruct::Named(m) => m,
        }
    }

    /// Output shape: a lone default vector is shown unnamed, as Qdrant does.
    pub fn from_named(mut vectors: HashMap<String, Vector>) -> Self {
        let lone_default = vectors.len() == 1
            && matches!(vectors.get(DEFAULT_VECTOR_NAME), Some(Vector::Dense(_)));
        if lone_default {
            if let Some(Vector::Dense(v)) = vectors.remove(DEFAULT_VECTOR_NAME) {
                return VectorStruct::Single(v);
            }
        }
        VectorStruct::Named(vectors)
    }
}

/// A point to upsert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PointStruct {
    pub id: PointId,
    pub vector: VectorStruct,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<Payload>,
}

/// New values for some of a point's named vectors (`update_vectors`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PointVectors {
    pub id: PointId,
    pub vector: VectorStruct,
}

/// Which payload to return: all, none, or an include/exclude list of keys.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum WithPayload {
    Bool(bool),
    Include(Vec<String>),
    Selector(PayloadSelector),
}

impl Default for WithPayload {
    fn default() -> Self {
        WithPayload::Bool(false)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PayloadSelector {
    Include(Vec<String>),
    Exclude(Vec<String>),
}

/// Which vectors to return: all, none, or a list of names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum WithVector {
    Bool(bool),
    Names(Vec<String>),
}

impl Default for WithVector {
    fn default() -> Self {
        WithVector::Bool(false)
    }
}

/// A point as returned by retrieve and scroll.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub id: PointId,
    pub payload: Option<Payload>,
    pub vector: Option<VectorStruct>,
    /// The payload value a scroll ordered by (`order_by`), absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_value: Option<OrderValue>,
}

/// A point as returned by search, with its score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoredPoint {
    pub id: PointId,
    pub version: u64,
    pub score: f32,
    pub payload: Option<Payload>,
    pub vector: Option<VectorStruct>,
    /// The payload value a query ordered by (`order_by`), absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_value: Option<OrderValue>,
}

/// A payload value used for ordering: an integer or a float.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum OrderValue {
    Int(i64),
    Float(f64),
}
