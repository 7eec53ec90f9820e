//! The cluster as the APIs show it: Qdrant's `GET /cluster` and
//! `GET /collections/{name}/cluster` shapes, and the admin service's `ClusterInfo`.

use openraft::ServerState;
use serde::Serialize;
use serde_json::{json, Value};

use super::meta::{ReplicaState, Transfer};
use super::raft_types::GroupId;
use super::{transfer, Cluster};
use crate::engine::Engine;
use crate::error::{GrapeError, Result};
use crate::shard::ShardAccess;

fn role_name(state: ServerState) -> &'static str {
    match state {
        ServerState::Leader => "Leader",
        ServerState::Candidate => "Candidate",
        ServerState::Follower => "Follower",
        ServerState::Learner | ServerState::Shutdown => "Follower",
    }
}

/// `GET /cluster`.
pub fn cluster_status(cluster: &Cluster) -> Value {
    let metrics = cluster.groups.meta.metrics().borrow().clone();
    let view = cluster.ctx.meta.borrow().clone();
    let peers: serde_json::Map<String, Value> = view
        .state
        .peers
        .iter()
        .map(|(id, peer)| (id.to_string(), json!({"uri": peer.uri})))
        .collect();
    let is_voter = metrics
        .membership_config
        .voter_ids()
        .any(|v| v == cluster.ctx.peer_id);
    let working = metrics.running_state.is_ok();
    json!({
        "status": "enabled",
        "peer_id": cluster.ctx.peer_id,
        "peers": peers,
        "raft_info": {
            "term": metrics.current_term,
            "commit": view.applied,
            "pending_operations": metrics.last_log_index.unwrap_or(0).saturating_sub(view.applied),
            "leader": metrics.current_leader,
            "role": role_name(metrics.state),
            "is_voter": is_voter,
        },
        "consensus_thread_status": {
            "consensus_thread_status": if working { "working" } else { "stopped" },
            "last_update": chrono::Utc::now().to_rfc3339(),
        },
        "message_send_failures": {},
    })
}

/// The peer id a node outside any cluster reports (Qdrant's single-node convention).
pub const LOCAL_PEER_ID: u64 = 1;

/// `GET /collections/{name}/cluster` (and gRPC `CollectionClusterInfo`).
#[derive(Debug, Clone, Serialize)]
pub struct CollectionClusterInfo {
    pub peer_id: u64,
    pub shard_count: usize,
    pub local_shards: Vec<LocalShardInfo>,
    pub remote_shards: Vec<RemoteShardInfo>,
    pub shard_transfers: Vec<ShardTransferInfo>,
}

/// A transfer in flight, in Qdrant's shape; `comment` tells its stage and progress.
#[derive(Debug, Clone, Serialize)]
pub struct ShardTransferInfo {
    pub shard_id: u32,
    pub from: u64,
    pub to: u64,
    /// True for a replication (the source stays), false for a move.
    pub sync: bool,
    pub method: &'static str,
    pub comment: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct LocalShardInfo {
    pub shard_id: u32,
    pub points_count: usize,
    pub state: ReplicaState,
}

#[derive(Debug, Clone, Serialize)]
pub struct RemoteShardInfo {
    pub shard_id: u32,
    pub peer_id: u64,
    pub state: ReplicaState,
}

/// Where the shards of a collection are, as this node sees it; outside a cluster every shard
/// is local and active.
pub fn collection_cluster_info(
    engine: &Engine,
    cluster: Option<&Cluster>,
    name: &str,
) -> Result<CollectionClusterInfo> {
    let collection = engine.collection(name)?;
    let local_points = |shard: &dyn ShardAccess| shard.local().map_or(0, |s| s.points_count());
    let Some(cluster) = cluster else {
        let local_shards = collection
            .shards()
            .iter()
            .enumerate()
            .map(|(id, shard)| LocalShardInfo {
                shard_id: id as u32,
                points_count: local_points(shard.as_ref()),
                state: ReplicaState::Active,
            })
            .collect::<Vec<_>>();
        return Ok(CollectionClusterInfo {
            peer_id: LOCAL_PEER_ID,
            shard_count: local_shards.len(),
            local_shards,
            remote_shards: Vec::new(),
            shard_transfers: Vec::new(),
        });
    };
    let view = cluster.ctx.meta.borrow().clone();
    let entry = view
        .state
        .collections
        .get(collection.name())
        .ok_or_else(|| GrapeError::CollectionNotFound(name.to_string()))?;
    let me = cluster.ctx.peer_id;
    let mut local_shards = Vec::new();
    let mut remote_shards = Vec::new();
    for (shard_id, (placement, shard)) in entry.shards.iter().zip(collection.shards()).enumerate() {
        let shard_id = shard_id as u32;
        for (&peer_id, &state) in &placement.replicas {
            if peer_id == me {
                let points_count = local_points(shard.as_ref());
                local_shards.push(LocalShardInfo {
                    shard_id,
                    points_count,
                    state,
                });
            } else {
                remote_shards.push(RemoteShardInfo {
                    shard_id,
                    peer_id,
                    state,
                });
            }
        }
    }
    let shard_transfers = entry
        .shards
        .iter()
        .enumerate()
        .filter_map(|(shard_id, placement)| {
            let transfer = view.state.transfers.get(&placement.group_id)?;
            Some(transfer_info(
                cluster,
                shard_id as u32,
                placement.group_id,
                transfer,
            ))
        })
        .collect();
    Ok(CollectionClusterInfo {
        peer_id: me,
        shard_count: entry.shards.len(),
        local_shards,
        remote_shards,
        shard_transfers,
    })
}

fn transfer_info(
    cluster: &Cluster,
    shard_id: u32,
    group: GroupId,
    transfer: &Transfer,
) -> ShardTransferInfo {
    let progress = cluster
        .groups
        .replica(group)
        .and_then(|replica| transfer::progress(&cluster.ctx, &replica, transfer.to));
    let comment = match progress {
        Some(p) => format!(
            "Transferring records ({}/{}), snapshot bytes ({}/{}), {} log entries behind",
            p.points_done,
            p.points_total,
            p.bytes_done,
            p.bytes_total,
            p.lag.unwrap_or(0)
        ),
        None => "Transferring; progress is known to the shard's leader".to_string(),
    };
    ShardTransferInfo {
        shard_id,
        from: transfer.from,
        to: transfer.to,
        sync: transfer.copy,
        method: "snapshot",
        comment,
    }
}

/// Whether the node can serve: it knows a metadata leader, reflects the metadata it applied,
/// and every replica it holds has a leader.
pub fn is_ready(cluster: &Cluster) -> bool {
    let has_leader = cluster
        .groups
        .meta
        .metrics()
        .borrow()
        .current_leader
        .is_some();
    let applied = cluster.ctx.meta.borrow().applied;
    let reconciled = *cluster.reconciled.borrow() >= applied;
    let shards_led = cluster
        .groups
        .replicas()
        .iter()
        .all(|r| r.leader().is_some());
    has_leader && reconciled && shards_led
}

/// What a node reports of itself (in Kubernetes, into its VectorCluster's `status.nodes`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeReport {
    pub peer_id: u64,
    pub ready: bool,
    /// Role in the metadata group.
    pub role: &'static str,
    /// Shard replicas held here, and how many of their groups this node leads.
    pub shards: u32,
    pub leader_shards: u32,
    /// Points in the local replicas.
    pub points: u64,
}

pub fn node_report(cluster: &Cluster) -> NodeReport {
    let me = cluster.ctx.peer_id;
    let replicas = cluster.groups.replicas();
    let leader_shards = replicas.iter().filter(|r| r.leader() == Some(me)).count();
    let engine = &cluster.engine;
    let points: usize = engine
        .list_collections()
        .iter()
        .filter_map(|name| engine.collection(name).ok())
        .flat_map(|c| {
            c.shards()
                .iter()
                .filter_map(|s| s.local().map(|l| l.points_count()))
                .collect::<Vec<_>>()
        })
        .sum();
    NodeReport {
        peer_id: me,
        ready: is_ready(cluster),
        role: role_name(cluster.groups.meta.metrics().borrow().state),
        shards: replicas.len() as u32,
        leader_shards: leader_shards as u32,
        points: points as u64,
    }
}
