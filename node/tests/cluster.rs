//! The cluster with real `grape-node` processes, each on its own loopback address, under real
//! faults: `kill -9`, SIGSTOP, iptables partitions, rolling and full restarts. In every
//! scenario a client workload writes (`wait=true`) and reads through every node while the
//! fault happens; afterwards every node must hold exactly what the history allows (every
//! acknowledged write, no lost or resurrected point) and answer searches identically.

mod support;

use std::time::{Duration, Instant};

use grape_testkit::{wait_until, Cluster, Network, NodeProcess, Outcome, Workload, WorkloadConfig};
use serde_json::{json, Value};
use support::cluster::*;
use support::serial;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_serve_one_replicated_collection_through_any_node() {
    let _serial = serial().await;
    let cluster = start_cluster(3);
    create_collection(&cluster, "c", 3, 3, 1);
    let info = collection_cluster_info(cluster.node(1), "c");
    assert_eq!(info["shard_count"], 3);
    assert_eq!(info["local_shards"].as_array().unwrap().len(), 3, "{info}");
    assert_eq!(info["remote_shards"].as_array().unwrap().len(), 6, "{info}");

    // Each node writes a third of the points; every node then sees all of them.
    for (i, node) in cluster.nodes().iter().enumerate() {
        let points: Vec<_> = (0..30u64)
            .filter(|p| *p as usize % 3 == i)
            .map(|p| json!({"id": p, "vector": vector(p), "payload": {"n": p}}))
            .collect();
        let reply = rest(
            node,
            "PUT",
            "/collections/c/points?wait=true",
            json!({"points": points}),
        );
        assert_eq!(reply["result"]["status"], "completed", "{reply}");
    }
    for node in cluster.nodes() {
        let count = rest(
            node,
            "POST",
            "/collections/c/points/count?consistency=majority",
            json!({"exact": true}),
        );
        assert_eq!(count["result"]["count"], 30, "{count}");
    }
    assert_same_searches(&cluster, "c");

    // A bad request is refused the same way through a node that leads nothing.
    let bad = rest_status(
        cluster.node(2),
        "PUT",
        "/collections/c/points?wait=true",
        json!({"points": [{"id": 1, "vector": [1.0, 2.0]}]}),
    );
    assert_eq!(bad.0, 400, "{:?}", bad.1);
}

/// A client may use a collection through any node as soon as its creation answered, before
/// the other peers opened their replicas: reads and writes routed to a peer that is still
/// opening its replica wait for it instead of failing with 503.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_collection_serves_through_every_node_at_once() {
    let _serial = serial().await;
    let cluster = start_cluster(3);
    for k in 0..12 {
        let name = format!("new{k}");
        let create = json!({
            "vectors": {"size": 4, "distance": "Cosine"},
            "shard_number": 3,
            "replication_factor": 2,
        });
        let [creator, reader, writer] = [k % 3, (k + 1) % 3, (k + 2) % 3].map(|n| cluster.node(n));
        rest(creator, "PUT", &format!("/collections/{name}"), create);
        let info = rest(reader, "GET", &format!("/collections/{name}"), json!({}));
        assert_eq!(info["result"]["points_count"], 0, "{info}");
        let points: Vec<_> = (0..20u64)
            .map(|p| json!({"id": p, "vector": vector(p)}))
            .collect();
        let path = format!("/collections/{name}/points?wait=true");
        let reply = rest(writer, "PUT", &path, json!({ "points": points }));
        assert_eq!(reply["result"]["status"], "completed", "{reply}");
        let path = format!("/collections/{name}/points/count");
        let count = rest(reader, "POST", &path, json!({"exact": true}));
        assert_eq!(
            count["result"]["count"], 20,
            "{name} through the reader: {count}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_a_shard_leader_loses_no_acknowledged_write() {
    let _serial = serial().await;
    let mut cluster = start_cluster(3);
    create_collection(&cluster, "c", 3, 3, 1);
    let workload = start_workload(&cluster, "c");
    wait_for_acks(&workload, 100).await;

    let victim = node_leading_most_shards(&cluster, "c");
    let killed_at = Instant::now();
    tokio::task::block_in_place(|| cluster.node_mut(victim).kill9().unwrap());
    let before = workload.acked_writes();
    wait_for_acks(&workload, before + 100).await;
    eprintln!("writes resumed {:?} after the kill", killed_at.elapsed());
    tokio::task::block_in_place(|| cluster.node_mut(victim).restart().unwrap());
    let before = workload.acked_writes();
    wait_for_acks(&workload, before + 100).await;

    let report = finish(workload, &cluster, "c").await;
    assert!(report.writes.unknown > 0, "the kill hit requests: {report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_a_follower_loses_nothing_and_it_catches_up() {
    let _serial = serial().await;
    let mut cluster = start_cluster(3);
    create_collection(&cluster, "c", 2, 3, 1);
    let workload = start_workload(&cluster, "c");
    wait_for_acks(&workload, 100).await;

    let victim = node_leading_fewest_shards(&cluster, "c");
    let victim_peer = peer_id(cluster.node(victim));
    tokio::task::block_in_place(|| cluster.node_mut(victim).kill9().unwrap());
    let observer = cluster.node((victim + 1) % 3);
    wait_for_replica_state(observer, "c", victim_peer, "Dead");
    let before = workload.acked_writes();
    wait_for_acks(&workload, before + 200).await;
    tokio::task::block_in_place(|| cluster.node_mut(victim).restart().unwrap());
    let before = workload.acked_writes();
    wait_for_acks(&workload, before + 100).await;

    finish(workload, &cluster, "c").await;
}

/// How long a workload request to a paused or cut-off node waits: short, so the writers,
/// which take their targets in turn, keep writing through the healthy nodes.
const HUNG_REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_leader_is_replaced_and_rejoins_when_resumed() {
    let _serial = serial().await;
    let cluster = start_cluster(3);
    create_collection(&cluster, "c", 3, 3, 1);
    // A third of the requests go to the paused node and hang until they time out.
    let workload = Workload::start(WorkloadConfig {
        timeout: HUNG_REQUEST_TIMEOUT,
        ..workload_config(&cluster, "c")
    })
    .unwrap();
    wait_for_acks(&workload, 100).await;

    let victim = node_leading_most_shards(&cluster, "c");
    cluster.node(victim).pause().unwrap();
    let before = workload.acked_writes();
    wait_for_acks(&workload, before + 40).await;
    cluster.node(victim).resume().unwrap();
    let before = workload.acked_writes();
    wait_for_acks(&workload, before + 100).await;

    finish(workload, &cluster, "c").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_partitioned_into_the_minority_acknowledges_nothing() {
    let _serial = serial().await;
    let cluster = start_cluster(3);
    create_collection(&cluster, "c", 1, 3, 1);
    let leader = node_leading_most_shards(&cluster, "c");
    let majority: Vec<usize> = (0..3).filter(|&i| i != leader).collect();
    // Target 0 of the workload is the leader, cut off below with the shard's only group.
    let targets = [leader, majority[0], majority[1]]
        .iter()
        .map(|&i| cluster.node(i).grpc_url())
        .collect();
    let started = Instant::now();
    let workload = Workload::start(WorkloadConfig {
        targets,
        timeout: HUNG_REQUEST_TIMEOUT,
        ..workload_config(&cluster, "c")
    })
    .unwrap();
    wait_for_acks(&workload, 100).await;

    let network = Network::new().unwrap();
    let majority_ips: Vec<_> = majority.iter().map(|&i| cluster.node(i).ip()).collect();
    let cut = started.elapsed();
    network
        .partition(&[cluster.node(leader).ip()], &majority_ips)
        .unwrap();
    let before = workload.acked_writes();
    wait_for_acks(&workload, before + 40).await;
    let healed = started.elapsed();
    network.heal().unwrap();
    let before = workload.acked_writes();
    wait_for_acks(&workload, before + 100).await;

    let history = workload.stop().await;
    // Writes the cut-off node received once the partition was in place (a margin for
    // those already replicated) cannot have been acknowledged before the heal.
    let margin = Duration::from_millis(500);
    let acked_by_minority: Vec<_> = history
        .events()
        .iter()
        .filter(|e| e.op.is_write() && e.target == 0 && e.outcome == Outcome::Ok)
        .filter(|e| e.started > cut + margin && e.finished < healed)
        .collect();
    assert!(
        acked_by_minority.is_empty(),
        "the minority side acknowledged writes while partitioned: {acked_by_minority:?}"
    );
    verify_everywhere(&history, &cluster, "c").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_restart_of_every_node_loses_nothing() {
    let _serial = serial().await;
    let mut cluster = start_cluster(3);
    create_collection(&cluster, "c", 3, 3, 1);
    let workload = start_workload(&cluster, "c");
    wait_for_acks(&workload, 100).await;
    for i in 0..3 {
        tokio::task::block_in_place(|| {
            cluster.node_mut(i).terminate().unwrap();
            cluster.node_mut(i).restart().unwrap();
        });
        wait_all_active(&cluster, "c");
        let before = workload.acked_writes();
        wait_for_acks(&workload, before + 50).await;
    }
    finish(workload, &cluster, "c").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_cluster_restart_keeps_everything() {
    let _serial = serial().await;
    let mut cluster = start_cluster(3);
    create_collection(&cluster, "c", 3, 3, 1);
    let workload = start_workload(&cluster, "c");
    wait_for_acks(&workload, 200).await;
    let history = workload.stop().await;
    tokio::task::block_in_place(|| {
        for i in 0..3 {
            cluster.node_mut(i).kill9().unwrap();
        }
        // Restarted together: none is ready before a majority is back.
        for i in 0..3 {
            cluster.node_mut(i).spawn_again().unwrap();
        }
        for i in 0..3 {
            cluster.node_mut(i).wait_ready(READY_WAIT).unwrap();
        }
    });
    verify_everywhere(&history, &cluster, "c").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_restarted_at_a_new_address_is_reached_there() {
    let _serial = serial().await;
    let mut cluster = start_cluster(3);
    create_collection(&cluster, "c", 2, 3, 1);
    upsert_ids(cluster.node(0), 0..20);
    let moved = peer_id(cluster.node(2));
    let old_uri = cluster.node(2).p2p_uri();
    tokio::task::block_in_place(|| cluster.node_mut(2).relocate().unwrap());
    let new_uri = cluster.node(2).p2p_uri();
    assert_ne!(old_uri, new_uri);

    tokio::task::block_in_place(|| {
        for node in cluster.nodes() {
            wait_until("the new address recorded", READY_WAIT, || {
                let peers = rest(node, "GET", "/cluster", Value::Null)["result"]["peers"].clone();
                let uri = peers[moved.to_string()]["uri"].clone();
                (uri == new_uri.as_str())
                    .then_some(())
                    .ok_or(format!("{peers}"))
            })
            .unwrap();
        }
    });
    // Writes acknowledged now reach the moved replicas through their Raft groups.
    upsert_ids(cluster.node(0), 20..40);
    wait_all_active(&cluster, "c");
    tokio::task::block_in_place(|| {
        wait_until("the moved node holds every point", READY_WAIT, || {
            let count = local_count(cluster.node(2));
            (count == 40).then_some(()).ok_or(count)
        })
        .unwrap();
    });
    assert_same_searches(&cluster, "c");
}

fn upsert_ids(node: &NodeProcess, ids: std::ops::Range<u64>) {
    let points: Vec<_> = ids
        .map(|p| json!({"id": p, "vector": vector(p), "payload": {"n": p}}))
        .collect();
    let path = "/collections/c/points?wait=true";
    let reply = rest(node, "PUT", path, json!({ "points": points }));
    assert_eq!(reply["result"]["status"], "completed", "{reply}");
}

/// The points a node counts from its own replicas (the default read consistency).
fn local_count(node: &NodeProcess) -> u64 {
    let count = rest(
        node,
        "POST",
        "/collections/c/points/count",
        json!({"exact": true}),
    );
    count["result"]["count"].as_u64().unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_node_routes_every_request_and_holds_no_replica() {
    let _serial = serial().await;
    let mut cluster = start_cluster(3);
    let query = tokio::task::block_in_place(|| start_query_node(&cluster));
    let query_peer = peer_id(&query);
    let raft_info = rest(&query, "GET", "/cluster", Value::Null)["result"]["raft_info"].clone();
    assert_eq!(raft_info["is_voter"], false, "{raft_info}");

    // Created and written through the query node: the replicas are on the data nodes.
    let body = json!({
        "vectors": {"size": grape_testkit::DIM, "distance": "Cosine"},
        "shard_number": 3,
        "replication_factor": 2,
    });
    rest(&query, "PUT", "/collections/c", body);
    upsert_ids(&query, 0..30);
    cluster.push(query);
    wait_all_active(&cluster, "c");
    let query = cluster.len() - 1;
    let info = collection_cluster_info(cluster.node(query), "c");
    assert_eq!(info["local_shards"], json!([]), "{info}");
    let remote = info["remote_shards"].as_array().unwrap();
    assert_eq!(remote.len(), 6, "{info}");
    assert!(remote.iter().all(|r| r["peer_id"] != query_peer), "{info}");
    let count = rest(
        cluster.node(query),
        "POST",
        "/collections/c/points/count?consistency=majority",
        json!({"exact": true}),
    );
    assert_eq!(count["result"]["count"], 30, "{count}");
    assert_same_searches(&cluster, "c");

    // No replica may move there.
    let from = remote[0]["peer_id"].clone();
    let shard = remote[0]["shard_id"].clone();
    let to_query =
        json!({"move_shard": {"shard_id": shard, "from_peer_id": from, "to_peer_id": query_peer}});
    let (code, answer) = rest_status(cluster.node(0), "POST", "/collections/c/cluster", to_query);
    assert_eq!(code, 400, "{answer}");
    assert!(
        answer["status"]["error"]
            .as_str()
            .unwrap()
            .contains("query node"),
        "{answer}"
    );

    // Stopped, it leaves; started again, it is a new peer; killed, it is forgotten.
    tokio::task::block_in_place(|| cluster.node_mut(query).terminate().unwrap());
    wait_until_not_a_peer(cluster.node(0), query_peer, Duration::from_secs(30));
    tokio::task::block_in_place(|| cluster.node_mut(query).restart().unwrap());
    let second_peer = peer_id(cluster.node(query));
    assert_ne!(second_peer, query_peer);
    tokio::task::block_in_place(|| cluster.node_mut(query).kill9().unwrap());
    wait_until_not_a_peer(cluster.node(0), second_peer, Duration::from_secs(120));
}

fn start_query_node(cluster: &Cluster) -> NodeProcess {
    NodeProcess::builder(BIN)
        .unwrap()
        .cluster_member()
        .bootstrap(cluster.node(0).p2p_uri())
        .args(["--role", "query"])
        .start()
        .unwrap()
}

fn wait_until_not_a_peer(observer: &NodeProcess, peer: u64, timeout: Duration) {
    tokio::task::block_in_place(|| {
        wait_until("the peer gone from the cluster", timeout, || {
            let peers = rest(observer, "GET", "/cluster", Value::Null)["result"]["peers"].clone();
            peers
                .get(peer.to_string())
                .map_or(Ok(()), |_| Err(format!("{peers}")))
        })
        .unwrap()
    })
}
