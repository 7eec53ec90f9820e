//! `grape-node`: serves the Qdrant-compatible REST and gRPC APIs over a local data directory.

use grape::server::{self, NodeConfig};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = NodeConfig::load()?;
    // RUST_LOG, when set, takes precedence over --log-level.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(&config.log_level))
        .unwrap_or_else(|_| "info".into());
    tracing_subscriber::fmt().with_env_filter(filter).init();
    server::run(config).await
}
