//! The two kinds of Raft groups a node runs, as openraft type configurations.
//!
//! - The **metadata group** (id 0) spans every peer and replicates [`MetaCommand`]s.
//! - Each **shard group** spans the replicas of one shard and replicates
//!   [`ShardCommand`]s; its snapshots are packed shard checkpoints (files).
//!
//! Raft node ids are peer ids in both kinds, and a node is addressed by its peer URI.

use std::io::Cursor;

use serde::{Deserialize, Serialize};

use super::codec::{Json, WireError};
use super::meta::MetaCommand;
use crate::types::PointOperation;

pub type PeerId = u64;
pub type GroupId = u64;

/// The group id of the metadata group; shard groups get ids from 1 up.
pub const META_GROUP: GroupId = 0;

pub use openraft::BasicNode as PeerNode;

/// What a point write puts in its shard group's log.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ShardCommand {
    pub ops: Vec<PointOperation>,
}

/// What applying a metadata command answers: whether it changed something, or why not.
pub type MetaResponse = Result<bool, WireError>;

openraft::declare_raft_types!(
    /// The metadata group.
    pub MetaConfig:
        D = Json<MetaCommand>,
        R = MetaResponse,
        NodeId = PeerId,
        Node = PeerNode,
        SnapshotData = Cursor<Vec<u8>>,
);

openraft::declare_raft_types!(
    /// A shard group.
    pub ShardConfig:
        D = Json<ShardCommand>,
        R = (),
        NodeId = PeerId,
        Node = PeerNode,
        SnapshotData = tokio::fs::File,
);

pub type MetaRaft = openraft::Raft<MetaConfig>;
pub type ShardRaft = openraft::Raft<ShardConfig>;
