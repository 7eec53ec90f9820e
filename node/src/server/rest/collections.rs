//! Collections, aliases and payload indexes.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use axum::http::StatusCode;

use super::envelope::{ApiError, ApiResult, Json, Path, Query, Reply};
use super::{blocking, RestState};
use crate::engine::{AliasDescription, AliasOperation};
use crate::types::{
    CollectionInfo, CreateCollection, ReadConsistency, UpdateCollection, UpdateResult, UpdateStatus,
};

/// Query parameters of reads: `consistency` (a number, `majority`, `quorum` or `all`);
/// others (`timeout`) are accepted and ignored.
#[derive(Debug, Default, Deserialize)]
pub struct ReadParams {
    #[serde(default)]
    pub consistency: Option<String>,
}

impl ReadParams {
    /// The consistency asked for; an invalid value is a 422 like Qdrant's.
    pub fn consistency(&self) -> Result<ReadConsistency, ApiError> {
        match &self.consistency {
            None => Ok(ReadConsistency::default()),
            Some(text) => ReadConsistency::parse(text).map_err(|e| {
                ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    format!("Validation error in query parameters: [consistency: {e}]"),
                )
            }),
        }
    }
}

/// Query parameters of operations that may wait (`wait`, `timeout`); only accepted.
#[derive(Debug, Default, Deserialize)]
pub struct WaitParams {
    #[serde(default)]
    pub wait: Option<bool>,
    #[serde(default)]
    pub timeout: Option<u64>,
    #[serde(default)]
    pub ordering: Option<String>,
}

impl WaitParams {
    /// Rejects the values Qdrant rejects (`timeout=0`, an unknown `ordering`) with a 422.
    pub fn check(&self) -> Result<(), ApiError> {
        let mut errors = Vec::new();
        if self.timeout == Some(0) {
            errors.push("timeout: value 0 invalid, must be 1 or larger".to_string());
        }
        if let Some(ordering) = &self.ordering {
            if !matches!(ordering.as_str(), "weak" | "medium" | "strong") {
                errors.push(format!(
                    "ordering: unknown value `{ordering}`, expected weak, medium or strong"
                ));
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!(
                    "Validation error in query parameters: [{}]",
                    errors.join(", ")
                ),
            ))
        }
    }
}

#[derive(Serialize)]
pub struct CollectionDescription {
    name: String,
}

#[derive(Serialize)]
pub struct CollectionsResponse {
    collections: Vec<CollectionDescription>,
}

pub async fn list(State(state): State<RestState>) -> ApiResult<CollectionsResponse> {
    let engine = state.engine().clone();
    let names = blocking(move || Ok(engine.list_collections())).await?;
    Ok(Reply(CollectionsResponse {
        collections: names
            .into_iter()
            .map(|name| CollectionDescription { name })
            .collect(),
    }))
}

pub async fn create(
    State(state): State<RestState>,
    Path(name): Path<String>,
    Query(params): Query<WaitParams>,
    Json(request): Json<CreateCollection>,
) -> ApiResult<bool> {
    params.check()?;
    let engine = state.engine().clone();
    blocking(move || engine.create_collection(&name, request)).await?;
    Ok(Reply(true))
}

pub async fn update(
    State(state): State<RestState>,
    Path(name): Path<String>,
    Query(params): Query<WaitParams>,
    Json(request): Json<UpdateCollection>,
) -> ApiResult<bool> {
    params.check()?;
    let engine = state.engine().clone();
    blocking(move || engine.update_collection(&name, request)).await?;
    Ok(Reply(true))
}

pub async fn info(
    State(state): State<RestState>,
    Path(name): Path<String>,
) -> ApiResult<CollectionInfo> {
    let engine = state.engine().clone();
    let info = blocking(move || engine.collection(&name)?.info()).await?;
    Ok(Reply(info))
}

/// Deleting a missing collection is not an error: the answer is `false`.
pub async fn delete(
    State(state): State<RestState>,
    Path(name): Path<String>,
    Query(params): Query<WaitParams>,
) -> ApiResult<bool> {
    params.check()?;
    let engine = state.engine().clone();
    let existed = blocking(move || engine.delete_collection(&name)).await?;
    Ok(Reply(existed))
}

pub async fn exists(State(state): State<RestState>, Path(name): Path<String>) -> ApiResult<Value> {
    let exists = state.engine().collection_exists(&name);
    Ok(Reply(json!({ "exists": exists })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeAliases {
    actions: Vec<AliasOperation>,
}

pub async fn update_aliases(
    State(state): State<RestState>,
    Query(params): Query<WaitParams>,
    Json(request): Json<ChangeAliases>,
) -> ApiResult<bool> {
    params.check()?;
    let engine = state.engine().clone();
    blocking(move || engine.update_aliases(&request.actions)).await?;
    Ok(Reply(true))
}

#[derive(Serialize)]
pub struct AliasesResponse {
    aliases: Vec<AliasDescription>,
}

pub async fn list_aliases(State(state): State<RestState>) -> ApiResult<AliasesResponse> {
    let engine = state.engine().clone();
    let aliases = blocking(move || engine.list_aliases()).await?;
    Ok(Reply(AliasesResponse { aliases }))
}

pub async fn collection_aliases(
    State(state): State<RestState>,
    Path(name): Path<String>,
) -> ApiResult<AliasesResponse> {
    let engine = state.engine().clone();
    let aliases = blocking(move || {
        let collection = engine.collection(&name)?;
        let target = collection.name().to_string();
        Ok(engine
            .aliases_of(&target)?
            .into_iter()
            .map(|alias_name| AliasDescription {
                alias_name,
                collection_name: target.clone(),
            })
            .collect())
    })
    .await?;
    Ok(Reply(AliasesResponse { aliases }))
}

/// `GET /collections/{name}/cluster`: where the collection's shard replicas are.
pub async fn cluster_info(
    State(state): State<RestState>,
    Path(name): Path<String>,
) -> ApiResult<crate::cluster::info::CollectionClusterInfo> {
    let engine = state.engine().clone();
    let cluster = state.app.cluster.clone();
    let info = blocking(move || {
        crate::cluster::info::collection_cluster_info(&engine, cluster.as_deref(), &name)
    })
    .await?;
    Ok(Reply(info))
}

/// `POST /collections/{name}/cluster`: Qdrant's shard operations (move, replicate, abort a
/// transfer, drop a replica); answers once the metadata recorded the operation.
pub async fn update_cluster(
    State(state): State<RestState>,
    Path(name): Path<String>,
    Json(operation): Json<crate::cluster::operations::ClusterOperation>,
) -> ApiResult<bool> {
    let Some(cluster) = &state.app.cluster else {
        return Err(ApiError::bad_request(
            "Cluster is not enabled: this node runs without --uri",
        ));
    };
    state.engine().collection(&name)?;
    Ok(Reply(
        cluster.update_collection_cluster(&name, &operation).await?,
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateFieldIndex {
    field_name: String,
    #[serde(default)]
    field_schema: Option<Value>,
}

pub async fn create_index(
    State(state): State<RestState>,
    Path(name): Path<String>,
    Query(params): Query<WaitParams>,
    Json(request): Json<CreateFieldIndex>,
) -> ApiResult<UpdateResult> {
    params.check()?;
    let Some(schema) = request.field_schema.filter(|s| !s.is_null()) else {
        return Err(ApiError::bad_request(
            "Bad request: field_schema is required to create a payload index",
        ));
    };
    let engine = state.engine().clone();
    blocking(move || engine.create_field_index(&name, &request.field_name, schema)).await?;
    Ok(Reply(completed()))
}

pub async fn delete_index(
    State(state): State<RestState>,
    Path((name, field)): Path<(String, String)>,
    Query(params): Query<WaitParams>,
) -> ApiResult<UpdateResult> {
    params.check()?;
    let engine = state.engine().clone();
    blocking(move || engine.delete_field_index(&name, &field)).await?;
    Ok(Reply(completed()))
}

fn completed() -> UpdateResult {
    UpdateResult {
        operation_id: 0,
        status: UpdateStatus::Completed,
    }
}
