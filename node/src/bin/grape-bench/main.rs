//! `grape-bench`: builds the reference dataset (a mixture of Gaussian clusters, as in
//! `shared/reference/targets.md`), loads it into Grape and prints a table of recall@10, QPS
//! and latency per `hnsw_ef`, plus the load rate and memory.
//!
//! Three targets: `embedded` (the engine in this process, searched from threads), `grpc` (a
//! grape-node server driven through the official `qdrant-client` crate with several requests
//! in flight, as the reference figures were measured) and `rest` (the same over HTTP/JSON).
//! Without `--url` a node is started from the `grape-node` binary next to this one, with
//! data in a temporary folder.
//!
//! `cargo run --release -p grape-node --bin grape-bench -- --target grpc`
//!
//! `--quantization none,int8,binary,pq` compares quantization settings instead (embedded).

mod dataset;
mod embedded;
mod filtered;
mod grpc;
mod local_node;
mod quantized;
mod rest;

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};

use dataset::Dataset;

#[derive(Parser)]
#[command(about = "Grape search benchmark")]
pub struct Args {
    #[arg(long, value_enum, default_value_t = Target::Embedded)]
    target: Target,
    /// Address of a running node's gRPC or REST API; a node is started when absent.
    #[arg(long)]
    url: Option<String>,
    #[arg(long, default_value_t = 100_000)]
    points: usize,
    #[arg(long, default_value_t = 128)]
    dim: usize,
    #[arg(long, default_value_t = 1_000)]
    queries: usize,
    #[arg(long, default_value_t = 100)]
    clusters: usize,
    /// σ of the points around their cluster centre (whose components are N(0, 1)). At 0.35
    /// a cluster's points share most component signs, which defeats binary codes; at 1.0
    /// neighbours sit at cosines of about 0.5, more like text embeddings.
    #[arg(long, default_value_t = 0.35)]
    noise: f32,
    #[arg(long, default_value_t = 1_000)]
    batch: usize,
    /// Concurrent searches: threads (embedded) or requests in flight (grpc).
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    #[arg(long, value_delimiter = ',', default_value = "16,32,64,128,256")]
    ef: Vec<usize>,
    #[arg(long, default_value_t = 16)]
    m: usize,
    #[arg(long, default_value_t = 100)]
    ef_construct: usize,
    /// Also measure filtered search across selectivities (embedded target).
    #[arg(long)]
    filtered: bool,
    /// `hnsw_ef` of the filtered searches.
    #[arg(long, default_value_t = 64)]
    ef_filtered: usize,
    /// Instead of the default table, one table per quantization setting (embedded target),
    /// e.g. `none,int8,binary,pq`.
    #[arg(long, value_enum, value_delimiter = ',')]
    quantization: Vec<quantized::Setting>,
    /// Candidates gathered with the codes per result, before re-scoring.
    #[arg(long, default_value_t = 4.0)]
    oversampling: f64,
    /// Where the engine keeps its data (a fresh temporary folder by default).
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Target {
    Embedded,
    Grpc,
    Rest,
}

/// Number of neighbours asked for and scored.
pub const TOP: usize = 10;

/// One pass over all queries at one `hnsw_ef`.
pub struct Run {
    pub results: Vec<Vec<u64>>,
    pub qps: f64,
    pub p50: Duration,
    pub p99: Duration,
}

/// A query's index, the ids it found and how long it took.
pub type Timed = (usize, Vec<u64>, Duration);

impl Run {
    /// Gathers per-query outcomes (in any order) of a pass that took `elapsed`.
    pub fn from_timed(queries: usize, timed: Vec<Timed>, elapsed: Duration) -> Run {
        let mut results = vec![Vec::new(); queries];
        let mut latencies = Vec::with_capacity(queries);
        for (i, ids, latency) in timed {
            results[i] = ids;
            latencies.push(latency);
        }
        latencies.sort();
        Run {
            results,
            qps: queries as f64 / elapsed.as_secs_f64(),
            p50: dataset::quantile(&latencies, 0.50),
            p99: dataset::quantile(&latencies, 0.99),
        }
    }
}

/// What a target reports after loading the dataset.
pub struct Loaded {
    pub elapsed: Duration,
    pub memory_mib: u64,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let data = Dataset::generate(&args);
    match args.target {
        Target::Embedded => embedded::bench(&args, data),
        Target::Grpc => grpc::bench(&args, data),
        Target::Rest => rest::bench(&args, data),
    }
}

/// Prints the load line and the table header.
pub fn print_load(args: &Args, loaded: &Loaded, memory: &str) {
    println!(
        "loaded {} × {}-d points in {:.2} s ({:.0} points/s, indexed on arrival); {memory} {} MiB",
        args.points,
        args.dim,
        loaded.elapsed.as_secs_f64(),
        args.points as f64 / loaded.elapsed.as_secs_f64(),
        loaded.memory_mib
    );
    println!(
        "\n| hnsw_ef | recall@10 | QPS, 1 at a time | QPS, {} concurrent | p50 | p99 |",
        args.concurrency
    );
    println!("|---|---|---|---|---|---|");
}

pub fn print_row(ef: usize, truth: &[Vec<u64>], single: &Run, concurrent: &Run) {
    println!(
        "| {ef} | {:.3} | {:.0} | {:.0} | {:.3} ms | {:.3} ms |",
        dataset::recall(truth, &concurrent.results),
        single.qps,
        concurrent.qps,
        concurrent.p50.as_secs_f64() * 1e3,
        concurrent.p99.as_secs_f64() * 1e3
    );
}
