//! Replication: shard transfers (in flight, started, finished, points and bytes moved)
//! and requests refused for want of replicas or of a leader.

use std::sync::LazyLock;

use prometheus::{IntCounter, IntCounterVec, IntGauge, Opts};

use super::register;
use crate::cluster::Cluster;

struct Replication {
    in_flight: IntGauge,
    started: IntCounter,
    finished: IntCounter,
    points: IntCounter,
    bytes: IntCounter,
    consistency_failures: IntCounterVec,
}

static REPLICATION: LazyLock<Replication> = LazyLock::new(|| Replication {
    in_flight: register(
        IntGauge::new(
            "grape_shard_transfers_in_flight",
            "Shard replica transfers the cluster's metadata records as running",
        )
        .expect("valid metric"),
    ),
    started: register(
        IntCounter::new(
            "grape_shard_transfers_started_total",
            "Transfers this node started, as the leader of the shard's group",
        )
        .expect("valid metric"),
    ),
    finished: register(
        IntCounter::new(
            "grape_shard_transfers_finished_total",
            "Transfers this node finished, as the leader of the shard's group",
        )
        .expect("valid metric"),
    ),
    points: register(
        IntCounter::new(
            "grape_shard_transfer_points_total",
            "Points copied by the transfers this node finished",
        )
        .expect("valid metric"),
    ),
    bytes: register(
        IntCounter::new(
            "grape_shard_transfer_bytes_total",
            "Snapshot bytes sent by the transfers this node finished",
        )
        .expect("valid metric"),
    ),
    consistency_failures: register(
        IntCounterVec::new(
            Opts::new(
                "grape_consistency_failures_total",
                "Shard reads and writes refused: too few active replicas for the requested \
                 consistency, or no leader answered in time",
            ),
            &["operation", "reason"],
        )
        .expect("valid metric"),
    ),
});

/// Registers the metrics, so they exist at zero before the first transfer or failure.
pub(super) fn init() {
    let replication = LazyLock::force(&REPLICATION);
    for operation in ["read", "write"] {
        for reason in ["replicas", "no_leader"] {
            replication
                .consistency_failures
                .with_label_values(&[operation, reason]);
        }
    }
}

pub(super) fn read(cluster: &Cluster) {
    let transfers = cluster.ctx.meta.borrow().state.transfers.len();
    REPLICATION.in_flight.set(transfers as i64);
}

pub fn transfer_started() {
    REPLICATION.started.inc();
}

pub fn transfer_finished(points: u64, bytes: u64) {
    REPLICATION.finished.inc();
    REPLICATION.points.inc_by(points);
    REPLICATION.bytes.inc_by(bytes);
}

/// A shard `operation` (`read` or `write`) refused for `reason` (`replicas`: fewer active
/// replicas than the consistency asks; `no_leader`: no leader answered in time).
pub fn consistency_failure(operation: &str, reason: &str) {
    REPLICATION
        .consistency_failures
        .with_label_values(&[operation, reason])
        .inc();
}
