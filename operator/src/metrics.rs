//! The operator's Prometheus metrics, served on `/metrics`.

use std::time::Instant;

use prometheus::{
    Encoder, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

pub struct Metrics {
    registry: Registry,
    reconciles: IntCounter,
    errors: IntCounterVec,
    duration: Histogram,
    moves_in_flight: IntGaugeVec,
}

impl Metrics {
    pub fn new() -> Result<Metrics, prometheus::Error> {
        let registry = Registry::new();
        let reconciles = IntCounter::new(
            "grape_operator_reconciles_total",
            "VectorCluster reconciliations started",
        )?;
        let errors = IntCounterVec::new(
            Opts::new(
                "grape_operator_reconcile_errors_total",
                "VectorCluster reconciliations that failed, by error kind",
            ),
            &["error"],
        )?;
        let duration = Histogram::with_opts(
            HistogramOpts::new(
                "grape_operator_reconcile_duration_seconds",
                "Time of one VectorCluster reconciliation",
            )
            .buckets(vec![0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0]),
        )?;
        let moves_in_flight = IntGaugeVec::new(
            Opts::new(
                "grape_operator_moves_in_flight",
                "Shard replica moves running in a cluster, as its nodes last reported",
            ),
            &["namespace", "cluster"],
        )?;
        registry.register(Box::new(reconciles.clone()))?;
        registry.register(Box::new(errors.clone()))?;
        registry.register(Box::new(duration.clone()))?;
        registry.register(Box::new(moves_in_flight.clone()))?;
        Ok(Metrics {
            registry,
            reconciles,
            errors,
            duration,
            moves_in_flight,
        })
    }

    /// Counts a reconciliation; its duration is recorded when the guard drops.
    pub fn reconcile_started(&self) -> ReconcileTimer<'_> {
        self.reconciles.inc();
        ReconcileTimer {
            histogram: &self.duration,
            start: Instant::now(),
        }
    }

    pub fn reconcile_failed(&self, kind: &str) {
        self.errors.with_label_values(&[kind]).inc();
    }

    pub fn set_moves_in_flight(&self, namespace: &str, cluster: &str, moves: usize) {
        self.moves_in_flight
            .with_label_values(&[namespace, cluster])
            .set(moves as i64);
    }

    /// The metrics in Prometheus' text format.
    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        // Encoding gathered families into a Vec cannot fail.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buffer);
        String::from_utf8(buffer).unwrap_or_default()
    }
}

pub struct ReconcileTimer<'a> {
    histogram: &'a Histogram,
    start: Instant,
}

impl Drop for ReconcileTimer<'_> {
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
        drop(metrics.reconcile_started());
        metrics.reconcile_failed("kube");
        metrics.set_moves_in_flight("db", "vec", 2);
        let text = metrics.render();
        for name in [
            "grape_operator_reconciles_total 1",
            "grape_operator_reconcile_errors_total{error=\"kube\"} 1",
            "grape_operator_reconcile_duration_seconds_count 1",
            "grape_operator_moves_in_flight{cluster=\"vec\",namespace=\"db\"} 2",
        ] {
            assert!(text.contains(name), "{name} missing from\n{text}");
        }
    }
}
