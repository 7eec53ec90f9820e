//! Filtered search across selectivities and filter kinds (embedded target): recall@10 against
//! exact filtered search, QPS on one thread, and how the searches ran (the search metrics:
//! the planner's choice, or exact scoring after a walk the filter starved).
//!
//! Every point gets a payload from which each kind selects 0.1% … 100% of the points:
//! `tags` (keyword array, value graphs on), `plain_tags` (the same, `enable_hnsw: false`),
//! `bucket` (integer), `text` (full text), and `cluster`, the Gaussian cluster the vector was
//! drawn from, so that filter correlates with the vectors (queries come from any cluster).

use std::time::Instant;

use grape::collection::Collection;
use grape::engine::Engine;
use grape::filter::Filter;
use grape::metrics::search as search_metrics;
use grape::shard::Strategy;
use grape::types::{Payload, SearchParams};
use serde_json::{json, Value};

use super::dataset;
use super::embedded::search_all;

/// Selectivities, in points per thousand.
const LEVELS: [u64; 6] = [1, 10, 50, 100, 500, 1000];

/// The payload of point `i` drawn from `cluster`.
pub fn payload(i: usize, cluster: usize) -> Payload {
    let i = i as u64;
    // Three permutations of i mod 1000, so each kind picks other points.
    let (tag_rank, word_rank) = ((i * 7919 + 13) % 1000, (i * 104_729 + 7) % 1000);
    let tags: Vec<String> = LEVELS
        .iter()
        .filter(|&&k| tag_rank < k)
        .map(|k| format!("p{k}"))
        .collect();
    let words: Vec<String> = LEVELS
        .iter()
        .filter(|&&k| word_rank < k)
        .map(|k| format!("w{k}"))
        .collect();
    let value = json!({
        "bucket": i % 1000,
        "tags": tags,
        "plain_tags": tags,
        "text": format!("lorem {} ipsum", words.join(" ")),
        "cluster": format!("c{cluster}"),
    });
    value.as_object().cloned().expect("an object")
}

/// A filter kind: its name and the filter keeping `k` points per thousand.
struct Kind {
    name: &'static str,
    filter: fn(u64) -> Option<Value>,
}

const KINDS: [Kind; 7] = [
    Kind {
        name: "keyword (value graphs)",
        filter: |k| Some(json!({"must": [{"key": "tags", "match": {"value": format!("p{k}")}}]})),
    },
    Kind {
        name: "keyword (enable_hnsw: false)",
        filter: |k| {
            Some(json!({"must": [{"key": "plain_tags", "match": {"value": format!("p{k}")}}]}))
        },
    },
    Kind {
        name: "integer range",
        filter: |k| Some(json!({"must": [{"key": "bucket", "range": {"lt": k}}]})),
    },
    Kind {
        name: "must_not range",
        filter: |k| Some(json!({"must_not": [{"key": "bucket", "range": {"gte": k}}]})),
    },
    Kind {
        name: "should of two ranges",
        filter: |k| {
            (k > 1).then(|| {
                json!({"should": [
                    {"key": "bucket", "range": {"lt": k / 2}},
                    {"key": "bucket", "range": {"gte": 1000 - k / 2}}
                ]})
            })
        },
    },
    Kind {
        name: "text match",
        filter: |k| Some(json!({"must": [{"key": "text", "match": {"text": format!("w{k}")}}]})),
    },
    Kind {
        name: "cluster (correlated)",
        filter: |k| {
            (k >= 10).then(|| {
                let clusters: Vec<String> = (0..k / 10).map(|c| format!("c{c}")).collect();
                json!({"must": [{"key": "cluster", "match": {"any": clusters}}]})
            })
        },
    },
];

pub fn bench(
    engine: &Engine,
    collection: &Collection,
    queries: &[Vec<f32>],
    ef: usize,
) -> anyhow::Result<()> {
    let started = Instant::now();
    for (field, schema) in [
        ("bucket", json!("integer")),
        ("tags", json!("keyword")),
        (
            "plain_tags",
            json!({"type": "keyword", "enable_hnsw": false}),
        ),
        ("text", json!({"type": "text", "tokenizer": "word"})),
        ("cluster", json!("keyword")),
    ] {
        engine.create_field_index("bench", field, schema)?;
    }
    println!(
        "\nPayload indexes (with value graphs) built in {:.1} s.",
        started.elapsed().as_secs_f64()
    );
    println!(
        "\nFiltered search, hnsw_ef={ef}, {} queries, 1 thread:\n",
        queries.len()
    );
    println!("| filter | selectivity | ran as | recall@10 | QPS |\n|---|---|---|---|---|");
    let exact = SearchParams {
        exact: true,
        ..Default::default()
    };
    let approximate = SearchParams {
        hnsw_ef: Some(ef),
        ..Default::default()
    };
    for kind in &KINDS {
        for k in LEVELS {
            let Some(value) = (kind.filter)(k) else {
                continue;
            };
            let filter: Filter = serde_json::from_value(value)?;
            let truth = search_all(collection, queries, &exact, Some(&filter))?;
            let before = strategy_counts();
            let started = Instant::now();
            let found = search_all(collection, queries, &approximate, Some(&filter))?;
            let qps = queries.len() as f64 / started.elapsed().as_secs_f64();
            let ran = ran_as(&before, &strategy_counts());
            println!(
                "| {} | {}% | {ran} | {:.3} | {qps:.0} |",
                kind.name,
                k as f64 / 10.0,
                dataset::recall(&truth, &found)
            );
        }
    }
    Ok(())
}

/// How many searches of this process ran as each strategy.
fn strategy_counts() -> [u64; 4] {
    Strategy::ALL.map(search_metrics::count)
}

/// The strategies the searches between two counts ran as, with their shares: E exact,
/// G main graph, V value graphs, E* exact scoring after a walk.
fn ran_as(before: &[u64; 4], after: &[u64; 4]) -> String {
    let ran: Vec<u64> = after.iter().zip(before).map(|(a, b)| a - b).collect();
    let total: u64 = ran.iter().sum();
    let parts: Vec<String> = Strategy::ALL
        .iter()
        .zip(&ran)
        .filter(|(_, &n)| n > 0)
        .map(|(strategy, &n)| {
            let initial = match strategy {
                Strategy::Exact => "E",
                Strategy::Graph => "G",
                Strategy::ValueGraphs => "V",
                Strategy::ExactAfterWalk => "E*",
            };
            if n == total {
                initial.to_owned()
            } else {
                format!("{initial} {:.0}%", 100.0 * n as f64 / total as f64)
            }
        })
        .collect();
    parts.join(", ")
}
