//! Proposing metadata commands from any peer: through the local metadata Raft when it leads,
//! else forwarded to the leader; then waiting until this node applied (and reconciled) the
//! command, so a client sees its own change on the node it asked.

use std::sync::Arc;
use std::time::{Duration, Instant};

use grape_proto::internal::Encoded;
use openraft::error::{ClientWriteError, RaftError};
use tokio::sync::watch;

use super::codec::{encode_json, status_to_error, Json};
use super::context::{peer_request, NodeContext, PEER_REQUEST_TIMEOUT};
use super::groups::Groups;
use super::internal::not_leader;
use super::meta::MetaCommand;
use super::raft_types::PeerId;
use crate::engine::{MetaChange, MetaConsensus};
use crate::error::{GrapeError, Result};

/// How long a proposal waits for a metadata leader (through elections).
const COMMIT_WAIT: Duration = Duration::from_secs(20);
/// How long a committed change waits to be applied here before the call returns anyway.
const APPLY_WAIT: Duration = Duration::from_secs(20);

pub struct MetaProposer {
    ctx: Arc<NodeContext>,
    groups: Arc<Groups>,
    /// The last metadata index the node's collections reflect.
    reconciled: watch::Receiver<u64>,
}

/// Where to try after a failed attempt.
enum Next {
    /// The leader is that peer.
    Peer(PeerId),
    /// No leader is known yet: pause, then try here again.
    Wait,
}

impl MetaProposer {
    pub fn new(
        ctx: Arc<NodeContext>,
        groups: Arc<Groups>,
        reconciled: watch::Receiver<u64>,
    ) -> Self {
        MetaProposer {
            ctx,
            groups,
            reconciled,
        }
    }

    /// Commits `command` in the metadata log and waits until this node reflects it.
    pub async fn propose(&self, command: MetaCommand) -> Result<bool> {
        let (index, changed) = self.commit(command).await?;
        let mut reconciled = self.reconciled.clone();
        let reflected = tokio::time::timeout(APPLY_WAIT, reconciled.wait_for(|&i| i >= index));
        if reflected.await.is_err() {
            tracing::warn!(
                index,
                "metadata change committed but not yet applied on this node"
            );
        }
        Ok(changed)
    }

    async fn commit(&self, command: MetaCommand) -> Result<(u64, bool)> {
        let deadline = Instant::now() + COMMIT_WAIT;
        let mut leader = None;
        loop {
            let outcome = match leader {
                None => self.commit_here(&command).await,
                Some(peer) => self.commit_at(peer, &command).await,
            };
            match outcome {
                Ok(done) => return done,
                Err(Next::Peer(peer)) => leader = Some(peer),
                Err(Next::Wait) => {
                    leader = None;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
            if Instant::now() > deadline {
                return Err(GrapeError::unavailable(
                    "no metadata leader accepted the change in time",
                ));
            }
        }
    }

    /// `Ok` with the final answer, or `Err` with where to try next.
    async fn commit_here(
        &self,
        command: &MetaCommand,
    ) -> std::result::Result<Result<(u64, bool)>, Next> {
        let write = self.groups.meta.client_write(Json(command.clone()));
        // A leader cut off from its majority never commits: give up and look again.
        let Ok(written) = tokio::time::timeout(PEER_REQUEST_TIMEOUT, write).await else {
            return Err(Next::Wait);
        };
        match written {
            Ok(written) => Ok(written
                .data
                .map(|changed| (written.log_id.index, changed))
                .map_err(GrapeError::from)),
            Err(RaftError::APIError(ClientWriteError::ForwardToLeader(forward))) => {
                Err(match forward.leader_id {
                    Some(leader) if leader != self.ctx.peer_id => Next::Peer(leader),
                    _ => Next::Wait,
                })
            }
            Err(e) => {
                tracing::debug!(error = %e, "metadata proposal failed here");
                Err(Next::Wait)
            }
        }
    }

    async fn commit_at(
        &self,
        peer: PeerId,
        command: &MetaCommand,
    ) -> std::result::Result<Result<(u64, bool)>, Next> {
        let mut client = match self.ctx.internal(peer) {
            Ok(client) => client,
            Err(_) => return Err(Next::Wait),
        };
        let request = Encoded {
            body: encode_json(command),
        };
        match client.propose_meta(peer_request(request)).await {
            Ok(reply) => {
                let reply = reply.into_inner();
                Ok(Ok((reply.log_index, reply.changed)))
            }
            Err(status) => match not_leader(&status) {
                Some(Some(leader)) if leader != peer => Err(Next::Peer(leader)),
                Some(_) => Err(Next::Wait),
                None => match status_to_error(&status) {
                    GrapeError::Unavailable(_) => Err(Next::Wait),
                    refused => Ok(Err(refused)),
                },
            },
        }
    }
}

impl MetaConsensus for MetaProposer {
    fn propose(&self, change: MetaChange) -> Result<bool> {
        self.ctx.block_on(MetaProposer::propose(
            self,
            MetaCommand::Change(Box::new(change)),
        ))
    }
}
