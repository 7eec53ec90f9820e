//! `grape-cluster-bench`: measures the cluster on this machine with real `grape-node`
//! processes (each on its own loopback address) and the official Rust client, and prints a
//! table per measurement:
//!
//! 1. replicated write latency (p50/p99) and throughput at replication factor 1 and 3;
//! 2. failover: time from `kill -9` of a shard leader to the next acknowledged write;
//! 3. search QPS through a three-node cluster against a single node;
//! 4. shard transfer: throughput of moving a 100k × 128-d shard between two nodes, and search
//!    latency during the move against at rest.
//!
//! ```sh
//! cargo build --release -p grape-node -p grape-testkit
//! target/release/grape-cluster-bench --node target/release/grape-node [--only transfer]
//! ```

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use grape_testkit::{shard_leaders, wait_until, Cluster, NodeProcess};
use qdrant_client::qdrant::{
    CreateCollectionBuilder, Distance, PointStruct, QueryPointsBuilder, UpsertPointsBuilder,
    VectorParamsBuilder,
};
use qdrant_client::{Payload, Qdrant};
use rand::{Rng, SeedableRng};

const DIM: usize = 128;

/// Measures replicated writes, failover, search and shard transfer on real processes.
#[derive(Parser)]
struct Args {
    /// The grape-node binary to run (a release build for meaningful figures).
    #[arg(long, env = "GRAPE_NODE_BIN", default_value_t = default_node())]
    node: String,
    /// Seconds of load per write and search measurement.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Leader kills to time.
    #[arg(long, default_value_t = 10)]
    failovers: usize,
    /// Points loaded for the search measurement.
    #[arg(long, default_value_t = 20_000)]
    points: usize,
    /// Points in the shard that the transfer measurement moves.
    #[arg(long, default_value_t = 100_000)]
    transfer_points: usize,
    /// Run only this measurement.
    #[arg(long, value_enum)]
    only: Option<Measurement>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Measurement {
    Writes,
    Failover,
    Search,
    Transfer,
}

fn default_node() -> String {
    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    format!("{target}/release/grape-node")
}

fn client(url: &str) -> Qdrant {
    Qdrant::from_url(url)
        .skip_compatibility_check()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

fn random_vector(rng: &mut impl Rng) -> Vec<f32> {
    (0..DIM).map(|_| rng.gen_range(-1.0..1.0)).collect()
}

async fn create(url: &str, name: &str, shards: u32, replicas: u32) {
    client(url)
        .create_collection(
            CreateCollectionBuilder::new(name)
                .vectors_config(VectorParamsBuilder::new(DIM as u64, Distance::Cosine))
                .shard_number(shards)
                .replication_factor(replicas),
        )
        .await
        .expect("create collection");
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// Single-point upserts with `wait=true` from `writers` tasks for `seconds`, spread over the
/// nodes; returns every latency.
async fn write_load(urls: &[String], name: &str, writers: usize, seconds: u64) -> Vec<Duration> {
    let stop = Arc::new(AtomicBool::new(false));
    let tasks: Vec<_> = (0..writers)
        .map(|w| {
            let (client, name, stop) = (
                client(&urls[w % urls.len()]),
                name.to_string(),
                stop.clone(),
            );
            tokio::spawn(async move {
                let mut rng = rand::rngs::StdRng::seed_from_u64(w as u64);
                let mut latencies = Vec::new();
                let mut id = w as u64;
                while !stop.load(Ordering::Relaxed) {
                    let point = PointStruct::new(id, random_vector(&mut rng), Payload::new());
                    let started = Instant::now();
                    let request = UpsertPointsBuilder::new(&name, vec![point]).wait(true);
                    if client.upsert_points(request).await.is_ok() {
                        latencies.push(started.elapsed());
                    }
                    id += writers as u64;
                }
                latencies
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.expect("writer"));
    }
    all.sort();
    all
}

async fn bench_writes(args: &Args) {
    println!("\n## Replicated writes (single-point upserts, wait=true, 8 writers over 3 nodes)\n");
    println!("| replication factor | writes/s | p50 | p99 |");
    println!("|---|---|---|---|");
    for replicas in [1, 3] {
        let cluster = Cluster::start(&args.node, 3).expect("cluster");
        cluster
            .wait_formed(Duration::from_secs(60))
            .expect("formed");
        let urls = cluster.grpc_urls();
        create(&urls[0], "w", 3, replicas).await;
        wait_ready(&cluster);
        let latencies = write_load(&urls, "w", 8, args.seconds).await;
        println!(
            "| {replicas} | {:.0} | {} | {} |",
            latencies.len() as f64 / args.seconds as f64,
            ms(percentile(&latencies, 0.5)),
            ms(percentile(&latencies, 0.99)),
        );
    }
}

fn wait_ready(cluster: &Cluster) {
    for node in cluster.nodes() {
        let url = format!("{}/readyz", node.rest_url());
        wait_until("ready", Duration::from_secs(60), || {
            ureq::get(&url)
                .call()
                .map(|_| ())
                .map_err(|e| e.to_string())
        })
        .expect("ready");
    }
}

/// The node leading the collection's only shard, by index.
async fn shard_leader(cluster: &Cluster, name: &str) -> usize {
    shard_leaders(cluster.nodes(), name, Duration::from_secs(60))
        .await
        .expect("a shard leader")[0]
}

async fn bench_failover(args: &Args) {
    let mut cluster = Cluster::start(&args.node, 3).expect("cluster");
    cluster
        .wait_formed(Duration::from_secs(60))
        .expect("formed");
    let urls = cluster.grpc_urls();
    create(&urls[0], "f", 1, 3).await;
    wait_ready(&cluster);
    let mut gaps = Vec::new();
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    for round in 0..args.failovers {
        let victim = shard_leader(&cluster, "f").await;
        let writer = client(&urls[(victim + 1) % urls.len()]);
        let killed = Instant::now();
        tokio::task::block_in_place(|| cluster.node_mut(victim).kill9().expect("kill"));
        loop {
            let point = PointStruct::new(round as u64, random_vector(&mut rng), Payload::new());
            let request = UpsertPointsBuilder::new("f", vec![point]).wait(true);
            if writer.upsert_points(request).await.is_ok() {
                break;
            }
        }
        gaps.push(killed.elapsed());
        tokio::task::block_in_place(|| cluster.node_mut(victim).restart().expect("restart"));
        wait_ready(&cluster);
    }
    gaps.sort();
    println!(
        "\n## Failover (kill -9 of the shard leader → next acknowledged write, {} rounds)\n",
        gaps.len()
    );
    println!("| median | min | max |");
    println!("|---|---|---|");
    println!(
        "| {} | {} | {} |",
        ms(percentile(&gaps, 0.5)),
        ms(gaps[0]),
        ms(*gaps.last().unwrap())
    );
}

async fn load_points(url: &str, name: &str, n: usize) {
    let client = client(url);
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    for start in (0..n).step_by(500) {
        let points: Vec<PointStruct> = (start..(start + 500).min(n))
            .map(|i| PointStruct::new(i as u64, random_vector(&mut rng), Payload::new()))
            .collect();
        client
            .upsert_points(UpsertPointsBuilder::new(name, points).wait(true))
            .await
            .expect("load");
    }
}

async fn search_qps(urls: &[String], name: &str, seconds: u64) -> f64 {
    let stop = Arc::new(AtomicBool::new(false));
    let tasks: Vec<_> = (0..8)
        .map(|t| {
            let (client, name, stop) = (
                client(&urls[t % urls.len()]),
                name.to_string(),
                stop.clone(),
            );
            tokio::spawn(async move {
                let mut rng = rand::rngs::StdRng::seed_from_u64(100 + t as u64);
                let mut done = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    let request = QueryPointsBuilder::new(&name)
                        .query(random_vector(&mut rng))
                        .limit(10);
                    if client.query(request).await.is_ok() {
                        done += 1;
                    }
                }
                done
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut total = 0;
    for task in tasks {
        total += task.await.expect("searcher");
    }
    total as f64 / seconds as f64
}

async fn bench_search(args: &Args) {
    println!(
        "\n## Search QPS ({} × {DIM}-d points, top-10, 8 clients)\n",
        args.points
    );
    println!("| setup | QPS |");
    println!("|---|---|");
    {
        let node = NodeProcess::start(&args.node).expect("node");
        let url = node.grpc_url();
        create(&url, "s", 1, 1).await;
        load_points(&url, "s", args.points).await;
        let qps = search_qps(&[url], "s", args.seconds).await;
        println!("| one node, 1 shard | {qps:.0} |");
    }
    let cluster = Cluster::start(&args.node, 3).expect("cluster");
    cluster
        .wait_formed(Duration::from_secs(60))
        .expect("formed");
    let urls = cluster.grpc_urls();
    create(&urls[0], "s", 3, 3).await;
    wait_ready(&cluster);
    load_points(&urls[0], "s", args.points).await;
    let qps = search_qps(&urls, "s", args.seconds).await;
    println!("| 3 nodes, 3 shards × 3 replicas, clients on every node | {qps:.0} |");
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args = Args::parse();
    println!("grape-cluster-bench with {}", args.node);
    let runs = |measurement| args.only.is_none_or(|only| only == measurement);
    if runs(Measurement::Writes) {
        bench_writes(&args).await;
    }
    if runs(Measurement::Failover) {
        bench_failover(&args).await;
    }
    if runs(Measurement::Search) {
        bench_search(&args).await;
    }
    if runs(Measurement::Transfer) {
        bench_transfer(&args).await;
    }
}

/// Sequential searches until `stop`; returns every latency.
async fn search_latencies(url: String, name: String, stop: Arc<AtomicBool>) -> Vec<Duration> {
    let client = client(&url);
    let mut rng = rand::rngs::StdRng::seed_from_u64(5);
    let mut latencies = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let request = QueryPointsBuilder::new(&name)
            .query(random_vector(&mut rng))
            .limit(10);
        let started = Instant::now();
        if client.query(request).await.is_ok() {
            latencies.push(started.elapsed());
        }
    }
    latencies.sort();
    latencies
}

/// Searches for `seconds` (or until `until` completes) and returns the latencies.
async fn latencies_while<F: std::future::Future>(
    url: &str,
    name: &str,
    until: F,
) -> (Vec<Duration>, F::Output) {
    let stop = Arc::new(AtomicBool::new(false));
    let searcher = tokio::spawn(search_latencies(url.into(), name.into(), stop.clone()));
    let output = until.await;
    stop.store(true, Ordering::Relaxed);
    (searcher.await.expect("searcher"), output)
}

/// The admin view of the one transfer in flight: its snapshot size, once known.
async fn transfer_bytes(cluster: &Cluster) -> Option<(bool, u64)> {
    let info = grape_testkit::cluster_info(cluster.nodes()).await.ok()?;
    let bytes = info
        .transfers
        .iter()
        .filter_map(|t| t.progress.as_ref())
        .map(|p| p.bytes_total)
        .max()
        .unwrap_or(0);
    Some((!info.transfers.is_empty(), bytes))
}

async fn bench_transfer(args: &Args) {
    let points = args.transfer_points;
    println!("\n## Shard transfer ({points} × {DIM}-d points, one shard, loopback)\n");
    let cluster = Cluster::start(&args.node, 2).expect("cluster");
    cluster
        .wait_formed(Duration::from_secs(60))
        .expect("formed");
    let urls = cluster.grpc_urls();
    create(&urls[0], "t", 1, 1).await;
    wait_ready(&cluster);
    load_points(&urls[0], "t", points).await;
    let info = grape_testkit::cluster_info(cluster.nodes())
        .await
        .expect("cluster info");
    let shard = &info
        .collections
        .iter()
        .find(|c| c.name == "t")
        .expect("t")
        .shards[0];
    let from = shard.replicas[0].peer_id;
    let to = info
        .peers
        .iter()
        .map(|p| p.peer_id)
        .find(|p| *p != from)
        .expect("a second peer");
    let searched = grape_testkit::node_of_peer(cluster.nodes(), &info, from).expect("source");
    let search_url = cluster.node(searched).grpc_url();

    let (at_rest, ()) = latencies_while(
        &search_url,
        "t",
        tokio::time::sleep(Duration::from_secs(args.seconds)),
    )
    .await;
    let started = Instant::now();
    let body =
        serde_json::json!({"move_shard": {"shard_id": 0, "from_peer_id": from, "to_peer_id": to}});
    let url = format!("{}/collections/t/cluster", cluster.node(0).rest_url());
    tokio::task::block_in_place(|| ureq::post(&url).send_json(body).map_err(Box::new))
        .expect("move_shard");
    let (during, bytes) = latencies_while(&search_url, "t", async {
        let mut bytes = 0;
        loop {
            match transfer_bytes(&cluster).await {
                Some((false, _)) => return bytes,
                Some((true, b)) => bytes = bytes.max(b),
                None => {}
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await;
    let took = started.elapsed().as_secs_f64();
    println!("| points/s | MB/s (snapshot) | took | search p50 / p99 at rest | during the move |");
    println!("|---|---|---|---|---|");
    println!(
        "| {:.0} | {:.1} | {took:.1} s | {} / {} | {} / {} |",
        points as f64 / took,
        bytes as f64 / 1e6 / took,
        ms(percentile(&at_rest, 0.5)),
        ms(percentile(&at_rest, 0.99)),
        ms(percentile(&during, 0.5)),
        ms(percentile(&during, 0.99)),
    );
}
