//! `qdrant.Points`: writes (upsert, delete, payload and vector edits, batches, field indexes)
//! and reads (get, scroll, count, search, the Query API, recommend, groups, facet, distance
//! matrix). The Query API family runs in [`crate::query`], shared with REST. Not
//! implemented: discovery, and adding or dropping named vectors on a live collection.

use std::sync::Arc;

use ::qdrant_client::qdrant::points_server::Points;
use ::qdrant_client::qdrant::*;
use tonic::{Request, Response, Status};

use super::convert::index::field_schema_json;
use super::convert::matrix::{matrix_from_grpc, offsets_to_grpc, pairs_to_grpc};
use super::convert::operations::{
    batch_operation_from_grpc, delete_payload_from_grpc, delete_vectors_from_grpc,
    refuse_shard_keys, selector_from_grpc, set_payload_from_grpc, update_vectors_from_grpc,
    upsert_from_grpc,
};
use super::convert::point::{
    point_id_to_grpc, retrieved_point_to_grpc, scored_point_to_grpc, update_result_to_grpc,
};
use super::convert::query::{
    facet_from_grpc, facet_hits_to_grpc, groups_to_grpc, query_from_grpc, query_groups_from_grpc,
    recommend_from_grpc, recommend_groups_from_grpc, search_groups_from_grpc,
};
use super::convert::requests::{
    count_from_grpc, get_from_grpc, read_from_grpc, scroll_from_grpc, search_from_grpc,
};
use super::error::unimplemented;
use super::{handle, impl_timed};
use crate::engine::Engine;
use crate::types::{self, PointOperation};
use crate::{facet, matrix, order_by, query};

impl_timed!(
    PointsOperationResponse,
    GetResponse,
    SearchResponse,
    SearchBatchResponse,
    SearchGroupsResponse,
    ScrollResponse,
    CountResponse,
    UpdateBatchResponse,
    RecommendResponse,
    RecommendBatchResponse,
    RecommendGroupsResponse,
    QueryResponse,
    QueryBatchResponse,
    QueryGroupsResponse,
    FacetResponse,
    SearchMatrixPairsResponse,
    SearchMatrixOffsetsResponse,
);

pub struct PointsService {
    engine: Arc<Engine>,
}

impl PointsService {
    pub fn new(engine: Arc<Engine>) -> Self {
        PointsService { engine }
    }
}

/// Applies write operations to a collection, all or nothing.
fn write(
    engine: &Engine,
    collection: &str,
    ops: Vec<PointOperation>,
    wait: Option<bool>,
) -> Result<types::UpdateResult, Status> {
    Ok(engine
        .collection(collection)?
        .update(ops, wait.unwrap_or(false))?)
}

fn operation_response(result: types::UpdateResult) -> PointsOperationResponse {
    PointsOperationResponse {
        result: Some(update_result_to_grpc(result)),
        ..Default::default()
    }
}

/// Field index changes take effect at once.
fn completed() -> PointsOperationResponse {
    PointsOperationResponse {
        result: Some(UpdateResult {
            operation_id: None,
            status: UpdateStatus::Completed as i32,
        }),
        ..Default::default()
    }
}

fn search(engine: &Engine, request: SearchPoints) -> Result<Vec<ScoredPoint>, Status> {
    let read = read_from_grpc(request.read_consistency.as_ref())?;
    let collection = engine.collection(&request.collection_name)?;
    let hits = collection.search(&search_from_grpc(request)?, read)?;
    Ok(hits.into_iter().map(scored_point_to_grpc).collect())
}

fn batch_results(results: Vec<Vec<types::ScoredPoint>>) -> Vec<BatchResult> {
    results
        .into_iter()
        .map(|hits| BatchResult {
            result: hits.into_iter().map(scored_point_to_grpc).collect(),
        })
        .collect()
}

#[tonic::async_trait]
impl Points for PointsService {
    async fn upsert(
        &self,
        request: Request<UpsertPoints>,
    ) -> Result<Response<PointsOperationResponse>, Status> {
        handle("Points/Upsert", &self.engine, request, |engine, req| {
            refuse_shard_keys(req.shard_key_selector.as_ref())?;
            let op = upsert_from_grpc(req.points, req.update_filter.as_ref(), req.update_mode)?;
            let result = write(engine, &req.collection_name, vec![op], req.wait)?;
            Ok(operation_response(result))
        })
        .await
    }

    async fn delete(
        &self,
        request: Request<DeletePoints>,
    ) -> Result<Response<PointsOperationResponse>, Status> {
        handle("Points/Delete", &self.engine, request, |engine, req| {
            refuse_shard_keys(req.shard_key_selector.as_ref())?;
            let op = PointOperation::Delete(selector_from_grpc(req.points)?);
            let result = write(engine, &req.collection_name, vec![op], req.wait)?;
            Ok(operation_response(result))
        })
        .await
    }

    async fn get(&self, request: Request<GetPoints>) -> Result<Response<GetResponse>, Status> {
        handle("Points/Get", &self.engine, request, |engine, req| {
            let read = read_from_grpc(req.read_consistency.as_ref())?;
            let collection = engine.collection(&req.collection_name)?;
            let (ids, projection) = get_from_grpc(req)?;
            let records = collection.retrieve(&ids, &projection, read)?;
            Ok(GetResponse {
                result: records.into_iter().map(retrieved_point_to_grpc).collect(),
                ..Default::default()
            })
        })
        .await
    }

    async fn update_vectors(
        &self,
        request: Request<UpdatePointVectors>,
    ) -> Result<Response<PointsOperationResponse>, Status> {
        handle(
            "Points/UpdateVectors",
            &self.engine,
            request,
            |engine, req| {
                refuse_shard_keys(req.shard_key_selector.as_ref())?;
                let op = update_vectors_from_grpc(req.points, req.update_filter.as_ref())?;
                let result = write(engine, &req.collection_name, vec![op], req.wait)?;
                Ok(operation_response(result))
            },
        )
        .await
    }

    async fn delete_vectors(
        &self,
        request: Request<DeletePointVectors>,
    ) -> Result<Response<PointsOperationResponse>, Status> {
        handle(
            "Points/DeleteVectors",
            &self.engine,
            request,
            |engine, req| {
                refuse_shard_keys(req.shard_key_selector.as_ref())?;
                let op = delete_vectors_from_grpc(req.points_selector, req.vectors)?;
                let result = write(engine, &req.collection_name, vec![op], req.wait)?;
                Ok(operation_response(result))
            },
        )
        .await
    }

    async fn set_payload(
        &self,
        request: Request<SetPayloadPoints>,
    ) -> Result<Response<PointsOperationResponse>, Status> {
        handle("Points/SetPayload", &self.engine, request, |engine, req| {
            refuse_shard_keys(req.shard_key_selector.as_ref())?;
            let set = set_payload_from_grpc(req.payload, req.points_selector, req.key)?;
            let op = PointOperation::SetPayload(set);
            let result = write(engine, &req.collection_name, vec![op], req.wait)?;
            Ok(operation_response(result))
        })
        .await
    }

    async fn overwrite_payload(
        &self,
        request: Request<SetPayloadPoints>,
    ) -> Result<Response<PointsOperationResponse>, Status> {
        handle(
            "Points/OverwritePayload",
            &self.engine,
            request,
            |engine, req| {
                refuse_shard_keys(req.shard_key_selector.as_ref())?;
                let set = set_payload_from_grpc(req.payload, req.points_selector, req.key)?;
                let op = PointOperation::OverwritePayload(set);
                let result = write(engine, &req.collection_name, vec![op], req.wait)?;
                Ok(operation_response(result))
            },
        )
        .await
    }

    async fn delete_payload(
        &self,
        request: Request<DeletePayloadPoints>,
    ) -> Result<Response<PointsOperationResponse>, Status> {
        handle(
            "Points/DeletePayload",
            &self.engine,
            request,
            |engine, req| {
                refuse_shard_keys(req.shard_key_selector.as_ref())?;
                let delete = delete_payload_from_grpc(req.keys, req.points_selector)?;
                let op = PointOperation::DeletePayload(delete);
                let result = write(engine, &req.collection_name, vec![op], req.wait)?;
                Ok(operation_response(result))
            },
        )
        .await
    }

    async fn clear_payload(
        &self,
        request: Request<ClearPayloadPoints>,
    ) -> Result<Response<PointsOperationResponse>, Status> {
        handle(
            "Points/ClearPayload",
            &self.engine,
            request,
            |engine, req| {
                refuse_shard_keys(req.shard_key_selector.as_ref())?;
                let op = PointOperation::ClearPayload(selector_from_grpc(req.points)?);
                let result = write(engine, &req.collection_name, vec![op], req.wait)?;
                Ok(operation_response(result))
            },
        )
        .await
    }

    async fn create_field_index(
        &self,
        request: Request<CreateFieldIndexCollection>,
    ) -> Result<Response<PointsOperationResponse>, Status> {
        handle(
            "Points/CreateFieldIndex",
            &self.engine,
            request,
            |engine, req| {
                let schema = field_schema_json(req.field_type, req.field_index_params)?;
                engine.create_field_index(&req.collection_name, &req.field_name, schema)?;
                Ok(completed())
            },
        )
        .await
    }

    async fn delete_field_index(
        &self,
        request: Request<DeleteFieldIndexCollection>,
    ) -> Result<Response<PointsOperationResponse>, Status> {
        handle(
            "Points/DeleteFieldIndex",
            &self.engine,
            request,
            |engine, req| {
                engine.delete_field_index(&req.collection_name, &req.field_name)?;
                Ok(completed())
            },
        )
        .await
    }

    async fn create_vector_name(
        &self,
        _request: Request<CreateVectorNameRequest>,
    ) -> Result<Response<PointsOperationResponse>, Status> {
        Err(unimplemented(
            "CreateVectorName (adding a named vector to a live collection)",
        ))
    }

    async fn delete_vector_name(
        &self,
        _request: Request<DeleteVectorNameRequest>,
    ) -> Result<Response<PointsOperationResponse>, Status> {
        Err(unimplemented(
            "DeleteVectorName (dropping a named vector from a live collection)",
        ))
    }

    async fn search(
        &self,
        request: Request<SearchPoints>,
    ) -> Result<Response<SearchResponse>, Status> {
        handle("Points/Search", &self.engine, request, |engine, req| {
            Ok(SearchResponse {
                result: search(engine, req)?,
                ..Default::default()
            })
        })
        .await
    }

    async fn search_batch(
        &self,
        request: Request<SearchBatchPoints>,
    ) -> Result<Response<SearchBatchResponse>, Status> {
        handle(
            "Points/SearchBatch",
            &self.engine,
            request,
            |engine, req| {
                let result = req
                    .search_points
                    .into_iter()
                    .map(|mut search_request| {
                        search_request.collection_name = req.collection_name.clone();
                        search_request.read_consistency = req.read_consistency;
                        Ok(BatchResult {
                            result: search(engine, search_request)?,
                        })
                    })
                    .collect::<Result<_, Status>>()?;
                Ok(SearchBatchResponse {
                    result,
                    ..Default::default()
                })
            },
        )
        .await
    }

    async fn search_groups(
        &self,
        request: Request<SearchPointGroups>,
    ) -> Result<Response<SearchGroupsResponse>, Status> {
        handle(
            "Points/SearchGroups",
            &self.engine,
            request,
            |engine, req| {
                let read = read_from_grpc(req.read_consistency.as_ref())?;
                let collection = req.collection_name.clone();
                let groups =
                    query::search_groups(engine, &collection, search_groups_from_grpc(req)?, read)?;
                Ok(SearchGroupsResponse {
                    result: Some(groups_to_grpc(groups)),
                    ..Default::default()
                })
            },
        )
        .await
    }

    async fn scroll(
        &self,
        request: Request<ScrollPoints>,
    ) -> Result<Response<ScrollResponse>, Status> {
        handle("Points/Scroll", &self.engine, request, |engine, req| {
            let read = read_from_grpc(req.read_consistency.as_ref())?;
            let name = req.collection_name.clone();
            let page = match scroll_from_grpc(req)? {
                (scroll, Some(order)) => {
                    order_by::scroll_ordered(engine, &name, scroll, order, read)?
                }
                (scroll, None) => engine.collection(&name)?.scroll(&scroll, read)?,
            };
            Ok(ScrollResponse {
                next_page_offset: page.next_page_offset.map(point_id_to_grpc),
                result: page
                    .points
                    .into_iter()
                    .map(retrieved_point_to_grpc)
                    .collect(),
                ..Default::default()
            })
        })
        .await
    }

    async fn recommend(
        &self,
        request: Request<RecommendPoints>,
    ) -> Result<Response<RecommendResponse>, Status> {
        handle("Points/Recommend", &self.engine, request, |engine, req| {
            let read = read_from_grpc(req.read_consistency.as_ref())?;
            let collection = req.collection_name.clone();
            let hits = query::recommend(engine, &collection, recommend_from_grpc(req)?, read)?;
            Ok(RecommendResponse {
                result: hits.into_iter().map(scored_point_to_grpc).collect(),
                ..Default::default()
            })
        })
        .await
    }

    async fn recommend_batch(
        &self,
        request: Request<RecommendBatchPoints>,
    ) -> Result<Response<RecommendBatchResponse>, Status> {
        handle(
            "Points/RecommendBatch",
            &self.engine,
            request,
            |engine, req| {
                let read = read_from_grpc(req.read_consistency.as_ref())?;
                let requests = req
                    .recommend_points
                    .into_iter()
                    .map(recommend_from_grpc)
                    .collect::<Result<Vec<_>, _>>()?;
                let results = query::recommend_batch(engine, &req.collection_name, requests, read)?;
                Ok(RecommendBatchResponse {
                    result: batch_results(results),
                    ..Default::default()
                })
            },
        )
        .await
    }

    async fn recommend_groups(
        &self,
        request: Request<RecommendPointGroups>,
    ) -> Result<Response<RecommendGroupsResponse>, Status> {
        handle(
            "Points/RecommendGroups",
            &self.engine,
            request,
            |engine, req| {
                let read = read_from_grpc(req.read_consistency.as_ref())?;
                let collection = req.collection_name.clone();
                let request = recommend_groups_from_grpc(req)?;
                let groups = query::recommend_groups(engine, &collection, request, read)?;
                Ok(RecommendGroupsResponse {
                    result: Some(groups_to_grpc(groups)),
                    ..Default::default()
                })
            },
        )
        .await
    }

    async fn discover(
        &self,
        _request: Request<DiscoverPoints>,
    ) -> Result<Response<DiscoverResponse>, Status> {
        Err(unimplemented("Discover"))
    }

    async fn discover_batch(
        &self,
        _request: Request<DiscoverBatchPoints>,
    ) -> Result<Response<DiscoverBatchResponse>, Status> {
        Err(unimplemented("DiscoverBatch"))
    }

    async fn count(
        &self,
        request: Request<CountPoints>,
    ) -> Result<Response<CountResponse>, Status> {
        handle("Points/Count", &self.engine, request, |engine, req| {
            let read = read_from_grpc(req.read_consistency.as_ref())?;
            let collection = engine.collection(&req.collection_name)?;
            let count = collection.count(&count_from_grpc(req)?, read)?;
            Ok(CountResponse {
                result: Some(CountResult {
                    count: count as u64,
                }),
                ..Default::default()
            })
        })
        .await
    }

    /// The operations are applied in order, all or nothing; each gets the batch's result.
    async fn update_batch(
        &self,
        request: Request<UpdateBatchPoints>,
    ) -> Result<Response<UpdateBatchResponse>, Status> {
        handle(
            "Points/UpdateBatch",
            &self.engine,
            request,
            |engine, req| {
                let ops = req
                    .operations
                    .into_iter()
                    .map(batch_operation_from_grpc)
                    .collect::<Result<Vec<_>, _>>()?;
                let count = ops.len();
                let result = write(engine, &req.collection_name, ops, req.wait)?;
                Ok(UpdateBatchResponse {
                    result: vec![update_result_to_grpc(result); count],
                    ..Default::default()
                })
            },
        )
        .await
    }

    async fn query(
        &self,
        request: Request<QueryPoints>,
    ) -> Result<Response<QueryResponse>, Status> {
        handle("Points/Query", &self.engine, request, |engine, req| {
            let read = read_from_grpc(req.read_consistency.as_ref())?;
            let collection = req.collection_name.clone();
            let hits = query::query(engine, &collection, query_from_grpc(req)?, read)?;
            Ok(QueryResponse {
                result: hits.into_iter().map(scored_point_to_grpc).collect(),
                ..Default::default()
            })
        })
        .await
    }

    async fn query_batch(
        &self,
        request: Request<QueryBatchPoints>,
    ) -> Result<Response<QueryBatchResponse>, Status> {
        handle("Points/QueryBatch", &self.engine, request, |engine, req| {
            let read = read_from_grpc(req.read_consistency.as_ref())?;
            let requests = req
                .query_points
                .into_iter()
                .map(query_from_grpc)
                .collect::<Result<Vec<_>, _>>()?;
            let results = query::query_batch(engine, &req.collection_name, requests, read)?;
            Ok(QueryBatchResponse {
                result: batch_results(results),
                ..Default::default()
            })
        })
        .await
    }

    async fn query_groups(
        &self,
        request: Request<QueryPointGroups>,
    ) -> Result<Response<QueryGroupsResponse>, Status> {
        handle(
            "Points/QueryGroups",
            &self.engine,
            request,
            |engine, req| {
                let read = read_from_grpc(req.read_consistency.as_ref())?;
                let collection = req.collection_name.clone();
                let groups =
                    query::query_groups(engine, &collection, query_groups_from_grpc(req)?, read)?;
                Ok(QueryGroupsResponse {
                    result: Some(groups_to_grpc(groups)),
                    ..Default::default()
                })
            },
        )
        .await
    }

    async fn facet(
        &self,
        request: Request<FacetCounts>,
    ) -> Result<Response<FacetResponse>, Status> {
        handle("Points/Facet", &self.engine, request, |engine, req| {
            let read = read_from_grpc(req.read_consistency.as_ref())?;
            let collection = req.collection_name.clone();
            let response = facet::facet(engine, &collection, facet_from_grpc(req)?, read)?;
            Ok(FacetResponse {
                hits: facet_hits_to_grpc(response),
                ..Default::default()
            })
        })
        .await
    }

    async fn search_matrix_pairs(
        &self,
        request: Request<SearchMatrixPoints>,
    ) -> Result<Response<SearchMatrixPairsResponse>, Status> {
        handle(
            "Points/SearchMatrixPairs",
            &self.engine,
            request,
            |engine, req| {
                let read = read_from_grpc(req.read_consistency.as_ref())?;
                let collection = req.collection_name.clone();
                let pairs = matrix::pairs(engine, &collection, matrix_from_grpc(req)?, read)?;
                Ok(SearchMatrixPairsResponse {
                    result: Some(pairs_to_grpc(pairs)),
                    ..Default::default()
                })
            },
        )
        .await
    }

    async fn search_matrix_offsets(
        &self,
        request: Request<SearchMatrixPoints>,
    ) -> Result<Response<SearchMatrixOffsetsResponse>, Status> {
        handle(
            "Points/SearchMatrixOffsets",
            &self.engine,
            request,
            |engine, req| {
                let read = read_from_grpc(req.read_consistency.as_ref())?;
                let collection = req.collection_name.clone();
                let offsets = matrix::offsets(engine, &collection, matrix_from_grpc(req)?, read)?;
                Ok(SearchMatrixOffsetsResponse {
                    result: Some(offsets_to_grpc(offsets)),
                    ..Default::default()
                })
            },
        )
        .await
    }
}
