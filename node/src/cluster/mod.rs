//! The cluster: several `grape-node` processes acting as one database.
//!
//! - One **metadata** Raft group spans every peer ([`meta`]): peers, collections, the
//!   placement of shard replicas, aliases.
//! - Each shard's replicas form a **shard** Raft group of their own ([`replica`]); a point
//!   write is an entry of its shard's log, acknowledged once a majority committed it.
//! - Every node can serve every request: a collection's shards are replica sets that send
//!   writes to the shard leader and reads to a replica ([`replica::ReplicaSet`]).
//! - All groups talk over one gRPC server on the internal port ([`transport`],
//!   [`internal`], [`admin`]), with one connection per peer ([`network`]).
//! - A [`reconcile::Reconciler`] makes the node match the metadata after every change.
//!
//! Start-up is Qdrant's: the first node has `--uri` and no `--bootstrap` and forms a
//! one-node cluster; the others bootstrap from any peer and join it.

pub mod admin;
mod codec;
mod context;
mod groups;
mod health;
mod identity;
pub mod info;
mod internal;
mod leadership;
mod log_store;
mod membership;
pub mod meta;
mod network;
pub mod operations;
pub mod planner;
mod proposer;
pub(crate) mod raft_types;
mod rate_limit;
mod rebalance;
mod reconcile;
mod replica;
mod transfer;
mod transport;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use grape_proto::cluster::cluster_service_client::ClusterServiceClient;
use grape_proto::cluster::cluster_service_server::ClusterServiceServer;
use grape_proto::cluster::JoinClusterRequest;
use grape_proto::internal::internal_server::InternalServer;
use grape_proto::internal::RemovePeerRequest;
use grape_proto::raft::raft_transport_server::RaftTransportServer;
use openraft::{Config, SnapshotPolicy};
use tokio::sync::watch;

use crate::engine::Engine;
use crate::error::{GrapeError, Result};
use codec::status_to_error;
use context::{peer_request, NodeContext};
use groups::Groups;
use log_store::LogStore;
use membership::Membership;
use meta::MetaMachine;
pub use meta::PeerRole;
use network::{GroupNetwork, PeerChannels, MAX_PEER_MESSAGE};
use proposer::MetaProposer;
pub use raft_types::{GroupId, PeerId};
use raft_types::{MetaConfig, MetaRaft, PeerNode, META_GROUP};
use reconcile::Reconciler;

/// How this node takes part in a cluster.
#[derive(Debug, Clone)]
pub struct ClusterSettings {
    /// This node's internal address as peers reach it, e.g. `http://grape-0.grape:6335`.
    pub uri: String,
    /// A peer to join through; `None` starts a new cluster (or restarts a member).
    pub bootstrap: Option<String>,
    pub role: PeerRole,
    /// Where the internal gRPC server listens.
    pub listen: SocketAddr,
    /// Bytes per second of snapshot data sent to peers during transfers; unlimited if `None`.
    pub transfer_rate_limit: Option<u64>,
}

/// How long a stopping node may spend readying the cluster: handing its shard leaderships
/// over, or leaving (a query node).
const STOP_PREPARATION_TIMEOUT: Duration = Duration::from_secs(20);

/// Raft timing of the metadata group: slower than shards, it changes rarely.
fn meta_raft_config() -> Config {
    Config {
        cluster_name: "grape-meta".to_string(),
        heartbeat_interval: 200,
        election_timeout_min: 1000,
        election_timeout_max: 2000,
        install_snapshot_timeout: 5_000,
        snapshot_policy: SnapshotPolicy::LogsSinceLast(2_000),
        max_in_snapshot_log_to_keep: 500,
        ..Default::default()
    }
}

pub struct Cluster {
    pub ctx: Arc<NodeContext>,
    pub groups: Arc<Groups>,
    pub engine: Arc<Engine>,
    proposer: Arc<MetaProposer>,
    membership: Arc<Membership>,
    role: PeerRole,
    /// The last metadata index the node reflects.
    reconciled: watch::Receiver<u64>,
}

impl Cluster {
    /// Starts this node's part of the cluster: the metadata group, the internal server, the
    /// reconciler; joins through the bootstrap peer on first start.
    pub async fn start(
        settings: ClusterSettings,
        data_dir: &Path,
        engine: Arc<Engine>,
    ) -> Result<Arc<Cluster>> {
        let state_dir = match settings.role {
            PeerRole::Data => data_dir.to_path_buf(),
            PeerRole::Query => fresh_query_state(data_dir)?,
        };
        let peer_id = identity::load_or_create(&state_dir)?;
        let raft_db = sled::Config::new()
            .path(state_dir.join("raft"))
            .cache_capacity(64 << 20)
            .open()
            .map_err(|e| GrapeError::Internal(format!("open Raft store: {e}")))?;
        let (machine, view) = MetaMachine::open(&raft_db)?;
        let ctx = NodeContext::new(
            peer_id,
            settings.uri.clone(),
            state_dir,
            PeerChannels::new(Some(settings.listen.ip())),
            view.clone(),
            raft_db.clone(),
            settings.transfer_rate_limit,
        );
        let log = LogStore::<MetaConfig>::open(&raft_db, META_GROUP)
            .map_err(|e| GrapeError::Internal(format!("open metadata log: {e}")))?;
        let network = GroupNetwork::new(META_GROUP, &ctx);
        let config = meta_raft_config()
            .validate()
            .map_err(|e| GrapeError::Internal(format!("metadata Raft config: {e}")))?;
        let meta = MetaRaft::new(peer_id, Arc::new(config), network, log, machine)
            .await
            .map_err(|e| GrapeError::Internal(format!("start metadata Raft: {e}")))?;
        crate::metrics::raft::follow_leader(META_GROUP, meta.metrics());
        let groups = Arc::new(Groups::new(meta));
        let (reconciled_tx, reconciled) = watch::channel(0);
        let proposer = Arc::new(MetaProposer::new(
            ctx.clone(),
            groups.clone(),
            reconciled.clone(),
        ));
        let cluster = Arc::new(Cluster {
            membership: Arc::new(Membership::new(groups.clone(), proposer.clone())),
            ctx: ctx.clone(),
            groups: groups.clone(),
            engine: engine.clone(),
            proposer: proposer.clone(),
            role: settings.role,
            reconciled,
        });
        let listener = tokio::net::TcpListener::bind(settings.listen)
            .await
            .map_err(GrapeError::io(format!(
                "bind internal API on {}",
                settings.listen
            )))?;
        tokio::spawn(serve_internal(cluster.clone(), listener));
        let reconciler =
            Reconciler::new(ctx.clone(), engine.clone(), groups.clone(), reconciled_tx);
        tokio::spawn(reconciler.run(view));
        cluster.enter(&settings).await?;
        engine.join_cluster(proposer.clone());
        tokio::spawn(health::watch_replicas(
            ctx.clone(),
            groups.clone(),
            proposer.clone(),
        ));
        tokio::spawn(transfer::drive_transfers(
            ctx.clone(),
            groups,
            proposer.clone(),
        ));
        tokio::spawn(rebalance::drive_drains(
            ctx.clone(),
            proposer,
            cluster.membership.clone(),
        ));
        tokio::spawn(membership::forget_lost_query_peers(
            ctx,
            cluster.membership.clone(),
        ));
        tracing::info!(peer_id, uri = %settings.uri, "cluster node started");
        Ok(cluster)
    }

    /// Forms a new cluster or joins one through the bootstrap peer (retrying until it is a
    /// member), unless this node is already a member.
    async fn enter(&self, settings: &ClusterSettings) -> Result<()> {
        let meta = &self.groups.meta;
        let initialized = meta
            .is_initialized()
            .await
            .map_err(|e| GrapeError::Internal(e.to_string()))?;
        let (peer_id, uri) = (self.ctx.peer_id, settings.uri.clone());
        if initialized {
            self.announce_moved_uri(uri, settings.role);
            return Ok(());
        }
        match &settings.bootstrap {
            None => {
                let members = BTreeMap::from([(peer_id, PeerNode::new(&uri))]);
                meta.initialize(members)
                    .await
                    .map_err(|e| GrapeError::Internal(format!("form the cluster: {e}")))?;
                self.proposer
                    .propose(meta::MetaCommand::AddPeer {
                        peer_id,
                        uri,
                        role: PeerRole::Data,
                    })
                    .await?;
                Ok(())
            }
            Some(bootstrap) => {
                ask_to_join(
                    &self.ctx,
                    std::slice::from_ref(bootstrap),
                    &uri,
                    settings.role,
                )
                .await;
                Ok(())
            }
        }
    }

    /// A member restarted with another `--uri` (a pod with a new IP) tells the cluster, through
    /// any peer it knows, in the background: until the metadata leader records the new
    /// address, no peer can reach this node.
    fn announce_moved_uri(&self, uri: String, role: PeerRole) {
        let peers = self.ctx.meta.borrow().state.peers.clone();
        let recorded = peers.get(&self.ctx.peer_id).map(|p| p.uri.clone());
        if recorded.as_ref().is_none_or(|recorded| *recorded == uri) {
            return;
        }
        tracing::info!(%uri, ?recorded, "restarted at a new address; announcing it");
        // Its own admin service forwards too: the only way in for a one-node cluster.
        let mut peers: Vec<String> = peers
            .into_iter()
            .filter(|(id, _)| *id != self.ctx.peer_id)
            .map(|(_, peer)| peer.uri)
            .collect();
        peers.push(uri.clone());
        let ctx = self.ctx.clone();
        tokio::spawn(async move { ask_to_join(&ctx, &peers, &uri, role).await });
    }

    /// The leader of each shard group this node holds a replica of.
    pub fn shard_leaders(&self) -> BTreeMap<GroupId, PeerId> {
        self.groups
            .replicas()
            .iter()
            .filter_map(|r| Some((r.group, r.leader()?)))
            .collect()
    }

    /// `DELETE /cluster/peer/{id}`: removes a peer, through the metadata leader.
    pub async fn remove_peer(&self, peer_id: PeerId, force: bool) -> Result<bool> {
        let leader = self
            .membership
            .leader()
            .ok_or_else(|| GrapeError::unavailable("no metadata leader is known yet"))?;
        if leader == self.ctx.peer_id {
            return self.membership.remove_peer(peer_id, force).await;
        }
        let request = RemovePeerRequest { peer_id, force };
        let reply = self
            .ctx
            .internal(leader)?
            .remove_peer(peer_request(request))
            .await
            .map_err(|s| status_to_error(&s))?;
        Ok(reply.into_inner().changed)
    }

    /// `POST /collections/{name}/cluster`: starts a move or a replication, aborts a
    /// transfer, or drops a replica. Answers once the metadata recorded it; a transfer then
    /// runs in the background and shows in the collection's cluster info.
    pub async fn update_collection_cluster(
        &self,
        collection: &str,
        operation: &operations::ClusterOperation,
    ) -> Result<bool> {
        let state = self.ctx.meta.borrow().state.clone();
        let command = operations::command_for(&state, collection, operation)?;
        self.proposer.propose(command).await
    }

    pub fn is_ready(&self) -> bool {
        info::is_ready(self)
    }

    /// Waits (at most [`proposer::PEER_REFLECT_WAIT`]) until this node's collections reflect
    /// metadata index `index`; whether they do.
    pub async fn wait_reconciled(&self, index: u64) -> bool {
        proposer::reflects(&self.reconciled, index, proposer::PEER_REFLECT_WAIT).await
    }

    /// This node's own state, as it reports it to Kubernetes.
    pub fn node_report(&self) -> info::NodeReport {
        info::node_report(self)
    }

    /// Readies the cluster for this node's stop, within bounds (a stop must not hang on a
    /// sick cluster): a data node hands every shard leadership it holds to another voter,
    /// so that writes wait for a handover instead of an election; a query node leaves.
    pub async fn prepare_to_stop(&self) {
        match self.role {
            PeerRole::Data => self.hand_off_leaderships().await,
            PeerRole::Query => self.leave().await,
        }
    }

    async fn hand_off_leaderships(&self) {
        let shed = leadership::shed_leaderships(&self.ctx, &self.groups);
        match tokio::time::timeout(STOP_PREPARATION_TIMEOUT, shed).await {
            Ok(0) => tracing::info!("no shard leadership left on this node"),
            Ok(left) => tracing::warn!(left, "some shard leaderships were not handed off"),
            Err(_) => tracing::warn!("handing off shard leaderships timed out"),
        }
    }

    async fn leave(&self) {
        let leave = self.remove_peer(self.ctx.peer_id, false);
        match tokio::time::timeout(STOP_PREPARATION_TIMEOUT, leave).await {
            Ok(Ok(_)) => tracing::info!("left the cluster"),
            Ok(Err(e)) => tracing::warn!(error = %e, "could not leave the cluster"),
            Err(_) => tracing::warn!("leaving the cluster timed out"),
        }
    }

    /// Stops every Raft group (checkpointing is the engine's shutdown).
    pub async fn shutdown(&self) {
        for replica in self.groups.replicas() {
            replica.shutdown().await;
        }
        if let Err(e) = self.groups.meta.shutdown().await {
            tracing::warn!(error = %e, "metadata Raft did not stop cleanly");
        }
    }
}

/// A query node starts as a new peer every time (it left the cluster when it stopped, or
/// the metadata leader forgot it): its Raft state lives in `DATA_DIR/query`, emptied here.
fn fresh_query_state(data_dir: &Path) -> Result<PathBuf> {
    let dir = data_dir.join("query");
    match std::fs::remove_dir_all(&dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(GrapeError::io(format!("empty {}", dir.display()))(e))
        }
        _ => {}
    }
    std::fs::create_dir_all(&dir).map_err(GrapeError::io(format!("create {}", dir.display())))?;
    Ok(dir)
}

/// Sends this node's `JoinCluster` (its peer id, `uri` and role) to the given peers in turn, each
/// of which forwards it to the metadata leader, until one succeeds.
async fn ask_to_join(ctx: &NodeContext, peers: &[String], uri: &str, role: PeerRole) {
    for peer in peers.iter().cycle() {
        let request = JoinClusterRequest {
            peer_id: ctx.peer_id,
            uri: uri.to_string(),
            query: role == PeerRole::Query,
        };
        let answer = match ctx.channels.get(peer) {
            Ok(channel) => ClusterServiceClient::new(channel)
                .join_cluster(peer_request(request))
                .await
                .map_err(|status| status.message().to_string()),
            Err(e) => Err(e.to_string()),
        };
        match answer {
            Ok(_) => return tracing::info!(%peer, %uri, "joined the cluster at this address"),
            Err(error) => tracing::warn!(%peer, %error, "join failed; retrying"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Serves the internal gRPC API (Raft, forwarding, admin) until the node stops.
async fn serve_internal(cluster: Arc<Cluster>, listener: tokio::net::TcpListener) {
    let raft = RaftTransportServer::new(transport::RaftService::new(cluster.groups.clone()))
        .max_decoding_message_size(MAX_PEER_MESSAGE)
        .max_encoding_message_size(MAX_PEER_MESSAGE);
    let internal = InternalServer::new(internal::InternalService::new(cluster.clone()))
        .max_decoding_message_size(MAX_PEER_MESSAGE)
        .max_encoding_message_size(MAX_PEER_MESSAGE);
    let admin = ClusterServiceServer::new(admin::AdminService::new(cluster.clone()));
    let listen = listener.local_addr().ok();
    tracing::info!(?listen, "internal API listening");
    let served = tonic::transport::Server::builder()
        .tcp_nodelay(true)
        .add_service(raft)
        .add_service(internal)
        .add_service(admin)
        .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
        .await;
    if let Err(e) = served {
        tracing::error!(?listen, error = %e, "internal API stopped");
    }
}
