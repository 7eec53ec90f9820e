//! Search, the Query API, recommendations, groups, facets and the distance matrix; the work
//! is done by [`crate::query`], [`crate::facet`], [`crate::matrix`] and the collection's
//! search.

use axum::extract::State;

use super::collections::ReadParams;
use super::envelope::{ApiResult, Json, Path, Query, Reply};
use super::{blocking, RestState};
use crate::types::*;
use crate::{facet, matrix, query};

pub async fn search(
    State(state): State<RestState>,
    Path(name): Path<String>,
    Query(params): Query<ReadParams>,
    Json(body): Json<SearchRequest>,
) -> ApiResult<Vec<ScoredPoint>> {
    let read = params.consistency()?;
    let engine = state.engine().clone();
    let hits = blocking(move || engine.collection(&name)?.search(&body, read)).await?;
    Ok(Reply(hits))
}

pub async fn search_batch(
    State(state): State<RestState>,
    Path(name): Path<String>,
    Query(params): Query<ReadParams>,
    Json(body): Json<SearchRequestBatch>,
) -> ApiResult<Vec<Vec<ScoredPoint>>> {
    let read = params.consistency()?;
    let engine = state.engine().clone();
    let hits = blocking(move || query::search_batch(&engine, &name, &body.searches, read)).await?;
    Ok(Reply(hits))
}

pub async fn search_groups(
    State(state): State<RestState>,
    Path(name): Path<String>,
    Query(params): Query<ReadParams>,
    Json(body): Json<SearchGroupsRequest>,
) -> ApiResult<GroupsResult> {
    let read = params.consistency()?;
    let engine = state.engine().clone();
    let groups = blocking(move || query::search_groups(&engine, &name, body, read)).await?;
    Ok(Reply(groups))
}

pub async fn query(
    State(state): State<RestState>,
    Path(name): Path<String>,
    Query(params): Query<ReadParams>,
    Json(body): Json<QueryRequest>,
) -> ApiResult<QueryResponse> {
    let read = params.consistency()?;
    let engine = state.engine().clone();
    let points = blocking(move || query::query(&engine, &name, body, read)).await?;
    Ok(Reply(QueryResponse { points }))
}

pub async fn query_batch(
    State(state): State<RestState>,
    Path(name): Path<String>,
    Query(params): Query<ReadParams>,
    Json(body): Json<QueryRequestBatch>,
) -> ApiResult<Vec<QueryResponse>> {
    let read = params.consistency()?;
    let engine = state.engine().clone();
    let results = blocking(move || query::query_batch(&engine, &name, body.searches, read)).await?;
    Ok(Reply(
        results
            .into_iter()
            .map(|points| QueryResponse { points })
            .collect(),
    ))
}

pub async fn query_groups(
    State(state): State<RestState>,
    Path(name): Path<String>,
    Query(params): Query<ReadParams>,
    Json(body): Json<QueryGroupsRequest>,
) -> ApiResult<GroupsResult> {
    let read = params.consistency()?;
    let engine = state.engine().clone();
    let groups = blocking(move || query::query_groups(&engine, &name, body, read)).await?;
    Ok(Reply(groups))
}

pub async fn recommend(
    State(state): State<RestState>,
    Path(name): Path<String>,
    Query(params): Query<ReadParams>,
    Json(body): Json<RecommendRequest>,
) -> ApiResult<Vec<ScoredPoint>> {
    let read = params.consistency()?;
    let engine = state.engine().clone();
    let hits = blocking(move || query::recommend(&engine, &name, body, read)).await?;
    Ok(Reply(hits))
}

pub async fn recommend_batch(
    State(state): State<RestState>,
    Path(name): Path<String>,
    Query(params): Query<ReadParams>,
    Json(body): Json<RecommendRequestBatch>,
) -> ApiResult<Vec<Vec<ScoredPoint>>> {
    let read = params.consistency()?;
    let engine = state.engine().clone();
    let hits =
        blocking(move || query::recommend_batch(&engine, &name, body.searches, read)).await?;
    Ok(Reply(hits))
}

pub async fn recommend_groups(
    State(state): State<RestState>,
    Path(name): Path<String>,
    Query(params): Query<ReadParams>,
    Json(body): Json<RecommendGroupsRequest>,
) -> ApiResult<GroupsResult> {
    let read = params.consistency()?;
    let engine = state.engine().clone();
    let groups = blocking(move || query::recommend_groups(&engine, &name, body, read)).await?;
    Ok(Reply(groups))
}

pub async fn facet(
    State(state): State<RestState>,
    Path(name): Path<String>,
    Query(params): Query<ReadParams>,
    Json(body): Json<FacetRequest>,
) -> ApiResult<FacetResponse> {
    let read = params.consistency()?;
    let engine = state.engine().clone();
    let facets = blocking(move || facet::facet(&engine, &name, body, read)).await?;
    Ok(Reply(facets))
}

pub async fn matrix_pairs(
    State(state): State<RestState>,
    Path(name): Path<String>,
    Query(params): Query<ReadParams>,
    Json(body): Json<SearchMatrixRequest>,
) -> ApiResult<SearchMatrixPairsResponse> {
    let read = params.consistency()?;
    let engine = state.engine().clone();
    let pairs = blocking(move || matrix::pairs(&engine, &name, body, read)).await?;
    Ok(Reply(pairs))
}

pub async fn matrix_offsets(
    State(state): State<RestState>,
    Path(name): Path<String>,
    Query(params): Query<ReadParams>,
    Json(body): Json<SearchMatrixRequest>,
) -> ApiResult<SearchMatrixOffsetsResponse> {
    let read = params.consistency()?;
    let engine = state.engine().clone();
    let offsets = blocking(move || matrix::offsets(&engine, &name, body, read)).await?;
    Ok(Reply(offsets))
}
