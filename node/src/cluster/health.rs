//! The leader of each shard group watches its replicas: it reports their state (Active,
//! Dead, Partial) to the metadata when it changes, so every peer routes reads away from
//! unhealthy replicas, and it removes from the group the members the metadata no longer
//! places there (e.g. after a forced peer removal or an aborted transfer) and points it at
//! members' new addresses (a peer restarted with another `--uri`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use openraft::{ChangeMembers, ServerState};

use super::context::NodeContext;
use super::groups::Groups;
use super::meta::{MetaCommand, PeerInfo, ReplicaState};
use super::proposer::MetaProposer;
use super::raft_types::{PeerId, PeerNode};
use super::replica::{LocalReplica, LocalWriteError};

/// A peer that answered no Raft message for this long is reported dead.
pub const DEAD_AFTER: Duration = Duration::from_secs(3);
/// A follower further behind than this many entries is reported partial.
const PARTIAL_LAG: u64 = 100;
const CHECK_EVERY: Duration = Duration::from_millis(500);

/// What the leader sees of one follower: how far behind it is, and whether it answers.
pub fn observed_state(alive: bool, lag: Option<u64>) -> ReplicaState {
    match (alive, lag) {
        (false, _) => ReplicaState::Dead,
        (true, Some(lag)) if lag <= PARTIAL_LAG => ReplicaState::Active,
        (true, _) => ReplicaState::Partial,
    }
}

pub async fn watch_replicas(
    ctx: Arc<NodeContext>,
    groups: Arc<Groups>,
    proposer: Arc<MetaProposer>,
) {
    let started = Instant::now();
    let mut tick = tokio::time::interval(CHECK_EVERY);
    loop {
        tick.tick().await;
        // Until a few heartbeats went out, silence from a peer means nothing.
        if started.elapsed() < DEAD_AFTER {
            continue;
        }
        for replica in groups.replicas() {
            check_replica(&ctx, &replica, &proposer).await;
        }
    }
}

async fn check_replica(ctx: &NodeContext, replica: &LocalReplica, proposer: &MetaProposer) {
    let metrics = replica.raft.metrics().borrow().clone();
    if metrics.state != ServerState::Leader {
        return;
    }
    let state = ctx.meta.borrow().state.clone();
    let Some((_, _, placement)) = state.shard_of_group(replica.group) else {
        return;
    };
    let last = metrics.last_log_index.unwrap_or(0);
    let matched = metrics.replication.clone().unwrap_or_default();
    // A transfer's target stays Partial until the transfer finishes.
    let target = state.transfers.get(&replica.group).map(|t| t.to);
    for (&peer, &recorded) in &placement.replicas {
        if Some(peer) == target {
            continue;
        }
        let observed = if peer == ctx.peer_id {
            ReplicaState::Active
        } else {
            let lag = matched
                .get(&peer)
                .and_then(|m| m.map(|m| last.saturating_sub(m.index)));
            observed_state(ctx.health.is_alive(peer, DEAD_AFTER), lag)
        };
        if observed != recorded {
            report(proposer, replica.group, peer, observed).await;
        }
    }
    if let Some(schema) = ctx.payload_schema(replica.group) {
        if replica.applied_indexes() != schema {
            if let Err(LocalWriteError::Failed(e)) = replica.declare_indexes(schema).await {
                tracing::warn!(group = replica.group, error = %e, "could not declare indexes");
            }
        }
    }
    if !update_member_addresses(replica, &metrics, &state.peers).await {
        remove_stale_members(replica, &metrics, &placement.replicas).await;
    }
}

/// Gives the group the addresses the metadata records for its members, when a member moved
/// (openraft sends to the addresses in its membership); whether any had.
async fn update_member_addresses(
    replica: &LocalReplica,
    metrics: &openraft::RaftMetrics<PeerId, PeerNode>,
    peers: &BTreeMap<PeerId, PeerInfo>,
) -> bool {
    let moved: BTreeMap<PeerId, PeerNode> = metrics
        .membership_config
        .membership()
        .nodes()
        .filter_map(|(id, node)| {
            let uri = &peers.get(id)?.uri;
            (*uri != node.addr).then(|| (*id, PeerNode::new(uri)))
        })
        .collect();
    if moved.is_empty() {
        return false;
    }
    tracing::info!(
        group = replica.group,
        ?moved,
        "members moved to new addresses"
    );
    let change = ChangeMembers::SetNodes(moved);
    if let Err(e) = replica.raft.change_membership(change, false).await {
        tracing::warn!(group = replica.group, error = %e, "could not update member addresses");
    }
    true
}

/// Removes from the group the members the metadata no longer places there (after a forced
/// peer removal, a dropped replica or an aborted transfer): voters first, then learners.
async fn remove_stale_members<T>(
    replica: &LocalReplica,
    metrics: &openraft::RaftMetrics<PeerId, PeerNode>,
    placed: &BTreeMap<PeerId, T>,
) {
    let membership = metrics.membership_config.membership();
    let voters: BTreeSet<PeerId> = membership.voter_ids().collect();
    let stale = |ids: &mut dyn Iterator<Item = PeerId>| -> BTreeSet<PeerId> {
        ids.filter(|id| !placed.contains_key(id)).collect()
    };
    let stale_voters = stale(&mut voters.iter().copied());
    let stale_learners = stale(&mut membership.learner_ids());
    let change = if !stale_voters.is_empty() && stale_voters.len() < voters.len() {
        ChangeMembers::RemoveVoters(stale_voters)
    } else if !stale_learners.is_empty() {
        ChangeMembers::RemoveNodes(stale_learners)
    } else {
        return;
    };
    tracing::info!(
        group = replica.group,
        ?change,
        "removing members no longer placed here"
    );
    if let Err(e) = replica.raft.change_membership(change, false).await {
        tracing::warn!(group = replica.group, error = %e, "could not remove stale members");
    }
}

async fn report(proposer: &MetaProposer, group: u64, peer: PeerId, state: ReplicaState) {
    tracing::info!(group, peer, ?state, "replica state changed");
    let command = MetaCommand::SetReplicaState {
        group_id: group,
        peer_id: peer,
        state,
    };
    if let Err(e) = proposer.propose(command).await {
        tracing::warn!(group, peer, error = %e, "could not report replica state");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_follow_liveness_and_lag() {
        assert_eq!(observed_state(false, Some(0)), ReplicaState::Dead);
        assert_eq!(observed_state(true, Some(3)), ReplicaState::Active);
        assert_eq!(observed_state(true, Some(5_000)), ReplicaState::Partial);
        assert_eq!(observed_state(true, None), ReplicaState::Partial);
    }
}
