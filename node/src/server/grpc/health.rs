//! `qdrant.Qdrant`: the health check, which also tells clients the API version.

use qdrant_client::qdrant::{qdrant_server::Qdrant, HealthCheckReply, HealthCheckRequest};
use tonic::{Request, Response, Status};

use crate::server::QDRANT_API_VERSION;

pub struct HealthService;

#[tonic::async_trait]
impl Qdrant for HealthService {
    async fn health_check(
        &self,
        _request: Request<HealthCheckRequest>,
    ) -> Result<Response<HealthCheckReply>, Status> {
        Ok(Response::new(HealthCheckReply {
            // The same title as REST `GET /`.
            title: "grape".to_string(),
            version: QDRANT_API_VERSION.to_string(),
            commit: None,
        }))
    }
}
