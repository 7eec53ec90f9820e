//! The client side of peer-to-peer traffic: one HTTP/2 channel per peer, shared by every Raft
//! group and internal service, and openraft's network traits over it (every message tagged
//! with its group id).

use std::collections::HashMap;
use std::marker::PhantomData;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use grape_proto::raft::raft_transport_client::RaftTransportClient;
use grape_proto::raft::RaftMessage;
use openraft::error::{
    InstallSnapshotError, NetworkError, PayloadTooLarge, RPCError, RaftError, RemoteError,
    Unreachable,
};
use openraft::network::{Backoff, RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::RaftTypeConfig;
use parking_lot::Mutex;
use serde::de::DeserializeOwned;
use tonic::transport::{Channel, Endpoint};

use super::codec::{decode_raft, encode_raft};
use super::context::{NodeContext, PeerHealth};
use super::raft_types::{GroupId, PeerId, PeerNode};
use super::rate_limit::RateLimit;
use super::transfer::SnapshotSends;
use crate::error::{GrapeError, Result};
use crate::metrics;

/// Largest message exchanged between peers: Raft batches of large upserts and snapshot
/// chunks must fit (tonic's default is 4 MiB).
pub const MAX_PEER_MESSAGE: usize = 256 << 20;

/// How long connecting to a peer may take before it counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);

/// Pause before retrying a peer that did not answer.
const RETRY_BACKOFF: Duration = Duration::from_millis(200);

/// Lazily connected channels to peers, by URI.
#[derive(Clone, Default)]
pub struct PeerChannels {
    channels: Arc<Mutex<HashMap<String, Channel>>>,
    /// The address outgoing connections start from: the one the node listens on, so a
    /// peer (and a firewall rule) sees traffic from this node's own address.
    local_address: Option<IpAddr>,
}

impl PeerChannels {
    pub fn new(local_address: Option<IpAddr>) -> Self {
        PeerChannels {
            channels: Arc::default(),
            local_address: local_address.filter(|ip| !ip.is_unspecified()),
        }
    }

    /// The channel to `uri` (connected on first use, reconnected by tonic after failures).
    pub fn get(&self, uri: &str) -> Result<Channel> {
        if let Some(channel) = self.channels.lock().get(uri) {
            return Ok(channel.clone());
        }
        let endpoint = Endpoint::from_shared(uri.to_string())
            .map_err(|e| GrapeError::bad_input(format!("invalid peer URI `{uri}`: {e}")))?
            .connect_timeout(CONNECT_TIMEOUT)
            .tcp_nodelay(true)
            .http2_keep_alive_interval(Duration::from_secs(2))
            .keep_alive_timeout(Duration::from_secs(2))
            .keep_alive_while_idle(true)
            .local_address(self.local_address);
        let channel = endpoint.connect_lazy();
        self.channels
            .lock()
            .insert(uri.to_string(), channel.clone());
        Ok(channel)
    }
}

/// Bytes of log entries sent in one AppendEntries. openraft 0.9 gives an AppendEntries the
/// heartbeat interval to complete, so a catching-up follower sent 64 entries of 1,000-point
/// batches (tens of MB) would time out forever; past this size openraft is asked to send
/// fewer entries.
const APPEND_BYTES_BUDGET: usize = 1 << 20;

/// True if `status` came from the peer itself rather than from a failed connection or a
/// timeout.
fn peer_answered(status: &tonic::Status) -> bool {
    use tonic::Code;
    !matches!(
        status.code(),
        Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled | Code::Unknown
    )
}

/// How many entries to send instead of `entries` whose encoding took `bytes`, if too many.
fn fewer_entries(entries: usize, bytes: usize) -> Option<u64> {
    if entries <= 1 || bytes <= APPEND_BYTES_BUDGET {
        return None;
    }
    let fitting = entries * APPEND_BYTES_BUDGET / bytes;
    Some(fitting.clamp(1, entries - 1) as u64)
}

/// openraft's network for one group: clients that tag every message with the group id.
pub struct GroupNetwork<C> {
    group: GroupId,
    channels: PeerChannels,
    health: PeerHealth,
    sends: SnapshotSends,
    limit: Option<Arc<RateLimit>>,
    _config: PhantomData<C>,
}

impl<C> GroupNetwork<C> {
    pub fn new(group: GroupId, ctx: &NodeContext) -> Self {
        GroupNetwork {
            group,
            channels: ctx.channels.clone(),
            health: ctx.health.clone(),
            sends: ctx.snapshot_sends.clone(),
            limit: ctx.transfer_limit.clone(),
            _config: PhantomData,
        }
    }
}

impl<C> RaftNetworkFactory<C> for GroupNetwork<C>
where
    C: RaftTypeConfig<NodeId = PeerId, Node = PeerNode>,
{
    type Network = GroupClient<C>;

    async fn new_client(&mut self, target: PeerId, node: &PeerNode) -> GroupClient<C> {
        GroupClient {
            group: self.group,
            target,
            channel: self.channels.get(&node.addr).map_err(|e| e.to_string()),
            health: self.health.clone(),
            sends: self.sends.clone(),
            limit: self.limit.clone(),
            _config: PhantomData,
        }
    }
}

/// Sends one group's Raft messages to one peer.
pub struct GroupClient<C> {
    group: GroupId,
    target: PeerId,
    channel: std::result::Result<Channel, String>,
    health: PeerHealth,
    sends: SnapshotSends,
    limit: Option<Arc<RateLimit>>,
    _config: PhantomData<C>,
}

type RpcResult<T, E = openraft::error::Infallible> =
    std::result::Result<T, RPCError<PeerId, PeerNode, RaftError<PeerId, E>>>;

impl<C> GroupClient<C>
where
    C: RaftTypeConfig<NodeId = PeerId, Node = PeerNode>,
{
    /// Sends `message` through `call` and decodes the peer's `Result<T, RaftError<E>>`.
    async fn send<T, E, F, Fut>(
        &self,
        message: RaftMessage,
        option: &RPCOption,
        call: F,
    ) -> RpcResult<T, E>
    where
        T: DeserializeOwned,
        E: std::error::Error + DeserializeOwned,
        F: FnOnce(RaftTransportClient<Channel>, tonic::Request<RaftMessage>) -> Fut,
        Fut: std::future::Future<
            Output = std::result::Result<tonic::Response<RaftMessage>, tonic::Status>,
        >,
    {
        let channel = self
            .channel
            .clone()
            .map_err(|e| RPCError::Unreachable(Unreachable::new(&std::io::Error::other(e))))?;
        let client = RaftTransportClient::new(channel)
            .max_decoding_message_size(MAX_PEER_MESSAGE)
            .max_encoding_message_size(MAX_PEER_MESSAGE);
        let mut request = tonic::Request::new(message);
        request.set_timeout(option.hard_ttl());
        // Any failed call backs off (openraft retries `Network` errors at once): the peer may
        // be down, partitioned, or not hosting the group yet.
        let reply = call(client, request).await.map_err(|status| {
            // A peer that refused the call (e.g. it does not host the group yet) is running.
            if peer_answered(&status) {
                self.health.answered(self.target);
            }
            let error = std::io::Error::other(status.message().to_string());
            RPCError::Unreachable(Unreachable::new(&error))
        })?;
        self.health.answered(self.target);
        let result: std::result::Result<T, RaftError<PeerId, E>> =
            decode_raft(&reply.into_inner().payload)
                .map_err(|status| RPCError::Network(NetworkError::new(&status)))?;
        result.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
    }

    fn message(&self, payload: Vec<u8>, data: Vec<u8>) -> RaftMessage {
        RaftMessage {
            group_id: self.group,
            payload,
            data,
        }
    }
}

impl<C> RaftNetwork<C> for GroupClient<C>
where
    C: RaftTypeConfig<NodeId = PeerId, Node = PeerNode>,
{
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<C>,
        option: RPCOption,
    ) -> RpcResult<AppendEntriesResponse<PeerId>> {
        let payload = encode_raft(&rpc);
        if let Some(fewer) = fewer_entries(rpc.entries.len(), payload.len()) {
            return Err(RPCError::PayloadTooLarge(
                PayloadTooLarge::new_entries_hint(fewer),
            ));
        }
        let message = self.message(payload, Vec::new());
        let start = Instant::now();
        let reply = self
            .send(message, &option, |mut c, r| async move {
                c.append_entries(r).await
            })
            .await;
        metrics::raft::append_entries(self.group, start.elapsed(), reply.is_ok());
        reply
    }

    async fn install_snapshot(
        &mut self,
        mut rpc: InstallSnapshotRequest<C>,
        option: RPCOption,
    ) -> RpcResult<InstallSnapshotResponse<PeerId>, InstallSnapshotError> {
        let data = std::mem::take(&mut rpc.data);
        let (bytes, done) = (data.len(), rpc.done);
        let end = rpc.offset + data.len() as u64;
        if let Some(limit) = &self.limit {
            limit.acquire(data.len() as u64).await;
        }
        let message = self.message(encode_raft(&rpc), data);
        let reply = self
            .send(message, &option, |mut c, r| async move {
                c.install_snapshot(r).await
            })
            .await?;
        self.sends.chunk_sent(self.group, self.target, end);
        metrics::raft::snapshot_chunk_sent(self.group, bytes, done);
        Ok(reply)
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<PeerId>,
        option: RPCOption,
    ) -> RpcResult<VoteResponse<PeerId>> {
        let message = self.message(encode_raft(&rpc), Vec::new());
        self.send(message, &option, |mut c, r| async move { c.vote(r).await })
            .await
    }

    fn backoff(&self) -> Backoff {
        Backoff::new(std::iter::repeat(RETRY_BACKOFF))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oversized_appends_are_split_down_to_single_entries() {
        assert_eq!(fewer_entries(64, APPEND_BYTES_BUDGET), None);
        assert_eq!(fewer_entries(1, 50 * APPEND_BYTES_BUDGET), None);
        assert_eq!(fewer_entries(64, 32 * APPEND_BYTES_BUDGET), Some(2));
        assert_eq!(fewer_entries(64, 200 * APPEND_BYTES_BUDGET), Some(1));
        assert_eq!(fewer_entries(2, APPEND_BYTES_BUDGET + 1), Some(1));
    }
}
