//! Peers joining and leaving the metadata group. A joining peer is added as a learner,
//! caught up, promoted to voter, then recorded in the metadata. Only the metadata leader
//! changes membership, one change at a time.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use openraft::ChangeMembers;
use tokio::sync::Mutex;

use super::groups::Groups;
use super::meta::MetaCommand;
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
    pub async fn add_peer(&self, peer_id: PeerId, uri: &str) -> Result<()> {
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
        let voters = BTreeSet::from([peer_id]);
        meta.change_membership(ChangeMembers::AddVoterIds(voters), false)
            .await
            .map_err(|e| raft_error(e.to_string()))?;
        let uri = uri.to_string();
        self.proposer
            .propose(MetaCommand::AddPeer { peer_id, uri })
            .await?;
        tracing::info!(peer_id, "peer joined the cluster");
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
        let voters = BTreeSet::from([peer_id]);
        let meta = &self.groups.meta;
        let in_group = meta
            .metrics()
            .borrow()
            .membership_config
            .nodes()
            .any(|(id, _)| *id == peer_id);
        if in_group {
            meta.change_membership(ChangeMembers::RemoveVoters(voters.clone()), false)
                .await
                .map_err(|e| GrapeError::unavailable(format!("removing peer {peer_id}: {e}")))?;
            meta.change_membership(ChangeMembers::RemoveNodes(voters), false)
                .await
                .map_err(|e| GrapeError::unavailable(format!("removing peer {peer_id}: {e}")))?;
        }
        Ok(removed || in_group)
    }
}
