//! Service endpoints: version, health probes, metrics, telemetry, cluster status.

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::{json, Value};

use super::envelope::{ApiResult, Reply};
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
    plain("healthz check passed")
}

pub async fn livez() -> impl IntoResponse {
    plain("healthz check passed")
}

/// Ready once the engine is open (the server only listens after that).
pub async fn readyz() -> impl IntoResponse {
    plain("all shards are ready")
}

fn plain(text: &'static str) -> impl IntoResponse {
    (
        StatusCode::OK,
        [(CONTENT_TYPE, "text/plain; charset=utf-8")],
        text,
    )
}

pub async fn metrics(State(state): State<RestState>) -> impl IntoResponse {
    let engine = state.engine().clone();
    let metrics = state.metrics.clone();
    let text = tokio::task::spawn_blocking(move || metrics.render(&engine))
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

/// `GET /cluster`: this build runs a single node, so cluster mode is disabled.
pub async fn cluster() -> ApiResult<Value> {
    Ok(Reply(json!({"status": "disabled"})))
}

/// `GET /issues`: no issues are tracked.
pub async fn issues() -> ApiResult<Value> {
    Ok(Reply(json!({"issues": []})))
}

pub async fn clear_issues() -> ApiResult<bool> {
    Ok(Reply(true))
}
