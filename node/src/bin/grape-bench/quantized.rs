//! Quantized search (embedded target): the loaded collection is switched between
//! quantization settings (`PATCH`-style updates, so every setting searches the same graph)
//! and each gets a table of recall@10 against exact search, QPS on one search thread, and
//! the memory of original vectors, codes and graph; then a table of each setting's QPS
//! relative to the first one.
//!
//! The timed passes are interleaved: every round switches through all the settings (in a
//! rotated order) and times one pass per `hnsw_ef`, so a slow spell of a shared machine
//! lands on every setting alike instead of deciding a comparison.

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
    /// Binary, 1.5 bits per component.
    #[value(name = "binary-1.5bit")]
    BinaryOneAndHalf,
    /// Binary, 2 bits per component.
    #[value(name = "binary-2bit")]
    BinaryTwoBits,
    /// Binary codes scored against a query quantized to 8 bits.
    #[value(name = "binary-q8")]
    BinaryQuery8,
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
            Setting::BinaryOneAndHalf => json!({"binary": {"encoding": "one_and_half_bits"}}),
            Setting::BinaryTwoBits => json!({"binary": {"encoding": "two_bits"}}),
            Setting::BinaryQuery8 => json!({"binary": {"query_encoding": "scalar8bits"}}),
            Setting::Pq => json!({"product": {"compression": "x16"}}),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Setting::None => "none (float32)",
            Setting::Int8 => "int8",
            Setting::Binary => "binary",
            Setting::BinaryOneAndHalf => "binary 1.5-bit",
            Setting::BinaryTwoBits => "binary 2-bit",
            Setting::BinaryQuery8 => "binary, 8-bit query",
            Setting::Pq => "pq x16",
        }
    }
}

/// Timed rounds: each times one pass per setting and `hnsw_ef`; a row reports the median.
const ROUNDS: usize = 7;

/// What one setting measured.
struct Measured {
    setting: Setting,
    built_in_s: f64,
    memory: DenseMemory,
    /// Per `hnsw_ef`: recall@10 of the untimed pass.
    recall: Vec<f64>,
    /// Per `hnsw_ef`: QPS of each round.
    qps: Vec<Vec<f64>>,
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
    let params: Vec<SearchParams> = efs.iter().map(|&ef| params(ef, oversampling)).collect();
    let mut measured = Vec::with_capacity(settings.len());
    for &setting in settings {
        measured.push(untimed_pass(
            engine, collection, queries, truth, setting, &params,
        )?);
    }
    for round in 0..ROUNDS {
        let count = measured.len();
        for i in (0..count).map(|i| (i + round) % count) {
            apply(engine, collection, measured[i].setting)?;
            for (qps, params) in measured[i].qps.iter_mut().zip(&params) {
                qps.push(timed_pass(collection, queries, params)?);
            }
        }
    }
    for m in &measured {
        print_setting(m, efs, oversampling);
    }
    if let [base, others @ ..] = measured.as_slice() {
        if !others.is_empty() {
            print_ratios(base, others, efs);
        }
    }
    println!(
        "\n(recall@{TOP} against exact float32 search; QPS from one thread, one query at a time, the median of {ROUNDS} interleaved rounds)"
    );
    Ok(())
}

fn params(ef: usize, oversampling: f64) -> SearchParams {
    SearchParams {
        hnsw_ef: Some(ef),
        quantization: Some(QuantizationSearchParams {
            oversampling: Some(oversampling),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Switches to the setting, then measures recall at every `hnsw_ef` (which also warms the
/// caches for it).
fn untimed_pass(
    engine: &Engine,
    collection: &Collection,
    queries: &[Vec<f32>],
    truth: &[Vec<u64>],
    setting: Setting,
    params: &[SearchParams],
) -> anyhow::Result<Measured> {
    let started = Instant::now();
    apply(engine, collection, setting)?;
    let built_in_s = started.elapsed().as_secs_f64();
    let recall = params
        .iter()
        .map(|p| {
            Ok(dataset::recall(
                truth,
                &search_all(collection, queries, p, None)?,
            ))
        })
        .collect::<anyhow::Result<_>>()?;
    Ok(Measured {
        setting,
        built_in_s,
        memory: memory(collection),
        recall,
        qps: vec![Vec::with_capacity(ROUNDS); params.len()],
    })
}

fn apply(engine: &Engine, collection: &Collection, setting: Setting) -> anyhow::Result<()> {
    let update: UpdateCollection =
        serde_json::from_value(json!({"quantization_config": setting.config()}))?;
    engine.update_collection(collection.name(), update)?;
    Ok(())
}

/// QPS of one pass over the queries on this thread.
fn timed_pass(
    collection: &Collection,
    queries: &[Vec<f32>],
    params: &SearchParams,
) -> anyhow::Result<f64> {
    let started = Instant::now();
    search_all(collection, queries, params, None)?;
    Ok(queries.len() as f64 / started.elapsed().as_secs_f64())
}

fn print_setting(m: &Measured, efs: &[usize], oversampling: f64) {
    println!(
        "\n### quantization: {} (codes built in {:.2} s; oversampling {oversampling} when quantized)\n",
        m.setting.name(),
        m.built_in_s
    );
    println!("| hnsw_ef | recall@10 | QPS, 1 thread | vectors MiB | codes MiB | graph MiB | codes / vectors |");
    println!("|---|---|---|---|---|---|---|");
    for (i, ef) in efs.iter().enumerate() {
        println!(
            "| {ef} | {:.3} | {:.0} | {:.1} | {:.1} | {:.1} | {:.1}% |",
            m.recall[i],
            median(m.qps[i].clone()),
            mib(m.memory.vectors),
            mib(m.memory.codes),
            mib(m.memory.graph),
            100.0 * m.memory.codes as f64 / m.memory.vectors.max(1) as f64,
        );
    }
}

/// Each setting's QPS over the first one's, per `hnsw_ef`: the median of the ratios of
/// passes timed in the same round, so a slow round lowers both sides of its ratio.
fn print_ratios(base: &Measured, others: &[Measured], efs: &[usize]) {
    println!(
        "\n### QPS relative to {} (median of per-round ratios; recall in brackets)\n",
        base.setting.name()
    );
    let names: Vec<&str> = others.iter().map(|m| m.setting.name()).collect();
    println!(
        "| hnsw_ef | {} | {} |",
        base.setting.name(),
        names.join(" | ")
    );
    println!("|---|---|{}", "---|".repeat(others.len()));
    for (i, ef) in efs.iter().enumerate() {
        let cells: Vec<String> = others
            .iter()
            .map(|m| {
                let ratios = m.qps[i].iter().zip(&base.qps[i]).map(|(a, b)| a / b);
                format!("{:.2}× ({:.3})", median(ratios.collect()), m.recall[i])
            })
            .collect();
        println!(
            "| {ef} | 1.00× ({:.3}) | {} |",
            base.recall[i],
            cells.join(" | ")
        );
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
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
