//! `grape-operator`: `run` reconciles VectorClusters; `crd` writes the CRD YAML files.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use grape_operator::admin::GrpcAdmin;
use grape_operator::controller::Watch;
use grape_operator::leader::LeaderElection;
use grape_operator::metrics::Metrics;
use grape_operator::{controller, crd, http};
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::Api;
use kube::Client;
use tokio::sync::watch;

#[derive(Parser)]
#[command(
    name = "grape-operator",
    version,
    about = "Kubernetes operator for Grape"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write the CRD YAML to crds/ and helm/grape-operator/crds/ under --dir.
    Crd {
        /// The repository root.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
    },
    /// Reconcile VectorClusters and ShardPlacements.
    Run(RunArgs),
}

#[derive(clap::Args)]
struct RunArgs {
    /// Address of /metrics, /healthz and /readyz.
    #[arg(
        long,
        env = "GRAPE_OPERATOR_METRICS_ADDR",
        default_value = "0.0.0.0:8080"
    )]
    metrics_addr: SocketAddr,
    /// Compete for a Lease so that only one replica reconciles.
    #[arg(long, env = "GRAPE_OPERATOR_LEADER_ELECTION")]
    leader_election: bool,
    /// Namespace of the Lease.
    #[arg(long, env = "POD_NAMESPACE", default_value = "default")]
    lease_namespace: String,
    /// This replica's identity in the Lease and in Events.
    #[arg(long, env = "POD_NAME", default_value = "grape-operator")]
    identity: String,
    /// Watch only these namespaces (comma-separated); all namespaces when empty.
    #[arg(long, env = "GRAPE_OPERATOR_WATCH_NAMESPACES", value_delimiter = ',')]
    watch_namespaces: Vec<String>,
    /// Log filter (RUST_LOG syntax).
    #[arg(long, env = "GRAPE_OPERATOR_LOG", default_value = "info")]
    log: String,
}

/// Name of the leader-election Lease.
const LEASE_NAME: &str = "grape-operator";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Crd { dir } => write_crds(&dir),
        Command::Run(args) => run(args).await,
    }
}

fn write_crds(root: &Path) -> anyhow::Result<()> {
    for dir in ["crds", "helm/grape-operator/crds"] {
        let dir = root.join(dir);
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        for (name, yaml) in crd::crd_files()? {
            let path = dir.join(name);
            std::fs::write(&path, yaml).with_context(|| format!("writing {}", path.display()))?;
            println!("wrote {}", path.display());
        }
    }
    Ok(())
}

async fn run(args: RunArgs) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_new(&args.log)?)
        .init();
    let client = Client::try_default().await.context("Kubernetes client")?;
    let metrics = Arc::new(Metrics::new()?);
    let endpoints = http::serve(args.metrics_addr, metrics.clone());
    tokio::spawn(async move {
        if let Err(error) = endpoints.await {
            tracing::error!(%error, "the metrics and health endpoints stopped");
        }
    });
    let ctx = controller::context(
        client.clone(),
        Arc::new(GrpcAdmin::default()),
        metrics.clone(),
        &args.identity,
    );
    let watch = Watch::namespaces(args.watch_namespaces);
    tracing::info!(?watch, "watching");
    if !args.leader_election {
        metrics.set_leader(true);
        controller::run(ctx, watch).await;
        return Ok(());
    }
    let (tx, mut leading) = watch::channel(false);
    let leases: Api<Lease> = Api::namespaced(client, &args.lease_namespace);
    tokio::spawn(LeaderElection::new(leases, LEASE_NAME, &args.identity).run(tx));
    leading.wait_for(|l| *l).await?;
    tracing::info!(identity = %args.identity, "leading; starting the controller");
    metrics.set_leader(true);
    tokio::select! {
        () = controller::run(ctx, watch) => Ok(()),
        // A replica that lost the lease must stop at once: another one may be reconciling.
        lost = leading.wait_for(|l| !*l) => {
            lost?;
            anyhow::bail!("lost the leader lease; exiting so that a restart rejoins the election")
        }
    }
}
