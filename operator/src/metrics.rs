//! The operator's Prometheus metrics, served on `/metrics` (the chart's Grafana dashboard
//! "Grape / Operator" reads them).

use std::time::Instant;

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

/// The two controllers, as the `controller` label names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    VectorCluster,
    ShardPlacement,
}

impl Kind {
    const ALL: [Kind; 2] = [Kind::VectorCluster, Kind::ShardPlacement];

    fn label(self) -> &'static str {
        match self {
            Kind::VectorCluster => "vectorcluster",
            Kind::ShardPlacement => "shardplacement",
        }
    }
}

pub struct Metrics {
    registry: Registry,
    reconciles: IntCounterVec,
    errors: IntCounterVec,
    duration: HistogramVec,
    moves_in_flight: IntGaugeVec,
    drains_in_flight: IntGaugeVec,
    desired_replicas: IntGaugeVec,
    ready_replicas: IntGaugeVec,
    planned_moves: IntGaugeVec,
    events: IntCounterVec,
    leader: IntGauge,
}

impl Metrics {
    pub fn new() -> Result<Metrics, prometheus::Error> {
        let cluster = &["namespace", "cluster"];
        let metrics = Metrics {
            registry: Registry::new(),
            reconciles: IntCounterVec::new(
                Opts::new(
                    "grape_operator_reconciles_total",
                    "Reconciliations started, by controller",
                ),
                &["controller"],
            )?,
            errors: IntCounterVec::new(
                Opts::new(
                    "grape_operator_reconcile_errors_total",
                    "Reconciliations that failed, by controller and error kind",
                ),
                &["controller", "error"],
            )?,
            duration: HistogramVec::new(
                HistogramOpts::new(
                    "grape_operator_reconcile_duration_seconds",
                    "Time of one reconciliation, by controller",
                )
                .buckets(vec![0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0]),
                &["controller"],
            )?,
            moves_in_flight: IntGaugeVec::new(
                Opts::new(
                    "grape_operator_moves_in_flight",
                    "Shard replica moves running in a cluster, as its nodes last reported",
                ),
                cluster,
            )?,
            drains_in_flight: IntGaugeVec::new(
                Opts::new(
                    "grape_operator_drains_in_flight",
                    "Data pods of a cluster being drained before a scale-in",
                ),
                cluster,
            )?,
            desired_replicas: IntGaugeVec::new(
                Opts::new(
                    "grape_operator_cluster_desired_replicas",
                    "Data nodes a VectorCluster asks for (spec.replicas)",
                ),
                cluster,
            )?,
            ready_replicas: IntGaugeVec::new(
                Opts::new(
                    "grape_operator_cluster_ready_replicas",
                    "Ready data nodes of a VectorCluster (status.readyReplicas)",
                ),
                cluster,
            )?,
            planned_moves: IntGaugeVec::new(
                Opts::new(
                    "grape_operator_placement_planned_moves",
                    "Moves in a ShardPlacement's current plan",
                ),
                &["namespace", "placement"],
            )?,
            events: IntCounterVec::new(
                Opts::new(
                    "grape_operator_events_total",
                    "Kubernetes Events the operator published, by type and reason",
                ),
                &["type", "reason"],
            )?,
            leader: IntGauge::new(
                "grape_operator_leader",
                "1 while this replica holds the leader lease and reconciles, else 0",
            )?,
        };
        for collector in [
            Box::new(metrics.reconciles.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(metrics.errors.clone()),
            Box::new(metrics.duration.clone()),
            Box::new(metrics.moves_in_flight.clone()),
            Box::new(metrics.drains_in_flight.clone()),
            Box::new(metrics.desired_replicas.clone()),
            Box::new(metrics.ready_replicas.clone()),
            Box::new(metrics.planned_moves.clone()),
            Box::new(metrics.events.clone()),
            Box::new(metrics.leader.clone()),
        ] {
            metrics.registry.register(collector)?;
        }
        // Both controllers' series exist from the start, so rates and dashboards see zeros
        // instead of nothing.
        for kind in Kind::ALL {
            metrics.reconciles.with_label_values(&[kind.label()]);
            metrics.duration.with_label_values(&[kind.label()]);
            for error in crate::reconcile::Error::KINDS {
                metrics.errors.with_label_values(&[kind.label(), error]);
            }
        }
        Ok(metrics)
    }

    /// Counts a reconciliation; its duration is recorded when the guard drops.
    pub fn reconcile_started(&self, kind: Kind) -> ReconcileTimer {
        self.reconciles.with_label_values(&[kind.label()]).inc();
        ReconcileTimer {
            histogram: self.duration.with_label_values(&[kind.label()]),
            start: Instant::now(),
        }
    }

    pub fn reconcile_failed(&self, kind: Kind, error: &str) {
        self.errors.with_label_values(&[kind.label(), error]).inc();
    }

    /// What one VectorCluster pass saw: data nodes asked for and ready, pods draining.
    pub fn set_cluster(&self, namespace: &str, cluster: &str, sizes: ClusterSizes) {
        let labels = &[namespace, cluster];
        self.desired_replicas
            .with_label_values(labels)
            .set(i64::from(sizes.desired));
        self.ready_replicas
            .with_label_values(labels)
            .set(i64::from(sizes.ready));
        self.drains_in_flight
            .with_label_values(labels)
            .set(sizes.draining as i64);
    }

    pub fn set_moves_in_flight(&self, namespace: &str, cluster: &str, moves: usize) {
        self.moves_in_flight
            .with_label_values(&[namespace, cluster])
            .set(moves as i64);
    }

    pub fn set_planned_moves(&self, namespace: &str, placement: &str, moves: usize) {
        self.planned_moves
            .with_label_values(&[namespace, placement])
            .set(moves as i64);
    }

    pub fn event_published(&self, type_: &str, reason: &str) {
        self.events.with_label_values(&[type_, reason]).inc();
    }

    pub fn set_leader(&self, leading: bool) {
        self.leader.set(i64::from(leading));
    }

    /// The metrics in Prometheus' text format.
    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        // Encoding gathered families into a Vec cannot fail.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buffer);
        String::from_utf8(buffer).unwrap_or_default()
    }
}

/// A VectorCluster's sizes for [`Metrics::set_cluster`].
#[derive(Debug, Clone, Copy)]
pub struct ClusterSizes {
    pub desired: i32,
    pub ready: i32,
    pub draining: usize,
}

pub struct ReconcileTimer {
    histogram: prometheus::Histogram,
    start: Instant,
}

impl Drop for ReconcileTimer {
    fn drop(&mut self) {
        self.histogram.observe(self.start.elapsed().as_secs_f64());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_is_rendered() {
        let metrics = Metrics::new().unwrap();
        drop(metrics.reconcile_started(Kind::VectorCluster));
        metrics.reconcile_failed(Kind::ShardPlacement, "kube");
        metrics.set_moves_in_flight("db", "vec", 2);
        let sizes = ClusterSizes {
            desired: 5,
            ready: 3,
            draining: 1,
        };
        metrics.set_cluster("db", "vec", sizes);
        metrics.set_planned_moves("db", "vec", 4);
        metrics.event_published("Normal", "Scaled");
        metrics.set_leader(true);
        let text = metrics.render();
        for name in [
            "grape_operator_reconciles_total{controller=\"vectorcluster\"} 1",
            "grape_operator_reconciles_total{controller=\"shardplacement\"} 0",
            "grape_operator_reconcile_errors_total{controller=\"shardplacement\",error=\"kube\"} 1",
            "grape_operator_reconcile_duration_seconds_count{controller=\"vectorcluster\"} 1",
            "grape_operator_moves_in_flight{cluster=\"vec\",namespace=\"db\"} 2",
            "grape_operator_drains_in_flight{cluster=\"vec\",namespace=\"db\"} 1",
            "grape_operator_cluster_desired_replicas{cluster=\"vec\",namespace=\"db\"} 5",
            "grape_operator_cluster_ready_replicas{cluster=\"vec\",namespace=\"db\"} 3",
            "grape_operator_placement_planned_moves{namespace=\"db\",placement=\"vec\"} 4",
            "grape_operator_events_total{reason=\"Scaled\",type=\"Normal\"} 1",
            "grape_operator_leader 1",
        ] {
            assert!(text.contains(name), "{name} missing from\n{text}");
        }
    }
}
