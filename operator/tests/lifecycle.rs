//! The operator on a real control plane (the local harness with the operator in-process, or
//! an outside cluster with the chart's operator: `common::Scenario`) and real grape-node pods:
//! a 3-node VectorCluster becomes one Raft cluster whose nodes report themselves and whose
//! status says Available; an unsafe scale-in is refused with the reason; deletion removes
//! the volumes when the retention policy says Delete.

mod common;

use std::time::Duration;

use anyhow::{ensure, Context, Result};
use grape_k8s_harness::apply;
use grape_operator::admin::{GrpcAdmin, NodeAdmin};
use grape_operator::crd::VectorCluster;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{Event, PersistentVolumeClaim, Pod};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use reqwest::Method;
use serde_json::{json, Value};

const NS: &str = "grape";

const CLUSTER: &str = r#"
apiVersion: grape.io/v1alpha1
kind: VectorCluster
metadata: {name: vec, namespace: grape}
spec:
  replicas: 3
  image: grape-node:dev
  storage: {size: 1Gi, retentionPolicy: Delete}
  collectionDefaults: {shardNumber: 3, replicationFactor: 2}
  config: {log_level: info}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_node_cluster_becomes_available() -> Result<()> {
    let scenario = common::Scenario::start(NS).await?;
    let client = scenario.client.clone();
    let admin = GrpcAdmin::default();

    apply(&client, CLUSTER).await?;
    let clusters: Api<VectorCluster> = Api::namespaced(client.clone(), NS);
    let available =
        common::wait_running(&scenario, &clusters, "vec", 3, Duration::from_secs(240)).await?;
    ensure!(available.nodes.len() == 3, "{:?}", available.nodes);
    ensure!(available.current_image.as_deref() == Some("grape-node:dev"));

    // One Raft cluster: every node's reported peer id is a member, and there is a leader.
    let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
    let pod0 = pods.get("vec-0").await?;
    let ip = pod0
        .status
        .and_then(|s| s.pod_ip)
        .context("vec-0 has no IP")?;
    let info = admin.cluster_info(&format!("http://{ip}:6335")).await?;
    let mut members: Vec<String> = info.peers.iter().map(|p| p.peer_id.to_string()).collect();
    let mut reported: Vec<String> = available
        .nodes
        .iter()
        .filter_map(|n| n.peer_id.clone())
        .collect();
    members.sort();
    reported.sort();
    ensure!(
        members == reported,
        "members {members:?}, reported {reported:?}"
    );
    ensure!(info.leader_peer_id != 0, "no metadata leader: {info:?}");
    let leader = available.raft_leader.clone().context("no raftLeader")?;
    let leader_entry = available
        .nodes
        .iter()
        .find(|n| n.name == leader)
        .context("leader not a node")?;
    ensure!(
        leader_entry.peer_id == Some(info.leader_peer_id.to_string()),
        "{leader_entry:?} vs {info:?}"
    );

    // The operator's collection defaults reach the nodes.
    let rest = format!("http://{ip}:6333");
    let http = reqwest::Client::new();
    let body = json!({"vectors": {"size": 4, "distance": "Dot"}});
    common::send(
        &http,
        Method::PUT,
        &format!("{rest}/collections/implicit"),
        body,
    )
    .await?;
    let described: Value = http
        .get(format!("{rest}/collections/implicit"))
        .send()
        .await?
        .json()
        .await?;
    let params = &described["result"]["config"]["params"];
    ensure!(
        params["shard_number"] == 3 && params["replication_factor"] == 2,
        "{described}"
    );

    // A collection with 3 replicas per shard: shrinking to 2 data nodes must be refused.
    let docs = json!({"vectors": {"size": 4, "distance": "Dot"}, "replication_factor": 3});
    common::send(
        &http,
        Method::PUT,
        &format!("{rest}/collections/docs"),
        docs,
    )
    .await?;
    clusters
        .patch(
            "vec",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 2}})),
        )
        .await?;
    let degraded = common::wait_for("the scale-in refused", Duration::from_secs(60), || async {
        let status = clusters
            .get_status("vec")
            .await?
            .status
            .context("no status")?;
        let degraded = status
            .conditions
            .into_iter()
            .find(|c| c.type_ == "Degraded" && c.status == "True");
        degraded.context("not Degraded yet")
    })
    .await?;
    ensure!(degraded.reason == "ScaleInRefused", "{degraded:?}");
    ensure!(
        degraded
            .message
            .contains("collection \"docs\" has replication factor 3"),
        "{degraded:?}"
    );
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), NS);
    let replicas = sets.get("vec").await?.spec.and_then(|s| s.replicas);
    ensure!(
        replicas == Some(3),
        "the StatefulSet shrank to {replicas:?}"
    );
    let events: Api<Event> = Api::namespaced(client.clone(), NS);
    let reasons: Vec<String> = events
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .filter_map(|e| e.reason)
        .collect();
    ensure!(reasons.iter().any(|r| r == "Created"), "events {reasons:?}");
    ensure!(
        reasons.iter().any(|r| r == "ScaleInRefused"),
        "events {reasons:?}"
    );
    let operator_metrics = scenario.operator_metrics().await?;
    ensure!(operator_metrics.contains("grape_operator_reconciles_total"));

    // Deleting the cluster: owned objects are collected, the volumes deleted (policy Delete).
    clusters.delete("vec", &DeleteParams::default()).await?;
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), NS);
    common::wait_for(
        "the cluster, its pods and volumes gone",
        Duration::from_secs(180),
        || async {
            ensure!(
                clusters.get_opt("vec").await?.is_none(),
                "VectorCluster still there"
            );
            let left = pods.list(&ListParams::default()).await?.items.len();
            let volumes = claims.list(&ListParams::default()).await?.items.len();
            ensure!(
                left == 0 && volumes == 0,
                "{left} pods, {volumes} claims left"
            );
            Ok(())
        },
    )
    .await?;
    scenario.finish().await?;
    Ok(())
}
