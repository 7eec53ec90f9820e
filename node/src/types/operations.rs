//! Write operations in Qdrant's JSON shapes. A shard applies exactly these, in order, from its
//! log; the cluster's Raft log will carry the same values.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::point::{Payload, PointId, PointStruct, PointVectors, Vector, VectorStruct};
use crate::filter::Filter;

/// Which points an operation touches: a list of ids or a filter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PointsSelector {
    Ids { points: Vec<PointId> },
    Filter { filter: Filter },
}

/// Upsert body: `{"points": [...]}` or the columnar `{"batch": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum UpsertPoints {
    Points { points: Vec<PointStruct> },
    Batch { batch: PointsBatch },
}

/// Columnar upsert: ids, vectors and payloads in parallel arrays.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PointsBatch {
    pub ids: Vec<PointId>,
    pub vectors: BatchVectors,
    #[serde(default)]
    pub payloads: Option<Vec<Option<Payload>>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum BatchVectors {
    Single(Vec<Vec<f32>>),
    Named(HashMap<String, Vec<Vector>>),
}

/// Set or overwrite payload of selected points, optionally under a nested `key`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetPayload {
    pub payload: Payload,
    #[serde(flatten)]
    pub selector: PointsSelector,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// Remove payload keys (paths) from selected points.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeletePayload {
    pub keys: Vec<String>,
    #[serde(flatten)]
    pub selector: PointsSelector,
}

/// Replace some named vectors of existing points.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpdateVectors {
    pub points: Vec<PointVectors>,
}

/// Remove named vectors from selected points.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeleteVectors {
    #[serde(flatten)]
    pub selector: PointsSelector,
    pub vector: Vec<String>,
}

/// One write, as found in `POST /points/batch` (`{"upsert": {...}}`, `{"delete": {...}}`, ...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PointOperation {
    Upsert(UpsertPoints),
    Delete(PointsSelector),
    SetPayload(SetPayload),
    OverwritePayload(SetPayload),
    DeletePayload(DeletePayload),
    ClearPayload(PointsSelector),
    UpdateVectors(UpdateVectors),
    DeleteVectors(DeleteVectors),
}

/// `POST /points/batch`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpdateBatch {
    pub operations: Vec<PointOperation>,
}

/// Whether a write was only logged or also applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UpdateStatus {
    Acknowledged,
    Completed,
}

/// The answer to a write: its sequence number and status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateResult {
    pub operation_id: u64,
    pub status: UpdateStatus,
}

impl PointsBatch {
    /// The same points in row form; errors when the columns differ in length.
    pub fn into_points(self) -> Result<Vec<PointStruct>, String> {
        let n = self.ids.len();
        let mut vectors: Vec<VectorStruct> = match self.vectors {
            BatchVectors::Single(v) => v.into_iter().map(VectorStruct::Single).collect(),
            BatchVectors::Named(named) => {
                let mut rows = vec![HashMap::new(); n];
                for (name, column) in named {
                    if column.len() != n {
                        return Err(format!(
                            "batch vectors `{name}` has {} rows, expected {n}",
                            column.len()
                        ));
                    }
                    for (row, v) in rows.iter_mut().zip(column) {
                        row.insert(name.clone(), v);
                    }
                }
                rows.into_iter().map(VectorStruct::Named).collect()
            }
        };
        if vectors.len() != n {
            return Err(format!("batch has {n} ids but {} vectors", vectors.len()));
        }
        let payloads = self.payloads.unwrap_or_else(|| vec![None; n]);
        if payloads.len() != n {
            return Err(format!("batch has {n} ids but {} payloads", payloads.len()));
        }
        Ok(self
            .ids
            .into_iter()
            .zip(vectors.drain(..))
            .zip(payloads)
            .map(|((id, vector), payload)| PointStruct {
                id,
                vector,
                payload,
            })
            .collect())
    }
}
