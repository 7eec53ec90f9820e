//! The distance matrix request and its two answer shapes.

use qdrant_client::qdrant as grpc;

use super::filter::optional_filter_from_grpc;
use super::operations::refuse_shard_keys;
use super::point::point_id_to_grpc;
use super::requests::to_usize;
use crate::server::grpc::error::ConvertError;
use crate::types::{SearchMatrixOffsetsResponse, SearchMatrixPairsResponse, SearchMatrixRequest};

pub fn matrix_from_grpc(
    request: grpc::SearchMatrixPoints,
) -> Result<SearchMatrixRequest, ConvertError> {
    refuse_shard_keys(request.shard_key_selector.as_ref())?;
    let size = |v: Option<u64>, what: &str| v.map(|n| to_usize(n, what)).transpose();
    Ok(SearchMatrixRequest {
        shard_key: None,
        filter: optional_filter_from_grpc(request.filter)?,
        sample: size(request.sample, "sample")?,
        limit: size(request.limit, "limit")?,
        using: request.using,
    })
}

pub fn pairs_to_grpc(response: SearchMatrixPairsResponse) -> grpc::SearchMatrixPairs {
    grpc::SearchMatrixPairs {
        pairs: response
            .pairs
            .into_iter()
            .map(|p| grpc::SearchMatrixPair {
                a: Some(point_id_to_grpc(p.a)),
                b: Some(point_id_to_grpc(p.b)),
                score: p.score,
            })
            .collect(),
    }
}

pub fn offsets_to_grpc(response: SearchMatrixOffsetsResponse) -> grpc::SearchMatrixOffsets {
    grpc::SearchMatrixOffsets {
        offsets_row: response.offsets_row,
        offsets_col: response.offsets_col,
        scores: response.scores,
        ids: response.ids.into_iter().map(point_id_to_grpc).collect(),
    }
}
