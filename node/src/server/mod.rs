//! The `grape-node` server: Qdrant-compatible REST and gRPC in front of the engine.

pub mod config;
pub mod grpc;
pub mod kube_status;
pub mod rest;
pub mod tls;

use std::sync::Arc;

use crate::cluster::Cluster;
use crate::engine::Engine;

pub use config::NodeConfig;

/// The Qdrant API version Grape implements; the official clients compare it with their own.
pub const QDRANT_API_VERSION: &str = "1.18.3";

/// Everything a request handler needs.
#[derive(Clone)]
pub struct AppState {
    pub engine: Arc<Engine>,
    /// Set when the node is part of a cluster (started with `--uri`).
    pub cluster: Option<Arc<Cluster>>,
    pub config: Arc<NodeConfig>,
    /// Certificate and key when the APIs are served over TLS.
    pub tls: Option<Arc<tls::TlsFiles>>,
}

/// Opens the engine and serves REST and gRPC until Ctrl-C or SIGTERM, then checkpoints.
pub async fn run(config: NodeConfig) -> anyhow::Result<()> {
    let tls = tls::TlsFiles::load(&config)?.map(Arc::new);
    crate::metrics::init();
    let engine = Arc::new(Engine::open(&config.data_dir)?);
    engine.set_collection_defaults(config.collection_defaults());
    let cluster = match config.cluster_settings()? {
        Some(settings) => Some(Cluster::start(settings, &config.data_dir, engine.clone()).await?),
        None => None,
    };
    if let (Some(cluster), Some(identity)) = (&cluster, kube_status::KubeIdentity::from_env()) {
        kube_status::spawn(identity, cluster.clone(), config.data_dir.clone());
    }
    let state = AppState {
        engine: engine.clone(),
        cluster: cluster.clone(),
        config: Arc::new(config),
        tls,
    };
    // The APIs keep serving while leaderships are handed off (writes to this node's shards
    // are redirected to the new leaders meanwhile) or a query node leaves.
    let shutdown = async {
        shutdown_signal().await;
        if let Some(cluster) = &cluster {
            cluster.prepare_to_stop().await;
        }
    };
    tokio::select! {
        result = rest::serve(state.clone()) => result?,
        result = grpc::serve(state.clone()) => result?,
        _ = shutdown => tracing::info!("shutting down"),
    }
    tokio::task::spawn_blocking(move || engine.shutdown()).await??;
    if let Some(cluster) = cluster {
        cluster.shutdown().await;
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("install SIGTERM handler");
    tokio::select! {
        _ = ctrl_c => {},
        _ = term.recv() => {},
    }
}
