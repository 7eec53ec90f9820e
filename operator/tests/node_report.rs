//! A grape-node running in a pod reports itself into its VectorCluster's `status.nodes`,
//! with its own field manager and only the permissions the operator's Role gives it. No
//! operator runs here: the entry can only come from the node.

mod common;

use std::time::Duration;

use anyhow::{ensure, Context, Result};
use common::PodLogs;
use grape_operator::build;
use grape_operator::crd::VectorCluster;
use k8s_openapi::api::core::v1::{Pod, ServiceAccount};
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::api::{Api, PostParams};
use serde_json::json;

const NS: &str = "report";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_reports_its_own_status_entry() -> Result<()> {
    let (harness, client) = common::start_in_namespace(NS).await?;
    let clusters: Api<VectorCluster> = Api::namespaced(client.clone(), NS);
    let vc = clusters
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "apiVersion": "grape.io/v1alpha1", "kind": "VectorCluster",
                "metadata": {"name": "solo"},
                "spec": {"replicas": 1, "image": "grape-node:dev", "storage": {"size": "1Gi"}},
            }))?,
        )
        .await?;
    // The nodes' permissions, exactly as the operator builds them.
    let pp = PostParams::default();
    Api::<ServiceAccount>::namespaced(client.clone(), NS)
        .create(&pp, &build::service_account(&vc))
        .await?;
    Api::<Role>::namespaced(client.clone(), NS)
        .create(&pp, &build::role(&vc))
        .await?;
    Api::<RoleBinding>::namespaced(client.clone(), NS)
        .create(&pp, &build::role_binding(&vc))
        .await?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
    pods.create(&pp, &serde_json::from_value(solo_pod())?)
        .await?;

    let entry = common::wait_for(
        "solo-0's entry in status.nodes",
        Duration::from_secs(120),
        || async {
            let vc = clusters.get_status("solo").await?;
            let nodes = vc.status.map(|s| s.nodes).unwrap_or_default();
            let node = nodes
                .into_iter()
                .find(|n| n.name == "solo-0")
                .context("no entry yet")?;
            ensure!(
                node.ready == Some(true) && node.role.as_deref() == Some("Leader"),
                "{node:?}"
            );
            Ok(node)
        },
    )
    .await
    .with_context(|| harness.pod_logs())?;
    let peer_id: u64 = entry.peer_id.as_deref().context("no peerId")?.parse()?;
    ensure!(peer_id != 0, "{entry:?}");
    ensure!(entry.disk_bytes.unwrap_or(0) > 0, "{entry:?}");

    let vc = clusters.get("solo").await?;
    let managers: Vec<_> = vc.metadata.managed_fields.iter().flatten().collect();
    ensure!(
        managers
            .iter()
            .any(|m| m.manager.as_deref() == Some("grape-node-solo-0")
                && m.subresource.as_deref() == Some("status")),
        "no status fields owned by grape-node-solo-0: {managers:?}"
    );
    // It keeps reporting: the heartbeat moves.
    let first = entry.last_heartbeat.clone().context("no heartbeat")?;
    common::wait_for("a newer heartbeat", Duration::from_secs(30), || async {
        let vc = clusters.get_status("solo").await?;
        let node = vc
            .status
            .unwrap_or_default()
            .nodes
            .into_iter()
            .find(|n| n.name == "solo-0");
        let beat = node
            .and_then(|n| n.last_heartbeat)
            .context("no heartbeat")?;
        ensure!(beat > first, "heartbeat still {beat:?}");
        Ok(())
    })
    .await?;
    Ok(())
}

/// A lone data node: it bootstraps from its own address, so it forms a one-node cluster.
fn solo_pod() -> serde_json::Value {
    let field = |name: &str, path: &str| json!({"name": name, "valueFrom": {"fieldRef": {"fieldPath": path}}});
    json!({
        "metadata": {"name": "solo-0"},
        "spec": {
            "serviceAccountName": "solo-node",
            "containers": [{
                "name": "grape-node",
                "image": "grape-node:dev",
                "args": ["--uri", "http://$(POD_IP):6335", "--bootstrap", "http://$(POD_IP):6335",
                         "--data-dir", "/var/lib/grape"],
                "env": [field("POD_NAME", "metadata.name"), field("POD_NAMESPACE", "metadata.namespace"),
                        field("POD_IP", "status.podIP"), {"name": "GRAPE_CLUSTER_NAME", "value": "solo"}],
                "volumeMounts": [{"name": "data", "mountPath": "/var/lib/grape"}],
            }],
            "volumes": [{"name": "data", "emptyDir": {}}],
        },
    })
}
