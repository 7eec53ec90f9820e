//! Qdrant-compatible gRPC API: the services `qdrant.Qdrant`, `qdrant.Collections`,
//! `qdrant.Points` and `qdrant.Snapshots`, implemented with the message types and tonic
//! server traits of the official `qdrant-client` crate, so the wire format is Qdrant's.
//!
//! `grpc.health.v1.Health` is served too, for load balancers and Kubernetes gRPC probes.
//!
//! Every RPC either works or answers `Unimplemented` with a message naming what is missing.
//! Handlers run on tokio's blocking pool: the engine does file I/O (fsync) and CPU-bound search.

mod auth;
mod collections;
mod convert;
mod error;
mod health;
mod points;
mod snapshots;

use std::sync::Arc;
use std::time::Instant;

use qdrant_client::qdrant::{
    collections_server::CollectionsServer, points_server::PointsServer,
    qdrant_server::QdrantServer, snapshots_server::SnapshotsServer,
};
use tonic::codec::CompressionEncoding;
use tonic::service::Routes;
use tonic::{Request, Response, Status};
use tonic_health::pb::health_server::{Health, HealthServer};

use super::AppState;
use crate::cluster::Cluster;
use crate::engine::Engine;

/// The largest request accepted (Qdrant sets no limit; tonic's default is 4 MiB, too small
/// for batch upserts of large embeddings).
const MAX_MESSAGE_BYTES: usize = 1 << 30;

pub async fn serve(state: AppState) -> anyhow::Result<()> {
    let addr = format!("{}:{}", state.config.host, state.config.grpc_port).parse()?;
    let routes = services(state.engine, state.cluster).add_service(standard_health().await);
    let mut router = routes.into_axum_router();
    if auth::enabled(&state.config) {
        router = router.layer(axum::middleware::from_fn_with_state(
            state.config.clone(),
            auth::check_api_key,
        ));
    }
    // Outermost, so refused calls are counted too.
    let routes =
        Routes::from(router.layer(axum::middleware::from_fn(crate::metrics::api::grpc_layer)));
    let mut builder = tonic::transport::Server::builder();
    if let Some(tls) = &state.tls {
        builder = builder.tls_config(tls.for_grpc())?;
    }
    tracing::info!(%addr, api_key = auth::enabled(&state.config), tls = state.tls.is_some(), "gRPC listening");
    builder.add_routes(routes).serve(addr).await?;
    Ok(())
}

/// `grpc.health.v1.Health`, for load balancers and Kubernetes gRPC probes: the server and
/// each Qdrant service report `SERVING`.
async fn standard_health() -> HealthServer<impl Health> {
    let (reporter, server) = tonic_health::server::health_reporter();
    reporter
        .set_serving::<QdrantServer<health::HealthService>>()
        .await;
    reporter
        .set_serving::<CollectionsServer<collections::CollectionsService>>()
        .await;
    reporter
        .set_serving::<PointsServer<points::PointsService>>()
        .await;
    reporter
        .set_serving::<SnapshotsServer<snapshots::SnapshotsService>>()
        .await;
    server
}

/// The four public services, accepting and sending gzip like Qdrant.
fn services(engine: Arc<Engine>, cluster: Option<Arc<Cluster>>) -> Routes {
    macro_rules! configured {
        ($server:expr) => {
            $server
                .accept_compressed(CompressionEncoding::Gzip)
                .send_compressed(CompressionEncoding::Gzip)
                .max_decoding_message_size(MAX_MESSAGE_BYTES)
        };
    }
    Routes::new(configured!(QdrantServer::new(health::HealthService)))
        .add_service(configured!(CollectionsServer::new(
            collections::CollectionsService::new(engine.clone(), cluster)
        )))
        .add_service(configured!(PointsServer::new(points::PointsService::new(
            engine.clone()
        ))))
        .add_service(configured!(SnapshotsServer::new(
            snapshots::SnapshotsService::new(engine)
        )))
}

/// Responses carry the time the server spent on them, in seconds.
trait Timed {
    fn set_time(&mut self, seconds: f64);
}

macro_rules! impl_timed {
    ($($response:ty),* $(,)?) => {
        $(impl $crate::server::grpc::Timed for $response {
            fn set_time(&mut self, seconds: f64) {
                self.time = seconds;
            }
        })*
    };
}
pub(crate) use impl_timed;

/// Runs `handler` with the engine on the blocking pool, sets the response time and logs the
/// outcome. A panicking handler becomes an `Internal` status, never a dropped connection.
async fn handle<Req, Resp, F>(
    rpc: &'static str,
    engine: &Arc<Engine>,
    request: Request<Req>,
    handler: F,
) -> Result<Response<Resp>, Status>
where
    Req: Send + 'static,
    Resp: Timed + Send + 'static,
    F: FnOnce(&Engine, Req) -> Result<Resp, Status> + Send + 'static,
{
    let started = Instant::now();
    let engine = engine.clone();
    let request = request.into_inner();
    let result = tokio::task::spawn_blocking(move || handler(&engine, request))
        .await
        .unwrap_or_else(|e| Err(Status::internal(format!("{rpc} failed: {e}"))));
    let seconds = started.elapsed().as_secs_f64();
    match result {
        Ok(mut response) => {
            response.set_time(seconds);
            tracing::debug!(rpc, seconds, "gRPC ok");
            Ok(Response::new(response))
        }
        Err(status) => {
            if status.code() == tonic::Code::Internal {
                tracing::warn!(rpc, message = status.message(), "gRPC internal error");
            } else {
                tracing::debug!(rpc, code = ?status.code(), message = status.message(), "gRPC refused");
            }
            Err(status)
        }
    }
}
