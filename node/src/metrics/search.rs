//! Dense vector search inside shards: how each search ran, so that a dashboard shows how
//! often filters push walks back to exact scoring.

use std::sync::LazyLock;

use prometheus::{IntCounterVec, Opts};

use super::register;
use crate::shard::Strategy;

static SEARCHES: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register(
        IntCounterVec::new(
            Opts::new(
                "grape_search_strategy_total",
                "Dense vector searches of this node's shards, by how they ran: exact \
                 scoring, a walk of the main HNSW graph, a walk of per-value graphs, or a walk \
                 whose result exact scoring replaced (the filter was rare around the query, or \
                 left too few results)",
            ),
            &["strategy"],
        )
        .expect("valid metric"),
    )
});

/// One shard search that ran as `strategy`.
pub fn ran(strategy: Strategy) {
    SEARCHES.with_label_values(&[strategy.label()]).inc();
}

/// The searches of this process that ran as `strategy`.
pub fn count(strategy: Strategy) -> u64 {
    SEARCHES.with_label_values(&[strategy.label()]).get()
}

/// Registers the counter with every strategy at zero.
pub(super) fn init() {
    for strategy in Strategy::ALL {
        SEARCHES.with_label_values(&[strategy.label()]);
    }
}
