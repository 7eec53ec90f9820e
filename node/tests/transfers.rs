//! Replica transfers with real `grape-node` processes while a client keeps writing
//! (`wait=true`) and reading through every node: move a replica, replicate then drop one,
//! drain a node through the admin service, add a fourth node and rebalance onto it, hand a
//! shard's leadership over, and kill the target or the source in the middle of a transfer. Afterwards every acknowledged write is present, every node answers the same,
//! and the replicas of each shard hold the same number of points.

mod support;

use std::time::Duration;

use grape_proto::cluster::cluster_service_client::ClusterServiceClient;
use grape_proto::cluster::transfer_leadership_request::Target;
use grape_proto::cluster::{
    CancelDrainRequest, ClusterInfo, GetClusterInfoRequest, LeaderMove, LeaveClusterRequest,
    PlanRebalanceRequest, RebalanceRequest, TransferLeadershipRequest,
};
use grape_testkit::{wait_until, Cluster, NodeProcess};
use serde_json::{json, Value};
use support::cluster::*;
use support::serial;

const TRANSFER_WAIT: Duration = Duration::from_secs(120);

/// The peers holding each shard, as `node` sees it.
fn placement(node: &NodeProcess, collection: &str) -> Vec<Vec<u64>> {
    let info = collection_cluster_info(node, collection);
    let me = info["peer_id"].as_u64().unwrap();
    let mut shards = vec![Vec::new(); info["shard_count"].as_u64().unwrap() as usize];
    for s in info["local_shards"].as_array().unwrap() {
        shards[s["shard_id"].as_u64().unwrap() as usize].push(me);
    }
    for s in info["remote_shards"].as_array().unwrap() {
        shards[s["shard_id"].as_u64().unwrap() as usize].push(s["peer_id"].as_u64().unwrap());
    }
    shards.iter_mut().for_each(|peers| peers.sort());
    shards
}

fn peer_ids(cluster: &Cluster) -> Vec<u64> {
    cluster.nodes().iter().map(peer_id).collect()
}

fn cluster_operation(node: &NodeProcess, collection: &str, operation: Value) -> (u16, Value) {
    rest_status(
        node,
        "POST",
        &format!("/collections/{collection}/cluster"),
        operation,
    )
}

/// Waits until no transfer of `collection` is in flight and shard `shard` sits on `peers`.
fn wait_placed(node: &NodeProcess, collection: &str, shard: usize, peers: &[u64]) {
    let mut wanted = peers.to_vec();
    wanted.sort();
    tokio::task::block_in_place(|| {
        wait_until("the transfer to finish", TRANSFER_WAIT, || {
            let info = collection_cluster_info(node, collection);
            let transfers = info["shard_transfers"].as_array().unwrap().len();
            let now = placement(node, collection);
            if transfers == 0 && now[shard] == wanted {
                Ok(())
            } else {
                Err(format!("{transfers} transfers, placement {now:?}"))
            }
        })
        .unwrap()
    })
}

/// The replicas of every shard report the same number of points on their own nodes.
fn assert_replicas_agree(nodes: &[NodeProcess], collection: &str) {
    let mut counts: std::collections::BTreeMap<u64, Vec<u64>> = Default::default();
    for node in nodes {
        let info = collection_cluster_info(node, collection);
        for s in info["local_shards"].as_array().unwrap() {
            let shard = s["shard_id"].as_u64().unwrap();
            counts
                .entry(shard)
                .or_default()
                .push(s["points_count"].as_u64().unwrap());
        }
    }
    for (shard, per_replica) in counts {
        assert!(
            per_replica.windows(2).all(|w| w[0] == w[1]),
            "replicas of shard {shard} disagree: {per_replica:?}"
        );
    }
}

/// A shard of `collection`, a peer holding it and one that does not.
fn shard_source_and_free_peer(cluster: &Cluster, collection: &str) -> (usize, u64, u64) {
    let peers = peer_ids(cluster);
    let placed = placement(cluster.node(0), collection);
    let from = placed[0][0];
    let to = *peers.iter().find(|p| !placed[0].contains(p)).unwrap();
    (0, from, to)
}

/// No request of the workload failed or went unanswered.
fn assert_no_client_errors(report: &grape_testkit::Report) {
    let (w, r) = (&report.writes, &report.reads);
    assert_eq!(
        (w.failed, w.unknown, r.failed, r.unknown),
        (0, 0, 0, 0),
        "{report}"
    );
}

/// Lets the workload write a little more, stops it, and checks that no request failed,
/// every acknowledged write is present and the replicas agree.
async fn finish_without_errors(
    workload: grape_testkit::Workload,
    cluster: &Cluster,
    collection: &str,
) -> grape_testkit::Report {
    let acked = workload.acked_writes();
    wait_for_acks(&workload, acked + 100).await;
    let report = finish(workload, cluster, collection).await;
    assert_no_client_errors(&report);
    assert_replicas_agree(cluster.nodes(), collection);
    report
}

fn node_of(cluster: &Cluster, peer: u64) -> usize {
    peer_ids(cluster).iter().position(|p| *p == peer).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moving_a_replica_under_load_loses_nothing() {
    let _serial = serial().await;
    let cluster = start_cluster(3);
    create_collection(&cluster, "c", 2, 2, 1);
    let workload = start_workload(&cluster, "c");
    wait_for_acks(&workload, 200).await;

    let (shard, from, to) = shard_source_and_free_peer(&cluster, "c");
    let mut expected: Vec<u64> = placement(cluster.node(0), "c")[shard].clone();
    expected.retain(|p| *p != from);
    expected.push(to);
    let move_shard =
        json!({"move_shard": {"shard_id": shard, "from_peer_id": from, "to_peer_id": to}});
    let (code, answer) = cluster_operation(cluster.node(1), "c", move_shard.clone());
    assert_eq!(code, 200, "{answer}");
    assert_eq!(answer["result"], true);
    // While it runs, a second transfer of the same shard is refused.
    let again =
        json!({"replicate_shard": {"shard_id": shard, "from_peer_id": from, "to_peer_id": to}});
    let (code, answer) = cluster_operation(cluster.node(2), "c", again);
    if code != 200 {
        assert_eq!(code, 400, "{answer}");
        assert!(answer["status"]["error"]
            .as_str()
            .unwrap()
            .contains("transfer"));
    }
    wait_placed(cluster.node(2), "c", shard, &expected);

    finish_without_errors(workload, &cluster, "c").await;
    // The source no longer holds the shard on disk either.
    let info = collection_cluster_info(cluster.node(node_of(&cluster, from)), "c");
    let local: Vec<u64> = info["local_shards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["shard_id"].as_u64().unwrap())
        .collect();
    assert!(!local.contains(&(shard as u64)), "{info}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicating_then_dropping_a_replica_keeps_every_write() {
    let _serial = serial().await;
    let cluster = start_cluster(3);
    create_collection(&cluster, "c", 1, 2, 1);
    let workload = start_workload(&cluster, "c");
    wait_for_acks(&workload, 200).await;

    let (shard, from, to) = shard_source_and_free_peer(&cluster, "c");
    let replicate =
        json!({"replicate_shard": {"shard_id": shard, "from_peer_id": from, "to_peer_id": to}});
    let (code, answer) = cluster_operation(cluster.node(0), "c", replicate);
    assert_eq!(code, 200, "{answer}");
    wait_placed(cluster.node(0), "c", shard, &peer_ids(&cluster));
    wait_all_active(&cluster, "c");

    let drop = json!({"drop_replica": {"shard_id": shard, "peer_id": from}});
    let (code, answer) = cluster_operation(cluster.node(2), "c", drop);
    assert_eq!(code, 200, "{answer}");
    let mut rest_of: Vec<u64> = peer_ids(&cluster);
    rest_of.retain(|p| *p != from);
    wait_placed(cluster.node(1), "c", shard, &rest_of);

    // Dropping down to nothing is refused, with Qdrant's error shape.
    let second = json!({"drop_replica": {"shard_id": shard, "peer_id": rest_of[0]}});
    let (code, answer) = cluster_operation(cluster.node(0), "c", second);
    assert_eq!(code, 200, "{answer}");
    wait_placed(cluster.node(0), "c", shard, &rest_of[1..]);
    let (code, answer) = cluster_operation(
        cluster.node(0),
        "c",
        json!({"drop_replica": {"shard_id": shard, "peer_id": rest_of[1]}}),
    );
    assert_eq!(code, 400, "{answer}");
    assert!(answer["status"]["error"]
        .as_str()
        .unwrap()
        .contains("last replica"));

    finish_without_errors(workload, &cluster, "c").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_cluster_operations_get_clear_errors() {
    let _serial = serial().await;
    let cluster = start_cluster(3);
    create_collection(&cluster, "c", 1, 1, 1);
    let (shard, from, to) = shard_source_and_free_peer(&cluster, "c");
    let cases = [
        (
            json!({"move_shard": {"shard_id": 7, "from_peer_id": from, "to_peer_id": to}}),
            400,
            "does not exist",
        ),
        (
            json!({"move_shard": {"shard_id": shard, "from_peer_id": to, "to_peer_id": from}}),
            400,
            "no replica on peer",
        ),
        (
            json!({"move_shard": {"shard_id": shard, "from_peer_id": from, "to_peer_id": 12345}}),
            400,
            "Peer 12345 does not exist",
        ),
        (
            json!({"abort_transfer": {"shard_id": shard, "from_peer_id": from, "to_peer_id": to}}),
            404,
            "transfer",
        ),
        (json!({"split_shard": {}}), 400, "unknown variant"),
    ];
    for (operation, status, message) in cases {
        let (code, answer) = cluster_operation(cluster.node(0), "c", operation.clone());
        assert_eq!(code, status, "{operation}: {answer}");
        let error = answer["status"]["error"].as_str().unwrap_or_default();
        assert!(error.contains(message), "{operation}: {answer}");
    }
    let (code, _) = cluster_operation(
        cluster.node(0),
        "missing",
        json!({"drop_replica": {"shard_id": 0, "peer_id": from}}),
    );
    assert_eq!(code, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn draining_a_node_moves_its_replicas_then_removes_it() {
    let _serial = serial().await;
    let cluster = start_cluster(3);
    create_collection(&cluster, "c", 3, 2, 1);
    let leaving = 2;
    let staying = &cluster.nodes()[..leaving];
    let workload = grape_testkit::Workload::start(grape_testkit::WorkloadConfig {
        targets: staying.iter().map(|n| n.grpc_url()).collect(),
        ..workload_config(&cluster, "c")
    })
    .unwrap();
    wait_for_acks(&workload, 200).await;

    let peer = peer_id(cluster.node(leaving));
    let mut admin = ClusterServiceClient::connect(cluster.node(0).p2p_uri())
        .await
        .unwrap();
    let plan = admin
        .plan_rebalance(PlanRebalanceRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(
        plan.moves.is_empty(),
        "a fresh cluster is balanced: {plan:?}"
    );
    let leave = || LeaveClusterRequest { peer_id: peer };
    let first = admin.leave_cluster(leave()).await.unwrap().into_inner();
    assert!(!first.removed && first.remaining_replicas > 0, "{first:?}");
    let deadline = tokio::time::Instant::now() + TRANSFER_WAIT;
    loop {
        let reply = admin.leave_cluster(leave()).await.unwrap().into_inner();
        if reply.removed {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "drain stuck: {reply:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    for shard in placement(cluster.node(0), "c") {
        assert_eq!(shard.len(), 2, "replication factor kept");
        assert!(!shard.contains(&peer));
    }
    let acked = workload.acked_writes();
    wait_for_acks(&workload, acked + 100).await;
    let history = workload.stop().await;
    let report = verify_on(&history, staying, "c").await;
    assert_no_client_errors(&report);
    assert_replicas_agree(staying, "c");
}

/// A scale-in undone halfway: the drain of a peer is cancelled right after it starts. The
/// peer stays a member and keeps what it has not handed over yet; a rebalance then gives it
/// back its share, and nothing acknowledged is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_drain_keeps_the_peer_and_a_rebalance_restores_its_share() {
    let _serial = serial().await;
    let cluster = start_cluster(3);
    create_collection(&cluster, "c", 6, 2, 1);
    let workload = start_workload(&cluster, "c");
    wait_for_acks(&workload, 200).await;

    let peer = peer_id(cluster.node(2));
    let mut admin = admin_of(cluster.node(0)).await;
    let leave = LeaveClusterRequest { peer_id: peer };
    let left = admin.leave_cluster(leave).await.unwrap().into_inner();
    assert_eq!(
        left.remaining_replicas, 4,
        "12 replicas over 3 nodes: {left:?}"
    );
    let cancel = || CancelDrainRequest { peer_id: peer };
    let cancelled = admin.cancel_drain(cancel()).await.unwrap().into_inner();
    assert!(cancelled.member && cancelled.was_draining, "{cancelled:?}");
    let again = admin.cancel_drain(cancel()).await.unwrap().into_inner();
    assert!(again.member && !again.was_draining, "idempotent: {again:?}");

    // Moves the drain started before it was cancelled finish; no others start.
    let deadline = tokio::time::Instant::now() + TRANSFER_WAIT;
    while !cluster_info(&mut admin).await.transfers.is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "transfers stuck");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let info = cluster_info(&mut admin).await;
    let stayed = info.peers.iter().find(|p| p.peer_id == peer);
    let stayed = stayed.unwrap_or_else(|| panic!("the peer was removed: {info:?}"));
    assert!(!stayed.draining, "{stayed:?}");
    assert!(
        stayed.replicas >= 2 && info.transfers.is_empty(),
        "at most 2 moves start per drain step, and none after the cancel: {info:?}"
    );

    let info = rebalance_until_balanced(&mut admin).await;
    assert!(
        replicas_per_peer(&info).iter().all(|(_, n)| *n == 4),
        "{info:?}"
    );
    finish_without_errors(workload, &cluster, "c").await;
}

/// Starts moving a shard and kills `victim` (the source or the target) right away, restarts
/// it a few seconds later; the transfer must end with the shard on its new peers and nothing
/// lost.
async fn transfer_survives_a_kill(kill_target: bool) {
    let mut cluster = start_cluster(3);
    create_collection(&cluster, "c", 1, 2, 1);
    let workload = start_workload(&cluster, "c");
    wait_for_acks(&workload, 300).await;

    let (shard, from, to) = shard_source_and_free_peer(&cluster, "c");
    let victim = node_of(&cluster, if kill_target { to } else { from });
    let observer = (0..3).find(|i| *i != victim).unwrap();
    let move_shard =
        json!({"move_shard": {"shard_id": shard, "from_peer_id": from, "to_peer_id": to}});
    let (code, answer) = cluster_operation(cluster.node(observer), "c", move_shard);
    assert_eq!(code, 200, "{answer}");
    tokio::task::block_in_place(|| cluster.node_mut(victim).kill9().unwrap());
    tokio::time::sleep(Duration::from_secs(3)).await;
    let info = collection_cluster_info(cluster.node(observer), "c");
    if kill_target && !info["shard_transfers"].as_array().unwrap().is_empty() {
        // A half-copied replica never counts as active.
        let target = info["remote_shards"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["peer_id"] == to)
            .cloned()
            .unwrap_or_default();
        assert_ne!(target["state"], "Active", "{info}");
    }
    tokio::task::block_in_place(|| {
        cluster.node_mut(victim).spawn_again().unwrap();
        cluster.node_mut(victim).wait_ready(READY_WAIT).unwrap();
    });
    let mut expected: Vec<u64> = placement(cluster.node(observer), "c")[shard].clone();
    expected.retain(|p| *p != from && *p != to);
    expected.extend([to]);
    wait_placed(cluster.node(observer), "c", shard, &expected);

    let acked = workload.acked_writes();
    wait_for_acks(&workload, acked + 100).await;
    finish(workload, &cluster, "c").await;
    assert_replicas_agree(cluster.nodes(), "c");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_target_in_a_transfer_loses_nothing() {
    let _serial = serial().await;
    transfer_survives_a_kill(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_source_in_a_transfer_loses_nothing() {
    let _serial = serial().await;
    transfer_survives_a_kill(false).await;
}

async fn admin_of(node: &NodeProcess) -> ClusterServiceClient<tonic::transport::Channel> {
    ClusterServiceClient::connect(node.p2p_uri()).await.unwrap()
}

async fn cluster_info(admin: &mut ClusterServiceClient<tonic::transport::Channel>) -> ClusterInfo {
    let info = admin.get_cluster_info(GetClusterInfoRequest {}).await;
    info.unwrap().into_inner()
}

/// Replicas per peer in the cluster info.
fn replicas_per_peer(info: &ClusterInfo) -> Vec<(u64, u32)> {
    info.peers.iter().map(|p| (p.peer_id, p.replicas)).collect()
}

/// Calls the idempotent `Rebalance` until it has nothing left to do; the cluster info then.
async fn rebalance_until_balanced(
    admin: &mut ClusterServiceClient<tonic::transport::Channel>,
) -> ClusterInfo {
    let deadline = tokio::time::Instant::now() + TRANSFER_WAIT;
    loop {
        let request = RebalanceRequest {
            max_concurrent_moves: 2,
            ..Default::default()
        };
        let plan = admin.rebalance(request).await.unwrap().into_inner();
        let info = cluster_info(admin).await;
        if plan.moves.is_empty() && info.transfers.is_empty() {
            return info;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "rebalance stuck: {info:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fourth_node_gets_its_share_after_a_rebalance() {
    let _serial = serial().await;
    let mut cluster = start_cluster(3);
    create_collection(&cluster, "c", 4, 2, 1);
    let workload = start_workload(&cluster, "c");
    wait_for_acks(&workload, 200).await;

    let joined = tokio::task::block_in_place(|| {
        NodeProcess::builder(BIN)
            .unwrap()
            .cluster_member()
            .bootstrap(cluster.node(0).p2p_uri())
            .start()
            .unwrap()
    });
    cluster.push(joined);
    tokio::task::block_in_place(|| cluster.wait_formed(Duration::from_secs(60)).unwrap());
    let newcomer = peer_id(cluster.node(3));
    let mut admin = admin_of(cluster.node(1)).await;
    let plan = admin
        .plan_rebalance(PlanRebalanceRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(plan.moves.len(), 2, "8 replicas over 4 nodes: {plan:?}");
    assert!(
        plan.moves.iter().all(|m| m.to_peer_id == newcomer),
        "{plan:?}"
    );

    let info = rebalance_until_balanced(&mut admin).await;
    assert!(
        replicas_per_peer(&info).iter().all(|(_, n)| *n == 2),
        "{info:?}"
    );
    finish_without_errors(workload, &cluster, "c").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shard_leadership_is_handed_over_without_client_errors() {
    let _serial = serial().await;
    let cluster = start_cluster(3);
    create_collection(&cluster, "c", 2, 3, 1);
    let workload = start_workload(&cluster, "c");
    wait_for_acks(&workload, 200).await;

    let leaders = shard_leaders(&cluster, "c");
    let target = (leaders[0] + 1) % 3;
    let to_peer_id = peer_id(cluster.node(target));
    let mut admin = admin_of(cluster.node(2)).await;
    let one_shard = TransferLeadershipRequest {
        target: Some(Target::Shard(LeaderMove {
            collection: "c".into(),
            shard_id: 0,
            to_peer_id,
        })),
    };
    let started = std::time::Instant::now();
    let reply = admin.transfer_leadership(one_shard.clone()).await.unwrap();
    let took = started.elapsed();
    assert_eq!(reply.into_inner().remaining, 0);
    assert_eq!(shard_leaders(&cluster, "c")[0], target);
    // Asking again changes nothing (and answers at once).
    let reply = admin.transfer_leadership(one_shard).await.unwrap();
    assert_eq!(reply.into_inner().remaining, 0);

    // Every leadership off one peer.
    let away = TransferLeadershipRequest {
        target: Some(Target::AwayFromPeerId(to_peer_id)),
    };
    let reply = admin.transfer_leadership(away).await.unwrap().into_inner();
    assert_eq!(reply.remaining, 0);
    assert!(!shard_leaders(&cluster, "c").contains(&target));

    let report = finish_without_errors(workload, &cluster, "c").await;
    eprintln!("one shard handover took {took:?}; {report}");

    let bad = TransferLeadershipRequest {
        target: Some(Target::Shard(LeaderMove {
            collection: "c".into(),
            shard_id: 0,
            to_peer_id: 4242,
        })),
    };
    let refused = admin.transfer_leadership(bad).await.unwrap_err();
    assert!(
        refused.message().contains("not a voting replica"),
        "{refused:?}"
    );
}
