//! A rolling upgrade and a pod deletion under a writing client, on a real control plane and
//! real grape-node pods (where: `common::Scenario`): changing `spec.image`
//! restarts the data pods one at a time, highest ordinal first, while single-point
//! `wait=true` writes keep being acknowledged; afterwards every acknowledged point is there.
//! A deleted pod comes back with its Raft identity and the cluster is Available again.

mod common;

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use common::PodLogs;
use grape_k8s_harness::apply;
use grape_operator::crd::VectorCluster;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use kube::Client;
use reqwest::Method;
use serde_json::json;

const NS: &str = "upgrade";
const PODS: [&str; 3] = ["vec-0", "vec-1", "vec-2"];

// Three replicas per shard on three nodes: one restarting node leaves a majority of every
// shard group, so writes go on throughout the rollout.
const CLUSTER: &str = r#"
apiVersion: grape.io/v1alpha1
kind: VectorCluster
metadata: {name: vec, namespace: upgrade}
spec:
  replicas: 3
  image: grape-node:dev
  storage: {size: 1Gi, retentionPolicy: Delete}
  collectionDefaults: {shardNumber: 3, replicationFactor: 3}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rolling_upgrade_and_pod_deletion_keep_every_acknowledged_write() -> Result<()> {
    let scenario = common::Scenario::start(NS).await?;
    let client = scenario.client.clone();
    apply(&client, CLUSTER).await?;
    let clusters: Api<VectorCluster> = Api::namespaced(client.clone(), NS);
    let long = Duration::from_secs(300);
    common::wait_running(&scenario, &clusters, "vec", 3, long).await?;

    let http = reqwest::Client::new();
    let rest = rest_url(&client, "vec-0").await?;
    let body = json!({"vectors": {"size": 4, "distance": "Dot"}});
    common::send(
        &http,
        Method::PUT,
        &format!("{rest}/collections/docs"),
        body,
    )
    .await?;

    let writer = Writer::start(client.clone());
    writer.wait_acknowledged(50).await?;

    // The upgrade: every pod restarts once, highest ordinal first, never two at a time.
    let before = pod_uids(&client).await?;
    let patch = Patch::Merge(json!({"spec": {"image": "grape-node:v2"}}));
    clusters
        .patch("vec", &PatchParams::default(), &patch)
        .await?;
    let restarted: RefCell<Vec<&str>> = RefCell::default();
    let most_unready = Cell::new(0);
    common::wait_for("every pod restarted on the new image", long, || async {
        let pods = data_pods(&client).await?;
        let unready = pods.values().filter(|p| !p.ready).count();
        most_unready.set(most_unready.get().max(unready));
        let status = clusters.get_status("vec").await?.status.unwrap_or_default();
        let mut restarted = restarted.borrow_mut();
        for name in PODS {
            let renewed = pods.get(name).is_some_and(|p| p.uid != before[name]);
            if renewed && !restarted.contains(&name) {
                restarted.push(name);
            }
        }
        ensure!(
            restarted.len() == PODS.len()
                && status.current_image.as_deref() == Some("grape-node:v2")
                && pods.values().all(|p| p.ready),
            "restarted {restarted:?}, current image {:?}",
            status.current_image
        );
        Ok(())
    })
    .await
    .with_context(|| scenario.pod_logs())?;
    let restarted = restarted.into_inner();
    let most_unready = most_unready.get();
    ensure!(
        restarted == ["vec-2", "vec-1", "vec-0"],
        "restart order {restarted:?}"
    );
    ensure!(
        most_unready <= 1,
        "{most_unready} data pods were down at once"
    );
    common::wait_running(&scenario, &clusters, "vec", 3, long).await?;
    let during_upgrade = writer.acknowledged();
    writer.wait_acknowledged(during_upgrade + 50).await?;

    // A deleted pod returns under its name and rejoins with its peer id.
    let peer_of = |status: &grape_operator::crd::VectorClusterStatus, pod: &str| {
        status
            .nodes
            .iter()
            .find(|n| n.name == pod)
            .and_then(|n| n.peer_id.clone())
    };
    let status = clusters.get_status("vec").await?.status.unwrap_or_default();
    let peer = peer_of(&status, "vec-1").context("vec-1 reported no peer id")?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
    let uid = pod_uids(&client).await?["vec-1"].clone();
    pods.delete("vec-1", &DeleteParams::default()).await?;
    common::wait_for("vec-1 recreated", long, || async {
        let uids = pod_uids(&client).await?;
        ensure!(uids.get("vec-1").is_some_and(|u| *u != uid), "not yet");
        Ok(())
    })
    .await?;
    let status = common::wait_running(&scenario, &clusters, "vec", 3, long).await?;
    ensure!(
        peer_of(&status, "vec-1") == Some(peer.clone()),
        "vec-1 came back as {:?}, was {peer}",
        peer_of(&status, "vec-1")
    );
    let after_deletion = writer.acknowledged();
    writer.wait_acknowledged(after_deletion + 50).await?;

    let acknowledged = writer.stop().await;
    let rest = rest_url(&client, "vec-0").await?;
    let missing = missing_points(&http, &rest, &acknowledged).await?;
    ensure!(
        missing.is_empty(),
        "{} of {} acknowledged writes lost, e.g. {:?}",
        missing.len(),
        acknowledged.len(),
        missing.iter().take(10).collect::<Vec<_>>()
    );
    eprintln!(
        "{} writes acknowledged: {during_upgrade} before the upgrade ended, {after_deletion} \
         before the deletion ended",
        acknowledged.len()
    );
    scenario.finish().await?;
    Ok(())
}

/// A data pod's identity and readiness.
struct PodState {
    uid: String,
    ready: bool,
}

async fn data_pods(client: &Client) -> Result<BTreeMap<String, PodState>> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
    let list = pods.list(&ListParams::default()).await?;
    Ok(list
        .items
        .into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .filter_map(|p| {
            let name = p.metadata.name.clone()?;
            let ready = p
                .status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
            let uid = p.metadata.uid.clone()?;
            Some((name, PodState { uid, ready }))
        })
        .collect())
}

async fn pod_uids(client: &Client) -> Result<BTreeMap<String, String>> {
    let pods = data_pods(client).await?;
    Ok(pods.into_iter().map(|(name, p)| (name, p.uid)).collect())
}

async fn rest_url(client: &Client, pod: &str) -> Result<String> {
    Ok(format!(
        "http://{}:6333",
        common::pod_ip(client, NS, pod).await?
    ))
}

/// A client upserting one point per request with `wait=true`, each to the next data pod
/// (pod IPs looked up again after a failure, since a restarted pod may get a new one); it
/// records the ids whose write was acknowledged. A failed write is not retried: its point
/// may or may not exist, and nothing is asserted about it.
struct Writer {
    acknowledged: Arc<Mutex<BTreeSet<u64>>>,
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Writer {
    fn start(client: Client) -> Writer {
        let acknowledged = Arc::new(Mutex::new(BTreeSet::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let task = tokio::spawn(write_until(client, acknowledged.clone(), stop.clone()));
        Writer {
            acknowledged,
            stop,
            task,
        }
    }

    fn acknowledged(&self) -> usize {
        self.acknowledged.lock().unwrap().len()
    }

    /// Waits until `n` writes in all are acknowledged: the cluster takes writes.
    async fn wait_acknowledged(&self, n: usize) -> Result<()> {
        let what = format!("{n} acknowledged writes");
        common::wait_for(&what, Duration::from_secs(120), || async {
            let done = self.acknowledged();
            ensure!(done >= n, "{done} so far");
            Ok(())
        })
        .await
    }

    async fn stop(self) -> BTreeSet<u64> {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.task.await;
        let acknowledged = self.acknowledged.lock().unwrap();
        acknowledged.clone()
    }
}

async fn write_until(
    client: Client,
    acknowledged: Arc<Mutex<BTreeSet<u64>>>,
    stop: Arc<AtomicBool>,
) {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("http client");
    let mut urls: Vec<String> = Vec::new();
    let mut id = 0u64;
    while !stop.load(Ordering::Relaxed) {
        if urls.is_empty() {
            urls = pod_urls(&client).await;
            if urls.is_empty() {
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        }
        let url = format!(
            "{}/collections/docs/points?wait=true",
            urls[id as usize % urls.len()]
        );
        let point = json!({"id": id, "vector": [id as f32, 1.0, 0.5, -1.0], "payload": {"n": id}});
        let body = json!({ "points": [point] });
        match common::send(&http, Method::PUT, &url, body).await {
            Ok(_) => {
                acknowledged.lock().unwrap().insert(id);
            }
            Err(_) => urls.clear(),
        }
        id += 1;
    }
}

async fn pod_urls(client: &Client) -> Vec<String> {
    let mut urls = Vec::new();
    for pod in PODS {
        if let Ok(url) = rest_url(client, pod).await {
            urls.push(url);
        }
    }
    urls
}

/// The acknowledged ids that are missing or whose payload is not theirs.
async fn missing_points(
    http: &reqwest::Client,
    rest: &str,
    acknowledged: &BTreeSet<u64>,
) -> Result<Vec<u64>> {
    // Read through the shard leaders: a local follower may not have applied the last writes.
    let url = format!("{rest}/collections/docs/points?consistency=majority");
    let body = json!({"ids": acknowledged, "with_payload": true});
    let answer = common::send(http, Method::POST, &url, body).await?;
    let points = answer["result"].as_array().context("no result")?;
    let intact: BTreeSet<u64> = points
        .iter()
        .filter(|p| p["payload"]["n"] == p["id"])
        .filter_map(|p| p["id"].as_u64())
        .collect();
    Ok(acknowledged.difference(&intact).copied().collect())
}
