//! Peers joining and leaving the metadata group. A joining peer is added as a learner,
//! caught up, promoted to voter (a query node stays a learner), then recorded in the
//! metadata. Only the metadata leader changes membership, one change at a time; it also
//! forgets query nodes that vanished without leaving.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use openraft::ChangeMembers;
use tokio::sync::Mutex;

use super::context::NodeContext;
use super::groups::Groups;
use super::meta::{MetaCommand, PeerRole};
use super::proposer::MetaProposer;
use super::raft_types::{PeerId, PeerNode};
use crate::error::{GrapeError, Result};

pub struct Membership {
    groups: Arc<Groups>,
    proposer: Arc<MetaProposer>,
    /// Serializes membership changes made by this node (openraft refuses concurrent ones).
    changing: Mutex<()>,
}

impl Membership {
    pub fn new(groups: Arc<Groups>, proposer: Arc<MetaProposer>) -> Self {
        Membership {
            groups,
            proposer,
            changing: Mutex::new(()),
        }
    }

    /// The metadata leader, when known.
    pub fn leader(&self) -> Option<PeerId> {
        self.groups.meta.metrics().borrow().current_leader
    }

    /// Adds (or re-adds, perhaps at a new address) a peer; call it on the metadata leader.
    /// Idempotent.
    pub async fn add_peer(&self, peer_id: PeerId, uri: &str, role: PeerRole) -> Result<()> {
        let _one_at_a_time = self.changing.lock().await;
        let meta = &self.groups.meta;
        let raft_error = |e: String| GrapeError::unavailable(format!("adding peer {peer_id}: {e}"));
        if self
            .member_address(peer_id)
            .is_some_and(|known| known != uri)
        {
            // A member restarted at a new address: the group must send it messages there.
            let nodes = BTreeMap::from([(peer_id, PeerNode::new(uri))]);
            meta.change_membership(ChangeMembers::SetNodes(nodes), false)
                .await
                .map_err(|e| raft_error(e.to_string()))?;
            tracing::info!(peer_id, uri, "peer moved to a new address");
        }
        meta.add_learner(peer_id, PeerNode::new(uri), true)
            .await
            .map_err(|e| raft_error(e.to_string()))?;
        // A query node stays a learner: it follows the metadata but never counts in a quorum.
        if role == PeerRole::Data {
            let voters = BTreeSet::from([peer_id]);
            meta.change_membership(ChangeMembers::AddVoterIds(voters), false)
                .await
                .map_err(|e| raft_error(e.to_string()))?;
        }
        let uri = uri.to_string();
        self.proposer
            .propose(MetaCommand::AddPeer { peer_id, uri, role })
            .await?;
        tracing::info!(peer_id, ?role, "peer joined the cluster");
        Ok(())
    }

    /// The address the metadata group sends a member's messages to.
    fn member_address(&self, peer_id: PeerId) -> Option<String> {
        let metrics = self.groups.meta.metrics().borrow().clone();
        let membership = metrics.membership_config.membership();
        membership.get_node(&peer_id).map(|node| node.addr.clone())
    }

    /// Removes a peer from the metadata (refused while it holds replicas unless `force`)
    /// and from the metadata group. Call it on the metadata leader.
    pub async fn remove_peer(&self, peer_id: PeerId, force: bool) -> Result<bool> {
        let _one_at_a_time = self.changing.lock().await;
        let removed = self
            .proposer
            .propose(MetaCommand::RemovePeer { peer_id, force })
            .await?;
        let ids = BTreeSet::from([peer_id]);
        let meta = &self.groups.meta;
        let membership = meta.metrics().borrow().membership_config.clone();
        let in_group = membership.nodes().any(|(id, _)| *id == peer_id);
        let is_voter = membership.membership().voter_ids().any(|id| id == peer_id);
        let raft_error =
            |e: String| GrapeError::unavailable(format!("removing peer {peer_id}: {e}"));
        if is_voter {
            meta.change_membership(ChangeMembers::RemoveVoters(ids.clone()), false)
                .await
                .map_err(|e| raft_error(e.to_string()))?;
        }
        if in_group {
            meta.change_membership(ChangeMembers::RemoveNodes(ids), false)
                .await
                .map_err(|e| raft_error(e.to_string()))?;
        }
        Ok(removed || in_group)
    }
}

/// A query node that vanished without leaving (killed, or its machine lost) is forgotten
/// once it answered no message of the metadata leader for this long.
pub const LOST_QUERY_PEER_AFTER: Duration = Duration::from_secs(30);

/// On the metadata leader: removes the query peers that stopped answering. A new leader
/// first waits as long, so that every live peer had the time to answer it.
pub async fn forget_lost_query_peers(ctx: Arc<NodeContext>, membership: Arc<Membership>) {
    let mut leading_since: Option<Instant> = None;
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    loop {
        tick.tick().await;
        if membership.leader() != Some(ctx.peer_id) {
            leading_since = None;
            continue;
        }
        if leading_since.get_or_insert_with(Instant::now).elapsed() < LOST_QUERY_PEER_AFTER {
            continue;
        }
        let lost: Vec<PeerId> = ctx
            .meta
            .borrow()
            .state
            .peers
            .iter()
            .filter(|(&id, info)| {
                info.role == PeerRole::Query && !ctx.health.is_alive(id, LOST_QUERY_PEER_AFTER)
            })
            .map(|(&id, _)| id)
            .collect();
        for peer in lost {
            tracing::info!(peer, "forgetting a query node that stopped answering");
            if let Err(e) = membership.remove_peer(peer, false).await {
                tracing::warn!(peer, error = %e, "could not forget a lost query node");
            }
        }
    }
}
