//! A cluster for e2e scenarios: the local harness, or any cluster given by a kubeconfig.

use std::path::{Path, PathBuf};

use crate::{Builder, Error, Harness};

/// Scenarios written against `Cluster` run both here (a local [`Harness`]) and on a real
/// cluster such as kind's (`e2e/kind/run`): when `GRAPE_E2E_KUBECONFIG` names a kubeconfig,
/// that cluster is used and nothing is started.
pub enum Cluster {
    Local(Box<Harness>),
    External { kubeconfig: PathBuf },
}

/// The environment variable naming an existing cluster's kubeconfig.
pub const KUBECONFIG_ENV: &str = "GRAPE_E2E_KUBECONFIG";

impl Cluster {
    /// The cluster named by `GRAPE_E2E_KUBECONFIG`, else a new local harness.
    pub fn start() -> Result<Cluster, Error> {
        Cluster::start_with(Harness::builder())
    }

    /// The cluster named by `GRAPE_E2E_KUBECONFIG`, else a local harness started by `local`
    /// (the builder is unused on an external cluster).
    pub fn start_with(local: Builder) -> Result<Cluster, Error> {
        match std::env::var_os(KUBECONFIG_ENV) {
            Some(path) => Ok(Cluster::External {
                kubeconfig: path.into(),
            }),
            None => Ok(Cluster::Local(Box::new(local.start()?))),
        }
    }

    pub fn kubeconfig(&self) -> &Path {
        match self {
            Cluster::Local(h) => h.kubeconfig(),
            Cluster::External { kubeconfig } => kubeconfig,
        }
    }

    /// The local harness, for what only it offers (its directory, logs, pod addresses on the
    /// host).
    pub fn harness(&self) -> Option<&Harness> {
        match self {
            Cluster::Local(h) => Some(h),
            Cluster::External { .. } => None,
        }
    }

    pub async fn config(&self) -> Result<kube::Config, Error> {
        config(self.kubeconfig()).await
    }

    pub async fn client(&self) -> Result<kube::Client, Error> {
        Ok(kube::Client::try_from(self.config().await?)?)
    }
}

/// The client configuration of a kubeconfig file.
pub(crate) async fn config(kubeconfig: &Path) -> Result<kube::Config, Error> {
    let kubeconfig = kube::config::Kubeconfig::read_from(kubeconfig)?;
    Ok(kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await?)
}
