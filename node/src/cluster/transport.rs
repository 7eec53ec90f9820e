//! The server side of Raft traffic: decodes a message, finds its group, hands it to that
//! group's Raft and encodes the result (`Result<response, RaftError>`) back.

use std::sync::Arc;

use grape_proto::raft::raft_transport_server::RaftTransport;
use grape_proto::raft::RaftMessage;
use openraft::raft::{AppendEntriesResponse, InstallSnapshotRequest};
use openraft::{Raft, RaftTypeConfig};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tonic::{Request, Response, Status};

use super::codec::{decode_raft, encode_raft};
use super::groups::Groups;
use super::raft_types::{GroupId, MetaConfig, ShardConfig, META_GROUP};
use super::replica::LocalReplica;

pub struct RaftService {
    groups: Arc<Groups>,
}

impl RaftService {
    pub fn new(groups: Arc<Groups>) -> Self {
        RaftService { groups }
    }

    fn replica(&self, group: GroupId) -> Result<Arc<LocalReplica>, Status> {
        self.groups
            .replica(group)
            .ok_or_else(|| Status::not_found(format!("shard group {group} is not on this peer")))
    }

    fn shard(&self, group: GroupId) -> Result<Raft<ShardConfig>, Status> {
        self.replica(group).map(|r| r.raft.clone())
    }
}

/// Encodes a Raft call's result as the reply.
fn reply<T: Serialize, E: Serialize>(
    result: Result<T, E>,
) -> Result<Response<RaftMessage>, Status> {
    Ok(Response::new(RaftMessage {
        group_id: 0,
        payload: encode_raft(&result),
        data: Vec::new(),
    }))
}

fn decode<T: DeserializeOwned>(message: &RaftMessage) -> Result<T, Status> {
    decode_raft(&message.payload)
}

/// Puts a snapshot chunk's bytes back into the request they were taken out of.
fn snapshot_chunk<C: RaftTypeConfig>(
    message: RaftMessage,
) -> Result<InstallSnapshotRequest<C>, Status>
where
    InstallSnapshotRequest<C>: DeserializeOwned,
{
    let mut request: InstallSnapshotRequest<C> = decode(&message)?;
    request.data = message.data;
    Ok(request)
}

#[tonic::async_trait]
impl RaftTransport for RaftService {
    async fn append_entries(
        &self,
        request: Request<RaftMessage>,
    ) -> Result<Response<RaftMessage>, Status> {
        let message = request.into_inner();
        match message.group_id {
            META_GROUP => reply(self.groups.meta.append_entries(decode(&message)?).await),
            group => {
                let replica = self.replica(group)?;
                let answer = replica.raft.append_entries(decode(&message)?).await;
                // A deposed leader's messages (answered with a higher vote) do not count.
                match &answer {
                    Ok(
                        AppendEntriesResponse::Success | AppendEntriesResponse::PartialSuccess(_),
                    ) => replica.heard_from_leader(true),
                    Ok(AppendEntriesResponse::Conflict) => replica.heard_from_leader(false),
                    _ => {}
                }
                reply(answer)
            }
        }
    }

    async fn vote(&self, request: Request<RaftMessage>) -> Result<Response<RaftMessage>, Status> {
        let message = request.into_inner();
        match message.group_id {
            META_GROUP => reply(self.groups.meta.vote(decode(&message)?).await),
            group => reply(self.shard(group)?.vote(decode(&message)?).await),
        }
    }

    async fn install_snapshot(
        &self,
        request: Request<RaftMessage>,
    ) -> Result<Response<RaftMessage>, Status> {
        let message = request.into_inner();
        match message.group_id {
            META_GROUP => {
                let chunk = snapshot_chunk::<MetaConfig>(message)?;
                reply(self.groups.meta.install_snapshot(chunk).await)
            }
            group => {
                let chunk = snapshot_chunk::<ShardConfig>(message)?;
                reply(self.shard(group)?.install_snapshot(chunk).await)
            }
        }
    }
}
