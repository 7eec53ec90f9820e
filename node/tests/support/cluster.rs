//! Driving a cluster of real nodes from tests: start it, create replicated collections, find
//! shard leaders, run a workload, and check that every node converged to what the workload's
//! history allows.

use std::time::{Duration, Instant};

use grape_testkit::{
    read_back, wait_until, Cluster, History, NodeProcess, ObservedPoint, Report, Workload,
    WorkloadConfig, DIM,
};
use serde_json::{json, Value};

pub const BIN: &str = env!("CARGO_BIN_EXE_grape-node");
/// How long a restarted node may take to be ready (it waits for its groups' leaders).
pub const READY_WAIT: Duration = Duration::from_secs(90);
/// How long replicas may take to agree again after a fault.
const CONVERGE_WAIT: Duration = Duration::from_secs(90);

/// Runs blocking test code (HTTP calls, process control) without stalling the runtime.
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(_) => tokio::task::block_in_place(f),
        Err(_) => f(),
    }
}

pub fn start_cluster(size: usize) -> Cluster {
    blocking(|| {
        let cluster = Cluster::start(BIN, size).unwrap();
        cluster.wait_formed(Duration::from_secs(60)).unwrap();
        cluster
    })
}

/// A deterministic test vector.
pub fn vector(seed: u64) -> Vec<f32> {
    let x = seed as f32;
    vec![x.cos(), x.sin(), (x * 0.7).cos(), 0.5]
}

fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(30))
        .build()
}

/// A REST call and its status and body (`null` when the body is not JSON).
pub fn rest_status(node: &NodeProcess, method: &str, path: &str, body: Value) -> (u16, Value) {
    let url = format!("{}{path}", node.rest_url());
    blocking(|| {
        let request = agent().request(method, &url);
        let answer = if method == "GET" {
            request.call()
        } else {
            request.send_json(body)
        };
        match answer {
            Ok(response) => (
                response.status(),
                response.into_json().unwrap_or(Value::Null),
            ),
            Err(ureq::Error::Status(code, response)) => {
                (code, response.into_json().unwrap_or(Value::Null))
            }
            Err(e) => panic!("{method} {url}: {e}"),
        }
    })
}

/// A REST call that must succeed.
pub fn rest(node: &NodeProcess, method: &str, path: &str, body: Value) -> Value {
    let (code, answer) = rest_status(node, method, path, body);
    assert!(
        code < 300,
        "{method} {path} on {}: {code} {answer}",
        node.ip()
    );
    answer
}

pub fn collection_cluster_info(node: &NodeProcess, collection: &str) -> Value {
    let path = format!("/collections/{collection}/cluster");
    rest(node, "GET", &path, Value::Null)["result"].clone()
}

pub fn peer_id(node: &NodeProcess) -> u64 {
    rest(node, "GET", "/cluster", Value::Null)["result"]["peer_id"]
        .as_u64()
        .expect("a peer id")
}

/// Creates a collection of the workload's vectors and waits until every replica is active.
pub fn create_collection(cluster: &Cluster, name: &str, shards: u32, replicas: u32, wcf: u32) {
    let body = json!({
        "vectors": {"size": DIM, "distance": "Cosine"},
        "shard_number": shards,
        "replication_factor": replicas,
        "write_consistency_factor": wcf,
    });
    rest(
        cluster.node(0),
        "PUT",
        &format!("/collections/{name}"),
        body,
    );
    wait_all_active(cluster, name);
}

/// The state of every replica as `node` reports it.
fn replica_states(node: &NodeProcess, collection: &str) -> Vec<(u64, u64, String)> {
    let info = collection_cluster_info(node, collection);
    let me = info["peer_id"].as_u64().unwrap();
    let local = info["local_shards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (me, s));
    let remote = info["remote_shards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["peer_id"].as_u64().unwrap(), s));
    local
        .chain(remote)
        .map(|(peer, s)| {
            let shard = s["shard_id"].as_u64().unwrap();
            (shard, peer, s["state"].as_str().unwrap().to_string())
        })
        .collect()
}

/// Waits until every node is ready and reports every replica active.
pub fn wait_all_active(cluster: &Cluster, collection: &str) {
    wait_all_active_on(cluster.nodes(), collection)
}

/// Waits until each of `nodes` is ready and reports every replica active.
pub fn wait_all_active_on(nodes: &[NodeProcess], collection: &str) {
    blocking(|| {
        wait_until("every replica active on every node", CONVERGE_WAIT, || {
            for node in nodes {
                let (code, _) = rest_status(node, "GET", "/readyz", Value::Null);
                if code != 200 {
                    return Err(format!("{} not ready", node.ip()));
                }
                // A node may not have installed a new collection yet.
                let path = format!("/collections/{collection}/cluster");
                let (code, _) = rest_status(node, "GET", &path, Value::Null);
                if code != 200 {
                    return Err(format!("{} answers {code} for {path}", node.ip()));
                }
                let states = replica_states(node, collection);
                if let Some(bad) = states.iter().find(|(_, _, s)| s != "Active") {
                    return Err(format!("{} reports {bad:?}", node.ip()));
                }
            }
            Ok(())
        })
        .unwrap()
    })
}

/// Waits until `observer` reports every replica of `peer` in `state`.
pub fn wait_for_replica_state(observer: &NodeProcess, collection: &str, peer: u64, state: &str) {
    blocking(|| {
        wait_until(&format!("peer {peer} {state}"), CONVERGE_WAIT, || {
            let states = replica_states(observer, collection);
            let of_peer: Vec<_> = states.iter().filter(|(_, p, _)| *p == peer).collect();
            if !of_peer.is_empty() && of_peer.iter().all(|(_, _, s)| s == state) {
                Ok(())
            } else {
                Err(format!("{of_peer:?}"))
            }
        })
        .unwrap()
    })
}

/// The leader of each shard of `collection`, by node index (waits until each has one).
pub fn shard_leaders(cluster: &Cluster, collection: &str) -> Vec<usize> {
    blocking(|| {
        tokio::runtime::Handle::current()
            .block_on(grape_testkit::shard_leaders(
                cluster.nodes(),
                collection,
                CONVERGE_WAIT,
            ))
            .unwrap()
    })
}

fn leaders_per_node(cluster: &Cluster, collection: &str) -> Vec<usize> {
    let mut count = vec![0; cluster.len()];
    for leader in shard_leaders(cluster, collection) {
        count[leader] += 1;
    }
    count
}

pub fn node_leading_most_shards(cluster: &Cluster, collection: &str) -> usize {
    let count = leaders_per_node(cluster, collection);
    (0..count.len()).max_by_key(|&i| count[i]).unwrap()
}

pub fn node_leading_fewest_shards(cluster: &Cluster, collection: &str) -> usize {
    let count = leaders_per_node(cluster, collection);
    (0..count.len()).min_by_key(|&i| count[i]).unwrap()
}

/// Two writers and a reader through every node; requests wait long enough to ride out an
/// election.
pub fn workload_config(cluster: &Cluster, collection: &str) -> WorkloadConfig {
    WorkloadConfig {
        timeout: Duration::from_secs(20),
        pace: Duration::from_millis(5),
        ..WorkloadConfig::new(cluster.grpc_urls(), collection)
    }
}

pub fn start_workload(cluster: &Cluster, collection: &str) -> Workload {
    Workload::start(workload_config(cluster, collection)).unwrap()
}

pub async fn wait_for_acks(workload: &Workload, acked: usize) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while workload.acked_writes() < acked {
        assert!(
            Instant::now() < deadline,
            "only {} of {acked} writes acknowledged in time",
            workload.acked_writes()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Stops the workload and checks every node against its history.
pub async fn finish(workload: Workload, cluster: &Cluster, collection: &str) -> Report {
    let history = workload.stop().await;
    verify_everywhere(&history, cluster, collection).await
}

/// Waits until every node holds the same points, then checks them against the history and
/// compares the nodes' search answers.
pub async fn verify_everywhere(history: &History, cluster: &Cluster, collection: &str) -> Report {
    verify_on(history, cluster.nodes(), collection).await
}

/// [`verify_everywhere`] over some nodes of a cluster.
pub async fn verify_on(history: &History, nodes: &[NodeProcess], collection: &str) -> Report {
    wait_all_active_on(nodes, collection);
    let deadline = Instant::now() + CONVERGE_WAIT;
    let points = loop {
        let mut per_node: Vec<Vec<ObservedPoint>> = Vec::new();
        for node in nodes {
            let mut points = read_back(&node.grpc_url(), collection).await.unwrap();
            points.sort_by_key(|p| p.id);
            per_node.push(points);
        }
        if per_node.windows(2).all(|w| w[0] == w[1]) {
            break per_node.swap_remove(0);
        }
        let sizes: Vec<usize> = per_node.iter().map(Vec::len).collect();
        assert!(
            Instant::now() < deadline,
            "replicas did not converge: points per node {sizes:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let report = history.verify(&points);
    eprintln!("{report}");
    assert!(report.is_consistent(), "{report}");
    assert!(report.writes.acked > 0, "{report}");
    assert_same_searches_on(nodes, collection);
    report
}

/// Every node answers the same searches with the same points and scores.
pub fn assert_same_searches(cluster: &Cluster, collection: &str) {
    assert_same_searches_on(cluster.nodes(), collection)
}

pub fn assert_same_searches_on(nodes: &[NodeProcess], collection: &str) {
    for seed in 0..5u64 {
        let body = json!({"vector": vector(1000 + seed), "limit": 10});
        let path = format!("/collections/{collection}/points/search");
        let answers: Vec<Value> = nodes
            .iter()
            .map(|node| {
                let hits = rest(node, "POST", &path, body.clone())["result"].clone();
                let ranked: Vec<Value> = hits
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|h| json!([h["id"], h["score"]]))
                    .collect();
                Value::Array(ranked)
            })
            .collect();
        assert!(
            answers.windows(2).all(|w| w[0] == w[1]),
            "nodes disagree on a search: {answers:?}"
        );
    }
}
