//! Storage: WAL appends and fsyncs, checkpoints, HNSW graph builds.

use std::sync::LazyLock;
use std::time::Duration;

use prometheus::{Histogram, IntCounter};

use super::{histogram_opts, register, LATENCY_BUCKETS, SLOW_BUCKETS};

struct Storage {
    wal_append: Histogram,
    wal_fsync: Histogram,
    wal_bytes: IntCounter,
    checkpoint: Histogram,
    hnsw_build: Histogram,
    hnsw_points: IntCounter,
}

static STORAGE: LazyLock<Storage> = LazyLock::new(|| Storage {
    wal_append: register(
        Histogram::with_opts(histogram_opts(
            "grape_wal_append_duration_seconds",
            "Time to append one record to a shard's WAL, its fsync included",
            LATENCY_BUCKETS,
        ))
        .expect("valid metric"),
    ),
    wal_fsync: register(
        Histogram::with_opts(histogram_opts(
            "grape_wal_fsync_duration_seconds",
            "Time of the fsync of one WAL append",
            LATENCY_BUCKETS,
        ))
        .expect("valid metric"),
    ),
    wal_bytes: register(
        IntCounter::new(
            "grape_wal_appended_bytes_total",
            "Bytes appended to shard WALs",
        )
        .expect("valid metric"),
    ),
    checkpoint: register(
        Histogram::with_opts(histogram_opts(
            "grape_checkpoint_duration_seconds",
            "Time to write a shard checkpoint (vectors, graphs, payloads)",
            SLOW_BUCKETS,
        ))
        .expect("valid metric"),
    ),
    hnsw_build: register(
        Histogram::with_opts(histogram_opts(
            "grape_hnsw_build_duration_seconds",
            "Time to insert one batch of points into an HNSW graph",
            SLOW_BUCKETS,
        ))
        .expect("valid metric"),
    ),
    hnsw_points: register(
        IntCounter::new(
            "grape_hnsw_indexed_points_total",
            "Points inserted into HNSW graphs",
        )
        .expect("valid metric"),
    ),
});

/// One WAL append of `bytes`, which took `total`, `fsync` of it in the fsync.
pub fn wal_append(bytes: usize, total: Duration, fsync: Duration) {
    STORAGE.wal_append.observe(total.as_secs_f64());
    STORAGE.wal_fsync.observe(fsync.as_secs_f64());
    STORAGE.wal_bytes.inc_by(bytes as u64);
}

pub fn checkpoint(elapsed: Duration) {
    STORAGE.checkpoint.observe(elapsed.as_secs_f64());
}

/// One batch of `points` inserted into a graph in `elapsed`.
pub fn hnsw_build(points: usize, elapsed: Duration) {
    STORAGE.hnsw_build.observe(elapsed.as_secs_f64());
    STORAGE.hnsw_points.inc_by(points as u64);
}

/// Registers the storage metrics, so that a node that has written nothing yet (or a cluster
/// node, whose shards log through Raft) reports them at zero.
pub(super) fn init() {
    LazyLock::force(&STORAGE);
}
