//! Status reports into Kubernetes. A node that runs in a pod of a `VectorCluster` (the
//! StatefulSet sets `POD_NAME`, `POD_NAMESPACE` and `GRAPE_CLUSTER_NAME`) writes its own
//! entry of the cluster's `status.nodes` every few seconds: peer id, readiness, role, shards,
//! points, disk use and a heartbeat. It uses server-side apply with a field manager of its
//! own (`grape-node-<pod>`) on a list keyed by name, so the nodes and the operator never
//! overwrite each other's fields. The operator derives the cluster's conditions from them.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::{json, Value};

use crate::cluster::info::NodeReport;
use crate::cluster::Cluster;

/// How often a node reports (the operator treats reports older than 30 s as missing).
const REPORT_EVERY: Duration = Duration::from_secs(5);

/// Where this node's report goes: its pod and VectorCluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KubeIdentity {
    pub pod: String,
    pub namespace: String,
    pub cluster: String,
}

impl KubeIdentity {
    /// From the environment the operator's StatefulSet gives its pods; `None` elsewhere.
    pub fn from_env() -> Option<KubeIdentity> {
        let var = |name| std::env::var(name).ok().filter(|v: &String| !v.is_empty());
        Some(KubeIdentity {
            pod: var("POD_NAME")?,
            namespace: var("POD_NAMESPACE")?,
            cluster: var("GRAPE_CLUSTER_NAME")?,
        })
    }

    fn field_manager(&self) -> String {
        format!("grape-node-{}", self.pod)
    }
}

/// Reports in the background for as long as the node runs. Failures (no credentials, the
/// API server away, missing permissions) are logged and retried; they never stop the node.
pub fn spawn(identity: KubeIdentity, cluster: Arc<Cluster>, data_dir: PathBuf) {
    tokio::spawn(async move {
        let api = loop {
            match status_api(&identity).await {
                Ok(api) => break api,
                Err(error) => {
                    tracing::warn!(%error, "no Kubernetes client for status reports; retrying");
                    tokio::time::sleep(REPORT_EVERY).await;
                }
            }
        };
        tracing::info!(pod = %identity.pod, cluster = %identity.cluster, "reporting status to Kubernetes");
        let params = PatchParams::apply(&identity.field_manager()).force();
        loop {
            let disk_bytes = disk_usage(data_dir.clone()).await;
            let body = report_body(&identity, &cluster.node_report(), disk_bytes);
            if let Err(error) = api
                .patch_status(&identity.cluster, &params, &Patch::Apply(body))
                .await
            {
                tracing::warn!(%error, "status report to the VectorCluster failed");
            }
            tokio::time::sleep(REPORT_EVERY).await;
        }
    });
}

/// The VectorClusters of the node's namespace, with in-cluster (or KUBECONFIG) credentials.
async fn status_api(identity: &KubeIdentity) -> Result<Api<DynamicObject>, kube::Error> {
    let config = kube::Config::infer()
        .await
        .map_err(kube::Error::InferConfig)?;
    let client = kube::Client::try_from(config)?;
    let resource = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("grape.io", "v1alpha1", "VectorCluster"),
        "vectorclusters",
    );
    Ok(Api::namespaced_with(client, &identity.namespace, &resource))
}

/// The server-side apply body holding only this node's entry of `status.nodes`.
fn report_body(identity: &KubeIdentity, report: &NodeReport, disk_bytes: u64) -> Value {
    json!({
        "apiVersion": "grape.io/v1alpha1",
        "kind": "VectorCluster",
        "metadata": {"name": identity.cluster, "namespace": identity.namespace},
        "status": {"nodes": [{
            "name": identity.pod,
            // A string: u64 peer ids exceed the integers JSON clients handle exactly.
            "peerId": report.peer_id.to_string(),
            "ready": report.ready,
            "role": report.role,
            "shards": report.shards,
            "leaderShards": report.leader_shards,
            "points": report.points,
            "diskBytes": disk_bytes,
            "lastHeartbeat": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        }]},
    })
}

/// Bytes in the files under `dir` (0 if it cannot be read).
async fn disk_usage(dir: PathBuf) -> u64 {
    tokio::task::spawn_blocking(move || tree_size(&dir))
        .await
        .unwrap_or(0)
}

fn tree_size(path: &Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return 0;
    };
    if !meta.is_dir() {
        return meta.len();
    }
    std::fs::read_dir(path)
        .map(|entries| entries.flatten().map(|e| tree_size(&e.path())).sum())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_is_this_nodes_entry_only() {
        let identity = KubeIdentity {
            pod: "vec-1".into(),
            namespace: "db".into(),
            cluster: "vec".into(),
        };
        let report = NodeReport {
            peer_id: u64::MAX,
            ready: true,
            role: "Follower",
            shards: 4,
            leader_shards: 2,
            points: 10_000,
        };
        let body = report_body(&identity, &report, 4096);
        assert_eq!(body["metadata"]["name"], "vec");
        let nodes = body["status"]["nodes"].as_array().unwrap();
        assert_eq!(nodes.len(), 1);
        assert_eq!(nodes[0]["name"], "vec-1");
        assert_eq!(nodes[0]["peerId"], "18446744073709551615");
        assert_eq!(nodes[0]["leaderShards"], 2);
        assert_eq!(nodes[0]["diskBytes"], 4096);
        assert_eq!(identity.field_manager(), "grape-node-vec-1");
    }

    #[test]
    fn disk_usage_sums_the_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("a"), [0u8; 100]).unwrap();
        std::fs::write(dir.path().join("sub/b"), [0u8; 23]).unwrap();
        assert_eq!(tree_size(dir.path()), 123);
    }
}
