//! Point writes (upsert, delete, payload and vector edits, batches) and reads (retrieve, get,
//! scroll, count).

use axum::extract::State;
use serde::{Deserialize, Serialize};

use super::collections::{ReadParams, WaitParams};
use super::envelope::{ApiError, ApiResult, Json, Path, Query, Reply};
use super::{blocking, RestState};
use crate::shard::Projection;
use crate::types::*;

/// Applies write operations to a collection and answers with their result.
async fn write(
    state: &RestState,
    name: String,
    params: &WaitParams,
    ops: Vec<PointOperation>,
) -> Result<UpdateResult, ApiError> {
    params.check()?;
    let engine = state.engine().clone();
    let wait = params.wait.unwrap_or(false);
    blocking(move || engine.collection(&name)?.update(ops, wait)).await
}

pub async fn upsert(
    State(state): State<RestState>,
    Path(name): Path<String>,
    Query(params): Query<WaitParams>,
    Json(body): Json<UpsertPoints>,
) -> ApiResult<UpdateResult> {
    let ops = vec![PointOperation::Upsert(body)];
    Ok(Reply(write(&state, name, &params, ops).await?))
}

pub async fn delete(
    State(state): State<RestState>,
    Path(name): Path<String>,
    Query(params): Query<WaitParams>,
    Json(body): Json<PointsSelector>,
) -> ApiResult<UpdateResult> {
    let ops = vec![PointOperation::Delete(body)];
    Ok(Reply(write(&state, name, &params, ops).await?))
}

pub async fn set_payload(
    State(state): State<RestState>,
    Path(name): Path<String>,
    Query(params): Query<WaitParams>,
    Json(body): Json<SetPayload>,
) -> ApiResult<UpdateResult> {
    let ops = vec![PointOperation::SetPayload(body)];
    Ok(Reply(write(&state, name, &params, ops).await?))
}

pub async fn overwrite_payload(
    State(state): State<RestState>,
    Path(name): Path<String>,
    Query(params): Query<WaitParams>,
    Json(body): Json<SetPayload>,
) -> ApiResult<UpdateResult> {
    let ops = vec![PointOperation::OverwritePayload(body)];
    Ok(Reply(write(&state, name, &params, ops).await?))
}

pub async fn delete_payload(
    State(state): State<RestState>,
    Path(name): Path<String>,
    Query(params): Query<WaitParams>,
    Json(body): Json<DeletePayload>,
) -> ApiResult<UpdateResult> {
    let ops = vec![PointOperation::DeletePayload(body)];
    Ok(Reply(write(&state, name, &params, ops).await?))
}

pub async fn clear_payload(
    State(state): State<RestState>,
    Path(name): Path<String>,
    Query(params): Query<WaitParams>,
    Json(body): Json<PointsSelector>,
) -> ApiResult<UpdateResult> {
    let ops = vec![PointOperation::ClearPayload(body)];
    Ok(Reply(write(&state, name, &params, ops).await?))
}

pub async fn update_vectors(
    State(state): State<RestState>,
    Path(name): Path<String>,
    Query(params): Query<WaitParams>,
    Json(body): Json<UpdateVectors>,
) -> ApiResult<UpdateResult> {
    let ops = vec![PointOperation::UpdateVectors(body)];
    Ok(Reply(write(&state, name, &params, ops).await?))
}

pub async fn delete_vectors(
    State(state): State<RestState>,
    Path(name): Path<String>,
    Query(params): Query<WaitParams>,
    Json(body): Json<DeleteVectors>,
) -> ApiResult<UpdateResult> {
    let ops = vec![PointOperation::DeleteVectors(body)];
    Ok(Reply(write(&state, name, &params, ops).await?))
}

/// Several operations applied in order, all or nothing; one result per operation.
pub async fn batch(
    State(state): State<RestState>,
    Path(name): Path<String>,
    Query(params): Query<WaitParams>,
    Json(body): Json<UpdateBatch>,
) -> ApiResult<Vec<UpdateResult>> {
    let n = body.operations.len();
    if n == 0 {
        return Ok(Reply(Vec::new()));
    }
    let result = write(&state, name, &params, body.operations).await?;
    Ok(Reply(vec![result; n]))
}

/// `POST /collections/{name}/points`: points by id (payload included unless refused).
pub async fn retrieve(
    State(state): State<RestState>,
    Path(name): Path<String>,
    Query(params): Query<ReadParams>,
    Json(body): Json<PointRequest>,
) -> ApiResult<Vec<Record>> {
    let read = params.consistency()?;
    let engine = state.engine().clone();
    let projection = Projection {
        with_payload: body.with_payload.unwrap_or(WithPayload::Bool(true)),
        with_vector: body.with_vector.unwrap_or_default(),
    };
    let records = blocking(move || {
        engine
            .collection(&name)?
            .retrieve(&body.ids, &projection, read)
    })
    .await?;
    Ok(Reply(records))
}

/// `GET /collections/{name}/points/{id}`: one point with payload and vectors.
pub async fn get_point(
    State(state): State<RestState>,
    Path((name, id)): Path<(String, String)>,
    Query(params): Query<ReadParams>,
) -> ApiResult<Record> {
    let id = parse_point_id(&id)?;
    let read = params.consistency()?;
    let engine = state.engine().clone();
    let projection = Projection {
        with_payload: WithPayload::Bool(true),
        with_vector: WithVector::Bool(true),
    };
    let record = blocking(move || {
        engine
            .collection(&name)?
            .retrieve(&[id], &projection, read)?
            .into_iter()
            .next()
            .ok_or(crate::GrapeError::PointNotFound(id))
    })
    .await?;
    Ok(Reply(record))
}

fn parse_point_id(text: &str) -> Result<PointId, ApiError> {
    if let Ok(n) = text.parse::<u64>() {
        return Ok(PointId::Num(n));
    }
    text.parse::<uuid::Uuid>().map(PointId::Uuid).map_err(|_| {
        ApiError::bad_request(format!(
            "Format error in path parameters: `{text}` is not a valid point id (an unsigned integer or a UUID)"
        ))
    })
}

/// Scroll body: the engine's request plus `order_by`.
#[derive(Debug, Deserialize)]
pub struct ScrollBody {
    #[serde(flatten)]
    request: ScrollRequest,
    #[serde(default)]
    order_by: Option<OrderByInterface>,
}

pub async fn scroll(
    State(state): State<RestState>,
    Path(name): Path<String>,
    Query(params): Query<ReadParams>,
    Json(body): Json<ScrollBody>,
) -> ApiResult<ScrollResult> {
    let read = params.consistency()?;
    let engine = state.engine().clone();
    let result = blocking(move || match body.order_by {
        Some(order_by) => crate::order_by::scroll_ordered(
            &engine,
            &name,
            body.request,
            order_by.to_order_by(),
            read,
        ),
        None => engine.collection(&name)?.scroll(&body.request, read),
    })
    .await?;
    Ok(Reply(result))
}

#[derive(Serialize)]
pub struct CountResult {
    count: usize,
}

pub async fn count(
    State(state): State<RestState>,
    Path(name): Path<String>,
    Query(params): Query<ReadParams>,
    Json(body): Json<CountRequest>,
) -> ApiResult<CountResult> {
    let read = params.consistency()?;
    let engine = state.engine().clone();
    let count = blocking(move || engine.collection(&name)?.count(&body, read)).await?;
    Ok(Reply(CountResult { count }))
}
