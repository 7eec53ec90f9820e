//! Qdrant-compatible gRPC API (skeleton).
use super::AppState;

pub async fn serve(state: AppState) -> anyhow::Result<()> {
    let addr = format!("{}:{}", state.config.host, state.config.grpc_port).parse()?;
    tracing::info!(%addr, "gRPC listening");
    let health = qdrant_client::qdrant::qdrant_server::QdrantServer::new(Health);
    tonic::transport::Server::builder()
        .add_service(health)
        .serve(addr)
        .await?;
    Ok(())
}

struct Health;

#[tonic::async_trait]
impl qdrant_client::qdrant::qdrant_server::Qdrant for Health {
    async fn health_check(
        &self,
        _request: tonic::Request<qdrant_client::qdrant::HealthCheckRequest>,
    ) -> Result<tonic::Response<qdrant_client::qdrant::HealthCheckReply>, tonic::Status> {
        Ok(tonic::Response::new(
            qdrant_client::qdrant::HealthCheckReply {
                title: "grape".into(),
                version: env!("CARGO_PKG_VERSION").into(),
                commit: None,
            },
        ))
    }
}
