//! The two kinds of Raft groups a node runs, as openraft type configurations.
//!
//! - The **metadata group** (id 0) spans every peer and replicates [`MetaCommand`]s.
//! - Each **shard group** spans the replicas of one shard and replicates
//!   [`ShardCommand`]s; its snapshots are packed shard checkpoints (files).
//!
//! Raft node ids are peer ids in both kinds, and a node is addressed by its peer URI.

use std::collections::BTreeMap;
use std::io::Cursor;

use serde::{Deserialize, Serialize};

use super::codec::{Json, WireError};
use super::meta::MetaCommand;
use crate::collection::FieldIndex;
use crate::types::PointOperation;

pub type PeerId = u64;
pub type GroupId = u64;

/// The group id of the metadata group; shard groups get ids from 1 up.
pub const META_GROUP: GroupId = 0;

pub use openraft::BasicNode as PeerNode;

/// An entry of a shard group's log.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum ShardCommand {
    /// Point operations, applied in order.
    Write(Vec<PointOperation>),
    /// The payload indexes the collection declares (its `payload_schema`): in the log, so
    /// every replica changes what its filters select at the same point of its history.
    SetIndexes(BTreeMap<String, FieldIndex>),
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
