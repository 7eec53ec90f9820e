//! The cluster's metadata: peers, collections with the placement of their shard replicas,
//! and aliases. It is the state machine of the metadata Raft group; every peer holds the same
//! copy. [`ClusterState::apply`] is pure and deterministic, so it is tested without Raft.

pub mod machine;
pub mod placement;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

pub use machine::MetaMachine;

use super::raft_types::{GroupId, PeerId};
use crate::collection::{CollectionMeta, FieldIndex};
use crate::engine::{apply_alias_operations, apply_update, MetaChange};
use crate::error::{GrapeError, Result};

/// What a peer is, as the cluster records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeerInfo {
    /// The peer's internal address, e.g. `http://10.0.0.2:6335`.
    pub uri: String,
    #[serde(default)]
    pub role: PeerRole,
}

/// What a peer does in the cluster.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum PeerRole {
    /// Holds shard replicas and votes in the metadata group.
    #[default]
    Data,
    /// Stateless: follows the metadata as a learner, holds no replica and routes every
    /// request to the data nodes; it can come and go freely.
    Query,
}

/// Qdrant's replica states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReplicaState {
    /// Up to date and serving reads.
    Active,
    /// Unreachable or too far behind; the shard's leader heals it when it comes back.
    Dead,
    /// Receiving the shard (a learner catching up).
    Partial,
    /// Just created, not yet confirmed by its group.
    Initializing,
}

/// Where one shard's replicas live.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardPlacement {
    /// The shard's Raft group.
    pub group_id: GroupId,
    pub replicas: BTreeMap<PeerId, ReplicaState>,
    /// The replica that initializes the group with the initial replicas as members; cleared
    /// once the group's membership changes, so a replica added later never re-initializes.
    pub seed: Option<PeerId>,
}

impl ShardPlacement {
    pub fn holds(&self, peer: PeerId) -> bool {
        self.replicas.contains_key(&peer)
    }
}

/// A collection of the cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CollectionEntry {
    pub meta: CollectionMeta,
    /// `shards[i]` is shard `i`.
    pub shards: Vec<ShardPlacement>,
}

/// A replica on its way to a peer: the target is a learner of the shard's group until it
/// caught up, then a voter; a move then removes the source. Its progress lives in Raft, so
/// a transfer survives the restart of either side and is resumed by whichever replica leads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transfer {
    pub from: PeerId,
    pub to: PeerId,
    /// Keep the source replica (Qdrant's `replicate_shard`) instead of moving it.
    pub copy: bool,
}

/// Everything the metadata group agrees on.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClusterState {
    pub peers: BTreeMap<PeerId, PeerInfo>,
    pub collections: BTreeMap<String, CollectionEntry>,
    pub aliases: BTreeMap<String, String>,
    /// The next shard group id to hand out; ids are never reused.
    pub next_group_id: GroupId,
    /// Transfers in flight, at most one per shard group (its membership changes one at a
    /// time).
    #[serde(default)]
    pub transfers: BTreeMap<GroupId, Transfer>,
    /// Replicas being dropped: each stays placed (and in its group) until the group's
    /// leader removed it from the group's membership; a replica gone before that would be
    /// a silent voter.
    #[serde(default)]
    pub drops: BTreeMap<GroupId, PeerId>,
    /// Peers whose replicas are moving elsewhere before they leave the cluster.
    #[serde(default)]
    pub draining: BTreeSet<PeerId>,
}

/// An entry of the metadata log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MetaCommand {
    /// A change asked through the Qdrant API.
    Change(Box<MetaChange>),
    AddPeer {
        peer_id: PeerId,
        uri: String,
        #[serde(default)]
        role: PeerRole,
    },
    /// Removes a peer; refused while it holds replicas unless `force`, which drops them.
    RemovePeer {
        peer_id: PeerId,
        force: bool,
    },
    SetReplicaState {
        group_id: GroupId,
        peer_id: PeerId,
        state: ReplicaState,
    },
    /// Places a `Partial` replica of the group on `transfer.to` and records the transfer.
    StartTransfer {
        group_id: GroupId,
        transfer: Transfer,
    },
    /// The target caught up and votes: it becomes `Active`, and a move drops the source.
    FinishTransfer {
        group_id: GroupId,
    },
    /// Cancels the group's transfer and drops the replica it was building.
    AbortTransfer {
        group_id: GroupId,
    },
    /// Starts dropping one replica of a shard (never the last one, nor during a transfer).
    DropReplica {
        group_id: GroupId,
        peer_id: PeerId,
    },
    /// The group's membership no longer holds the dropped replica: unplace it.
    FinishDrop {
        group_id: GroupId,
    },
    SetDraining {
        peer_id: PeerId,
        draining: bool,
    },
}

impl ClusterState {
    /// Applies one command; `Ok(false)` when it changed nothing.
    pub fn apply(&mut self, command: &MetaCommand) -> Result<bool> {
        match command {
            MetaCommand::Change(change) => self.apply_change(change),
            MetaCommand::AddPeer { peer_id, uri, role } => {
                let info = PeerInfo {
                    uri: uri.clone(),
                    role: *role,
                };
                Ok(self.peers.insert(*peer_id, info.clone()) != Some(info))
            }
            MetaCommand::RemovePeer { peer_id, force } => self.remove_peer(*peer_id, *force),
            MetaCommand::SetReplicaState {
                group_id,
                peer_id,
                state,
            } => Ok(self.set_replica_state(*group_id, *peer_id, *state)),
            MetaCommand::StartTransfer { group_id, transfer } => {
                self.start_transfer(*group_id, transfer)
            }
            MetaCommand::FinishTransfer { group_id } => Ok(self.finish_transfer(*group_id)),
            MetaCommand::AbortTransfer { group_id } => Ok(self.abort_transfer(*group_id)),
            MetaCommand::DropReplica { group_id, peer_id } => {
                self.drop_replica(*group_id, *peer_id)
            }
            MetaCommand::FinishDrop { group_id } => Ok(self.finish_drop(*group_id)),
            MetaCommand::SetDraining { peer_id, draining } => {
                if !self.peers.contains_key(peer_id) {
                    return Err(GrapeError::NotFound(format!("peer {peer_id}")));
                }
                Ok(if *draining {
                    self.draining.insert(*peer_id)
                } else {
                    self.draining.remove(peer_id)
                })
            }
        }
    }

    fn apply_change(&mut self, change: &MetaChange) -> Result<bool> {
        match change {
            MetaChange::CreateCollection { name, meta } => self.create_collection(name, meta),
            MetaChange::DeleteCollection { name } => Ok(self.delete_collection(name)),
            MetaChange::UpdateCollection { name, update } => {
                let entry = self.collection_mut(name)?;
                let mut config = entry.meta.config.clone();
                apply_update(&mut config, update)?;
                entry.meta.config = config;
                Ok(true)
            }
            MetaChange::CreateFieldIndex {
                name,
                field,
                schema,
            } => {
                let schema = FieldIndex {
                    schema: schema.clone(),
                };
                let entry = self.collection_mut(name)?;
                entry.meta.payload_schema.insert(field.clone(), schema);
                Ok(true)
            }
            MetaChange::DeleteFieldIndex { name, field } => {
                let entry = self.collection_mut(name)?;
                Ok(entry.meta.payload_schema.remove(field).is_some())
            }
            MetaChange::UpdateAliases { operations } => {
                let mut aliases = self.aliases.clone();
                let collections = &self.collections;
                apply_alias_operations(&mut aliases, |c| collections.contains_key(c), operations)?;
                self.aliases = aliases;
                Ok(true)
            }
        }
    }

    fn collection_mut(&mut self, name: &str) -> Result<&mut CollectionEntry> {
        self.collections
            .get_mut(name)
            .ok_or_else(|| GrapeError::CollectionNotFound(name.to_string()))
    }

    fn create_collection(&mut self, name: &str, meta: &CollectionMeta) -> Result<bool> {
        if self.collections.contains_key(name) || self.aliases.contains_key(name) {
            return Err(GrapeError::CollectionExists(name.to_string()));
        }
        let params = &meta.config.params;
        let load = self.replicas_per_peer();
        let peers: Vec<PeerId> = self.data_peers().collect();
        let replica_sets = placement::place_shards(
            &peers,
            &load,
            params.shard_number,
            params.replication_factor,
        );
        let shards = replica_sets
            .into_iter()
            .map(|replicas| {
                let group_id = self.allocate_group();
                ShardPlacement {
                    group_id,
                    seed: replicas.first().copied(),
                    replicas: replicas
                        .into_iter()
                        .map(|p| (p, ReplicaState::Active))
                        .collect(),
                }
            })
            .collect();
        let entry = CollectionEntry {
            meta: meta.clone(),
            shards,
        };
        self.collections.insert(name.to_string(), entry);
        Ok(true)
    }

    fn allocate_group(&mut self) -> GroupId {
        self.next_group_id = self.next_group_id.max(1);
        let id = self.next_group_id;
        self.next_group_id += 1;
        id
    }

    fn delete_collection(&mut self, name: &str) -> bool {
        if self.collections.remove(name).is_none() {
            return false;
        }
        self.aliases.retain(|_, target| target != name);
        true
    }

    /// The peers that may hold replicas.
    pub fn data_peers(&self) -> impl Iterator<Item = PeerId> + '_ {
        self.peers
            .iter()
            .filter(|(_, info)| info.role == PeerRole::Data)
            .map(|(&id, _)| id)
    }

    /// How many replicas each data peer holds, over every collection.
    pub fn replicas_per_peer(&self) -> BTreeMap<PeerId, usize> {
        let mut load: BTreeMap<PeerId, usize> = self.data_peers().map(|p| (p, 0)).collect();
        for shard in self.shards() {
            for peer in shard.replicas.keys() {
                *load.entry(*peer).or_default() += 1;
            }
        }
        load
    }

    /// Every shard placement of every collection.
    pub fn shards(&self) -> impl Iterator<Item = &ShardPlacement> {
        self.collections.values().flat_map(|c| c.shards.iter())
    }

    /// The placement of a shard group, with its collection name and shard id.
    pub fn shard_of_group(&self, group: GroupId) -> Option<(&str, u32, &ShardPlacement)> {
        self.collections.iter().find_map(|(name, c)| {
            c.shards
                .iter()
                .enumerate()
                .find(|(_, s)| s.group_id == group)
                .map(|(i, s)| (name.as_str(), i as u32, s))
        })
    }

    fn shard_of_group_mut(&mut self, group: GroupId) -> Option<&mut ShardPlacement> {
        self.collections
            .values_mut()
            .flat_map(|c| c.shards.iter_mut())
            .find(|s| s.group_id == group)
    }

    fn remove_peer(&mut self, peer: PeerId, force: bool) -> Result<bool> {
        if !self.peers.contains_key(&peer) {
            return Ok(false);
        }
        let holding: BTreeSet<GroupId> = self
            .shards()
            .filter(|s| s.holds(peer))
            .map(|s| s.group_id)
            .collect();
        if !holding.is_empty() && !force {
            return Err(GrapeError::bad_input(format!(
                "Cannot remove peer {peer} as there are shards on it"
            )));
        }
        for group in holding {
            if let Some(shard) = self.shard_of_group_mut(group) {
                shard.replicas.remove(&peer);
                shard.seed = None;
            }
        }
        self.transfers.retain(|_, t| t.from != peer && t.to != peer);
        self.drops.retain(|_, p| *p != peer);
        self.draining.remove(&peer);
        self.peers.remove(&peer);
        Ok(true)
    }

    fn start_transfer(&mut self, group: GroupId, transfer: &Transfer) -> Result<bool> {
        if self.transfers.get(&group) == Some(transfer) {
            return Ok(false);
        }
        let shard_name = self.shard_name(group);
        if self.transfers.contains_key(&group) || self.drops.contains_key(&group) {
            return Err(GrapeError::bad_input(format!(
                "{shard_name} is already involved in a transfer"
            )));
        }
        match self.peers.get(&transfer.to).map(|p| p.role) {
            None => {
                return Err(GrapeError::bad_input(format!(
                    "Peer {} does not exist",
                    transfer.to
                )))
            }
            Some(PeerRole::Query) => {
                return Err(GrapeError::bad_input(format!(
                    "Peer {} is a query node: it holds no replicas",
                    transfer.to
                )))
            }
            Some(PeerRole::Data) => {}
        }
        let shard = self
            .shard_of_group_mut(group)
            .ok_or_else(|| GrapeError::NotFound(format!("shard group {group}")))?;
        if !shard.holds(transfer.from) {
            return Err(GrapeError::bad_input(format!(
                "{shard_name} has no replica on peer {}",
                transfer.from
            )));
        }
        if shard.holds(transfer.to) {
            return Err(GrapeError::bad_input(format!(
                "{shard_name} already has a replica on peer {}",
                transfer.to
            )));
        }
        shard.replicas.insert(transfer.to, ReplicaState::Partial);
        shard.seed = None;
        self.transfers.insert(group, transfer.clone());
        Ok(true)
    }

    fn finish_transfer(&mut self, group: GroupId) -> bool {
        let Some(transfer) = self.transfers.remove(&group) else {
            return false;
        };
        if let Some(shard) = self.shard_of_group_mut(group) {
            shard.replicas.insert(transfer.to, ReplicaState::Active);
            if !transfer.copy {
                shard.replicas.remove(&transfer.from);
            }
        }
        true
    }

    fn abort_transfer(&mut self, group: GroupId) -> bool {
        let Some(transfer) = self.transfers.remove(&group) else {
            return false;
        };
        if let Some(shard) = self.shard_of_group_mut(group) {
            shard.replicas.remove(&transfer.to);
        }
        true
    }

    fn drop_replica(&mut self, group: GroupId, peer: PeerId) -> Result<bool> {
        let shard_name = self.shard_name(group);
        if self.drops.get(&group) == Some(&peer) {
            return Ok(false);
        }
        if self.transfers.contains_key(&group) || self.drops.contains_key(&group) {
            return Err(GrapeError::bad_input(format!(
                "{shard_name} is involved in a transfer or a drop; wait for it or abort it"
            )));
        }
        let shard = self
            .shard_of_group_mut(group)
            .ok_or_else(|| GrapeError::NotFound(format!("shard group {group}")))?;
        if !shard.holds(peer) {
            return Ok(false);
        }
        if shard.replicas.len() == 1 {
            return Err(GrapeError::bad_input(format!(
                "Cannot drop the last replica of {shard_name}"
            )));
        }
        shard.seed = None;
        self.drops.insert(group, peer);
        Ok(true)
    }

    fn finish_drop(&mut self, group: GroupId) -> bool {
        let Some(peer) = self.drops.remove(&group) else {
            return false;
        };
        if let Some(shard) = self.shard_of_group_mut(group) {
            shard.replicas.remove(&peer);
        }
        true
    }

    /// "Shard 3 of collection c", for messages.
    fn shard_name(&self, group: GroupId) -> String {
        match self.shard_of_group(group) {
            Some((name, shard, _)) => format!("Shard {shard} of collection {name}"),
            None => format!("Shard group {group}"),
        }
    }

    /// The group of shard `shard_id` of `collection`.
    pub fn group_of(&self, collection: &str, shard_id: u32) -> Result<GroupId> {
        let entry = self
            .collections
            .get(collection)
            .ok_or_else(|| GrapeError::CollectionNotFound(collection.to_string()))?;
        entry
            .shards
            .get(shard_id as usize)
            .map(|s| s.group_id)
            .ok_or_else(|| {
                GrapeError::bad_input(format!(
                    "Shard {shard_id} of collection {collection} does not exist"
                ))
            })
    }

    /// The replicas that count for quorums: every replica but a transfer's target, which
    /// is still catching up.
    pub fn voting_replicas(&self, group: GroupId) -> usize {
        let Some((_, _, shard)) = self.shard_of_group(group) else {
            return 0;
        };
        let target = self.transfers.get(&group).map(|t| t.to);
        shard
            .replicas
            .keys()
            .filter(|p| Some(**p) != target)
            .count()
    }

    fn set_replica_state(&mut self, group: GroupId, peer: PeerId, state: ReplicaState) -> bool {
        let Some(shard) = self.shard_of_group_mut(group) else {
            return false;
        };
        match shard.replicas.get_mut(&peer) {
            Some(current) if *current != state => {
                *current = state;
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests;
