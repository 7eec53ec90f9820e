//! The cluster admin service (`grape.cluster.v1.ClusterService`) on the internal port.
//! Requests that need the metadata leader are forwarded to it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use grape_proto::cluster::cluster_service_client::ClusterServiceClient;
use grape_proto::cluster::cluster_service_server::ClusterService;
use grape_proto::cluster::*;
use tonic::{Request, Response, Status};

use super::codec::error_to_status;
use super::context::peer_request;
use super::meta::{ClusterState, MetaCommand, ReplicaState as MetaReplicaState};
use super::operations::{ClusterOperation, ShardTransferRequest};
use super::raft_types::{GroupId, PeerId};
use super::{planner, rebalance, transfer, Cluster};

pub struct AdminService {
    cluster: Arc<Cluster>,
}

impl AdminService {
    pub fn new(cluster: Arc<Cluster>) -> Self {
        AdminService { cluster }
    }

    /// A client of the metadata leader's admin service, or `None` when this node leads.
    fn leader_client(
        &self,
    ) -> Result<Option<ClusterServiceClient<tonic::transport::Channel>>, Status> {
        let leader = self
            .cluster
            .membership
            .leader()
            .ok_or_else(|| Status::unavailable("no metadata leader is known yet"))?;
        if leader == self.cluster.ctx.peer_id {
            return Ok(None);
        }
        let uri = self
            .cluster
            .ctx
            .peer_uri(leader)
            .map_err(|e| error_to_status(&e))?;
        let channel = self
            .cluster
            .ctx
            .channels
            .get(&uri)
            .map_err(|e| error_to_status(&e))?;
        Ok(Some(ClusterServiceClient::new(channel)))
    }

    fn info(&self) -> ClusterInfo {
        let cluster = &self.cluster;
        let metrics = cluster.groups.meta.metrics().borrow().clone();
        let view = cluster.ctx.meta.borrow().clone();
        let leaders = cluster.shard_leaders();
        let collections = view
            .state
            .collections
            .iter()
            .map(|(name, entry)| Collection {
                name: name.clone(),
                replication_factor: entry.meta.config.params.replication_factor,
                shards: entry
                    .shards
                    .iter()
                    .enumerate()
                    .map(|(id, placement)| Shard {
                        shard_id: id as u32,
                        leader_peer_id: leaders.get(&placement.group_id).copied().unwrap_or(0),
                        replicas: placement
                            .replicas
                            .iter()
                            .map(|(&peer_id, &state)| Replica {
                                peer_id,
                                state: replica_state(state) as i32,
                            })
                            .collect(),
                        points_count: cluster
                            .groups
                            .replica(placement.group_id)
                            .map_or(0, |r| r.shard.points_count() as u64),
                    })
                    .collect(),
            })
            .collect::<Vec<_>>();
        let peers = view
            .state
            .peers
            .iter()
            .map(|(&peer_id, info)| {
                let held = view.state.shards().filter(|s| s.holds(peer_id));
                let (mut replicas, mut leading) = (0, 0);
                for shard in held {
                    replicas += 1;
                    if leaders.get(&shard.group_id) == Some(&peer_id) {
                        leading += 1;
                    }
                }
                Peer {
                    peer_id,
                    uri: info.uri.clone(),
                    draining: view.state.draining.contains(&peer_id),
                    replicas,
                    leader_shards: leading,
                }
            })
            .collect();
        ClusterInfo {
            peer_id: cluster.ctx.peer_id,
            leader_peer_id: metrics.current_leader.unwrap_or(0),
            term: metrics.current_term,
            commit_index: view.applied,
            peers,
            transfers: self.transfers(&view.state),
            collections,
        }
    }

    /// The transfers in flight, with progress where this node leads the shard.
    fn transfers(&self, state: &ClusterState) -> Vec<Transfer> {
        state
            .collections
            .iter()
            .flat_map(|(name, entry)| {
                entry
                    .shards
                    .iter()
                    .enumerate()
                    .filter_map(move |(id, placement)| {
                        let t = state.transfers.get(&placement.group_id)?;
                        Some(Transfer {
                            collection: name.clone(),
                            shard_id: id as u32,
                            from_peer_id: t.from,
                            to_peer_id: t.to,
                            copy: t.copy,
                            progress: Some(self.progress(placement.group_id, t.to)),
                        })
                    })
            })
            .collect()
    }

    fn progress(&self, group: GroupId, to: PeerId) -> TransferProgress {
        let known = self
            .cluster
            .groups
            .replica(group)
            .and_then(|r| transfer::progress(&self.cluster.ctx, &r, to));
        let p = known.unwrap_or_default();
        TransferProgress {
            stage: TransferStage::CatchingUp as i32,
            points_done: p.points_done,
            points_total: p.points_total,
            bytes_done: p.bytes_done,
            bytes_total: p.bytes_total,
            error: String::new(),
        }
    }

    fn hints(peers: &[PeerHint]) -> BTreeMap<PeerId, rebalance::PeerHint> {
        peers
            .iter()
            .map(|p| {
                let hint = rebalance::PeerHint {
                    zone: (!p.zone.is_empty()).then(|| p.zone.clone()),
                    weight: p.capacity_weight,
                    draining: p.draining,
                };
                (p.peer_id, hint)
            })
            .collect()
    }

    fn plan(&self, collection: &str, peers: &[PeerHint]) -> planner::Plan {
        let state = self.cluster.ctx.meta.borrow().state.clone();
        let collection = (!collection.is_empty()).then_some(collection);
        let leaders = self.cluster.shard_leaders();
        let (nodes, shards) =
            rebalance::planner_input(&state, &leaders, collection, &Self::hints(peers));
        planner::plan(&nodes, &shards)
    }
}

fn plan_to_proto(plan: planner::Plan) -> RebalancePlan {
    RebalancePlan {
        moves: plan
            .moves
            .into_iter()
            .map(|m| Move {
                collection: m.collection,
                shard_id: m.shard_id,
                from_peer_id: m.from,
                to_peer_id: m.to,
            })
            .collect(),
        leader_moves: plan
            .leader_moves
            .into_iter()
            .map(|m| LeaderMove {
                collection: m.collection,
                shard_id: m.shard_id,
                to_peer_id: m.to,
            })
            .collect(),
    }
}

/// How often a `TransferShard` stream reports.
const PROGRESS_EVERY: Duration = Duration::from_millis(500);

impl AdminService {
    /// Streams a transfer's progress until it leaves the metadata: done when the target
    /// holds an active replica then, failed (aborted) otherwise.
    async fn follow_transfer(
        &self,
        group: GroupId,
        to: PeerId,
        sender: tokio::sync::mpsc::Sender<Result<TransferProgress, Status>>,
    ) {
        let mut tick = tokio::time::interval(PROGRESS_EVERY);
        loop {
            tick.tick().await;
            let state = self.cluster.ctx.meta.borrow().state.clone();
            let report = match state.transfers.get(&group) {
                Some(t) if t.to == to => self.progress(group, to),
                _ => ended(&state, group, to),
            };
            let last = report.stage != TransferStage::CatchingUp as i32;
            if sender.send(Ok(report)).await.is_err() || last {
                return;
            }
        }
    }
}

/// The final report of a transfer that left the metadata.
fn ended(state: &ClusterState, group: GroupId, to: PeerId) -> TransferProgress {
    let active = state
        .shard_of_group(group)
        .is_some_and(|(_, _, s)| s.replicas.get(&to) == Some(&MetaReplicaState::Active));
    TransferProgress {
        stage: if active {
            TransferStage::Done
        } else {
            TransferStage::Failed
        } as i32,
        error: if active {
            String::new()
        } else {
            "the transfer was aborted".to_string()
        },
        ..Default::default()
    }
}

fn replica_state(state: MetaReplicaState) -> ReplicaState {
    match state {
        MetaReplicaState::Active => ReplicaState::Active,
        MetaReplicaState::Dead => ReplicaState::Dead,
        MetaReplicaState::Partial => ReplicaState::Partial,
        MetaReplicaState::Initializing => ReplicaState::Initializing,
    }
}

fn not_yet(what: &str) -> Status {
    Status::unimplemented(format!("{what} is not implemented by Grape yet"))
}

#[tonic::async_trait]
impl ClusterService for AdminService {
    async fn get_cluster_info(
        &self,
        _request: Request<GetClusterInfoRequest>,
    ) -> Result<Response<ClusterInfo>, Status> {
        Ok(Response::new(self.info()))
    }

    async fn join_cluster(
        &self,
        request: Request<JoinClusterRequest>,
    ) -> Result<Response<JoinClusterReply>, Status> {
        let request = request.into_inner();
        if request.peer_id == 0 || request.uri.is_empty() {
            return Err(Status::invalid_argument("peer_id and uri are required"));
        }
        if let Some(mut leader) = self.leader_client()? {
            return leader.join_cluster(peer_request(request)).await;
        }
        self.cluster
            .membership
            .add_peer(request.peer_id, &request.uri)
            .await
            .map_err(|e| error_to_status(&e))?;
        Ok(Response::new(JoinClusterReply {
            peers: self.info().peers,
        }))
    }

    async fn leave_cluster(
        &self,
        request: Request<LeaveClusterRequest>,
    ) -> Result<Response<LeaveClusterReply>, Status> {
        let peer_id = request.into_inner().peer_id;
        let state = self.cluster.ctx.meta.borrow().state.clone();
        if !state.peers.contains_key(&peer_id) {
            return Ok(Response::new(LeaveClusterReply {
                remaining_replicas: 0,
                removed: true,
            }));
        }
        if !state.draining.contains(&peer_id) {
            let drain = MetaCommand::SetDraining {
                peer_id,
                draining: true,
            };
            self.cluster
                .proposer
                .propose(drain)
                .await
                .map_err(|e| error_to_status(&e))?;
        }
        Ok(Response::new(LeaveClusterReply {
            remaining_replicas: rebalance::remaining_replicas(&state, peer_id) as u32,
            removed: false,
        }))
    }

    type TransferShardStream =
        tokio_stream::wrappers::ReceiverStream<Result<TransferProgress, Status>>;

    async fn transfer_shard(
        &self,
        request: Request<TransferShardRequest>,
    ) -> Result<Response<Self::TransferShardStream>, Status> {
        let r = request.into_inner();
        let shard = ShardTransferRequest {
            shard_id: r.shard_id,
            from_peer_id: r.from_peer_id,
            to_peer_id: r.to_peer_id,
            method: None,
            to_shard_id: None,
        };
        let operation = if r.copy {
            ClusterOperation::ReplicateShard(shard)
        } else {
            ClusterOperation::MoveShard(shard)
        };
        let group = {
            let view = self.cluster.ctx.meta.borrow();
            view.state
                .group_of(&r.collection, r.shard_id)
                .map_err(|e| error_to_status(&e))?
        };
        self.cluster
            .update_collection_cluster(&r.collection, &operation)
            .await
            .map_err(|e| error_to_status(&e))?;
        let (sender, receiver) = tokio::sync::mpsc::channel(4);
        let service = AdminService::new(self.cluster.clone());
        tokio::spawn(async move { service.follow_transfer(group, r.to_peer_id, sender).await });
        Ok(Response::new(tokio_stream::wrappers::ReceiverStream::new(
            receiver,
        )))
    }

    async fn plan_rebalance(
        &self,
        request: Request<PlanRebalanceRequest>,
    ) -> Result<Response<RebalancePlan>, Status> {
        let r = request.into_inner();
        Ok(Response::new(plan_to_proto(
            self.plan(&r.collection, &r.peers),
        )))
    }

    async fn rebalance(
        &self,
        request: Request<RebalanceRequest>,
    ) -> Result<Response<RebalancePlan>, Status> {
        let r = request.into_inner();
        let collection = (!r.collection.is_empty()).then_some(r.collection.as_str());
        let plan = rebalance::rebalance(
            &self.cluster.ctx,
            &self.cluster.proposer,
            &self.cluster.shard_leaders(),
            collection,
            &Self::hints(&r.peers),
            r.max_concurrent_moves.max(1) as usize,
        )
        .await
        .map_err(|e| error_to_status(&e))?;
        Ok(Response::new(plan_to_proto(plan)))
    }

    async fn transfer_leadership(
        &self,
        _request: Request<TransferLeadershipRequest>,
    ) -> Result<Response<TransferLeadershipReply>, Status> {
        Err(not_yet("TransferLeadership"))
    }
}
