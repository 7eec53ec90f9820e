//! API keys on gRPC, checked as Qdrant does: the key comes in the `api-key` metadata (or
//! `authorization: Bearer <key>`); the read-only key allows only reading RPCs; health checks
//! need no key.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use tonic::Status;

use crate::server::config::{Access, NodeConfig};

/// Health checks need no key, as in Qdrant.
const HEALTH_CHECKS: &[&str] = &[
    "/qdrant.Qdrant/HealthCheck",
    "/grpc.health.v1.Health/Check",
    "/grpc.health.v1.Health/Watch",
];

/// RPCs the read-only key may call (`/package.Service/Method`).
const READ_RPCS: &[&str] = &[
    "/qdrant.Collections/Get",
    "/qdrant.Collections/List",
    "/qdrant.Collections/ListCollectionAliases",
    "/qdrant.Collections/ListAliases",
    "/qdrant.Collections/CollectionClusterInfo",
    "/qdrant.Collections/CollectionExists",
    "/qdrant.Collections/ListShardKeys",
    "/qdrant.Points/Get",
    "/qdrant.Points/Search",
    "/qdrant.Points/SearchBatch",
    "/qdrant.Points/SearchGroups",
    "/qdrant.Points/Scroll",
    "/qdrant.Points/Recommend",
    "/qdrant.Points/RecommendBatch",
    "/qdrant.Points/RecommendGroups",
    "/qdrant.Points/Discover",
    "/qdrant.Points/DiscoverBatch",
    "/qdrant.Points/Count",
    "/qdrant.Points/Query",
    "/qdrant.Points/QueryBatch",
    "/qdrant.Points/QueryGroups",
    "/qdrant.Points/Facet",
    "/qdrant.Points/SearchMatrixPairs",
    "/qdrant.Points/SearchMatrixOffsets",
    "/qdrant.Snapshots/List",
    "/qdrant.Snapshots/ListFull",
];

/// True when the node is configured with an API key of either kind.
pub fn enabled(config: &NodeConfig) -> bool {
    config.api_key.is_some() || config.read_only_api_key.is_some()
}

/// Middleware that lets a request through only if its key allows the RPC it calls.
pub async fn check_api_key(
    State(config): State<Arc<NodeConfig>>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    if HEALTH_CHECKS.contains(&path) {
        return next.run(request).await;
    }
    let presented = presented_key(request.headers());
    match config.access(presented) {
        Access::Full => next.run(request).await,
        Access::ReadOnly if READ_RPCS.contains(&path) => next.run(request).await,
        Access::ReadOnly => {
            tracing::debug!(rpc = path, "write refused to the read-only key");
            refuse(Status::permission_denied(format!(
                "Forbidden: {path} needs write access; the read-only API key allows reads only"
            )))
        }
        Access::Denied if presented.is_none() => refuse(Status::unauthenticated(
            "Must provide an API key or an Authorization bearer token",
        )),
        Access::Denied => refuse(Status::unauthenticated("Invalid API key or JWT")),
    }
}

/// The key from `api-key`, or else from `authorization: Bearer <key>`.
fn presented_key(headers: &HeaderMap) -> Option<&str> {
    if let Some(key) = headers.get("api-key").and_then(|v| v.to_str().ok()) {
        return Some(key);
    }
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
}

fn refuse(status: Status) -> Response {
    status.into_http()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_read_from_api_key_or_bearer_authorization() {
        let mut headers = HeaderMap::new();
        assert_eq!(presented_key(&headers), None);
        headers.insert("authorization", "Bearer token".parse().unwrap());
        assert_eq!(presented_key(&headers), Some("token"));
        headers.insert("api-key", "key".parse().unwrap());
        assert_eq!(presented_key(&headers), Some("key"));
    }
}
