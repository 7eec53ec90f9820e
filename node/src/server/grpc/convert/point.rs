//! Points: ids, dense and sparse vectors (single and named), payload/vector selection and
//! the records returned by reads.

use std::collections::HashMap;

use qdrant_client::qdrant as grpc;
use qdrant_client::qdrant::{
    point_id::PointIdOptions, vector, vectors, vectors_output, with_payload_selector,
    with_vectors_selector,
};

use super::value::payload_to_grpc;
use crate::server::grpc::error::ConvertError;
use crate::types::{
    OrderValue, PayloadSelector, PointId, Record, ScoredPoint, SparseVector, UpdateResult,
    UpdateStatus, Vector, VectorStruct, WithPayload, WithVector,
};

pub fn point_id_from_grpc(id: Option<grpc::PointId>) -> Result<PointId, ConvertError> {
    match id.and_then(|id| id.point_id_options) {
        Some(PointIdOptions::Num(n)) => Ok(PointId::Num(n)),
        Some(PointIdOptions::Uuid(s)) => uuid::Uuid::parse_str(&s)
            .map(PointId::Uuid)
            .map_err(|e| ConvertError::invalid(format!("Unable to parse UUID: {s}: {e}"))),
        None => Err(ConvertError::invalid("point id is missing")),
    }
}

pub fn point_ids_from_grpc(ids: Vec<grpc::PointId>) -> Result<Vec<PointId>, ConvertError> {
    ids.into_iter()
        .map(|id| point_id_from_grpc(Some(id)))
        .collect()
}

pub fn point_id_to_grpc(id: PointId) -> grpc::PointId {
    let options = match id {
        PointId::Num(n) => PointIdOptions::Num(n),
        PointId::Uuid(u) => PointIdOptions::Uuid(u.to_string()),
    };
    grpc::PointId {
        point_id_options: Some(options),
    }
}

/// A dense vector, from the `vector` oneof or the older `data` field.
pub fn dense_from_grpc(input: grpc::Vector) -> Result<Vec<f32>, ConvertError> {
    match vector_from_grpc(input)? {
        Vector::Dense(v) => Ok(v),
        Vector::Sparse(_) => Err(ConvertError::invalid(
            "a dense vector was expected, a sparse one was given",
        )),
        Vector::Multi(_) => Err(ConvertError::invalid(
            "a dense vector was expected, a multivector was given",
        )),
    }
}

/// A dense, sparse or multi vector, from the `vector` oneof or the older `data` (+ `indices`
/// or `vectors_count`) fields.
pub fn vector_from_grpc(input: grpc::Vector) -> Result<Vector, ConvertError> {
    #[allow(deprecated)]
    let grpc::Vector {
        data,
        indices,
        vectors_count,
        vector,
    } = input;
    match vector {
        Some(vector::Vector::Dense(dense)) => Ok(Vector::Dense(dense.data)),
        Some(vector::Vector::Sparse(sparse)) => Ok(Vector::Sparse(sparse_from_grpc(sparse))),
        Some(vector::Vector::MultiDense(multi)) => Ok(multi_from_grpc(multi)),
        Some(
            vector::Vector::Document(_) | vector::Vector::Image(_) | vector::Vector::Object(_),
        ) => Err(inference_unsupported()),
        None if vectors_count.is_some_and(|n| n > 1) => {
            let n = vectors_count.unwrap_or(1) as usize;
            if data.len() % n != 0 {
                return Err(ConvertError::invalid(format!(
                    "{} values do not split into {n} vectors",
                    data.len()
                )));
            }
            let dim = data.len() / n;
            Ok(Vector::Multi(
                data.chunks(dim.max(1)).map(<[f32]>::to_vec).collect(),
            ))
        }
        None => Ok(match indices {
            Some(indices) => Vector::Sparse(SparseVector {
                indices: indices.data,
                values: data,
            }),
            None => Vector::Dense(data),
        }),
    }
}

pub fn sparse_from_grpc(sparse: grpc::SparseVector) -> SparseVector {
    SparseVector {
        indices: sparse.indices,
        values: sparse.values,
    }
}

pub fn multi_from_grpc(multi: grpc::MultiDenseVector) -> Vector {
    Vector::Multi(multi.vectors.into_iter().map(|v| v.data).collect())
}

pub fn inference_unsupported() -> ConvertError {
    ConvertError::unsupported("server-side inference (Document, Image, InferenceObject)")
}

/// A point's vectors. Absent vectors become an empty set, which the engine refuses where a
/// vector is required ("point has no vector").
pub fn vectors_from_grpc(input: Option<grpc::Vectors>) -> Result<VectorStruct, ConvertError> {
    match input.and_then(|v| v.vectors_options) {
        Some(vectors::VectorsOptions::Vector(v)) => Ok(VectorStruct::Single(dense_from_grpc(v)?)),
        Some(vectors::VectorsOptions::Vectors(named)) => named
            .vectors
            .into_iter()
            .map(|(name, v)| Ok((name, vector_from_grpc(v)?)))
            .collect::<Result<HashMap<_, _>, _>>()
            .map(VectorStruct::Named),
        None => Ok(VectorStruct::Named(HashMap::new())),
    }
}

pub fn vectors_to_grpc(vectors: VectorStruct) -> grpc::VectorsOutput {
    let options = match vectors {
        VectorStruct::Single(v) => vectors_output::VectorsOptions::Vector(dense_to_grpc(v)),
        VectorStruct::Named(named) => {
            vectors_output::VectorsOptions::Vectors(grpc::NamedVectorsOutput {
                vectors: named
                    .into_iter()
                    .map(|(name, v)| (name, vector_to_grpc(v)))
                    .collect(),
            })
        }
    };
    grpc::VectorsOutput {
        vectors_options: Some(options),
    }
}

fn vector_to_grpc(vector: Vector) -> grpc::VectorOutput {
    match vector {
        Vector::Dense(v) => dense_to_grpc(v),
        Vector::Sparse(v) => sparse_to_grpc(v),
        Vector::Multi(v) => multi_to_grpc(v),
    }
}

/// Fills both the `vector` oneof and the deprecated flat `data` + `vectors_count`.
fn multi_to_grpc(vectors: Vec<Vec<f32>>) -> grpc::VectorOutput {
    #[allow(deprecated)]
    grpc::VectorOutput {
        data: vectors.concat(),
        indices: None,
        vectors_count: Some(vectors.len() as u32),
        vector: Some(grpc::vector_output::Vector::MultiDense(
            grpc::MultiDenseVector {
                vectors: vectors
                    .into_iter()
                    .map(|data| grpc::DenseVector { data })
                    .collect(),
            },
        )),
    }
}

/// Fills both the `vector` oneof and the deprecated `data` + `indices` (older clients).
fn sparse_to_grpc(sparse: SparseVector) -> grpc::VectorOutput {
    #[allow(deprecated)]
    grpc::VectorOutput {
        data: sparse.values.clone(),
        indices: Some(grpc::SparseIndices {
            data: sparse.indices.clone(),
        }),
        vectors_count: None,
        vector: Some(grpc::vector_output::Vector::Sparse(grpc::SparseVector {
            values: sparse.values,
            indices: sparse.indices,
        })),
    }
}

/// Fills both the `vector` oneof (clients ≥ 1.16) and the deprecated `data` (older clients).
fn dense_to_grpc(data: Vec<f32>) -> grpc::VectorOutput {
    #[allow(deprecated)]
    grpc::VectorOutput {
        data: data.clone(),
        indices: None,
        vectors_count: None,
        vector: Some(grpc::vector_output::Vector::Dense(grpc::DenseVector {
            data,
        })),
    }
}

/// Which payload to return; `default` applies when the request says nothing.
pub fn with_payload_from_grpc(
    selector: Option<grpc::WithPayloadSelector>,
    default: bool,
) -> WithPayload {
    use with_payload_selector::SelectorOptions;
    match selector.and_then(|s| s.selector_options) {
        None => WithPayload::Bool(default),
        Some(SelectorOptions::Enable(enable)) => WithPayload::Bool(enable),
        Some(SelectorOptions::Include(include)) => {
            WithPayload::Selector(PayloadSelector::Include(include.fields))
        }
        Some(SelectorOptions::Exclude(exclude)) => {
            WithPayload::Selector(PayloadSelector::Exclude(exclude.fields))
        }
    }
}

/// Which vectors to return; none unless asked.
pub fn with_vector_from_grpc(selector: Option<grpc::WithVectorsSelector>) -> WithVector {
    use with_vectors_selector::SelectorOptions;
    match selector.and_then(|s| s.selector_options) {
        None => WithVector::Bool(false),
        Some(SelectorOptions::Enable(enable)) => WithVector::Bool(enable),
        Some(SelectorOptions::Include(include)) => WithVector::Names(include.names),
    }
}

pub fn retrieved_point_to_grpc(record: Record) -> grpc::RetrievedPoint {
    grpc::RetrievedPoint {
        id: Some(point_id_to_grpc(record.id)),
        payload: record.payload.map(payload_to_grpc).unwrap_or_default(),
        vectors: record.vector.map(vectors_to_grpc),
        shard_key: None,
        order_value: record.order_value.map(order_value_to_grpc),
    }
}

pub fn scored_point_to_grpc(point: ScoredPoint) -> grpc::ScoredPoint {
    grpc::ScoredPoint {
        id: Some(point_id_to_grpc(point.id)),
        payload: point.payload.map(payload_to_grpc).unwrap_or_default(),
        score: point.score,
        version: point.version,
        vectors: point.vector.map(vectors_to_grpc),
        shard_key: None,
        order_value: point.order_value.map(order_value_to_grpc),
    }
}

fn order_value_to_grpc(value: OrderValue) -> grpc::OrderValue {
    let variant = match value {
        OrderValue::Int(i) => grpc::order_value::Variant::Int(i),
        OrderValue::Float(f) => grpc::order_value::Variant::Float(f),
    };
    grpc::OrderValue {
        variant: Some(variant),
    }
}

pub fn update_result_to_grpc(result: UpdateResult) -> grpc::UpdateResult {
    let status = match result.status {
        UpdateStatus::Acknowledged => grpc::UpdateStatus::Acknowledged,
        UpdateStatus::Completed => grpc::UpdateStatus::Completed,
    };
    grpc::UpdateResult {
        operation_id: Some(result.operation_id),
        status: status as i32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dense(data: Vec<f32>) -> grpc::Vector {
        grpc::Vector {
            vector: Some(vector::Vector::Dense(grpc::DenseVector { data })),
            ..Default::default()
        }
    }

    #[test]
    fn ids_convert_both_ways_and_bad_uuids_are_invalid() {
        let uuid = uuid::Uuid::new_v4();
        for id in [PointId::Num(42), PointId::Uuid(uuid)] {
            assert_eq!(point_id_from_grpc(Some(point_id_to_grpc(id))).unwrap(), id);
        }
        let bad = grpc::PointId {
            point_id_options: Some(PointIdOptions::Uuid("not-a-uuid".into())),
        };
        let err = point_id_from_grpc(Some(bad)).unwrap_err();
        assert!(matches!(err, ConvertError::Invalid(m) if m.contains("not-a-uuid")));
        assert!(point_id_from_grpc(None).is_err());
    }

    #[test]
    #[allow(deprecated)]
    fn dense_vectors_are_read_from_the_oneof_or_the_legacy_field() {
        assert_eq!(
            dense_from_grpc(dense(vec![1.0, 2.0])).unwrap(),
            vec![1.0, 2.0]
        );
        let legacy = grpc::Vector {
            data: vec![3.0],
            ..Default::default()
        };
        assert_eq!(dense_from_grpc(legacy).unwrap(), vec![3.0]);
        let sparse = grpc::Vector {
            data: vec![3.0],
            indices: Some(grpc::SparseIndices { data: vec![1] }),
            ..Default::default()
        };
        assert_eq!(
            vector_from_grpc(sparse.clone()).unwrap(),
            Vector::Sparse(SparseVector {
                indices: vec![1],
                values: vec![3.0]
            })
        );
        assert!(matches!(
            dense_from_grpc(sparse),
            Err(ConvertError::Invalid(_))
        ));
    }

    #[test]
    fn named_vectors_convert_both_ways() {
        let input = grpc::Vectors {
            vectors_options: Some(vectors::VectorsOptions::Vectors(grpc::NamedVectors {
                vectors: HashMap::from([("img".to_string(), dense(vec![0.5]))]),
            })),
        };
        let converted = vectors_from_grpc(Some(input)).unwrap();
        assert_eq!(
            converted,
            VectorStruct::Named(HashMap::from([(
                "img".to_string(),
                Vector::Dense(vec![0.5])
            )]))
        );
        let output = vectors_to_grpc(converted);
        let Some(vectors_output::VectorsOptions::Vectors(named)) = output.vectors_options else {
            panic!("expected named vectors");
        };
        assert_eq!(
            named.vectors["img"].vector,
            Some(grpc::vector_output::Vector::Dense(grpc::DenseVector {
                data: vec![0.5]
            }))
        );
    }
}
