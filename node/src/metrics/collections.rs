//! Per collection, what this node holds of it (its local replicas only: every node reports
//! its own share), read from the engine at scrape time: points, vectors, shards, memory.

use std::sync::LazyLock;

use prometheus::{IntGauge, IntGaugeVec, Opts};

use super::register;
use crate::engine::Engine;

struct Collections {
    total: IntGauge,
    points: IntGaugeVec,
    vectors: IntGaugeVec,
    shards: IntGaugeVec,
    memory: IntGaugeVec,
}

fn per_collection(name: &str, help: &str, label: &str) -> IntGaugeVec {
    register(IntGaugeVec::new(Opts::new(name, help), &[label]).expect("valid metric"))
}

static COLLECTIONS: LazyLock<Collections> = LazyLock::new(|| Collections {
    total: register(
        IntGauge::new("collections_total", "number of collections").expect("valid metric"),
    ),
    // Qdrant's names and label.
    points: per_collection("collection_points", "number of points per collection", "id"),
    vectors: per_collection(
        "collection_vectors",
        "number of indexed vectors per collection",
        "id",
    ),
    shards: per_collection(
        "grape_collection_local_shards",
        "Shard replicas of the collection this node holds",
        "collection",
    ),
    memory: per_collection(
        "grape_collection_memory_bytes",
        "Bytes of vectors and vector indexes of the collection in this node's memory",
        "collection",
    ),
});

pub(super) fn read(engine: &Engine) {
    let c = &*COLLECTIONS;
    let names = engine.list_collections();
    c.total.set(names.len() as i64);
    for family in [&c.points, &c.vectors, &c.shards, &c.memory] {
        family.reset();
    }
    for name in names {
        let Ok(collection) = engine.collection(&name) else {
            continue;
        };
        let local: Vec<_> = collection
            .shards()
            .iter()
            .filter_map(|s| s.local())
            .collect();
        let sum = |f: &dyn Fn(&crate::shard::Shard) -> usize| -> i64 {
            local.iter().map(|s| f(s)).sum::<usize>() as i64
        };
        let labels = [name.as_str()];
        c.points
            .with_label_values(&labels)
            .set(sum(&|s| s.points_count()));
        c.vectors
            .with_label_values(&labels)
            .set(sum(&|s| s.indexed_vectors_count()));
        c.shards.with_label_values(&labels).set(local.len() as i64);
        c.memory
            .with_label_values(&labels)
            .set(sum(&|s| s.memory_bytes()));
    }
}
