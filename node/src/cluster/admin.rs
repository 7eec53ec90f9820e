//! The cluster admin service (`grape.cluster.v1.ClusterService`) on the internal port.
//! Requests that need the metadata leader are forwarded to it.

use std::sync::Arc;

use grape_proto::cluster::cluster_service_client::ClusterServiceClient;
use grape_proto::cluster::cluster_service_server::ClusterService;
use grape_proto::cluster::*;
use tonic::{Request, Response, Status};

use super::codec::error_to_status;
use super::context::peer_request;
use super::meta::ReplicaState as MetaReplicaState;
use super::Cluster;

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
                        points_count: 0,
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
                    draining: false,
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
            collections,
            transfers: Vec::new(),
        }
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
        _request: Request<LeaveClusterRequest>,
    ) -> Result<Response<LeaveClusterReply>, Status> {
        Err(not_yet("LeaveCluster"))
    }

    type TransferShardStream =
        tokio_stream::wrappers::ReceiverStream<Result<TransferProgress, Status>>;

    async fn transfer_shard(
        &self,
        _request: Request<TransferShardRequest>,
    ) -> Result<Response<Self::TransferShardStream>, Status> {
        Err(not_yet("TransferShard"))
    }

    async fn plan_rebalance(
        &self,
        _request: Request<PlanRebalanceRequest>,
    ) -> Result<Response<RebalancePlan>, Status> {
        Err(not_yet("PlanRebalance"))
    }

    async fn rebalance(
        &self,
        _request: Request<RebalanceRequest>,
    ) -> Result<Response<RebalancePlan>, Status> {
        Err(not_yet("Rebalance"))
    }

    async fn transfer_leadership(
        &self,
        _request: Request<TransferLeadershipRequest>,
    ) -> Result<Response<TransferLeadershipReply>, Status> {
        Err(not_yet("TransferLeadership"))
    }
}
