//! Handing the leadership of a shard group to another voter, before its leader is removed,
//! restarted or rebalanced away.
//!
//! openraft 0.9 has no leader transfer, and a voter refuses to vote while its leader lease
//! runs (the longest election timeout since it last heard from the leader). So a handover
//! is: stop taking writes, let the target catch up completely, keep the other voters from
//! campaigning, stop heartbeats until the lease ran out, then have the target campaign. Its
//! log is complete, so it wins. Writes meanwhile are redirected and retried by the replica
//! set: they wait about one lease, instead of a leader's failure detection plus an election.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use grape_proto::internal::LeadershipRequest;

use super::context::{peer_request, NodeContext};
use super::groups::Groups;
use super::raft_types::{GroupId, PeerId};
use super::replica::{LocalReplica, ELECTION_TIMEOUT_MAX};
use crate::error::{GrapeError, Result};

/// How long the other voters stay out of the election; longer than a whole handover.
pub const HOLD_ELECTIONS: Duration = Duration::from_secs(5);
/// How long the target may take to receive the rest of the log.
const CATCH_UP_WAIT: Duration = Duration::from_secs(3);
/// How long the target may take to win once it campaigns.
const ELECTION_WAIT: Duration = Duration::from_secs(3);
/// Margin over the lease, for clocks and message delays.
const LEASE_MARGIN: Duration = Duration::from_millis(150);
/// Requests to peers during a handover are short: a silent peer is skipped.
const PEER_CALL_TIMEOUT: Duration = Duration::from_secs(1);

/// What a replica did with a request to hand its group's leadership over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// It led the group and attempted the handover.
    pub led: bool,
    /// The leader it knows of now.
    pub leader: Option<PeerId>,
}

impl Outcome {
    /// It did not lead the group; `leader` is the one it knows of.
    pub fn not_leading(leader: Option<PeerId>) -> Self {
        Outcome { led: false, leader }
    }
}

/// Hands the leadership of `replica`'s group to `to`, or to the most caught-up other voter,
/// if this node leads it. A failed handover leaves this node leading: writes resume here.
pub async fn hand_over(
    ctx: &NodeContext,
    replica: &LocalReplica,
    to: Option<PeerId>,
) -> Result<Outcome> {
    let group = replica.group;
    let metrics = replica.raft.metrics().borrow().clone();
    if metrics.current_leader != Some(ctx.peer_id) || to == Some(ctx.peer_id) {
        return Ok(Outcome::not_leading(metrics.current_leader));
    }
    let voters: BTreeSet<PeerId> = metrics.membership_config.membership().voter_ids().collect();
    let target = match to {
        Some(to) if voters.contains(&to) => to,
        Some(to) => {
            return Err(GrapeError::bad_input(format!(
                "peer {to} is not a voting replica of shard group {group}"
            )))
        }
        None => most_caught_up(&metrics, &voters, ctx.peer_id).ok_or_else(|| {
            GrapeError::bad_input(format!("shard group {group} has no other voting replica"))
        })?,
    };
    tracing::info!(group, to = target, "handing leadership over");
    let handover = replica.begin_handover(target).ok_or_else(|| {
        GrapeError::unavailable(format!("shard group {group}: a handover is in progress"))
    })?;
    for voter in voters.iter().filter(|&&v| v != target && v != ctx.peer_id) {
        if let Err(e) = call_peer(ctx, *voter, group, 0, Call::HoldElections).await {
            tracing::debug!(group, voter, error = %e, "voter not held; it may campaign");
        }
    }
    wait_caught_up(replica, target).await?;
    replica.raft.runtime_config().heartbeat(false);
    tokio::time::sleep(ELECTION_TIMEOUT_MAX + LEASE_MARGIN).await;
    call_peer(ctx, target, group, 0, Call::Campaign).await?;
    let mut watch = replica.raft.metrics();
    let elected = watch.wait_for(|m| m.current_leader == Some(target));
    let outcome = tokio::time::timeout(ELECTION_WAIT, elected).await;
    drop(handover);
    let leader = replica.raft.metrics().borrow().current_leader;
    match outcome {
        Ok(Ok(_)) => tracing::info!(group, to = target, "leadership handed over"),
        _ => tracing::warn!(group, to = target, ?leader, "handover did not complete"),
    }
    Ok(Outcome { led: true, leader })
}

/// The voter (other than `me`) whose log the leader knows to reach furthest.
fn most_caught_up(
    metrics: &openraft::RaftMetrics<PeerId, super::raft_types::PeerNode>,
    voters: &BTreeSet<PeerId>,
    me: PeerId,
) -> Option<PeerId> {
    let matched = |v: &PeerId| {
        metrics
            .replication
            .as_ref()
            .and_then(|r| r.get(v).copied().flatten())
            .map(|l| l.index)
    };
    voters
        .iter()
        .filter(|&&v| v != me)
        .max_by_key(|v| (matched(v), std::cmp::Reverse(**v)))
        .copied()
}

/// Waits until `target` holds every entry of the leader's log.
async fn wait_caught_up(replica: &LocalReplica, target: PeerId) -> Result<()> {
    let mut watch = replica.raft.metrics();
    let caught_up = watch.wait_for(|m| {
        let last = m.last_log_index.unwrap_or(0);
        m.replication
            .as_ref()
            .and_then(|r| r.get(&target).copied().flatten())
            .is_some_and(|l| l.index >= last)
    });
    let waited = tokio::time::timeout(CATCH_UP_WAIT, caught_up)
        .await
        .map(|r| r.is_ok());
    match waited {
        Ok(true) => Ok(()),
        _ => Err(GrapeError::unavailable(format!(
            "shard group {}: peer {target} did not catch up in time for a handover",
            replica.group
        ))),
    }
}

/// Moves the leadership of `group` to `to` (away from its leader when `None`), wherever it
/// is led: asks the replicas in turn, following their hints, until the leader answers.
/// Returns the leader afterwards.
pub async fn move_leader(
    ctx: &NodeContext,
    groups: &Groups,
    group: GroupId,
    to: Option<PeerId>,
) -> Result<Option<PeerId>> {
    let mut candidates: Vec<PeerId> = ctx
        .meta
        .borrow()
        .state
        .shard_of_group(group)
        .map(|(_, _, placement)| placement.replicas.keys().copied().collect())
        .unwrap_or_default();
    if let Some(hint) = groups.replica(group).and_then(|r| r.leader()) {
        candidates.insert(0, hint);
    }
    let mut asked = BTreeSet::new();
    while let Some(peer) = candidates.iter().copied().find(|p| !asked.contains(p)) {
        asked.insert(peer);
        let outcome = match (peer == ctx.peer_id, groups.replica(group)) {
            (true, Some(replica)) => hand_over(ctx, &replica, to).await,
            (true, None) => continue,
            (false, _) => call_peer(ctx, peer, group, to.unwrap_or(0), Call::HandOver).await,
        };
        match outcome {
            Ok(outcome) if outcome.led || (to.is_some() && outcome.leader == to) => {
                return Ok(outcome.leader)
            }
            Ok(Outcome {
                leader: Some(hint), ..
            }) => candidates.insert(0, hint),
            Ok(_) => {}
            Err(e @ GrapeError::BadInput(_)) => return Err(e),
            Err(e) => tracing::debug!(group, peer, error = %e, "peer did not take the handover"),
        }
    }
    Err(no_leader(group))
}

/// Hands over every shard group this node leads to another voter, all at once; returns how
/// many it still leads.
pub async fn shed_leaderships(ctx: &Arc<NodeContext>, groups: &Groups) -> usize {
    let mut handovers = tokio::task::JoinSet::new();
    for replica in groups.replicas() {
        if replica.leader() != Some(ctx.peer_id) {
            continue;
        }
        let ctx = ctx.clone();
        handovers.spawn(async move {
            if let Err(e) = hand_over(&ctx, &replica, None).await {
                tracing::warn!(group = replica.group, error = %e, "leadership not shed");
            }
        });
    }
    handovers.join_all().await;
    groups
        .replicas()
        .iter()
        .filter(|r| r.leader() == Some(ctx.peer_id))
        .count()
}

#[derive(Clone, Copy)]
enum Call {
    HandOver,
    HoldElections,
    Campaign,
}

/// Sends one of the handover's requests to `peer`.
async fn call_peer(
    ctx: &NodeContext,
    peer: PeerId,
    group: GroupId,
    to: PeerId,
    call: Call,
) -> Result<Outcome> {
    let mut client = ctx.internal(peer)?;
    let request = LeadershipRequest {
        group_id: group,
        to_peer_id: to,
    };
    let reply = match call {
        Call::HandOver => client.hand_over_leadership(peer_request(request)).await,
        Call::HoldElections => client.hold_elections(short_request(request)).await,
        Call::Campaign => client.campaign(short_request(request)).await,
    };
    let reply = reply
        .map_err(|s| super::codec::status_to_error(&s))?
        .into_inner();
    Ok(Outcome {
        led: reply.led,
        leader: Some(reply.leader_peer_id).filter(|&l| l != 0),
    })
}

fn short_request<T>(message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.set_timeout(PEER_CALL_TIMEOUT);
    request
}

fn no_leader(group: GroupId) -> GrapeError {
    GrapeError::unavailable(format!("shard group {group} has no known leader"))
}
