//! A Manual ShardPlacement with Manual approval, on a real control plane and real grape-node
//! pods (where: `common::Scenario`): its plan waits for the `grape.io/approve` annotation, then puts
//! every shard of one collection on the node it names, and the cluster's own Balanced
//! placement leaves that collection alone afterwards (the cluster's planner alone would
//! spread it again).

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use common::PodLogs;
use grape_k8s_harness::apply;
use grape_operator::admin::{GrpcAdmin, NodeAdmin, RebalanceScope};
use grape_operator::build::Names;
use grape_operator::crd::{PlacementPhase, ShardPlacement, VectorCluster};
use grape_operator::decide;
use kube::api::{Api, Patch, PatchParams};
use reqwest::Method;
use serde_json::json;

const NS: &str = "pin";
const POINTS: u64 = 60;

const CLUSTER: &str = r#"
apiVersion: grape.io/v1alpha1
kind: VectorCluster
metadata: {name: vec, namespace: pin}
spec:
  replicas: 3
  image: grape-node:dev
  storage: {size: 1Gi, retentionPolicy: Delete}
"#;

const PIN: &str = r#"
apiVersion: grape.io/v1alpha1
kind: ShardPlacement
metadata: {name: pin, namespace: pin}
spec:
  clusterRef: vec
  collection: pinned
  mode: Manual
  approval: Manual
  shards:
    - {shard: 0, nodes: [vec-2]}
    - {shard: 1, nodes: [vec-2]}
    - {shard: 2, nodes: [vec-2]}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manual_placement_waits_for_approval_and_stays_pinned() -> Result<()> {
    let started = Instant::now();
    let scenario = common::Scenario::start(NS).await?;
    let client = scenario.client.clone();
    apply(&client, CLUSTER).await?;
    let clusters: Api<VectorCluster> = Api::namespaced(client.clone(), NS);
    let long = Duration::from_secs(300);
    common::wait_running(&scenario, &clusters, "vec", 3, long).await?;
    let ip = common::pod_ip(&client, NS, "vec-0").await?;
    let (rest, admin_uri) = (format!("http://{ip}:6333"), format!("http://{ip}:6335"));
    let http = reqwest::Client::new();
    create_pinned_collection(&http, &rest).await?;
    let placements: Api<ShardPlacement> = Api::namespaced(client.clone(), NS);
    common::wait_for("the cluster's own placement Balanced", long, || async {
        let phase = phase_of(&placements, "vec").await?;
        ensure!(phase == Some(PlacementPhase::Balanced), "phase {phase:?}");
        Ok(())
    })
    .await?;
    let admin = GrpcAdmin::default();
    let names = Names {
        cluster: "vec".into(),
        namespace: NS.into(),
    };
    let pinned_pods = || async {
        let info = admin.cluster_info(&admin_uri).await?;
        let pods = decide::pods_of_peers(&info, &names);
        let shards = decide::settled_shards(&info, &pods);
        let pinned = shards.into_iter().filter(|s| s.collection == "pinned");
        Ok::<_, anyhow::Error>((pinned.flat_map(|s| s.pods).collect::<BTreeSet<_>>(), info))
    };
    let (before, _) = pinned_pods().await?;
    ensure!(before.len() > 1, "the shards start spread: {before:?}");

    // Manual approval: the plan is shown and nothing moves until the annotation.
    apply(&client, PIN).await?;
    common::wait_for("the plan ready", long, || async {
        let status = placements
            .get_status("pin")
            .await?
            .status
            .unwrap_or_default();
        ensure!(
            status.phase == Some(PlacementPhase::PlanReady) && !status.plan.is_empty(),
            "status {status:?}"
        );
        Ok(())
    })
    .await?;
    tokio::time::sleep(Duration::from_secs(6)).await;
    let (waiting, info) = pinned_pods().await?;
    ensure!(
        waiting == before && info.transfers.is_empty(),
        "moves before approval: replicas on {waiting:?}, transfers {:?}",
        info.transfers
    );
    let approve = json!({"metadata": {"annotations": {"grape.io/approve": "true"}}});
    placements
        .patch("pin", &PatchParams::default(), &Patch::Merge(&approve))
        .await?;
    common::wait_for("every pinned shard on vec-2", long, || async {
        let placement = placements.get_status("pin").await?;
        let phase = placement.status.and_then(|s| s.phase);
        let (pods, info) = pinned_pods().await?;
        let approval_left = placement
            .metadata
            .annotations
            .is_some_and(|a| a.contains_key("grape.io/approve"));
        ensure!(
            phase == Some(PlacementPhase::Balanced)
                && pods == BTreeSet::from(["vec-2".to_string()])
                && info.transfers.is_empty()
                && !approval_left,
            "phase {phase:?}, replicas on {pods:?}, approval left: {approval_left}"
        );
        Ok(())
    })
    .await
    .with_context(|| scenario.pod_logs())?;
    eprintln!("pinned after {:?}", started.elapsed());

    // The cluster's planner alone would spread the collection again; the Balanced
    // placement excludes it. Its passes run every 30 s once Balanced: watch past one.
    let everything = admin
        .plan_rebalance(&admin_uri, &RebalanceScope::default())
        .await?;
    ensure!(
        everything.moves.iter().any(|m| m.collection == "pinned"),
        "the planner should want to spread the pinned collection: {everything:?}"
    );
    let deadline = Instant::now() + Duration::from_secs(40);
    while Instant::now() < deadline {
        let (pods, info) = pinned_pods().await?;
        ensure!(
            pods == BTreeSet::from(["vec-2".to_string()]) && info.transfers.is_empty(),
            "the pinned collection moved: replicas on {pods:?}, transfers {:?}",
            info.transfers
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let phase = phase_of(&placements, "vec").await?;
    ensure!(phase == Some(PlacementPhase::Balanced), "vec: {phase:?}");
    ensure!(common::count(&http, &rest, "pinned").await? == POINTS);
    scenario.finish().await?;
    eprintln!("done after {:?}", started.elapsed());
    Ok(())
}

/// Three shards, one replica each, and a few points.
async fn create_pinned_collection(http: &reqwest::Client, rest: &str) -> Result<()> {
    let url = format!("{rest}/collections/pinned");
    let create = json!({
        "vectors": {"size": 4, "distance": "Dot"},
        "shard_number": 3,
        "replication_factor": 1,
    });
    common::send(http, Method::PUT, &url, create).await?;
    let points: Vec<_> = (0..POINTS)
        .map(|i| json!({"id": i, "vector": [i as f32, 1.0, 0.0, 0.5]}))
        .collect();
    let upsert = format!("{url}/points?wait=true");
    common::send(http, Method::PUT, &upsert, json!({"points": points})).await?;
    Ok(())
}

async fn phase_of(placements: &Api<ShardPlacement>, name: &str) -> Result<Option<PlacementPhase>> {
    Ok(placements
        .get_status(name)
        .await?
        .status
        .and_then(|s| s.phase))
}
