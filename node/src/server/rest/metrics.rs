//! Prometheus metrics of the REST API and of the collections, served at `/metrics`.
//!
//! Names follow Qdrant's where they exist: `app_info`, `collections_total`,
//! `collection_points{id="<name>"}`, `rest_responses_total`, `rest_responses_duration_seconds`.

use std::time::Duration;

use prometheus::{
    Encoder, GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

use crate::engine::Engine;

pub struct Metrics {
    registry: Registry,
    responses: IntCounterVec,
    durations: HistogramVec,
    collections_total: IntGauge,
    collection_points: IntGaugeVec,
    collection_vectors: IntGaugeVec,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let app_info = GaugeVec::new(
            Opts::new("app_info", "information about the grape server"),
            &["name", "version"],
        )
        .expect("valid metric");
        app_info
            .with_label_values(&["grape", env!("CARGO_PKG_VERSION")])
            .set(1.0);
        let responses = IntCounterVec::new(
            Opts::new("rest_responses_total", "REST responses by route and status"),
            &["method", "endpoint", "status"],
        )
        .expect("valid metric");
        let durations = HistogramVec::new(
            HistogramOpts::new(
                "rest_responses_duration_seconds",
                "REST response latency by route",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                10.0,
            ]),
            &["method", "endpoint"],
        )
        .expect("valid metric");
        let collections_total =
            IntGauge::new("collections_total", "number of collections").expect("valid metric");
        let collection_points = IntGaugeVec::new(
            Opts::new("collection_points", "number of points per collection"),
            &["id"],
        )
        .expect("valid metric");
        let collection_vectors = IntGaugeVec::new(
            Opts::new(
                "collection_vectors",
                "number of indexed vectors per collection",
            ),
            &["id"],
        )
        .expect("valid metric");
        for collector in [
            Box::new(app_info) as Box<dyn prometheus::core::Collector>,
            Box::new(responses.clone()),
            Box::new(durations.clone()),
            Box::new(collections_total.clone()),
            Box::new(collection_points.clone()),
            Box::new(collection_vectors.clone()),
        ] {
            registry
                .register(collector)
                .expect("metric registered once");
        }
        Metrics {
            registry,
            responses,
            durations,
            collections_total,
            collection_points,
            collection_vectors,
        }
    }

    /// Records one response.
    pub fn observe(&self, method: &str, endpoint: &str, status: u16, elapsed: Duration) {
        self.responses
            .with_label_values(&[method, endpoint, &status.to_string()])
            .inc();
        self.durations
            .with_label_values(&[method, endpoint])
            .observe(elapsed.as_secs_f64());
    }

    /// The metrics in Prometheus text format, with collection gauges read from the engine now.
    pub fn render(&self, engine: &Engine) -> String {
        let names = engine.list_collections();
        self.collections_total.set(names.len() as i64);
        self.collection_points.reset();
        self.collection_vectors.reset();
        for name in names {
            if let Ok(collection) = engine.collection(&name) {
                // Only the replicas this node holds: every node reports its own share.
                let local = || collection.shards().iter().filter_map(|s| s.local());
                let points: usize = local().map(|s| s.points_count()).sum();
                let vectors: usize = local().map(|s| s.indexed_vectors_count()).sum();
                self.collection_points
                    .with_label_values(&[&name])
                    .set(points as i64);
                self.collection_vectors
                    .with_label_values(&[&name])
                    .set(vectors as i64);
            }
        }
        let mut buffer = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut buffer) {
            tracing::error!(error = %e, "cannot encode metrics");
        }
        String::from_utf8_lossy(&buffer).into_owned()
    }
}
