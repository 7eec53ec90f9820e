//! Qdrant-compatible REST API (skeleton).
use super::AppState;

pub async fn serve(state: AppState) -> anyhow::Result<()> {
    let app = axum::Router::new().with_state(state.clone());
    let addr = format!("{}:{}", state.config.host, state.config.http_port);
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    tracing::info!(%addr, "REST listening");
    axum::serve(listener, app).await?;
    Ok(())
}
