//! The operator's decisions, as pure functions of what it observed: how many data nodes to
//! run (scale), which pods may restart (rolling upgrade), and what the status says.

mod scale;
mod status;
mod upgrade;

pub use scale::{scale, ScaleDecision};
pub use status::{aggregate, Observed, PodView, RolloutView, HEARTBEAT_STALE_SECONDS};
pub use upgrade::{rollout_partition, PodRevision, Rollout};
