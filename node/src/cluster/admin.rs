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
use super::meta::{ClusterState, MetaCommand, PeerRole, ReplicaState as MetaReplicaState};
use super::operations::{ClusterOperation, ShardTransferRequest};
use super::raft_types::{GroupId, PeerId};
use super::rebalance::Scope;
use super::{leadership, planner, rebalance, transfer, Cluster};

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
        self.peer_client(leader).map(Some)
    }

    /// A client of a peer's admin service.
    fn peer_client(
        &self,
        peer: PeerId,
    ) -> Result<ClusterServiceClient<tonic::transport::Channel>, Status> {
        let ctx = &self.cluster.ctx;
        let uri = ctx.peer_uri(peer).map_err(|e| error_to_status(&e))?;
        let channel = ctx.channels.get(&uri).map_err(|e| error_to_status(&e))?;
        Ok(ClusterServiceClient::new(channel))
    }

    /// The leader of every shard group, as the peers holding its replicas know them: each
    /// node only knows the leaders of the groups it holds a replica of.
    async fn cluster_leaders(&self) -> BTreeMap<GroupId, PeerId> {
        let mut leaders = self.cluster.shard_leaders();
        let state = self.cluster.ctx.meta.borrow().state.clone();
        for &peer in state
            .peers
            .keys()
            .filter(|&&p| p != self.cluster.ctx.peer_id)
        {
            let Ok(mut client) = self.peer_client(peer) else {
                continue;
            };
            let mut request = Request::new(GetClusterInfoRequest {});
            request.set_timeout(PEER_INFO_TIMEOUT);
            let Ok(info) = client.get_cluster_info(request).await else {
                continue;
            };
            for collection in info.into_inner().collections {
                for shard in collection.shards.iter().filter(|s| s.leader_peer_id != 0) {
                    if let Ok(group) = state.group_of(&collection.name, shard.shard_id) {
                        leaders.entry(group).or_insert(shard.leader_peer_id);
                    }
                }
            }
        }
        leaders
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

    async fn plan(&self, scope: Scope<'_>, peers: &[PeerHint]) -> planner::Plan {
        let leaders = self.cluster_leaders().await;
        let state = self.cluster.ctx.meta.borrow().state.clone();
        rebalance::plan(&state, &leaders, scope, &Self::hints(peers))
    }
}

/// The scope of a plan request: `collection` (empty: every one) minus `excluded`.
fn scope<'a>(collection: &'a str, excluded: &'a [String]) -> Scope<'a> {
    Scope {
        collection: (!collection.is_empty()).then_some(collection),
        excluded,
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
            .add_peer(request.peer_id, &request.uri, join_role(&request))
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

    async fn cancel_drain(
        &self,
        request: Request<CancelDrainRequest>,
    ) -> Result<Response<CancelDrainReply>, Status> {
        let peer_id = request.into_inner().peer_id;
        let state = self.cluster.ctx.meta.borrow().state.clone();
        let member = state.peers.contains_key(&peer_id);
        let was_draining = member && state.draining.contains(&peer_id);
        if was_draining {
            let stay = MetaCommand::SetDraining {
                peer_id,
                draining: false,
            };
            self.cluster
                .proposer
                .propose(stay)
                .await
                .map_err(|e| error_to_status(&e))?;
            tracing::info!(peer_id, "drain cancelled");
        }
        Ok(Response::new(CancelDrainReply {
            member,
            was_draining,
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
        let scope = scope(&r.collection, &r.excluded_collections);
        Ok(Response::new(plan_to_proto(
            self.plan(scope, &r.peers).await,
        )))
    }

    async fn rebalance(
        &self,
        request: Request<RebalanceRequest>,
    ) -> Result<Response<RebalancePlan>, Status> {
        let r = request.into_inner();
        let plan = rebalance::rebalance(
            &self.cluster.ctx,
            &self.cluster.groups,
            &self.cluster.proposer,
            &self.cluster_leaders().await,
            scope(&r.collection, &r.excluded_collections),
            &Self::hints(&r.peers),
            r.max_concurrent_moves.max(1) as usize,
        )
        .await
        .map_err(|e| error_to_status(&e))?;
        Ok(Response::new(plan_to_proto(plan)))
    }

    async fn transfer_leadership(
        &self,
        request: Request<TransferLeadershipRequest>,
    ) -> Result<Response<TransferLeadershipReply>, Status> {
        let remaining = match request.into_inner().target {
            Some(transfer_leadership_request::Target::AwayFromPeerId(peer)) => {
                self.shed_leaderships(peer).await?
            }
            Some(transfer_leadership_request::Target::Shard(step)) => {
                self.move_shard_leader(&step).await?
            }
            None => {
                return Err(Status::invalid_argument(
                    "TransferLeadership needs away_from_peer_id or shard",
                ))
            }
        };
        Ok(Response::new(TransferLeadershipReply { remaining }))
    }
}

/// How long a peer may take to describe its shards when leaders are gathered.
const PEER_INFO_TIMEOUT: Duration = Duration::from_secs(2);

impl AdminService {
    /// Hands every leadership of `peer` over (the peer does it); answers how many remain.
    async fn shed_leaderships(&self, peer: PeerId) -> Result<u32, Status> {
        let ctx = &self.cluster.ctx;
        if peer == ctx.peer_id {
            return Ok(leadership::shed_leaderships(ctx, &self.cluster.groups).await as u32);
        }
        if !ctx.meta.borrow().state.peers.contains_key(&peer) {
            return Err(Status::not_found(format!(
                "peer {peer} is not in the cluster"
            )));
        }
        let request = TransferLeadershipRequest {
            target: Some(transfer_leadership_request::Target::AwayFromPeerId(peer)),
        };
        let reply = self.peer_client(peer)?.transfer_leadership(request).await?;
        Ok(reply.into_inner().remaining)
    }

    /// Moves one shard's leadership; answers 0 once the target leads it, 1 otherwise.
    async fn move_shard_leader(&self, step: &LeaderMove) -> Result<u32, Status> {
        let ctx = &self.cluster.ctx;
        let group = ctx
            .meta
            .borrow()
            .state
            .group_of(&step.collection, step.shard_id)
            .map_err(|e| error_to_status(&e))?;
        let leader =
            leadership::move_leader(ctx, &self.cluster.groups, group, Some(step.to_peer_id))
                .await
                .map_err(|e| error_to_status(&e))?;
        Ok(u32::from(leader != Some(step.to_peer_id)))
    }
}

/// The role a joining peer asks for.
fn join_role(request: &JoinClusterRequest) -> PeerRole {
    if request.query {
        PeerRole::Query
    } else {
        PeerRole::Data
    }
}
