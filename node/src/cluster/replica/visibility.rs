//! Making a committed write visible on every live replica before it is acknowledged.
//!
//! Raft acknowledges a write once a majority holds it in its log and the leader applied it;
//! a follower applies it only after it learns the new commit index. Qdrant applies a write
//! on every replica before `wait=true` answers, so its users read their writes from any
//! node at the default consistency. The leader therefore waits, briefly, until the live
//! voters (those that answered its Raft messages a moment ago) applied it too. A follower
//! that stalls just then delays the answer by at most [`VISIBILITY_WAIT`] and never fails
//! the write: it is committed.

use std::time::Duration;

use grape_proto::internal::AppliedRequest;
use tokio::task::JoinSet;

use super::LocalReplica;
use crate::cluster::context::{peer_request, NodeContext};
use crate::cluster::raft_types::PeerId;

/// The longest a write waits for one follower to apply it.
pub const VISIBILITY_WAIT: Duration = Duration::from_secs(1);
/// A follower that answered within this window (five heartbeats) is live.
const LIVE_WINDOW: Duration = Duration::from_millis(500);

/// Waits until the live voters of the replica's group (this replica leads it) applied log
/// entry `index`, each for at most [`VISIBILITY_WAIT`].
pub async fn await_followers(ctx: &NodeContext, replica: &LocalReplica, index: u64) {
    let mut waits = JoinSet::new();
    for peer in live_followers(ctx, replica) {
        let Ok(mut client) = ctx.internal(peer) else {
            continue;
        };
        let request = AppliedRequest {
            group_id: replica.group,
            log_index: index,
        };
        waits.spawn(async move {
            let answer =
                tokio::time::timeout(VISIBILITY_WAIT, client.wait_applied(peer_request(request)))
                    .await;
            let applied = matches!(answer, Ok(Ok(ref reply)) if reply.get_ref().applied);
            (peer, applied)
        });
    }
    while let Some(done) = waits.join_next().await {
        if let Ok((peer, false)) = done {
            tracing::debug!(
                group = replica.group,
                peer,
                index,
                "follower did not apply in time"
            );
        }
    }
}

/// The voters other than this leader that answered its Raft messages lately.
fn live_followers(ctx: &NodeContext, replica: &LocalReplica) -> Vec<PeerId> {
    let metrics = replica.raft.metrics().borrow().clone();
    let membership = metrics.membership_config.membership();
    membership
        .voter_ids()
        .filter(|peer| *peer != metrics.id && ctx.health.is_alive(*peer, LIVE_WINDOW))
        .collect()
}
