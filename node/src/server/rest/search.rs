//! Search, the Query API, recommendations, groups, facets and the distance matrix; the work
//! is done by [`crate::query`], [`crate::facet`], [`crate::matrix`] and the collection's
//! search.

use axum::extract::State;

use super::envelope::{ApiResult, Json, Path, Reply};
use super::{blocking, RestState};
use crate::types::*;
use crate::{facet, matrix, query};

pub async fn search(
    State(state): State<RestState>,
    Path(name): Path<String>,
    Json(body): Json<SearchRequest>,
) -> ApiResult<Vec<ScoredPoint>> {
    let engine = state.engine().clone();
    let hits = blocking(move || engine.collection(&name)?.search(&body)).await?;
    Ok(Reply(hits))
}

pub async fn search_batch(
    State(state): State<RestState>,
    Path(name): Path<String>,
    Json(body): Json<SearchRequestBatch>,
) -> ApiResult<Vec<Vec<ScoredPoint>>> {
    let engine = state.engine().clone();
    let hits = blocking(move || query::search_batch(&engine, &name, &body.searches)).await?;
    Ok(Reply(hits))
}

pub async fn search_groups(
    State(state): State<RestState>,
    Path(name): Path<String>,
    Json(body): Json<SearchGroupsRequest>,
) -> ApiResult<GroupsResult> {
    let engine = state.engine().clone();
    let groups = blocking(move || query::search_groups(&engine, &name, body)).await?;
    Ok(Reply(groups))
}

pub async fn query(
    State(state): State<RestState>,
    Path(name): Path<String>,
    Json(body): Json<QueryRequest>,
) -> ApiResult<QueryResponse> {
    let engine = state.engine().clone();
    let points = blocking(move || query::query(&engine, &name, body)).await?;
    Ok(Reply(QueryResponse { points }))
}

pub async fn query_batch(
    State(state): State<RestState>,
    Path(name): Path<String>,
    Json(body): Json<QueryRequestBatch>,
) -> ApiResult<Vec<QueryResponse>> {
    let engine = state.engine().clone();
    let results = blocking(move || query::query_batch(&engine, &name, body.searches)).await?;
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
    Json(body): Json<QueryGroupsRequest>,
) -> ApiResult<GroupsResult> {
    let engine = state.engine().clone();
    let groups = blocking(move || query::query_groups(&engine, &name, body)).await?;
    Ok(Reply(groups))
}

pub async fn recommend(
    State(state): State<RestState>,
    Path(name): Path<String>,
    Json(body): Json<RecommendRequest>,
) -> ApiResult<Vec<ScoredPoint>> {
    let engine = state.engine().clone();
    let hits = blocking(move || query::recommend(&engine, &name, body)).await?;
    Ok(Reply(hits))
}

pub async fn recommend_batch(
    State(state): State<RestState>,
    Path(name): Path<String>,
    Json(body): Json<RecommendRequestBatch>,
) -> ApiResult<Vec<Vec<ScoredPoint>>> {
    let engine = state.engine().clone();
    let hits = blocking(move || query::recommend_batch(&engine, &name, body.searches)).await?;
    Ok(Reply(hits))
}

pub async fn recommend_groups(
    State(state): State<RestState>,
    Path(name): Path<String>,
    Json(body): Json<RecommendGroupsRequest>,
) -> ApiResult<GroupsResult> {
    let engine = state.engine().clone();
    let groups = blocking(move || query::recommend_groups(&engine, &name, body)).await?;
    Ok(Reply(groups))
}

pub async fn facet(
    State(state): State<RestState>,
    Path(name): Path<String>,
    Json(body): Json<FacetRequest>,
) -> ApiResult<FacetResponse> {
    let engine = state.engine().clone();
    let facets = blocking(move || facet::facet(&engine, &name, body)).await?;
    Ok(Reply(facets))
}

pub async fn matrix_pairs(
    State(state): State<RestState>,
    Path(name): Path<String>,
    Json(body): Json<SearchMatrixRequest>,
) -> ApiResult<SearchMatrixPairsResponse> {
    let engine = state.engine().clone();
    let pairs = blocking(move || matrix::pairs(&engine, &name, body)).await?;
    Ok(Reply(pairs))
}

pub async fn matrix_offsets(
    State(state): State<RestState>,
    Path(name): Path<String>,
    Json(body): Json<SearchMatrixRequest>,
) -> ApiResult<SearchMatrixOffsetsResponse> {
    let engine = state.engine().clone();
    let offsets = blocking(move || matrix::offsets(&engine, &name, body)).await?;
    Ok(Reply(offsets))
}
