//! Dense vector search inside shards: how each search ran, so that a dashboard shows how
//! often filters push walks back to exact scoring.

use std::sync::LazyLock;

use prometheus::{IntCounter, IntCounterVec, Opts};

use super::register;
use crate::shard::Strategy;

/// One counter per strategy, in `Strategy::ALL` order, resolved once: a search only
/// increments an atomic, without the label lookup of the vector.
static SEARCHES: LazyLock<[IntCounter; 4]> = LazyLock::new(|| {
    let by_strategy = register(
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
    );
    Strategy::ALL.map(|strategy| by_strategy.with_label_values(&[strategy.label()]))
});

fn counter(strategy: Strategy) -> &'static IntCounter {
    let index = Strategy::ALL.iter().position(|&s| s == strategy);
    &SEARCHES[index.expect("every strategy is in Strategy::ALL")]
}

/// One shard search that ran as `strategy`.
pub fn ran(strategy: Strategy) {
    counter(strategy).inc();
}

/// The searches of this process that ran as `strategy`.
pub fn count(strategy: Strategy) -> u64 {
    counter(strategy).get()
}

/// Registers the counter with every strategy at zero.
pub(super) fn init() {
    LazyLock::force(&SEARCHES);
}
