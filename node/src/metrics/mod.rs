//! The node's Prometheus metrics, served at `/metrics`.
//!
//! One registry per process (a process is one node), so that call sites record with one
//! line and no handle threading: [`api`] (REST and gRPC requests), [`storage`] (WAL,
//! checkpoints, HNSW), [`search`] (how shard searches ran), [`raft`] (every Raft group on
//! this node), [`replication`] (shard transfers, consistency failures); [`collections`]
//! reads the per-collection gauges from the engine at scrape time. Names follow Qdrant's
//! where it has them (`app_info`, `collections_total`, `collection_points`,
//! `rest_responses_total`, ...); the rest start with `grape_`. The chart's Grafana
//! dashboards query these names (a test checks them).

pub mod api;
pub mod collections;
pub mod raft;
pub mod replication;
pub mod search;
pub mod storage;

use std::sync::LazyLock;

use prometheus::core::Collector;
use prometheus::{Encoder, GaugeVec, HistogramOpts, Opts, Registry, TextEncoder};

use crate::cluster::Cluster;
use crate::engine::Engine;

/// Buckets of request and I/O latencies, 100 µs to 10 s.
const LATENCY_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

/// Buckets of slow operations (checkpoints, graph builds), 1 ms to 2 min.
const SLOW_BUCKETS: &[f64] = &[
    0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 120.0,
];

static REGISTRY: LazyLock<Registry> = LazyLock::new(|| {
    let registry = Registry::new();
    let app_info = GaugeVec::new(
        Opts::new("app_info", "information about the grape server"),
        &["name", "version"],
    )
    .expect("valid metric");
    app_info
        .with_label_values(&["grape", env!("CARGO_PKG_VERSION")])
        .set(1.0);
    register_in(&registry, app_info);
    // CPU, resident memory, open files, threads, start time of this process.
    register_in(
        &registry,
        prometheus::process_collector::ProcessCollector::for_self(),
    );
    registry
});

fn register_in(registry: &Registry, collector: impl Collector + 'static) {
    registry
        .register(Box::new(collector))
        .expect("every metric is registered once");
}

/// Registers a metric of one of the submodules and returns it.
fn register<C: Collector + Clone + 'static>(collector: C) -> C {
    register_in(&REGISTRY, collector.clone());
    collector
}

fn histogram_opts(name: &str, help: &str, buckets: &[f64]) -> HistogramOpts {
    HistogramOpts::new(name, help).buckets(buckets.to_vec())
}

/// Registers every metric, so that each is reported (at zero) before its first event and
/// dashboards see a series from the node's start.
pub fn init() {
    api::init();
    storage::init();
    search::init();
    raft::init();
    replication::init();
}

/// Every metric in Prometheus' text format, with the gauges that are read rather than
/// recorded (collections, Raft groups, transfers) read now.
pub fn render(engine: &Engine, cluster: Option<&Cluster>) -> String {
    collections::read(engine);
    if let Some(cluster) = cluster {
        raft::read(cluster);
        replication::read(cluster);
    }
    let mut buffer = Vec::new();
    if let Err(e) = TextEncoder::new().encode(&REGISTRY.gather(), &mut buffer) {
        tracing::error!(error = %e, "cannot encode metrics");
    }
    String::from_utf8_lossy(&buffer).into_owned()
}
