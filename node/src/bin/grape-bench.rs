//! `grape-bench`: builds the reference dataset (a mixture of Gaussian clusters, as in
//! `shared/reference/targets.md`), loads it into an embedded engine and prints a table of
//! recall@10, QPS and latency per `hnsw_ef`, plus the load rate and the process RSS.
//!
//! `cargo run --release -p grape-node --bin grape-bench -- --points 100000`

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use grape::collection::Collection;
use grape::engine::Engine;
use grape::types::{
    CreateCollection, NamedVector, PointId, PointOperation, PointStruct, SearchParams,
    SearchRequest, UpsertPoints, VectorStruct,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Normal};

#[derive(Parser)]
#[command(about = "Grape search benchmark on an embedded engine")]
struct Args {
    #[arg(long, default_value_t = 100_000)]
    points: usize,
    #[arg(long, default_value_t = 128)]
    dim: usize,
    #[arg(long, default_value_t = 1_000)]
    queries: usize,
    #[arg(long, default_value_t = 100)]
    clusters: usize,
    #[arg(long, default_value_t = 1_000)]
    batch: usize,
    /// Concurrent searching threads.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    #[arg(long, value_delimiter = ',', default_value = "16,32,64,128,256")]
    ef: Vec<usize>,
    #[arg(long, default_value_t = 16)]
    m: usize,
    #[arg(long, default_value_t = 100)]
    ef_construct: usize,
    /// Where the engine keeps its data (a fresh temporary folder by default).
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

const TOP: usize = 10;

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let temp = tempfile::tempdir()?;
    let dir = args
        .data_dir
        .clone()
        .unwrap_or_else(|| temp.path().to_path_buf());
    let engine = Engine::open(&dir)?;
    let (points, queries) = dataset(&args);

    let create: CreateCollection = serde_json::from_value(serde_json::json!({
        "vectors": {"size": args.dim, "distance": "Cosine"},
        "hnsw_config": {"m": args.m, "ef_construct": args.ef_construct},
    }))?;
    engine.create_collection("bench", create)?;
    let collection = engine.collection("bench")?;

    let load = load(&collection, points, args.batch)?;
    println!(
        "loaded {} × {}-d points in {:.2} s ({:.0} points/s, indexed on arrival); RSS {} MiB",
        args.points,
        args.dim,
        load.as_secs_f64(),
        args.points as f64 / load.as_secs_f64(),
        rss_mib()
    );

    let truth = ground_truth(&collection, &queries)?;
    println!(
        "\n| hnsw_ef | recall@10 | QPS, 1 thread | QPS, {} threads | p50 | p99 |",
        args.threads
    );
    println!("|---|---|---|---|---|---|");
    for &ef in &args.ef {
        let single = run_queries(&collection, &queries, ef, 1)?;
        let run = run_queries(&collection, &queries, ef, args.threads)?;
        let recall = recall(&truth, &run.results);
        println!(
            "| {ef} | {recall:.3} | {:.0} | {:.0} | {:.3} ms | {:.3} ms |",
            single.qps,
            run.qps,
            run.p50.as_secs_f64() * 1e3,
            run.p99.as_secs_f64() * 1e3
        );
    }
    println!("\nRSS after queries {} MiB", rss_mib());
    Ok(())
}

/// Points and queries drawn from the same mixture: N(0,1) centres, σ = 0.35 around them.
fn dataset(args: &Args) -> (Vec<Vec<f32>>, Vec<Vec<f32>>) {
    let mut rng = StdRng::seed_from_u64(2026);
    let unit = Normal::new(0.0f32, 1.0).expect("valid normal");
    let noise = Normal::new(0.0f32, 0.35).expect("valid normal");
    let centres: Vec<Vec<f32>> = (0..args.clusters)
        .map(|_| (0..args.dim).map(|_| unit.sample(&mut rng)).collect())
        .collect();
    let mut draw = |n: usize| -> Vec<Vec<f32>> {
        (0..n)
            .map(|_| {
                let c = &centres[rng.gen_range(0..centres.len())];
                c.iter().map(|x| x + noise.sample(&mut rng)).collect()
            })
            .collect()
    };
    let points = draw(args.points);
    let queries = draw(args.queries);
    (points, queries)
}

fn load(collection: &Collection, points: Vec<Vec<f32>>, batch: usize) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let mut id = 0u64;
    let mut points = points.into_iter().peekable();
    while points.peek().is_some() {
        let chunk: Vec<PointStruct> = points
            .by_ref()
            .take(batch)
            .map(|v| {
                id += 1;
                PointStruct {
                    id: PointId::Num(id),
                    vector: VectorStruct::Single(v),
                    payload: None,
                }
            })
            .collect();
        let op = PointOperation::Upsert(UpsertPoints::Points { points: chunk });
        collection.update(vec![op], true)?;
    }
    Ok(started.elapsed())
}

fn search(
    collection: &Collection,
    query: &[f32],
    params: SearchParams,
) -> anyhow::Result<Vec<PointId>> {
    let request = SearchRequest {
        vector: NamedVector::Default(query.to_vec()),
        filter: None,
        params: Some(params),
        limit: TOP,
        offset: None,
        with_payload: None,
        with_vector: None,
        score_threshold: None,
    };
    Ok(collection
        .search(&request)?
        .into_iter()
        .map(|p| p.id)
        .collect())
}

fn ground_truth(
    collection: &Collection,
    queries: &[Vec<f32>],
) -> anyhow::Result<Vec<Vec<PointId>>> {
    let exact = SearchParams {
        exact: true,
        ..Default::default()
    };
    queries
        .iter()
        .map(|q| search(collection, q, exact.clone()))
        .collect()
}

/// A query's index, the ids it found and how long it took.
type Timed = (usize, Vec<PointId>, Duration);

struct Run {
    results: Vec<Vec<PointId>>,
    qps: f64,
    p50: Duration,
    p99: Duration,
}

/// Runs every query once, spread over `threads` threads pulling from a shared counter.
fn run_queries(
    collection: &Collection,
    queries: &[Vec<f32>],
    ef: usize,
    threads: usize,
) -> anyhow::Result<Run> {
    let params = SearchParams {
        hnsw_ef: Some(ef),
        ..Default::default()
    };
    let next = AtomicUsize::new(0);
    let started = Instant::now();
    let per_thread: Vec<anyhow::Result<Vec<Timed>>> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads.max(1))
            .map(|_| {
                s.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(q) = queries.get(i) else { break };
                        let t = Instant::now();
                        let ids = search(collection, q, params.clone())?;
                        done.push((i, ids, t.elapsed()));
                    }
                    Ok(done)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("search thread panicked"))
            .collect()
    });
    let elapsed = started.elapsed();
    let mut results = vec![Vec::new(); queries.len()];
    let mut latencies = Vec::with_capacity(queries.len());
    for done in per_thread {
        for (i, ids, latency) in done? {
            results[i] = ids;
            latencies.push(latency);
        }
    }
    latencies.sort();
    let pick = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    Ok(Run {
        results,
        qps: queries.len() as f64 / elapsed.as_secs_f64(),
        p50: pick(0.50),
        p99: pick(0.99),
    })
}

fn recall(truth: &[Vec<PointId>], found: &[Vec<PointId>]) -> f64 {
    let hits: usize = truth
        .iter()
        .zip(found)
        .map(|(t, f)| t.iter().filter(|id| f.contains(id)).count())
        .sum();
    let wanted: usize = truth.iter().map(Vec::len).sum();
    hits as f64 / wanted.max(1) as f64
}

/// Resident set size of this process, from /proc (0 where unavailable).
fn rss_mib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb / 1024)
}
