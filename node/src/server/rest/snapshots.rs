//! Collection snapshots: create, list, download, delete, recover from a location or an upload.

use std::path::{Path as FsPath, PathBuf};

use axum::body::Body;
use axum::extract::{Multipart, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tokio::io::AsyncWriteExt;

use super::envelope::{Accepted, ApiError, Json, Path, Query, Reply};
use super::{blocking, RestState};
use crate::snapshot::{self, SnapshotDescription};

/// `wait` of snapshot operations defaults to true, as in Qdrant.
#[derive(Debug, Default, Deserialize)]
pub struct SnapshotParams {
    #[serde(default)]
    wait: Option<bool>,
    #[serde(default)]
    priority: Option<String>,
    #[serde(default)]
    checksum: Option<String>,
}

impl SnapshotParams {
    fn wait(&self) -> bool {
        self.wait.unwrap_or(true)
    }
}

pub async fn list(
    State(state): State<RestState>,
    Path(name): Path<String>,
) -> Result<Reply<Vec<SnapshotDescription>>, ApiError> {
    let engine = state.engine().clone();
    Ok(Reply(blocking(move || engine.list_snapshots(&name)).await?))
}

pub async fn create(
    State(state): State<RestState>,
    Path(name): Path<String>,
    Query(params): Query<SnapshotParams>,
) -> Result<Response, ApiError> {
    let engine = state.engine().clone();
    if !params.wait() {
        // Check the collection now so a bad name is still an error.
        engine.collection(&name)?;
        tokio::task::spawn_blocking(move || {
            if let Err(e) = engine.create_snapshot(&name) {
                tracing::error!(collection = %name, error = %e, "background snapshot failed");
            }
        });
        return Ok(Accepted.into_response());
    }
    let description = blocking(move || engine.create_snapshot(&name)).await?;
    Ok(Reply(description).into_response())
}

/// Streams the snapshot file.
pub async fn download(
    State(state): State<RestState>,
    Path((name, snapshot_name)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let engine = state.engine().clone();
    let file_name = snapshot_name.clone();
    let path = blocking(move || engine.snapshot_path(&name, &snapshot_name)).await?;
    let file = tokio::fs::File::open(&path)
        .await
        .map_err(|e| ApiError::internal(format!("Service internal error: open snapshot: {e}")))?;
    let len = file.metadata().await.map(|m| m.len()).ok();
    let body = Body::from_stream(tokio_util::io::ReaderStream::new(file));
    let mut response = (
        [
            (CONTENT_TYPE, "application/octet-stream".to_string()),
            (
                CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file_name}\""),
            ),
        ],
        body,
    )
        .into_response();
    if let Some(len) = len {
        response.headers_mut().insert(CONTENT_LENGTH, len.into());
    }
    Ok(response)
}

pub async fn delete(
    State(state): State<RestState>,
    Path((name, snapshot_name)): Path<(String, String)>,
    Query(params): Query<SnapshotParams>,
) -> Result<Response, ApiError> {
    let engine = state.engine().clone();
    let wait = params.wait();
    let task = blocking(move || engine.delete_snapshot(&name, &snapshot_name));
    if wait {
        task.await?;
        Ok(Reply(true).into_response())
    } else {
        tokio::spawn(task);
        Ok(Accepted.into_response())
    }
}

/// `PUT /collections/{name}/snapshots/recover` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnapshotRecover {
    location: String,
    #[serde(default)]
    priority: Option<String>,
    #[serde(default)]
    checksum: Option<String>,
    #[serde(default)]
    api_key: Option<String>,
}

pub async fn recover(
    State(state): State<RestState>,
    Path(name): Path<String>,
    Query(params): Query<SnapshotParams>,
    Json(body): Json<SnapshotRecover>,
) -> Result<Response, ApiError> {
    let _ = (&body.priority, &body.api_key, &params.priority);
    let path = resolve_location(&state, &body.location)?;
    if !path.is_file() {
        return Err(ApiError::not_found(format!(
            "Not found: snapshot file {} does not exist",
            path.display()
        )));
    }
    let checksum = body.checksum.or(params.checksum.clone());
    let engine = state.engine().clone();
    let task = blocking(move || {
        verify_checksum(&path, checksum.as_deref())?;
        engine.recover_snapshot(&name, &path)
    });
    if params.wait() {
        task.await?;
        Ok(Reply(true).into_response())
    } else {
        tokio::spawn(task);
        Ok(Accepted.into_response())
    }
}

/// Where a recovery location points on this machine: `file://PATH`, a plain path, or the
/// download URL of a snapshot of this very node (`http://<this node>/collections/<c>/snapshots/<s>`).
fn resolve_location(state: &RestState, location: &str) -> Result<PathBuf, ApiError> {
    if let Some(path) = location.strip_prefix("file://") {
        return Ok(PathBuf::from(path));
    }
    if let Some(rest) = location
        .strip_prefix("http://")
        .or_else(|| location.strip_prefix("https://"))
    {
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let port = authority
            .rsplit_once(':')
            .and_then(|(_, p)| p.parse::<u16>().ok());
        let host = authority.rsplit_once(':').map_or(authority, |(h, _)| h);
        let local =
            matches!(host, "localhost" | "127.0.0.1" | "[::1]") || host == state.app.config.host;
        let parts: Vec<&str> = path
            .split(['?', '#'])
            .next()
            .unwrap_or("")
            .split('/')
            .collect();
        if let (true, Some(port), ["collections", collection, "snapshots", snapshot]) =
            (local, port, parts.as_slice())
        {
            if port == state.app.config.http_port {
                return Ok(state.engine().snapshot_path(collection, snapshot)?);
            }
        }
        return Err(ApiError::bad_request(format!(
            "Bad request: cannot download snapshot from {location}: Grape recovers from file:// locations, paths, and snapshot URLs of this node"
        )));
    }
    if FsPath::new(location).is_absolute() {
        return Ok(PathBuf::from(location));
    }
    Err(ApiError::bad_request(format!(
        "Bad request: invalid snapshot location `{location}`"
    )))
}

fn verify_checksum(path: &FsPath, expected: Option<&str>) -> crate::Result<()> {
    let Some(expected) = expected else {
        return Ok(());
    };
    let actual = snapshot::describe(path)?.checksum.unwrap_or_default();
    if actual.eq_ignore_ascii_case(expected) {
        Ok(())
    } else {
        Err(crate::GrapeError::bad_input(format!(
            "Snapshot checksum mismatch: expected {expected}, got {actual}"
        )))
    }
}

/// `POST /collections/{name}/snapshots/upload`: multipart field `snapshot`, streamed to disk
/// then recovered into collection `name`.
pub async fn upload(
    State(state): State<RestState>,
    Path(name): Path<String>,
    Query(params): Query<SnapshotParams>,
    mut multipart: Multipart,
) -> Result<Response, ApiError> {
    let dir = state.engine().uploads_dir();
    tokio::fs::create_dir_all(&dir)
        .await
        .map_err(|e| ApiError::internal(format!("Service internal error: upload dir: {e}")))?;
    let path = dir.join(format!("upload-{}.snapshot", uuid::Uuid::new_v4()));
    let mut received = false;
    while let Some(mut field) = multipart
        .next_field()
        .await
        .map_err(|e| ApiError::bad_request(format!("Bad request: invalid multipart body: {e}")))?
    {
        if field.name() != Some("snapshot") {
            continue;
        }
        let mut file = tokio::fs::File::create(&path).await.map_err(|e| {
            ApiError::internal(format!("Service internal error: store upload: {e}"))
        })?;
        loop {
            match field.chunk().await {
                Ok(Some(chunk)) => file.write_all(&chunk).await.map_err(|e| {
                    ApiError::internal(format!("Service internal error: store upload: {e}"))
                })?,
                Ok(None) => break,
                Err(e) => {
                    let _ = tokio::fs::remove_file(&path).await;
                    return Err(ApiError::bad_request(format!(
                        "Bad request: invalid multipart body: {e}"
                    )));
                }
            }
        }
        file.sync_all().await.map_err(|e| {
            ApiError::internal(format!("Service internal error: store upload: {e}"))
        })?;
        received = true;
        break;
    }
    if !received {
        return Err(ApiError::bad_request(
            "Bad request: the multipart body has no `snapshot` field",
        ));
    }
    let engine = state.engine().clone();
    let checksum = params.checksum.clone();
    let task = blocking(move || {
        let result = verify_checksum(&path, checksum.as_deref())
            .and_then(|()| engine.recover_snapshot(&name, &path));
        let _ = std::fs::remove_file(&path);
        result
    });
    if params.wait() {
        task.await?;
        Ok(Reply(true).into_response())
    } else {
        tokio::spawn(task);
        Ok(Accepted.into_response())
    }
}
