//! Service endpoints: version, health probes, metrics, telemetry, cluster status.

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::{json, Value};

use super::envelope::{ApiError, ApiResult, Path, Query, Reply};
use super::{blocking, RestState};
use crate::server::QDRANT_API_VERSION;

/// `GET /`: `{"title", "version" (Qdrant API version), "grape_version"}`, without envelope.
pub async fn root() -> impl IntoResponse {
    axum::Json(json!({
        "title": "grape",
        "version": QDRANT_API_VERSION,
        "grape_version": env!("CARGO_PKG_VERSION"),
    }))
}

pub async fn healthz() -> impl IntoResponse {
    plain(StatusCode::OK, "healthz check passed")
}

pub async fn livez() -> impl IntoResponse {
    plain(StatusCode::OK, "healthz check passed")
}

/// Ready once the engine is open (the server only listens after that) and, in a cluster,
/// once the node follows a metadata leader and every replica it holds has a leader.
pub async fn readyz(State(state): State<RestState>) -> impl IntoResponse {
    match &state.app.cluster {
        Some(cluster) if !cluster.is_ready() => {
            plain(StatusCode::SERVICE_UNAVAILABLE, "some shards are not ready")
        }
        _ => plain(StatusCode::OK, "all shards are ready"),
    }
}

fn plain(status: StatusCode, text: &'static str) -> impl IntoResponse {
    (status, [(CONTENT_TYPE, "text/plain; charset=utf-8")], text)
}

pub async fn metrics(State(state): State<RestState>) -> impl IntoResponse {
    let engine = state.engine().clone();
    let cluster = state.app.cluster.clone();
    let text =
        tokio::task::spawn_blocking(move || crate::metrics::render(&engine, cluster.as_deref()))
            .await
            .unwrap_or_default();
    (
        StatusCode::OK,
        [(CONTENT_TYPE, "text/plain; version=0.0.4")],
        text,
    )
}

/// A minimal telemetry report: app information and collection counts.
pub async fn telemetry(State(state): State<RestState>) -> ApiResult<Value> {
    let engine = state.engine().clone();
    let collections = blocking(move || Ok(engine.list_collections())).await?;
    Ok(Reply(json!({
        "id": "grape",
        "app": {
            "name": "grape",
            "version": env!("CARGO_PKG_VERSION"),
            "qdrant_api_version": QDRANT_API_VERSION,
            "features": {
                "debug": cfg!(debug_assertions),
                "service_debug_feature": false,
                "recovery_mode": false,
                "gpu": false,
                "rocksdb": false,
                "staging": false,
            },
        },
        "collections": {
            "number_of_collections": collections.len(),
        },
    })))
}

/// `GET /cluster`: peers and this node's view of the metadata Raft group, or
/// `{"status": "disabled"}` outside a cluster.
pub async fn cluster(State(state): State<RestState>) -> ApiResult<Value> {
    Ok(Reply(match &state.app.cluster {
        Some(cluster) => crate::cluster::info::cluster_status(cluster),
        None => json!({"status": "disabled"}),
    }))
}

/// Query parameters of `DELETE /cluster/peer/{peer_id}`.
#[derive(Debug, Default, serde::Deserialize)]
pub struct RemovePeerParams {
    #[serde(default)]
    force: bool,
}

/// `DELETE /cluster/peer/{peer_id}`: refused while the peer holds replicas unless `force`.
pub async fn remove_peer(
    State(state): State<RestState>,
    Path(peer_id): Path<u64>,
    Query(params): Query<RemovePeerParams>,
) -> ApiResult<bool> {
    let Some(cluster) = &state.app.cluster else {
        return Err(ApiError::bad_request(
            "Cluster is not enabled: this node runs without --uri",
        ));
    };
    Ok(Reply(cluster.remove_peer(peer_id, params.force).await?))
}

/// `GET /issues`: no issues are tracked.
pub async fn issues() -> ApiResult<Value> {
    Ok(Reply(json!({"issues": []})))
}

pub async fn clear_issues() -> ApiResult<bool> {
    Ok(Reply(true))
}
