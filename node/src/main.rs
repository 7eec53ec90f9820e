//! `grape-node`: serves the Qdrant-compatible REST and gRPC APIs over a local data directory.

use clap::Parser;
use grape::server::{self, NodeConfig};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    server::run(NodeConfig::parse()).await
}
