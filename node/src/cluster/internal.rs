//! The server side of requests forwarded between peers: metadata proposals to the metadata
//! leader, point writes to a shard's leader, reads to a replica, and the steps of a shard
//! leadership handover.

use std::sync::Arc;
use std::time::Duration;

use grape_proto::internal::internal_server::Internal;
use grape_proto::internal::{
    AppliedReply, AppliedRequest, Encoded, LeadershipReply, LeadershipRequest, Proposed,
    RemovePeerRequest, ShardRequest,
};
use openraft::error::{ClientWriteError, RaftError};
use tonic::{Code, Request, Response, Status};

use super::codec::{decode_json, encode_json, error_to_status, Json};
use super::groups::Groups;
use super::leadership::{self, Outcome};
use super::meta::MetaCommand;
use super::raft_types::{GroupId, PeerId, META_GROUP};
use super::replica::set::{serve_read, RemoteRead};
use super::replica::visibility::VISIBILITY_WAIT;
use super::replica::{LocalReplica, LocalWriteError};
use super::Cluster;
use crate::error::GrapeError;
use crate::types::PointOperation;

const LEADER_HEADER: &str = "grape-leader";

/// The status of a request sent to a peer that cannot serve it; it names the leader when it
/// knows it (0 otherwise).
pub fn not_leader_status(leader: Option<PeerId>) -> Status {
    let mut status = Status::failed_precondition("this peer is not the leader");
    let value = leader
        .unwrap_or(0)
        .to_string()
        .parse()
        .expect("a number is ASCII");
    status.metadata_mut().insert(LEADER_HEADER, value);
    status
}

/// `Some(leader)` when `status` says "ask the leader instead".
pub fn not_leader(status: &Status) -> Option<Option<PeerId>> {
    if status.code() != Code::FailedPrecondition {
        return None;
    }
    let leader: PeerId = status
        .metadata()
        .get(LEADER_HEADER)?
        .to_str()
        .ok()?
        .parse()
        .ok()?;
    Some((leader != 0).then_some(leader))
}

fn local_write_status(e: LocalWriteError) -> Status {
    match e {
        LocalWriteError::NotLeader(leader) => not_leader_status(leader),
        LocalWriteError::Failed(e) => error_to_status(&e),
    }
}

pub struct InternalService {
    cluster: Arc<Cluster>,
}

impl InternalService {
    pub fn new(cluster: Arc<Cluster>) -> Self {
        InternalService { cluster }
    }

    fn groups(&self) -> &Groups {
        &self.cluster.groups
    }

    /// The replica of `group` here; a peer without one answers "ask someone else".
    fn replica(&self, group: GroupId) -> Result<Arc<LocalReplica>, Status> {
        self.groups()
            .replica(group)
            .ok_or_else(|| not_leader_status(None))
    }

    /// The replica of `group` here, waiting up to [`VISIBILITY_WAIT`] for it to open: a peer
    /// asks as soon as it applied a change (a new collection, a replica moved here) that this
    /// peer may not have applied yet.
    async fn opened_replica(&self, group: GroupId) -> Result<Arc<LocalReplica>, Status> {
        let deadline = tokio::time::Instant::now() + VISIBILITY_WAIT;
        loop {
            match self.replica(group) {
                Err(_) if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(20)).await
                }
                found => return found,
            }
        }
    }
}

fn leadership_reply(outcome: Outcome) -> Response<LeadershipReply> {
    Response::new(LeadershipReply {
        leader_peer_id: outcome.leader.unwrap_or(0),
        led: outcome.led,
    })
}

fn decode<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Status> {
    decode_json(body).map_err(|e| error_to_status(&e))
}

#[tonic::async_trait]
impl Internal for InternalService {
    async fn propose_meta(&self, request: Request<Encoded>) -> Result<Response<Proposed>, Status> {
        let command: MetaCommand = decode(&request.into_inner().body)?;
        match self.groups().meta.client_write(Json(command)).await {
            Ok(written) => match written.data {
                Ok(changed) => Ok(Response::new(Proposed {
                    log_index: written.log_id.index,
                    changed,
                })),
                Err(refused) => Err(error_to_status(&GrapeError::from(refused))),
            },
            Err(RaftError::APIError(ClientWriteError::ForwardToLeader(forward))) => {
                Err(not_leader_status(forward.leader_id))
            }
            Err(e) => Err(error_to_status(&GrapeError::unavailable(e.to_string()))),
        }
    }

    async fn remove_peer(
        &self,
        request: Request<RemovePeerRequest>,
    ) -> Result<Response<Proposed>, Status> {
        let request = request.into_inner();
        if self.cluster.membership.leader() != Some(self.cluster.ctx.peer_id) {
            return Err(not_leader_status(self.cluster.membership.leader()));
        }
        let changed = self
            .cluster
            .membership
            .remove_peer(request.peer_id, request.force)
            .await
            .map_err(|e| error_to_status(&e))?;
        Ok(Response::new(Proposed {
            log_index: 0,
            changed,
        }))
    }

    async fn shard_write(
        &self,
        request: Request<ShardRequest>,
    ) -> Result<Response<Encoded>, Status> {
        let request = request.into_inner();
        let replica = self.opened_replica(request.group_id).await?;
        let ops: Vec<PointOperation> = decode(&request.body)?;
        let index = replica
            .write(&self.cluster.ctx, ops)
            .await
            .map_err(local_write_status)?;
        Ok(Response::new(Encoded {
            body: encode_json(&index),
        }))
    }

    async fn shard_read(
        &self,
        request: Request<ShardRequest>,
    ) -> Result<Response<Encoded>, Status> {
        let request = request.into_inner();
        let replica = self.opened_replica(request.group_id).await?;
        let read: RemoteRead = decode(&request.body)?;
        if read.linearizable {
            replica
                .ensure_linearizable()
                .await
                .map_err(local_write_status)?;
        }
        let shard = replica.shard.clone();
        let response = tokio::task::spawn_blocking(move || serve_read(&shard, &read.request))
            .await
            .map_err(|e| Status::internal(e.to_string()))?
            .map_err(|e| error_to_status(&e))?;
        Ok(Response::new(Encoded {
            body: encode_json(&response),
        }))
    }

    async fn hand_over_leadership(
        &self,
        request: Request<LeadershipRequest>,
    ) -> Result<Response<LeadershipReply>, Status> {
        let request = request.into_inner();
        let replica = self.replica(request.group_id)?;
        let to = Some(request.to_peer_id).filter(|&p| p != 0);
        let outcome = leadership::hand_over(&self.cluster.ctx, &replica, to)
            .await
            .map_err(|e| error_to_status(&e))?;
        Ok(leadership_reply(outcome))
    }

    async fn hold_elections(
        &self,
        request: Request<LeadershipRequest>,
    ) -> Result<Response<LeadershipReply>, Status> {
        let replica = self.replica(request.into_inner().group_id)?;
        replica.hold_elections(leadership::HOLD_ELECTIONS);
        Ok(leadership_reply(Outcome::not_leading(replica.leader())))
    }

    async fn campaign(
        &self,
        request: Request<LeadershipRequest>,
    ) -> Result<Response<LeadershipReply>, Status> {
        let replica = self.replica(request.into_inner().group_id)?;
        tracing::info!(group = replica.group, "campaigning to take over leadership");
        replica
            .raft
            .trigger()
            .elect()
            .await
            .map_err(|e| Status::unavailable(e.to_string()))?;
        Ok(leadership_reply(Outcome::not_leading(replica.leader())))
    }

    async fn wait_applied(
        &self,
        request: Request<AppliedRequest>,
    ) -> Result<Response<AppliedReply>, Status> {
        let request = request.into_inner();
        if request.group_id == META_GROUP {
            let applied = self.cluster.wait_reconciled(request.log_index).await;
            return Ok(Response::new(AppliedReply { applied }));
        }
        // A write may commit before this peer opened its replica of a new group.
        let replica = self.opened_replica(request.group_id).await?;
        let applied = replica.wait_applied(request.log_index).await;
        Ok(Response::new(AppliedReply { applied }))
    }
}
