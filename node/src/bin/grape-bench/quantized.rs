//! Quantized search (embedded target): the loaded collection is switched between
//! quantization settings (`PATCH`-style updates, so every setting searches the same graph)
//! and each gets a table of recall@10 against exact search, QPS on one search thread, and
//! the memory of original vectors, codes and graph.

use std::time::Instant;

use clap::ValueEnum;
use grape::collection::Collection;
use grape::engine::Engine;
use grape::shard::DenseMemory;
use grape::types::{QuantizationSearchParams, SearchParams, UpdateCollection};
use serde_json::json;

use super::dataset;
use super::embedded::search_all;
use super::TOP;

/// A quantization setting to measure.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Setting {
    None,
    Int8,
    Binary,
    Pq,
}

impl Setting {
    /// The `quantization_config` of the setting, as a `PATCH` sends it.
    fn config(self) -> serde_json::Value {
        match self {
            Setting::None => json!("Disabled"),
            // The full range: clipping at the 0.99 quantile capped recall@10 at 0.85 here.
            Setting::Int8 => json!({"scalar": {"type": "int8"}}),
            Setting::Binary => json!({"binary": {}}),
            Setting::Pq => json!({"product": {"compression": "x16"}}),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Setting::None => "none (float32)",
            Setting::Int8 => "int8",
            Setting::Binary => "binary",
            Setting::Pq => "pq x16",
        }
    }
}

pub fn bench(
    engine: &Engine,
    collection: &Collection,
    queries: &[Vec<f32>],
    truth: &[Vec<u64>],
    settings: &[Setting],
    efs: &[usize],
    oversampling: f64,
) -> anyhow::Result<()> {
    for &setting in settings {
        let update: UpdateCollection =
            serde_json::from_value(json!({"quantization_config": setting.config()}))?;
        let started = Instant::now();
        engine.update_collection(collection.name(), update)?;
        let memory = memory(collection);
        println!(
            "\n### quantization: {} (codes built in {:.2} s; oversampling {oversampling} when quantized)\n",
            setting.name(),
            started.elapsed().as_secs_f64()
        );
        println!("| hnsw_ef | recall@10 | QPS, 1 thread | vectors MiB | codes MiB | graph MiB | codes / vectors |");
        println!("|---|---|---|---|---|---|---|");
        for &ef in efs {
            let params = SearchParams {
                hnsw_ef: Some(ef),
                quantization: Some(QuantizationSearchParams {
                    oversampling: Some(oversampling),
                    ..Default::default()
                }),
                ..Default::default()
            };
            let found = search_all(collection, queries, &params, None)?;
            let qps = median_qps(collection, queries, &params)?;
            println!(
                "| {ef} | {:.3} | {qps:.0} | {:.1} | {:.1} | {:.1} | {:.1}% |",
                dataset::recall(truth, &found),
                mib(memory.vectors),
                mib(memory.codes),
                mib(memory.graph),
                100.0 * memory.codes as f64 / memory.vectors.max(1) as f64,
            );
        }
    }
    println!(
        "\n(recall@{TOP} against exact float32 search; QPS from one thread, one query at a time, the median of {TIMED_ROUNDS} passes)"
    );
    Ok(())
}

/// Timed rounds per row: the median of several passes, each after the untimed one that
/// measured recall (and warmed the caches), steadies a figure that one pass of a thousand
/// queries (a fraction of a second) leaves at the mercy of the machine.
const TIMED_ROUNDS: usize = 5;

/// The median QPS of [`TIMED_ROUNDS`] passes over the queries on one thread.
fn median_qps(
    collection: &Collection,
    queries: &[Vec<f32>],
    params: &SearchParams,
) -> anyhow::Result<f64> {
    let mut rounds = Vec::with_capacity(TIMED_ROUNDS);
    for _ in 0..TIMED_ROUNDS {
        let started = Instant::now();
        search_all(collection, queries, params, None)?;
        rounds.push(queries.len() as f64 / started.elapsed().as_secs_f64());
    }
    rounds.sort_by(f64::total_cmp);
    Ok(rounds[TIMED_ROUNDS / 2])
}

fn memory(collection: &Collection) -> DenseMemory {
    let mut total = DenseMemory::default();
    for shard in collection.shards().iter().filter_map(|s| s.local()) {
        let m = shard.dense_memory();
        total.vectors += m.vectors;
        total.codes += m.codes;
        total.graph += m.graph;
    }
    total
}

fn mib(bytes: usize) -> f64 {
    bytes as f64 / (1 << 20) as f64
}
