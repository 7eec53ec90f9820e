//! Qdrant's collection cluster operations (`POST /collections/{name}/cluster`, gRPC
//! `UpdateCollectionClusterSetup`): move or replicate a shard replica, abort a transfer, drop
//! a replica. Each one is a metadata command; the shard group's leader then carries out the
//! membership changes ([`super::transfer`]).

use serde::{Deserialize, Serialize};

use super::meta::{ClusterState, MetaCommand, Transfer};
use super::raft_types::{GroupId, PeerId};
use crate::error::{GrapeError, Result};

/// One operation, in Qdrant's JSON shape (`{"move_shard": {...}}`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ClusterOperation {
    MoveShard(ShardTransferRequest),
    ReplicateShard(ShardTransferRequest),
    AbortTransfer(AbortTransferRequest),
    DropReplica(DropReplicaRequest),
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ShardTransferRequest {
    pub shard_id: u32,
    pub from_peer_id: PeerId,
    pub to_peer_id: PeerId,
    /// Qdrant's transfer method; Grape always sends the group's Raft snapshot and log tail,
    /// which covers what every method does, so any method is accepted.
    #[serde(default)]
    pub method: Option<TransferMethod>,
    /// Resharding targets are not supported.
    #[serde(default)]
    pub to_shard_id: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TransferMethod {
    StreamRecords,
    Snapshot,
    WalDelta,
    ReshardingStreamRecords,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AbortTransferRequest {
    pub shard_id: u32,
    pub from_peer_id: PeerId,
    pub to_peer_id: PeerId,
    #[serde(default)]
    pub to_shard_id: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DropReplicaRequest {
    pub shard_id: u32,
    pub peer_id: PeerId,
}

/// The metadata command that carries out `operation` on `collection`, checked against the
/// current state so a wrong request gets a clear answer before anything is proposed.
pub fn command_for(
    state: &ClusterState,
    collection: &str,
    operation: &ClusterOperation,
) -> Result<MetaCommand> {
    let collection = state
        .aliases
        .get(collection)
        .map_or(collection, String::as_str);
    let group = |shard_id| state.group_of(collection, shard_id);
    let no_resharding = |to_shard: Option<u32>, shard_id: u32| match to_shard {
        Some(to) if to != shard_id => Err(GrapeError::bad_input(
            "Transfers to another shard id (resharding) are not supported",
        )),
        _ => Ok(()),
    };
    match operation {
        ClusterOperation::MoveShard(r) | ClusterOperation::ReplicateShard(r) => {
            no_resharding(r.to_shard_id, r.shard_id)?;
            let copy = matches!(operation, ClusterOperation::ReplicateShard(_));
            Ok(MetaCommand::StartTransfer {
                group_id: group(r.shard_id)?,
                transfer: Transfer {
                    from: r.from_peer_id,
                    to: r.to_peer_id,
                    copy,
                },
            })
        }
        ClusterOperation::AbortTransfer(r) => {
            no_resharding(r.to_shard_id, r.shard_id)?;
            let group_id = group(r.shard_id)?;
            check_transfer(state, group_id, r)?;
            Ok(MetaCommand::AbortTransfer { group_id })
        }
        ClusterOperation::DropReplica(r) => Ok(MetaCommand::DropReplica {
            group_id: group(r.shard_id)?,
            peer_id: r.peer_id,
        }),
    }
}

fn check_transfer(state: &ClusterState, group: GroupId, r: &AbortTransferRequest) -> Result<()> {
    match state.transfers.get(&group) {
        Some(t) if t.from == r.from_peer_id && t.to == r.to_peer_id => Ok(()),
        _ => Err(GrapeError::NotFound(format!(
            "Shard transfer of shard {} from {} to {}",
            r.shard_id, r.from_peer_id, r.to_peer_id
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn qdrant_shapes_parse_and_unknown_operations_are_refused() {
        let op: ClusterOperation = serde_json::from_value(json!({
            "move_shard": {"shard_id": 0, "from_peer_id": 1, "to_peer_id": 2, "method": "snapshot"}
        }))
        .unwrap();
        assert!(matches!(op, ClusterOperation::MoveShard(r) if r.to_peer_id == 2));
        let op: ClusterOperation = serde_json::from_value(json!({
            "drop_replica": {"shard_id": 3, "peer_id": 7}
        }))
        .unwrap();
        assert_eq!(
            op,
            ClusterOperation::DropReplica(DropReplicaRequest {
                shard_id: 3,
                peer_id: 7
            })
        );
        let unknown = json!({"restart_transfer": {"shard_id": 0}});
        let error = serde_json::from_value::<ClusterOperation>(unknown).unwrap_err();
        assert!(error.to_string().contains("unknown variant"), "{error}");
    }
}
