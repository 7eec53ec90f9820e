//! Proposing metadata commands from any peer: through the local metadata Raft when it leads,
//! else forwarded to the leader; then waiting until this node applied (and reconciled) the
//! command, so a client sees its own change on the node it asked. A client's collection
//! change also waits, briefly, for the other peers to reflect it, as Qdrant waits for its
//! peers to sync: a collection is usable through any node once its creation answered.

use std::sync::Arc;
use std::time::{Duration, Instant};

use grape_proto::internal::{AppliedRequest, Encoded};
use openraft::error::{ClientWriteError, RaftError};
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::codec::{encode_json, status_to_error, Json};
use super::context::{peer_request, NodeContext, PEER_REQUEST_TIMEOUT};
use super::groups::Groups;
use super::internal::not_leader;
use super::meta::MetaCommand;
use super::raft_types::{PeerId, META_GROUP};
use crate::engine::{MetaChange, MetaConsensus};
use crate::error::{GrapeError, Result};

/// How long a proposal waits for a metadata leader (through elections).
const COMMIT_WAIT: Duration = Duration::from_secs(20);
/// How long a committed change waits to be applied here before the call returns anyway.
const APPLY_WAIT: Duration = Duration::from_secs(20);
/// How long a client's change waits for each other peer to reflect it. A peer that is down
/// or cut off delays the answer by at most this, and never fails it: the change committed.
pub const PEER_REFLECT_WAIT: Duration = Duration::from_secs(2);

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
        Ok(self.propose_indexed(command).await?.1)
    }

    /// [`propose`](Self::propose), answering with the command's log index too.
    async fn propose_indexed(&self, command: MetaCommand) -> Result<(u64, bool)> {
        let (index, changed) = self.commit(command).await?;
        if !reflects(&self.reconciled, index, APPLY_WAIT).await {
            tracing::warn!(
                index,
                "metadata change committed but not yet applied on this node"
            );
        }
        Ok((index, changed))
    }

    /// Waits until every other peer reflects metadata index `index`, each for at most
    /// [`PEER_REFLECT_WAIT`].
    async fn await_peers(&self, index: u64) {
        let peers = self.ctx.meta.borrow().state.peers.clone();
        let mut waits = JoinSet::new();
        for &peer in peers.keys().filter(|&&p| p != self.ctx.peer_id) {
            let Ok(mut client) = self.ctx.internal(peer) else {
                continue;
            };
            let request = AppliedRequest {
                group_id: META_GROUP,
                log_index: index,
            };
            waits.spawn(async move {
                let answer = client.wait_applied(peer_request(request));
                let reflected = tokio::time::timeout(PEER_REFLECT_WAIT, answer).await;
                let reflected = matches!(reflected, Ok(Ok(ref r)) if r.get_ref().applied);
                (peer, reflected)
            });
        }
        while let Some(Ok((peer, reflected))) = waits.join_next().await {
            if !reflected {
                tracing::debug!(
                    peer,
                    index,
                    "a peer did not reflect a metadata change in time"
                );
            }
        }
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
        self.ctx.block_on(async {
            let command = MetaCommand::Change(Box::new(change));
            let (index, changed) = self.propose_indexed(command).await?;
            self.await_peers(index).await;
            Ok(changed)
        })
    }
}

/// Waits up to `within` until `reconciled` (this node's applied and reconciled metadata
/// index) reaches `index`; answers whether it did.
pub(super) async fn reflects(
    reconciled: &watch::Receiver<u64>,
    index: u64,
    within: Duration,
) -> bool {
    let mut reconciled = reconciled.clone();
    let reached = tokio::time::timeout(within, reconciled.wait_for(|&i| i >= index)).await;
    matches!(reached, Ok(Ok(_)))
}
