//! Read requests (search, scroll, count, get) → the engine's request types.

use qdrant_client::qdrant as grpc;

use super::filter::optional_filter_from_grpc;
use super::operations::refuse_shard_keys;
use super::point::{
    point_id_from_grpc, point_ids_from_grpc, with_payload_from_grpc, with_vector_from_grpc,
};
use super::query::order_by_from_grpc;
use crate::server::grpc::error::ConvertError;
use crate::shard::Projection;
use crate::types::{
    ConsistencyLevel, CountRequest, NamedVector, OrderBy, PointId, ReadConsistency, ScrollRequest,
    SearchParams, SearchRequest, SparseVector, DEFAULT_VECTOR_NAME,
};

/// A read request's `read_consistency`; absent means the default (one replica).
pub fn read_from_grpc(
    consistency: Option<&grpc::ReadConsistency>,
) -> Result<ReadConsistency, ConvertError> {
    use grpc::read_consistency::Value;
    let Some(value) = consistency.and_then(|c| c.value) else {
        return Ok(ReadConsistency::default());
    };
    match value {
        Value::Factor(0) => Err(ConvertError::invalid(
            "read_consistency factor must be at least 1",
        )),
        Value::Factor(n) => Ok(ReadConsistency::Factor(n.min(u32::MAX as u64) as u32)),
        Value::Type(t) => match grpc::ReadConsistencyType::try_from(t) {
            Ok(grpc::ReadConsistencyType::All) => Ok(ReadConsistency::Level(ConsistencyLevel::All)),
            Ok(grpc::ReadConsistencyType::Majority) => {
                Ok(ReadConsistency::Level(ConsistencyLevel::Majority))
            }
            Ok(grpc::ReadConsistencyType::Quorum) => {
                Ok(ReadConsistency::Level(ConsistencyLevel::Quorum))
            }
            Err(_) => Err(ConvertError::invalid(format!(
                "unknown read_consistency type {t}"
            ))),
        },
    }
}

pub fn search_from_grpc(request: grpc::SearchPoints) -> Result<SearchRequest, ConvertError> {
    refuse_shard_keys(request.shard_key_selector.as_ref())?;
    let vector = match (request.vector_name, request.sparse_indices) {
        (Some(name), Some(indices)) => NamedVector::Sparse {
            name,
            vector: SparseVector {
                indices: indices.data,
                values: request.vector,
            },
        },
        (None, Some(_)) => {
            return Err(ConvertError::invalid(
                "a sparse search needs the name of the sparse vector (vector_name)",
            ))
        }
        (Some(name), None) if name != DEFAULT_VECTOR_NAME => NamedVector::Named {
            name,
            vector: request.vector,
        },
        _ => NamedVector::Default(request.vector),
    };
    Ok(SearchRequest {
        vector,
        filter: optional_filter_from_grpc(request.filter)?,
        params: request.params.map(search_params_from_grpc),
        limit: to_usize(request.limit, "limit")?,
        offset: request.offset.map(|o| to_usize(o, "offset")).transpose()?,
        with_payload: Some(with_payload_from_grpc(request.with_payload, false)),
        with_vector: Some(with_vector_from_grpc(request.with_vectors)),
        score_threshold: request.score_threshold,
    })
}

/// ACORN settings have no effect: filters are checked during graph traversal anyway.
pub fn search_params_from_grpc(params: grpc::SearchParams) -> SearchParams {
    SearchParams {
        hnsw_ef: params.hnsw_ef.map(|ef| ef as usize),
        exact: params.exact.unwrap_or(false),
        indexed_only: params.indexed_only.unwrap_or(false),
        quantization: params
            .quantization
            .map(super::quantization::search_params_from_grpc),
        acorn: None,
    }
}

/// A scroll, and the payload key it is ordered by, if any (otherwise it is by id).
pub fn scroll_from_grpc(
    request: grpc::ScrollPoints,
) -> Result<(ScrollRequest, Option<OrderBy>), ConvertError> {
    refuse_shard_keys(request.shard_key_selector.as_ref())?;
    let order_by = request.order_by.map(order_by_from_grpc).transpose()?;
    let scroll = ScrollRequest {
        offset: request
            .offset
            .map(|id| point_id_from_grpc(Some(id)))
            .transpose()?,
        limit: request.limit.map(|l| l as usize),
        filter: optional_filter_from_grpc(request.filter)?,
        with_payload: Some(with_payload_from_grpc(request.with_payload, true)),
        with_vector: Some(with_vector_from_grpc(request.with_vectors)),
    };
    Ok((scroll, order_by))
}

/// Counts are always exact.
pub fn count_from_grpc(request: grpc::CountPoints) -> Result<CountRequest, ConvertError> {
    refuse_shard_keys(request.shard_key_selector.as_ref())?;
    Ok(CountRequest {
        filter: optional_filter_from_grpc(request.filter)?,
        exact: true,
    })
}

pub fn get_from_grpc(request: grpc::GetPoints) -> Result<(Vec<PointId>, Projection), ConvertError> {
    refuse_shard_keys(request.shard_key_selector.as_ref())?;
    let projection = Projection {
        with_payload: with_payload_from_grpc(request.with_payload, true),
        with_vector: with_vector_from_grpc(request.with_vectors),
    };
    Ok((point_ids_from_grpc(request.ids)?, projection))
}

pub(super) fn to_usize(value: u64, what: &str) -> Result<usize, ConvertError> {
    usize::try_from(value)
        .map_err(|_| ConvertError::invalid(format!("{what} {value} is too large")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{WithPayload, WithVector};

    #[test]
    fn search_uses_named_vectors_and_defaults_to_no_payload() {
        let request = grpc::SearchPoints {
            collection_name: "c".into(),
            vector: vec![1.0, 0.0],
            vector_name: Some("img".into()),
            limit: 3,
            offset: Some(1),
            score_threshold: Some(0.5),
            ..Default::default()
        };
        let search = search_from_grpc(request).unwrap();
        assert_eq!(search.vector.name(), "img");
        assert_eq!(search.limit, 3);
        assert_eq!(search.offset, Some(1));
        assert_eq!(search.score_threshold, Some(0.5));
        assert_eq!(search.with_payload, Some(WithPayload::Bool(false)));
        assert_eq!(search.with_vector, Some(WithVector::Bool(false)));
    }

    #[test]
    fn scroll_defaults_to_payload_and_reads_order_by() {
        let (scroll, order_by) = scroll_from_grpc(grpc::ScrollPoints {
            offset: Some(5u64.into()),
            limit: Some(2),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(scroll.offset, Some(PointId::Num(5)));
        assert_eq!(scroll.limit, Some(2));
        assert_eq!(scroll.with_payload, Some(WithPayload::Bool(true)));
        assert!(order_by.is_none());
        let (_, order_by) = scroll_from_grpc(grpc::ScrollPoints {
            order_by: Some(grpc::OrderBy {
                key: "price".into(),
                direction: Some(grpc::Direction::Desc as i32),
                start_from: None,
            }),
            ..Default::default()
        })
        .unwrap();
        let order_by = order_by.unwrap();
        assert_eq!(order_by.key, "price");
        assert_eq!(order_by.direction, Some(crate::types::Direction::Desc));
    }
}
