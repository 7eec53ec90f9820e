//! Replica transfers (and drops), driven by the leader of the shard's group. A transfer recorded in the
//! metadata ([`super::meta::Transfer`]) moves through the group's membership one change at a
//! time: the target joins as a learner (openraft streams it the latest snapshot in chunks,
//! then the log tail), becomes a voter once it caught up, then a move removes the source;
//! finally the leader records the transfer as finished. Every step is read off the group's
//! membership, so whichever replica leads — after a crash or a leadership change — resumes
//! where the last one stopped, and retrying a step is harmless.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use openraft::ChangeMembers;
use parking_lot::Mutex;

use super::context::NodeContext;
use super::groups::Groups;
use super::leadership;
use super::meta::{MetaCommand, Transfer};
use super::proposer::MetaProposer;
use super::raft_types::{GroupId, PeerId, PeerNode};
use super::replica::LocalReplica;
use crate::error::{GrapeError, Result};
use crate::metrics;

/// A learner this close to the leader's log is promoted to voter.
const CAUGHT_UP_LAG: u64 = 20;
const CHECK_EVERY: Duration = Duration::from_millis(300);

/// Where a transfer stands, as its leader sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The target is not in the group yet.
    Starting,
    /// The target is a learner receiving the snapshot and the log.
    CatchingUp,
    /// The target votes; a move still has to remove the source.
    Promoted,
    /// The group reached the transfer's end state; only the metadata lags.
    Done,
}

/// The stage a transfer is in, from the group's membership.
pub fn stage(transfer: &Transfer, voters: &BTreeSet<PeerId>, nodes: &BTreeSet<PeerId>) -> Stage {
    if !nodes.contains(&transfer.to) {
        Stage::Starting
    } else if !voters.contains(&transfer.to) {
        Stage::CatchingUp
    } else if !transfer.copy && nodes.contains(&transfer.from) {
        Stage::Promoted
    } else {
        Stage::Done
    }
}

/// Snapshot bytes sent to each transfer target, as the network layer streams them.
#[derive(Clone, Default)]
pub struct SnapshotSends {
    sent: Arc<Mutex<HashMap<(GroupId, PeerId), u64>>>,
}

impl SnapshotSends {
    /// Records that a chunk ending at `end` went to `target`.
    pub fn chunk_sent(&self, group: GroupId, target: PeerId, end: u64) {
        self.sent.lock().insert((group, target), end);
    }

    pub fn sent(&self, group: GroupId, target: PeerId) -> u64 {
        self.sent.lock().get(&(group, target)).copied().unwrap_or(0)
    }
}

/// Transfer progress for the APIs: what the leader knows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Progress {
    pub points_done: u64,
    pub points_total: u64,
    pub bytes_done: u64,
    pub bytes_total: u64,
    /// Log entries the target still lacks; `None` when this node does not lead the group.
    pub lag: Option<u64>,
}

/// The progress of `group`'s transfer to `target`, if this node leads the group. Points
/// are estimated from the snapshot bytes sent (a snapshot is most of a transfer).
pub fn progress(ctx: &NodeContext, replica: &LocalReplica, target: PeerId) -> Option<Progress> {
    let metrics = replica.raft.metrics().borrow().clone();
    if metrics.current_leader != Some(ctx.peer_id) {
        return None;
    }
    let last = metrics.last_log_index.unwrap_or(0);
    let matched = metrics
        .replication
        .as_ref()
        .and_then(|r| r.get(&target).copied().flatten())
        .map(|l| l.index);
    let lag = matched.map_or(last, |m| last.saturating_sub(m));
    let points_total = replica.shard.points_count() as u64;
    let bytes_total = replica.snapshot_bytes();
    let bytes_done = ctx
        .snapshot_sends
        .sent(replica.group, target)
        .min(bytes_total);
    let points_done = if matched.is_some() && lag <= CAUGHT_UP_LAG {
        points_total
    } else {
        (points_total * bytes_done)
            .checked_div(bytes_total)
            .unwrap_or(0)
    };
    Some(Progress {
        points_done,
        points_total,
        bytes_done,
        bytes_total,
        lag: Some(lag),
    })
}

/// Follows the metadata's transfers and advances those of the groups this node leads.
pub async fn drive_transfers(
    ctx: Arc<NodeContext>,
    groups: Arc<Groups>,
    proposer: Arc<MetaProposer>,
) {
    let busy: Arc<Mutex<BTreeSet<GroupId>>> = Arc::default();
    let mut tick = tokio::time::interval(CHECK_EVERY);
    loop {
        tick.tick().await;
        let (transfers, drops) = {
            let view = ctx.meta.borrow();
            (view.state.transfers.clone(), view.state.drops.clone())
        };
        let work = transfers
            .into_iter()
            .map(|(group, t)| (group, Work::Transfer(t)))
            .chain(drops.into_iter().map(|(group, p)| (group, Work::Drop(p))));
        for (group, work) in work {
            let Some(replica) = groups.replica(group) else {
                continue;
            };
            if replica.leader() != Some(ctx.peer_id) || !busy.lock().insert(group) {
                continue;
            }
            let (ctx, proposer, busy) = (ctx.clone(), proposer.clone(), busy.clone());
            tokio::spawn(async move {
                let done = match &work {
                    Work::Transfer(t) => advance(&ctx, &replica, t, &proposer).await,
                    Work::Drop(peer) => drop_member(&ctx, &replica, *peer, &proposer).await,
                };
                if let Err(e) = done {
                    tracing::warn!(group, error = %e, "transfer step failed; retrying");
                }
                busy.lock().remove(&group);
            });
        }
    }
}

/// What the leader of a group has to carry out.
enum Work {
    Transfer(Transfer),
    /// Remove this peer's replica from the group, then from the placement.
    Drop(PeerId),
}

/// Removes a dropped replica from the group's membership, then records it gone.
async fn drop_member(
    ctx: &NodeContext,
    replica: &LocalReplica,
    peer: PeerId,
    proposer: &MetaProposer,
) -> Result<()> {
    let group = replica.group;
    let membership = replica
        .raft
        .metrics()
        .borrow()
        .membership_config
        .membership()
        .clone();
    let is_voter = membership.voter_ids().any(|v| v == peer);
    let is_node = membership.nodes().any(|(id, _)| *id == peer);
    let change = if is_voter {
        ChangeMembers::RemoveVoters(BTreeSet::from([peer]))
    } else if is_node {
        ChangeMembers::RemoveNodes(BTreeSet::from([peer]))
    } else {
        tracing::info!(group, peer, "replica dropped");
        proposer
            .propose(MetaCommand::FinishDrop { group_id: group })
            .await?;
        return Ok(());
    };
    if peer == ctx.peer_id && is_voter {
        return hand_over_or_step_down(ctx, replica, None).await;
    }
    tracing::info!(group, peer, "drop: removing the replica from the group");
    replica
        .raft
        .change_membership(change, false)
        .await
        .map_err(|e| GrapeError::unavailable(format!("group {group}: {e}")))?;
    Ok(())
}

/// Takes the next step of one transfer.
async fn advance(
    ctx: &NodeContext,
    replica: &LocalReplica,
    transfer: &Transfer,
    proposer: &MetaProposer,
) -> Result<()> {
    let group = replica.group;
    let metrics = replica.raft.metrics().borrow().clone();
    let membership = metrics.membership_config.membership();
    let voters: BTreeSet<PeerId> = membership.voter_ids().collect();
    let nodes: BTreeSet<PeerId> = membership.nodes().map(|(id, _)| *id).collect();
    let raft_error = |e: String| GrapeError::unavailable(format!("group {group}: {e}"));
    match stage(transfer, &voters, &nodes) {
        Stage::Starting => {
            tracing::info!(
                group,
                to = transfer.to,
                "transfer: adding the target as learner"
            );
            let node = PeerNode::new(ctx.peer_uri(transfer.to)?);
            replica
                .raft
                .add_learner(transfer.to, node, false)
                .await
                .map_err(|e| raft_error(e.to_string()))?;
            metrics::replication::transfer_started();
        }
        Stage::CatchingUp => {
            let caught_up = progress(ctx, replica, transfer.to)
                .and_then(|p| p.lag)
                .is_some_and(|lag| lag <= CAUGHT_UP_LAG);
            let matched = metrics
                .replication
                .as_ref()
                .is_some_and(|r| r.get(&transfer.to).is_some_and(|m| m.is_some()));
            if caught_up && matched {
                tracing::info!(group, to = transfer.to, "transfer: promoting the target");
                let add = ChangeMembers::AddVoterIds(BTreeSet::from([transfer.to]));
                replica
                    .raft
                    .change_membership(add, false)
                    .await
                    .map_err(|e| raft_error(e.to_string()))?;
            }
        }
        Stage::Promoted if transfer.from == ctx.peer_id => {
            // The source leads: hand the group to the new replica, which then removes it.
            hand_over_or_step_down(ctx, replica, Some(transfer.to)).await?;
        }
        Stage::Promoted => {
            tracing::info!(group, from = transfer.from, "transfer: removing the source");
            let remove = if voters.contains(&transfer.from) {
                ChangeMembers::RemoveVoters(BTreeSet::from([transfer.from]))
            } else {
                ChangeMembers::RemoveNodes(BTreeSet::from([transfer.from]))
            };
            replica
                .raft
                .change_membership(remove, false)
                .await
                .map_err(|e| raft_error(e.to_string()))?;
        }
        Stage::Done => {
            tracing::info!(group, to = transfer.to, "transfer finished");
            proposer
                .propose(MetaCommand::FinishTransfer { group_id: group })
                .await?;
            if let Some(done) = progress(ctx, replica, transfer.to) {
                metrics::replication::transfer_finished(done.points_total, done.bytes_done);
            }
        }
    }
    Ok(())
}

/// Hands the leadership of a group whose leader is leaving it to another voter (the next
/// step then runs on the new leader). Should that fail, the leader removes itself after
/// all: it steps down once the change commits, and the others elect a leader without it.
async fn hand_over_or_step_down(
    ctx: &NodeContext,
    replica: &LocalReplica,
    to: Option<PeerId>,
) -> Result<()> {
    let group = replica.group;
    match leadership::hand_over(ctx, replica, to).await {
        Ok(outcome) if outcome.leader != Some(ctx.peer_id) => return Ok(()),
        Ok(_) => tracing::warn!(group, "handover failed; the leader removes itself"),
        Err(e) => tracing::warn!(group, error = %e, "no handover; the leader removes itself"),
    }
    let me = BTreeSet::from([ctx.peer_id]);
    replica
        .raft
        .change_membership(ChangeMembers::RemoveVoters(me), false)
        .await
        .map_err(|e| GrapeError::unavailable(format!("group {group}: {e}")))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_follow_the_membership() {
        let moving = Transfer {
            from: 1,
            to: 2,
            copy: false,
        };
        let set = |ids: &[PeerId]| ids.iter().copied().collect::<BTreeSet<_>>();
        assert_eq!(stage(&moving, &set(&[1]), &set(&[1])), Stage::Starting);
        assert_eq!(stage(&moving, &set(&[1]), &set(&[1, 2])), Stage::CatchingUp);
        assert_eq!(
            stage(&moving, &set(&[1, 2]), &set(&[1, 2])),
            Stage::Promoted
        );
        assert_eq!(stage(&moving, &set(&[2]), &set(&[2])), Stage::Done);
        let copying = Transfer {
            copy: true,
            ..moving
        };
        assert_eq!(stage(&copying, &set(&[1, 2]), &set(&[1, 2])), Stage::Done);
    }
}
