//! Rebalancing and draining: the [`planner`](super::planner) applied to the cluster. The
//! planner's input comes from the metadata as it will be once the transfers in flight end;
//! its moves start as transfers, a few at a time, and every call plans again from the
//! current state, so repeating a call (after a timeout, say) never starts a move twice.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use super::context::NodeContext;
use super::groups::Groups;
use super::leadership;
use super::membership::Membership;
use super::meta::{ClusterState, MetaCommand, Transfer};
use super::planner::{self, Plan, PlanNode, PlanShard};
use super::proposer::MetaProposer;
use super::raft_types::{GroupId, PeerId};
use crate::error::Result;

/// What the caller knows of a peer beyond the metadata (zones and capacity come from
/// Kubernetes, for instance).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PeerHint {
    pub zone: Option<String>,
    pub weight: f64,
    pub draining: bool,
}

/// Moves a drain starts at a time.
const DRAIN_CONCURRENCY: usize = 2;
const DRAIN_CHECK_EVERY: Duration = Duration::from_secs(1);

/// The collections a plan covers: one (`None`: every one) except the excluded ones.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    pub collection: Option<&'a str>,
    pub excluded: &'a [String],
}

impl Scope<'_> {
    pub const EVERY_COLLECTION: Scope<'static> = Scope {
        collection: None,
        excluded: &[],
    };

    fn covers(&self, collection: &str) -> bool {
        self.collection.is_none_or(|c| c == collection)
            && !self.excluded.iter().any(|c| c == collection)
    }
}

/// The planner's view of the cluster, restricted to the scope's collections; transfers in
/// flight count as done.
pub fn planner_input(
    state: &ClusterState,
    leaders: &BTreeMap<GroupId, PeerId>,
    scope: Scope,
    hints: &BTreeMap<PeerId, PeerHint>,
) -> (Vec<PlanNode>, Vec<PlanShard>) {
    let nodes = state
        .data_peers()
        .map(|id| {
            let hint = hints.get(&id).cloned().unwrap_or_default();
            PlanNode {
                id,
                zone: hint.zone,
                weight: if hint.weight > 0.0 { hint.weight } else { 1.0 },
                draining: hint.draining || state.draining.contains(&id),
            }
        })
        .collect();
    let shards = state
        .collections
        .iter()
        .filter(|(name, _)| scope.covers(name))
        .flat_map(|(name, entry)| {
            entry.shards.iter().enumerate().map(move |(id, placement)| {
                let mut replicas: BTreeSet<PeerId> = placement.replicas.keys().copied().collect();
                if let Some(t) = state.transfers.get(&placement.group_id) {
                    if !t.copy {
                        replicas.remove(&t.from);
                    }
                }
                PlanShard {
                    collection: name.clone(),
                    shard_id: id as u32,
                    leader: leaders
                        .get(&placement.group_id)
                        .copied()
                        .filter(|l| replicas.contains(l)),
                    replicas,
                }
            })
        })
        .collect();
    (nodes, shards)
}

/// The plan that balances the cluster as the metadata describes it (see [`planner_input`]).
pub fn plan(
    state: &ClusterState,
    leaders: &BTreeMap<GroupId, PeerId>,
    scope: Scope,
    hints: &BTreeMap<PeerId, PeerHint>,
) -> Plan {
    let (nodes, shards) = planner_input(state, leaders, scope, hints);
    planner::plan(&nodes, &shards)
}

/// The transfers to start for `plan`, given those in flight: at most `limit` in flight in
/// all, and one per shard group.
pub fn moves_to_start(state: &ClusterState, plan: &Plan, limit: usize) -> Vec<MetaCommand> {
    let room = limit.max(1).saturating_sub(state.transfers.len());
    let mut started = BTreeSet::new();
    plan.moves
        .iter()
        .filter_map(|m| {
            let group = state.group_of(&m.collection, m.shard_id).ok()?;
            let free = !state.transfers.contains_key(&group) && started.insert(group);
            free.then_some(MetaCommand::StartTransfer {
                group_id: group,
                transfer: Transfer {
                    from: m.from,
                    to: m.to,
                    copy: false,
                },
            })
        })
        .take(room)
        .collect()
}

/// Replicas a peer holds (a move away from it counts until it finishes).
pub fn remaining_replicas(state: &ClusterState, peer: PeerId) -> usize {
    state
        .collections
        .values()
        .flat_map(|c| &c.shards)
        .filter(|s| s.holds(peer))
        .count()
}

/// Plans over the current metadata and starts the first moves; once no replica has to move
/// (and none is moving), starts the plan's leader moves instead. Returns the whole plan.
pub async fn rebalance(
    ctx: &Arc<NodeContext>,
    groups: &Arc<Groups>,
    proposer: &MetaProposer,
    leaders: &BTreeMap<GroupId, PeerId>,
    scope: Scope<'_>,
    hints: &BTreeMap<PeerId, PeerHint>,
    limit: usize,
) -> Result<Plan> {
    let state = ctx.meta.borrow().state.clone();
    let plan = plan(&state, leaders, scope, hints);
    if plan.moves.is_empty() && state.transfers.is_empty() {
        start_leader_moves(ctx, groups, &state, &plan, limit);
    } else {
        start(proposer, moves_to_start(&state, &plan, limit)).await?;
    }
    Ok(plan)
}

/// Hands over the leadership of the plan's first `limit` leader moves, in the background
/// (a handover takes about a second and a half).
fn start_leader_moves(
    ctx: &Arc<NodeContext>,
    groups: &Arc<Groups>,
    state: &ClusterState,
    plan: &Plan,
    limit: usize,
) {
    for step in plan.leader_moves.iter().take(limit) {
        let Ok(group) = state.group_of(&step.collection, step.shard_id) else {
            continue;
        };
        let (ctx, groups, to) = (ctx.clone(), groups.clone(), step.to);
        tokio::spawn(async move {
            tracing::info!(group, to, "moving a shard leadership");
            if let Err(e) = leadership::move_leader(&ctx, &groups, group, Some(to)).await {
                tracing::warn!(group, to, error = %e, "leadership not moved");
            }
        });
    }
}

async fn start(proposer: &MetaProposer, commands: Vec<MetaCommand>) -> Result<()> {
    for command in commands {
        tracing::info!(?command, "starting a move");
        proposer.propose(command).await?;
    }
    Ok(())
}

/// On the metadata leader: moves the replicas of draining peers away, then removes the
/// peers that hold nothing any more.
pub async fn drive_drains(
    ctx: Arc<NodeContext>,
    proposer: Arc<MetaProposer>,
    membership: Arc<Membership>,
) {
    let mut tick = tokio::time::interval(DRAIN_CHECK_EVERY);
    loop {
        tick.tick().await;
        let draining = ctx.meta.borrow().state.draining.clone();
        if draining.is_empty() || membership.leader() != Some(ctx.peer_id) {
            continue;
        }
        if let Err(e) = drain_step(&ctx, &proposer, &membership, &draining).await {
            tracing::warn!(error = %e, "drain step failed; retrying");
        }
    }
}

async fn drain_step(
    ctx: &NodeContext,
    proposer: &MetaProposer,
    membership: &Membership,
    draining: &BTreeSet<PeerId>,
) -> Result<()> {
    // Only the moves off draining peers: a drain is not a rebalance of the others.
    let state = ctx.meta.borrow().state.clone();
    let mut plan = plan(
        &state,
        &BTreeMap::new(),
        Scope::EVERY_COLLECTION,
        &BTreeMap::new(),
    );
    plan.moves.retain(|m| draining.contains(&m.from));
    start(proposer, moves_to_start(&state, &plan, DRAIN_CONCURRENCY)).await?;
    let state = ctx.meta.borrow().state.clone();
    for &peer in draining {
        let moving = state
            .transfers
            .values()
            .any(|t| t.from == peer || t.to == peer);
        if remaining_replicas(&state, peer) == 0 && !moving {
            tracing::info!(peer, "drained; removing the peer");
            membership.remove_peer(peer, false).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::meta::{CollectionEntry, PeerInfo, ReplicaState, ShardPlacement};
    use crate::collection::CollectionMeta;
    use crate::engine::config_from_request;
    use crate::types::CreateCollection;

    fn state_with_shards(placements: &[&[PeerId]]) -> ClusterState {
        let mut state = ClusterState::default();
        for peer in 1..=3 {
            let uri = format!("http://127.0.0.{peer}:6335");
            state.peers.insert(
                peer,
                PeerInfo {
                    uri,
                    role: Default::default(),
                },
            );
        }
        let request: CreateCollection = serde_json::from_value(serde_json::json!({
            "vectors": {"size": 2, "distance": "Dot"},
        }))
        .unwrap();
        let meta = CollectionMeta {
            config: config_from_request(request).unwrap(),
            payload_schema: Default::default(),
        };
        let shards = placements
            .iter()
            .enumerate()
            .map(|(i, peers)| ShardPlacement {
                group_id: i as GroupId + 1,
                replicas: peers.iter().map(|p| (*p, ReplicaState::Active)).collect(),
                seed: None,
            })
            .collect();
        state
            .collections
            .insert("c".into(), CollectionEntry { meta, shards });
        state
    }

    #[test]
    fn transfers_in_flight_count_as_done_and_limit_new_ones() {
        let mut state = state_with_shards(&[&[1], &[1], &[1]]);
        let moving = Transfer {
            from: 1,
            to: 2,
            copy: false,
        };
        state.transfers.insert(1, moving);
        state.collections.get_mut("c").unwrap().shards[0]
            .replicas
            .insert(2, ReplicaState::Partial);
        let (nodes, shards) = planner_input(
            &state,
            &BTreeMap::new(),
            Scope::EVERY_COLLECTION,
            &BTreeMap::new(),
        );
        assert_eq!(shards[0].replicas, BTreeSet::from([2]));
        let plan = planner::plan(&nodes, &shards);
        assert_eq!(plan.moves.len(), 1, "{plan:?}");
        assert_eq!(moves_to_start(&state, &plan, 1), vec![]);
        let started = moves_to_start(&state, &plan, 2);
        assert_eq!(started.len(), 1);
        assert!(
            matches!(&started[0], MetaCommand::StartTransfer { transfer, .. } if transfer.to == 3)
        );
    }

    #[test]
    fn draining_peers_are_emptied_by_the_plan() {
        let mut state = state_with_shards(&[&[1, 3], &[2, 3]]);
        state.draining.insert(3);
        let (nodes, shards) = planner_input(
            &state,
            &BTreeMap::new(),
            Scope::EVERY_COLLECTION,
            &BTreeMap::new(),
        );
        let plan = planner::plan(&nodes, &shards);
        assert_eq!(plan.moves.len(), 2);
        assert!(plan.moves.iter().all(|m| m.from == 3 && m.to != 3));
        assert_eq!(remaining_replicas(&state, 3), 2);
    }

    #[test]
    fn excluded_collections_are_left_out_of_the_plan() {
        let mut state = state_with_shards(&[&[1], &[1], &[1]]);
        let pinned = state.collections["c"].clone();
        state.collections.insert("pinned".into(), pinned);
        let excluded = ["pinned".to_string()];
        let scope = Scope {
            collection: None,
            excluded: &excluded,
        };
        let (_, shards) = planner_input(&state, &BTreeMap::new(), scope, &BTreeMap::new());
        assert_eq!(shards.len(), 3);
        assert!(shards.iter().all(|s| s.collection == "c"));
        let plan = plan(&state, &BTreeMap::new(), scope, &BTreeMap::new());
        assert!(!plan.moves.is_empty());
        assert!(plan.moves.iter().all(|m| m.collection == "c"), "{plan:?}");
    }
}
