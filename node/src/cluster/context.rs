//! What every part of a clustered node shares: its identity, its connections to peers, the
//! latest metadata, and the runtime that sync engine code uses to wait for network calls.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use grape_proto::internal::internal_client::InternalClient;
use parking_lot::Mutex;
use tokio::sync::watch;
use tonic::transport::Channel;

use super::meta::machine::MetaView;
use super::network::{PeerChannels, MAX_PEER_MESSAGE};
use super::raft_types::{GroupId, PeerId};
use super::rate_limit::RateLimit;
use super::transfer::SnapshotSends;
use crate::collection::FieldIndex;
use crate::error::{GrapeError, Result};

pub struct NodeContext {
    pub peer_id: PeerId,
    /// This node's internal address, as given by `--uri`.
    pub uri: String,
    pub data_dir: PathBuf,
    pub channels: PeerChannels,
    pub health: PeerHealth,
    pub snapshot_sends: SnapshotSends,
    /// The limit on snapshot data sent to peers, if any.
    pub transfer_limit: Option<Arc<RateLimit>>,
    /// The metadata as last applied on this node.
    pub meta: watch::Receiver<MetaView>,
    pub raft_db: sled::Db,
    runtime: tokio::runtime::Handle,
}

impl NodeContext {
    pub fn new(
        peer_id: PeerId,
        uri: String,
        data_dir: PathBuf,
        channels: PeerChannels,
        meta: watch::Receiver<MetaView>,
        raft_db: sled::Db,
        transfer_rate_limit: Option<u64>,
    ) -> Arc<Self> {
        Arc::new(NodeContext {
            peer_id,
            uri,
            data_dir,
            channels,
            health: PeerHealth::default(),
            snapshot_sends: SnapshotSends::default(),
            transfer_limit: transfer_rate_limit.map(|rate| Arc::new(RateLimit::new(rate))),
            meta,
            raft_db,
            runtime: tokio::runtime::Handle::current(),
        })
    }

    /// Runs `future` to completion from synchronous engine code (which runs on blocking
    /// threads, never on the runtime's own).
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    /// The internal address of a peer, from the metadata.
    pub fn peer_uri(&self, peer: PeerId) -> Result<String> {
        if peer == self.peer_id {
            return Ok(self.uri.clone());
        }
        self.meta
            .borrow()
            .state
            .peers
            .get(&peer)
            .map(|p| p.uri.clone())
            .ok_or_else(|| GrapeError::unavailable(format!("peer {peer} is not in the cluster")))
    }

    /// How many replicas must hold a write of `group` before it is acknowledged: a majority
    /// of the replicas, or the collection's `write_consistency_factor` when larger (capped at
    /// the number of replicas).
    pub fn write_quorum(&self, group: GroupId) -> usize {
        let view = self.meta.borrow();
        let Some((name, _, _)) = view.state.shard_of_group(group) else {
            return 1;
        };
        let replicas = view.state.voting_replicas(group).max(1);
        let factor = view.state.collections[name]
            .meta
            .config
            .params
            .write_consistency_factor as usize;
        (replicas / 2 + 1).max(factor.min(replicas))
    }

    /// The `payload_schema` of the collection that `group` is a shard of.
    pub fn payload_schema(&self, group: GroupId) -> Option<BTreeMap<String, FieldIndex>> {
        let view = self.meta.borrow();
        let (name, _, _) = view.state.shard_of_group(group)?;
        Some(view.state.collections[name].meta.payload_schema.clone())
    }

    /// A client of a peer's internal service.
    pub fn internal(&self, peer: PeerId) -> Result<InternalClient<Channel>> {
        let channel = self.channels.get(&self.peer_uri(peer)?)?;
        Ok(InternalClient::new(channel)
            .max_decoding_message_size(MAX_PEER_MESSAGE)
            .max_encoding_message_size(MAX_PEER_MESSAGE))
    }
}

/// How long a request forwarded to a peer may take.
pub const PEER_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// A request to a peer, bounded by [`PEER_REQUEST_TIMEOUT`].
pub fn peer_request<T>(message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.set_timeout(PEER_REQUEST_TIMEOUT);
    request
}

/// When each peer last answered a Raft message: a peer silent for a few heartbeats is
/// considered down.
#[derive(Clone, Default)]
pub struct PeerHealth {
    last_answer: Arc<Mutex<HashMap<PeerId, Instant>>>,
}

impl PeerHealth {
    pub fn answered(&self, peer: PeerId) {
        self.last_answer.lock().insert(peer, Instant::now());
    }

    /// True if the peer answered within `window`.
    pub fn is_alive(&self, peer: PeerId, window: Duration) -> bool {
        self.last_answer
            .lock()
            .get(&peer)
            .is_some_and(|t| t.elapsed() < window)
    }
}
