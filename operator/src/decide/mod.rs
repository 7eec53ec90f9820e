//! The operator's decisions, as pure functions of what it observed: how many data nodes to
//! run (scale), which pods may restart (rolling upgrade), what the status says, and the
//! next step of a ShardPlacement.

mod condition;
mod manual;
mod placement;
mod scale;
mod status;
mod upgrade;

pub use manual::{
    balanced_scope, manual_transfers, pods_of_peers, settled_shards, transfers_to_start,
    ShardReplicas, Transfer,
};
pub use placement::{blocked, step, PlacementStep, PlacementView, APPROVE_ANNOTATION};
pub use scale::{
    drains_to_cancel, pods_to_rejoin, rebalance_due, scale, PodMembership, ScaleDecision,
};
pub use status::{
    aggregate, departed_reports, Observed, PodView, RolloutView, HEARTBEAT_STALE_SECONDS,
};
pub use upgrade::{rollout_partition, PodRevision, Rollout};
