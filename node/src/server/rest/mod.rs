//! Qdrant-compatible REST API (axum): the same paths, JSON shapes, envelope and status codes
//! as Qdrant, so the official clients work unchanged.
//!
//! Every request goes through one middleware that times it (for the envelope's `time`),
//! checks the API key, and records Prometheus metrics by route template.

mod collections;
pub mod envelope;
mod points;
mod search;
mod service;
mod snapshots;

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::Router;

use super::config::Access;
use super::AppState;
use crate::engine::Engine;
use crate::error::GrapeError;
use crate::metrics;
use envelope::{ApiError, REQUEST_START};

/// Largest accepted request body (snapshot uploads excepted), as Qdrant's default.
const MAX_REQUEST_BYTES: usize = 32 << 20;

/// State of the REST handlers.
#[derive(Clone)]
pub struct RestState {
    pub app: AppState,
}

impl RestState {
    pub fn new(app: AppState) -> Self {
        RestState { app }
    }

    pub fn engine(&self) -> &Arc<Engine> {
        &self.app.engine
    }
}

/// Binds `--host:--http-port` and serves until the future is dropped.
pub async fn serve(state: AppState) -> anyhow::Result<()> {
    let addr = format!("{}:{}", state.config.host, state.config.http_port);
    let tls = state.tls.clone();
    let app = router(RestState::new(state));
    let Some(tls) = tls else {
        let listener = tokio::net::TcpListener::bind(&addr).await?;
        tracing::info!(%addr, "REST listening");
        axum::serve(listener, app).await?;
        return Ok(());
    };
    let addr: std::net::SocketAddr = tokio::net::lookup_host(&addr)
        .await?
        .next()
        .ok_or_else(|| anyhow::anyhow!("{addr} resolves to no address"))?;
    tracing::info!(%addr, "REST listening with TLS");
    axum_server::bind_rustls(addr, tls.for_rest().await?)
        .serve(app.into_make_service())
        .await?;
    Ok(())
}

/// Every route of the REST API.
pub fn router(state: RestState) -> Router {
    let collection = "/collections/{collection_name}";
    let points = "/collections/{collection_name}/points";
    Router::new()
        // Service
        .route("/", get(service::root))
        .route("/healthz", get(service::healthz))
        .route("/livez", get(service::livez))
        .route("/readyz", get(service::readyz))
        .route("/metrics", get(service::metrics))
        .route("/telemetry", get(service::telemetry))
        .route("/cluster", get(service::cluster))
        .route("/cluster/peer/{peer_id}", delete(service::remove_peer))
        .route(
            "/issues",
            get(service::issues).delete(service::clear_issues),
        )
        // Collections and aliases
        .route("/collections", get(collections::list))
        .route("/aliases", get(collections::list_aliases))
        .route("/collections/aliases", post(collections::update_aliases))
        .route(
            collection,
            get(collections::info)
                .put(collections::create)
                .patch(collections::update)
                .delete(collections::delete),
        )
        .route(&format!("{collection}/exists"), get(collections::exists))
        .route(
            &format!("{collection}/aliases"),
            get(collections::collection_aliases),
        )
        .route(
            &format!("{collection}/cluster"),
            get(collections::cluster_info).post(collections::update_cluster),
        )
        .route(
            &format!("{collection}/index"),
            put(collections::create_index),
        )
        .route(
            &format!("{collection}/index/{{field_name}}"),
            delete(collections::delete_index),
        )
        // Points
        .route(points, put(points::upsert).post(points::retrieve))
        .route(&format!("{points}/{{id}}"), get(points::get_point))
        .route(&format!("{points}/delete"), post(points::delete))
        .route(
            &format!("{points}/payload"),
            post(points::set_payload).put(points::overwrite_payload),
        )
        .route(
            &format!("{points}/payload/delete"),
            post(points::delete_payload),
        )
        .route(
            &format!("{points}/payload/clear"),
            post(points::clear_payload),
        )
        .route(&format!("{points}/vectors"), put(points::update_vectors))
        .route(
            &format!("{points}/vectors/delete"),
            post(points::delete_vectors),
        )
        .route(&format!("{points}/batch"), post(points::batch))
        .route(&format!("{points}/scroll"), post(points::scroll))
        .route(&format!("{points}/count"), post(points::count))
        // Search and query
        .route(&format!("{points}/search"), post(search::search))
        .route(
            &format!("{points}/search/batch"),
            post(search::search_batch),
        )
        .route(
            &format!("{points}/search/groups"),
            post(search::search_groups),
        )
        .route(&format!("{points}/query"), post(search::query))
        .route(&format!("{points}/query/batch"), post(search::query_batch))
        .route(
            &format!("{points}/query/groups"),
            post(search::query_groups),
        )
        .route(&format!("{points}/recommend"), post(search::recommend))
        .route(
            &format!("{points}/recommend/batch"),
            post(search::recommend_batch),
        )
        .route(
            &format!("{points}/recommend/groups"),
            post(search::recommend_groups),
        )
        .route(&format!("{collection}/facet"), post(search::facet))
        .route(
            &format!("{points}/search/matrix/pairs"),
            post(search::matrix_pairs),
        )
        .route(
            &format!("{points}/search/matrix/offsets"),
            post(search::matrix_offsets),
        )
        // Snapshots
        .route(
            &format!("{collection}/snapshots"),
            get(snapshots::list).post(snapshots::create),
        )
        .route(
            &format!("{collection}/snapshots/upload"),
            post(snapshots::upload).layer(DefaultBodyLimit::disable()),
        )
        .route(
            &format!("{collection}/snapshots/recover"),
            put(snapshots::recover),
        )
        .route(
            &format!("{collection}/snapshots/{{snapshot_name}}"),
            get(snapshots::download).delete(snapshots::delete),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_REQUEST_BYTES))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            around_request,
        ))
        .with_state(state)
}

/// Times the request, checks the API key and records metrics.
async fn around_request(State(state): State<RestState>, request: Request, next: Next) -> Response {
    let _in_flight = metrics::api::InFlight::start("rest");
    let start = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let endpoint = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unknown".to_string(), |p| p.as_str().to_string());
    let response = REQUEST_START
        .scope(start, async {
            match authorize(&state, &request, &method, &path) {
                Ok(()) => next.run(request).await,
                Err(e) => e.into_response(),
            }
        })
        .await;
    let status = response.status();
    metrics::api::rest_response(method.as_str(), &endpoint, status.as_u16(), start.elapsed());
    if status.is_server_error() {
        tracing::warn!(%method, %path, %status, "request failed");
    } else {
        tracing::debug!(%method, %path, %status, elapsed = ?start.elapsed(), "request");
    }
    response
}

/// Enforces `--api-key` / `--read-only-api-key`. Health endpoints and `/` are open, as in
/// Qdrant.
fn authorize(
    state: &RestState,
    request: &Request,
    method: &Method,
    path: &str,
) -> Result<(), ApiError> {
    if matches!(path, "/" | "/healthz" | "/livez" | "/readyz") {
        return Ok(());
    }
    let headers = request.headers();
    let presented = headers
        .get("api-key")
        .and_then(|v| v.to_str().ok())
        .or_else(|| {
            headers
                .get(axum::http::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
        });
    match state.app.config.access(presented) {
        Access::Full => Ok(()),
        Access::ReadOnly if is_read(method, path) => Ok(()),
        Access::ReadOnly => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "Forbidden: Write access is not allowed with a read-only API key",
        )),
        Access::Denied if presented.is_none() => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "Must provide an API key or an Authorization bearer token",
        )),
        Access::Denied => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "Invalid API key or JWT",
        )),
    }
}

/// Requests that change nothing: GETs, and the POSTs that read points.
fn is_read(method: &Method, path: &str) -> bool {
    if method == Method::GET || method == Method::HEAD {
        return true;
    }
    if method != Method::POST {
        return false;
    }
    const READ_SUFFIXES: &[&str] = &[
        "/points",
        "/points/scroll",
        "/points/count",
        "/points/search",
        "/points/search/batch",
        "/points/search/groups",
        "/points/query",
        "/points/query/batch",
        "/points/query/groups",
        "/points/recommend",
        "/points/recommend/batch",
        "/points/recommend/groups",
        "/facet",
        "/points/search/matrix/pairs",
        "/points/search/matrix/offsets",
    ];
    path.starts_with("/collections/") && READ_SUFFIXES.iter().any(|s| path.ends_with(s))
}

async fn not_found(request: Request) -> ApiError {
    ApiError::not_found(format!("Not found: no route for {}", request.uri().path()))
}

async fn method_not_allowed(request: Request) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!(
            "Method {} is not allowed on {}",
            request.method(),
            request.uri().path()
        ),
    )
}

/// Runs blocking engine work (file I/O, fsync, scans) off the async threads.
pub(crate) async fn blocking<T, F>(f: F) -> Result<T, ApiError>
where
    F: FnOnce() -> Result<T, GrapeError> + Send + 'static,
    T: Send + 'static,
{
    match tokio::task::spawn_blocking(f).await {
        Ok(result) => result.map_err(ApiError::from),
        Err(e) => {
            tracing::error!(error = %e, "engine task failed");
            Err(ApiError::internal(format!("Service internal error: {e}")))
        }
    }
}
