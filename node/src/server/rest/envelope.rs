//! Qdrant's response envelope and error shape, and extractors that answer bad input in it.
//!
//! Success: `{"result": ..., "status": "ok", "time": seconds}`.
//! Failure: `{"status": {"error": "..."}, "time": seconds}` with the HTTP status Qdrant uses.

use std::time::Instant;

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::json;

use crate::error::GrapeError;

tokio::task_local! {
    /// When the current request started; set by the router's middleware.
    pub static REQUEST_START: Instant;
}

/// Seconds since the current request started (0 outside a request).
pub fn elapsed() -> f64 {
    REQUEST_START
        .try_with(|start| start.elapsed().as_secs_f64())
        .unwrap_or(0.0)
}

/// A successful answer: `result` wrapped in the envelope.
pub struct Reply<T>(pub T);

impl<T: Serialize> IntoResponse for Reply<T> {
    fn into_response(self) -> Response {
        let body = json!({"result": self.0, "status": "ok", "time": elapsed()});
        (StatusCode::OK, axum::Json(body)).into_response()
    }
}

/// Qdrant's answer to an operation started without waiting: 202 `{"status": "accepted"}`.
pub struct Accepted;

impl IntoResponse for Accepted {
    fn into_response(self) -> Response {
        let body = json!({"result": null, "status": "accepted", "time": elapsed()});
        (StatusCode::ACCEPTED, axum::Json(body)).into_response()
    }
}

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

pub type ApiResult<T> = Result<Reply<T>, ApiError>;

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }
}

impl From<GrapeError> for ApiError {
    fn from(e: GrapeError) -> Self {
        let status = match &e {
            GrapeError::BadInput(_) => StatusCode::BAD_REQUEST,
            GrapeError::CollectionNotFound(_)
            | GrapeError::PointNotFound(_)
            | GrapeError::NotFound(_) => StatusCode::NOT_FOUND,
            GrapeError::CollectionExists(_) => StatusCode::CONFLICT,
            GrapeError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            GrapeError::Io { .. } | GrapeError::Internal(_) => {
                tracing::error!(error = %e, "request failed");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        ApiError::new(status, e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"status": {"error": self.message}, "time": elapsed()});
        (self.status, axum::Json(body)).into_response()
    }
}

/// A JSON body; malformed JSON, wrong types and unknown fields are a 400 in Qdrant's shape.
pub struct Json<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| ApiError::new(e.status(), e.body_text()))?;
        parse_json(&bytes).map(Json)
    }
}

/// Parses a JSON body (an empty body reads as `{}`).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        bytes
    };
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_request(format!("Format error in JSON body: {e}")))
}

/// Query-string parameters; bad values are a 400 in Qdrant's shape.
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::try_from_uri(&parts.uri)
            .map(|q| Query(q.0))
            .map_err(|e| ApiError::bad_request(format!("Format error in query parameters: {e}")))
    }
}

/// Path parameters; undecodable values are a 400 in Qdrant's shape.
pub struct Path<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| Path(p.0))
            .map_err(|e| ApiError::bad_request(format!("Format error in path parameters: {e}")))
    }
}
