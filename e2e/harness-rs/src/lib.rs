//! Starts the e2e Kubernetes test cluster — a real kube-apiserver, kube-controller-manager,
//! kube-scheduler and etcd, plus a process kubelet that runs pods as local processes — and
//! tears it down when dropped, also when the test panics.
//!
//! ```no_run
//! # async fn demo() -> Result<(), grape_k8s_harness::Error> {
//! let cluster = grape_k8s_harness::Harness::builder()
//!     .image("grape-node", "/path/to/grape-node")
//!     .start()?;
//! let client = cluster.client().await?;
//! grape_k8s_harness::apply(&client, "apiVersion: v1\nkind: Namespace\nmetadata: {name: demo}\n").await?;
//! # Ok(()) }
//! ```
//!
//! The cluster is the `e2e/harness` script's (see the README); this crate only runs it.

mod apply;
mod checkout;
mod cluster;
mod harness;

pub use apply::apply;
pub use checkout::checkout;
pub use cluster::{Cluster, KUBECONFIG_ENV};
pub use harness::{Builder, Harness, Info};

use std::path::PathBuf;

/// What can go wrong starting or using the cluster.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("building the harness with {script}: {reason}")]
    Build { script: PathBuf, reason: String },
    #[error("starting the harness: {0}")]
    Spawn(#[source] std::io::Error),
    #[error("the harness did not become ready: {reason}\n--- {log} (last lines) ---\n{tail}")]
    NotReady {
        reason: String,
        log: PathBuf,
        tail: String,
    },
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("parsing {path}: {source}")]
    Parse {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("kubeconfig: {0}")]
    Kubeconfig(#[from] kube::config::KubeconfigError),
    #[error("manifest document {index}: {source}")]
    Manifest {
        index: usize,
        #[source]
        source: serde_yaml::Error,
    },
    #[error("manifest document {index} ({kind} {name}): {reason}")]
    Apply {
        index: usize,
        kind: String,
        name: String,
        reason: String,
    },
    #[error(transparent)]
    Kube(#[from] kube::Error),
    #[error("creating a temporary directory: {0}")]
    TempDir(#[source] std::io::Error),
}
