//! Scaling a VectorCluster on a real control plane and real grape-node pods (where:
//! `common::Scenario`): 3 data nodes hold 10,000 points written with the official
//! Python client; scaled out to 5, the cluster's Balanced ShardPlacement spreads the shards
//! until every node holds some; a scale-in to 3 undone as soon as its drain starts keeps all
//! five peers, which get their share back; scaled to 3 again, the two highest pods are
//! drained (their peers leave the cluster) before the StatefulSet shrinks, and every point is
//! still there. Scaled out to 4, a peer that left while its pod stayed is taken back.

mod common;

use std::cell::Cell;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use common::PodLogs;
use grape_k8s_harness::apply;
use grape_operator::admin::{GrpcAdmin, NodeAdmin};
use grape_operator::build::Names;
use grape_operator::crd::{MoveState, PlacementPhase, ShardPlacement, VectorCluster};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{Event, Pod};
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::Client;
use reqwest::Method;
use serde_json::json;

const NS: &str = "scale";
const POINTS: u64 = 10_000;

const CLUSTER: &str = r#"
apiVersion: grape.io/v1alpha1
kind: VectorCluster
metadata: {name: vec, namespace: scale}
spec:
  replicas: 3
  image: grape-node:dev
  storage: {size: 1Gi, retentionPolicy: Delete}
  collectionDefaults: {shardNumber: 15, replicationFactor: 2}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scale_out_rebalances_and_scale_in_drains_first() -> Result<()> {
    let started = Instant::now();
    let scenario = common::Scenario::start(NS).await?;
    let client = scenario.client.clone();
    apply(&client, CLUSTER).await?;
    let clusters: Api<VectorCluster> = Api::namespaced(client.clone(), NS);
    let long = Duration::from_secs(300);
    common::wait_running(&scenario, &clusters, "vec", 3, long).await?;
    eprintln!("3 nodes available after {:?}", started.elapsed());

    let rest = format!(
        "http://{}:6333",
        common::pod_ip(&client, NS, "vec-0").await?
    );
    let http = reqwest::Client::new();
    let written = common::python_client_writes(&rest, "docs", POINTS).await?;
    ensure!(
        written == POINTS,
        "the Python client counted {written} points"
    );
    ensure!(common::count(&http, &rest, "docs").await? == POINTS);

    // Scale out: the new pods join, then the placement spreads the shards onto them.
    set_replicas(&clusters, 5).await?;
    common::wait_running(&scenario, &clusters, "vec", 5, long).await?;
    let placements: Api<ShardPlacement> = Api::namespaced(client.clone(), NS);
    let admin_uri = format!(
        "http://{}:6335",
        common::pod_ip(&client, NS, "vec-0").await?
    );
    let admin = GrpcAdmin::default();
    wait_balanced_over_five(&placements, &admin, &admin_uri)
        .await
        .with_context(|| scenario.pod_logs())?;
    let placement = placements.get_status("vec").await?;
    let moves = placement.status.map(|s| s.plan).unwrap_or_default();
    for pod in ["vec-3", "vec-4"] {
        ensure!(
            moves
                .iter()
                .any(|m| m.to == pod && m.state == Some(MoveState::Done)),
            "no finished move onto {pod} in the placement's status: {moves:?}"
        );
    }
    eprintln!(
        "5 nodes balanced ({} moves) after {:?}",
        moves.len(),
        started.elapsed()
    );
    ensure!(common::count(&http, &rest, "docs").await? == POINTS);

    undo_a_scale_in(&clusters, &placements, &admin, &admin_uri)
        .await
        .with_context(|| scenario.pod_logs())?;
    eprintln!("undone scale-in rebalanced after {:?}", started.elapsed());
    ensure!(common::count(&http, &rest, "docs").await? == POINTS);

    // Scale in: vec-3 and vec-4 leave the cluster before their pods go.
    set_replicas(&clusters, 3).await?;
    let names = Names {
        cluster: "vec".into(),
        namespace: NS.into(),
    };
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), NS);
    let saw_draining = Cell::new(false);
    common::wait_for("the scale-in to 3 drained nodes", long, || {
        let (sets, clusters, admin, names) = (&sets, &clusters, &admin, &names);
        let (admin_uri, saw) = (&admin_uri, &saw_draining);
        async move {
            let info = admin.cluster_info(admin_uri).await?;
            let members: BTreeSet<String> = info
                .peers
                .iter()
                .filter_map(|p| names.pod_of_peer_uri(&p.uri))
                .collect();
            let replicas = sets.get("vec").await?.spec.and_then(|s| s.replicas);
            let replicas = replicas.context("no replicas")?;
            // The invariant: a pod beyond the StatefulSet's size is never a member.
            let removed_members: Vec<&String> = members
                .iter()
                .filter(|pod| pod[4..].parse::<i32>().is_ok_and(|o| o >= replicas))
                .collect();
            assert!(
                removed_members.is_empty(),
                "the StatefulSet shrank to {replicas} while {removed_members:?} were members"
            );
            let status = clusters.get_status("vec").await?.status.unwrap_or_default();
            let draining = status
                .conditions
                .iter()
                .any(|c| c.type_ == "Progressing" && c.reason == "Draining");
            saw.set(saw.get() || draining);
            ensure!(
                replicas == 3 && members.len() == 3,
                "StatefulSet {replicas}, members {members:?}"
            );
            Ok(())
        }
    })
    .await
    .with_context(|| scenario.pod_logs())?;
    common::wait_running(&scenario, &clusters, "vec", 3, long).await?;
    ensure!(
        saw_draining.get(),
        "never saw Progressing with reason Draining"
    );
    eprintln!("scaled in to 3 after {:?}", started.elapsed());
    ensure!(common::count(&http, &rest, "docs").await? == POINTS);
    retrieve_all(&http, &rest).await?;
    let events = events(&client).await?;
    for (reason, about) in [
        ("DrainCancelled", "vec-3 stays"),
        ("DrainCancelled", "vec-4 stays"),
        ("DrainStarted", "draining vec-3"),
        ("DrainStarted", "draining vec-4"),
        ("Scaled", "vec-3"),
        ("RebalanceRequested", ""),
        ("MovingReplicas", ""),
        ("Balanced", ""),
    ] {
        ensure!(
            events
                .iter()
                .any(|(r, note)| r == reason && note.contains(about)),
            "no {reason} event about {about:?} in {events:?}"
        );
    }
    // The drained pods' own status entries go once they have been silent for a while.
    common::wait_for("the departed nodes' reports to go", long, || async {
        let status = clusters.get_status("vec").await?.status.unwrap_or_default();
        let reporting: BTreeSet<&str> = status.nodes.iter().map(|n| n.name.as_str()).collect();
        ensure!(
            reporting == BTreeSet::from(["vec-0", "vec-1", "vec-2"]),
            "status.nodes: {reporting:?}"
        );
        Ok(())
    })
    .await?;

    rejoin_a_peer_that_left(&client, &clusters, &placements, &admin, &admin_uri)
        .await
        .with_context(|| scenario.pod_logs())?;
    eprintln!("the departed peer rejoined after {:?}", started.elapsed());
    ensure!(common::count(&http, &rest, "docs").await? == POINTS);
    retrieve_all(&http, &rest).await?;
    scenario.finish().await?;
    eprintln!("done after {:?}", started.elapsed());
    Ok(())
}

/// Scales in to 3 and, as soon as a peer is draining, back out to 5: the operator cancels
/// the drains, no peer leaves, and the Balanced placement gives every node its share back.
async fn undo_a_scale_in(
    clusters: &Api<VectorCluster>,
    placements: &Api<ShardPlacement>,
    admin: &GrpcAdmin,
    admin_uri: &str,
) -> Result<()> {
    // Each peer holds 6 of the 30 replicas and a drain moves 2 at a time, so it takes a few
    // rounds before a peer could leave: the scale back out comes well before.
    set_replicas(clusters, 3).await?;
    let deadline = Instant::now() + Duration::from_secs(60);
    while !admin
        .cluster_info(admin_uri)
        .await?
        .peers
        .iter()
        .any(|p| p.draining)
    {
        ensure!(Instant::now() < deadline, "no drain started");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    set_replicas(clusters, 5).await?;
    common::wait_for("the drains to stop", Duration::from_secs(60), || async {
        let info = admin.cluster_info(admin_uri).await?;
        ensure!(
            info.peers.len() == 5 && info.peers.iter().all(|p| !p.draining),
            "peers {:?}",
            info.peers
        );
        Ok(())
    })
    .await?;
    wait_balanced_over_five(placements, admin, admin_uri).await
}

/// Scales out to 4; then, with the cluster paused, drains vec-3 by hand until its peer
/// left: the state a drain leaves when it finishes just before a scale back out. Resumed,
/// the operator takes the peer back (same peer id, a `Rejoined` event), and the Balanced
/// placement gives it replicas again.
async fn rejoin_a_peer_that_left(
    client: &Client,
    clusters: &Api<VectorCluster>,
    placements: &Api<ShardPlacement>,
    admin: &GrpcAdmin,
    admin_uri: &str,
) -> Result<()> {
    let names = Names {
        cluster: "vec".into(),
        namespace: NS.into(),
    };
    let vec3 = names.peer_uri("vec-3");
    set_replicas(clusters, 4).await?;
    let long = Duration::from_secs(300);
    let holding = || holds_replicas(admin, admin_uri, &vec3, 5);
    let peer_id = common::wait_for("vec-3 holding replicas", long, holding).await?;

    set_paused(clusters, true).await?;
    common::wait_for("vec-3's peer to leave", long, || async {
        let reply = admin.leave_cluster(admin_uri, peer_id).await?;
        ensure!(
            reply.removed,
            "{} replicas left on vec-3",
            reply.remaining_replicas
        );
        Ok(())
    })
    .await?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
    ensure!(pods.get_opt("vec-3").await?.is_some(), "vec-3's pod went");
    ensure!(
        !admin
            .cluster_info(admin_uri)
            .await?
            .peers
            .iter()
            .any(|p| p.peer_id == peer_id),
        "vec-3's peer is still a member"
    );

    set_paused(clusters, false).await?;
    let back = common::wait_for("vec-3 back with replicas", long, holding).await?;
    ensure!(
        back == peer_id,
        "vec-3 came back as peer {back}, not {peer_id}"
    );
    common::wait_for("the placement Balanced again", long, || async {
        let status = placements.get_status("vec").await?.status;
        let phase = status.and_then(|s| s.phase);
        ensure!(
            phase == Some(PlacementPhase::Balanced),
            "placement {phase:?}"
        );
        Ok(())
    })
    .await?;
    let events = events(client).await?;
    ensure!(
        events
            .iter()
            .any(|(reason, note)| reason == "Rejoined" && note.contains("vec-3")),
        "no Rejoined event about vec-3 in {events:?}"
    );
    Ok(())
}

/// The peer id of the member at `uri` once it holds at least `replicas` replicas and no
/// transfer runs.
async fn holds_replicas(
    admin: &GrpcAdmin,
    admin_uri: &str,
    uri: &str,
    replicas: u32,
) -> Result<u64> {
    let info = admin.cluster_info(admin_uri).await?;
    let peer = info.peers.iter().find(|p| p.uri == uri);
    let peer = peer.with_context(|| format!("{uri} is no member: {:?}", info.peers))?;
    ensure!(
        peer.replicas >= replicas && info.transfers.is_empty(),
        "{uri} holds {} replicas, transfers {:?}",
        peer.replicas,
        info.transfers
    );
    Ok(peer.peer_id)
}

/// Waits until the Balanced placement for 5 data nodes is done and each holds about its
/// share (≥ 5 of the 30 replicas).
async fn wait_balanced_over_five(
    placements: &Api<ShardPlacement>,
    admin: &GrpcAdmin,
    admin_uri: &str,
) -> Result<()> {
    common::wait_for(
        "every node holding shards",
        Duration::from_secs(300),
        || async {
            let placement = placements.get_status("vec").await?;
            let status = placement.status.clone().unwrap_or_default();
            ensure!(
                status.phase == Some(PlacementPhase::Balanced)
                    && placement
                        .metadata
                        .annotations
                        .as_ref()
                        .and_then(|a| a.get("grape.io/data-nodes"))
                        == Some(&"5".to_string()),
                "placement {status:?}"
            );
            let info = admin.cluster_info(admin_uri).await?;
            let held: Vec<u32> = info.peers.iter().map(|p| p.replicas).collect();
            ensure!(
                held.len() == 5 && held.iter().all(|&r| r >= 5) && info.transfers.is_empty(),
                "replicas per peer {held:?}, transfers {:?}",
                info.transfers
            );
            Ok(())
        },
    )
    .await
}

async fn set_replicas(clusters: &Api<VectorCluster>, replicas: i32) -> Result<()> {
    let patch = Patch::Merge(json!({"spec": {"replicas": replicas}}));
    clusters
        .patch("vec", &PatchParams::default(), &patch)
        .await?;
    Ok(())
}

async fn set_paused(clusters: &Api<VectorCluster>, paused: bool) -> Result<()> {
    let patch = Patch::Merge(json!({"spec": {"paused": paused}}));
    clusters
        .patch("vec", &PatchParams::default(), &patch)
        .await?;
    Ok(())
}

/// Every point by id, with its payload.
async fn retrieve_all(http: &reqwest::Client, rest: &str) -> Result<()> {
    let url = format!("{rest}/collections/docs/points");
    let ids: Vec<u64> = (0..POINTS).collect();
    let body = json!({"ids": ids, "with_payload": true});
    let answer = common::send(http, Method::POST, &url, body).await?;
    let points = answer["result"].as_array().context("no result")?;
    let found: BTreeSet<u64> = points
        .iter()
        .filter(|p| p["payload"]["n"] == p["id"])
        .filter_map(|p| p["id"].as_u64())
        .collect();
    ensure!(
        found.len() as u64 == POINTS,
        "{} of {POINTS} points retrieved intact",
        found.len()
    );
    Ok(())
}

/// Reasons and messages of the namespace's Events.
async fn events(client: &Client) -> Result<Vec<(String, String)>> {
    let events: Api<Event> = Api::namespaced(client.clone(), NS);
    let list = events.list(&ListParams::default()).await?;
    Ok(list
        .items
        .into_iter()
        .map(|e| (e.reason.unwrap_or_default(), e.message.unwrap_or_default()))
        .collect())
}
