//! A shard's replica set as a collection sees it: writes go to the group's leader (here or
//! on a peer), reads to a replica chosen by the requested consistency. Collections call it
//! from synchronous code on blocking threads; it waits for the network through the runtime.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use grape_proto::internal::ShardRequest;
use parking_lot::RwLock;
use serde::{Deserialize, Serialize};

use super::{LocalReplica, LocalWriteError};
use crate::cluster::codec::{decode_json, encode_json, status_to_error};
use crate::cluster::context::{peer_request, NodeContext};
use crate::cluster::meta::ReplicaState;
use crate::cluster::raft_types::{GroupId, PeerId};
use crate::collection::FieldIndex;
use crate::error::{GrapeError, Result};
use crate::filter::Filter;
use crate::index::SparseStats;
use crate::metrics;
use crate::payload::JsonPath;
use crate::shard::{
    FieldSchema, Key, Projection, ReadConsistency, Shard, ShardAccess, ShardOrder, ShardScroll,
    ShardSearch,
};
use crate::types::{ConsistencyLevel, PointId, PointOperation, Record, ScoredPoint};

/// How long a request keeps looking for a shard's leader (e.g. through an election) before
/// it fails as unavailable.
const LEADER_WAIT: Duration = Duration::from_secs(15);

/// Pause between two attempts while the leader is unknown or unreachable.
const RETRY_PAUSE: Duration = Duration::from_millis(50);

/// A read a peer serves from its replica.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum ShardReadRequest {
    Search(ShardSearch),
    SparseStats {
        name: String,
        dims: Vec<u32>,
    },
    Retrieve {
        ids: Vec<PointId>,
        projection: Projection,
    },
    Scroll(ShardScroll),
    Count {
        filter: Option<Filter>,
    },
    IndexedVectors,
    IndexedPoints {
        path: String,
    },
    OrderBy(ShardOrder),
    Facet {
        key: JsonPath,
        filter: Option<Filter>,
        exact: bool,
    },
    /// The payload indexes the replica applies.
    AppliedIndexes,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum ShardReadResponse {
    Hits(Vec<ScoredPoint>),
    Records(Vec<Record>),
    Page(Vec<Record>, Option<PointId>),
    Count(usize),
    Ordered(Vec<(f64, Record)>),
    Facets(Vec<(Key, u64)>),
    SparseStats(SparseStats),
    Indexes(BTreeMap<String, FieldIndex>),
}

/// A read sent to a peer, and whether that peer must answer linearizably (as leader).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RemoteRead {
    pub request: ShardReadRequest,
    pub linearizable: bool,
}

/// Serves a read from a replica's shard (pure CPU work: call it on a blocking thread).
pub fn serve_read(shard: &Shard, request: &ShardReadRequest) -> Result<ShardReadResponse> {
    Ok(match request {
        ShardReadRequest::Search(search) => ShardReadResponse::Hits(shard.run_search(search)?),
        ShardReadRequest::SparseStats { name, dims } => {
            ShardReadResponse::SparseStats(shard.sparse_stats(name, dims)?)
        }
        ShardReadRequest::Retrieve { ids, projection } => {
            ShardReadResponse::Records(shard.retrieve(ids, projection))
        }
        ShardReadRequest::Scroll(page) => {
            let (records, next) = shard.scroll(
                page.from,
                page.limit,
                page.filter.as_ref(),
                &page.projection,
            );
            ShardReadResponse::Page(records, next)
        }
        ShardReadRequest::Count { filter } => {
            ShardReadResponse::Count(shard.count(filter.as_ref()))
        }
        ShardReadRequest::IndexedVectors => ShardReadResponse::Count(shard.indexed_vectors_count()),
        ShardReadRequest::IndexedPoints { path } => {
            let path = JsonPath::parse(path)
                .map_err(|e| GrapeError::bad_input(format!("invalid path `{path}`: {e}")))?;
            ShardReadResponse::Count(shard.indexed_points(&path))
        }
        ShardReadRequest::OrderBy(order) => {
            ShardReadResponse::Ordered(shard.order_by(&order.as_query(), &order.projection))
        }
        ShardReadRequest::Facet { key, filter, exact } => {
            ShardReadResponse::Facets(shard.facet_counts(key, filter.as_ref(), *exact))
        }
        ShardReadRequest::AppliedIndexes => {
            ShardReadResponse::Indexes(super::machine::Position::of(shard).indexes)
        }
    })
}

pub struct ReplicaSet {
    ctx: Arc<NodeContext>,
    group: GroupId,
    /// The replica this node holds, if any.
    local: Option<Arc<LocalReplica>>,
    /// Every replica and its state, as the metadata last said.
    replicas: RwLock<BTreeMap<PeerId, ReplicaState>>,
    /// The leader last seen by a request through a peer; 0 when unknown.
    leader_hint: AtomicU64,
}

/// How long creating or deleting a payload index waits for every shard leader to apply it.
const INDEXES_WAIT: Duration = Duration::from_secs(15);

/// What one attempt at reaching the leader found.
enum Attempt<T> {
    Done(T),
    /// Try this peer next (or another when `None`).
    Redirect(Option<PeerId>),
}

impl ReplicaSet {
    pub fn new(
        ctx: Arc<NodeContext>,
        group: GroupId,
        local: Option<Arc<LocalReplica>>,
        replicas: BTreeMap<PeerId, ReplicaState>,
    ) -> Self {
        ReplicaSet {
            ctx,
            group,
            local,
            replicas: RwLock::new(replicas),
            leader_hint: AtomicU64::new(0),
        }
    }

    /// Takes the replica states of newer metadata.
    pub fn set_replicas(&self, replicas: BTreeMap<PeerId, ReplicaState>) {
        *self.replicas.write() = replicas;
    }

    pub fn replicas(&self) -> BTreeMap<PeerId, ReplicaState> {
        self.replicas.read().clone()
    }

    /// The peer most likely to lead the group, for the `attempt`-th try.
    fn leader_candidate(&self, attempt: usize) -> Option<PeerId> {
        if let Some(leader) = self.local.as_ref().and_then(|l| l.leader()) {
            return Some(leader);
        }
        match self.leader_hint.load(Ordering::Relaxed) {
            0 => {
                let replicas = self.replicas.read();
                let peers: Vec<PeerId> = replicas.keys().copied().collect();
                (!peers.is_empty()).then(|| peers[attempt % peers.len()])
            }
            hint => Some(hint),
        }
    }

    fn hint(&self, leader: Option<PeerId>) {
        self.leader_hint
            .store(leader.unwrap_or(0), Ordering::Relaxed);
    }

    /// Retries `attempt` against the likely leader until it is done or the wait runs out.
    async fn with_leader<T, F, Fut>(&self, what: &str, mut attempt: F) -> Result<T>
    where
        F: FnMut(PeerId) -> Fut,
        Fut: std::future::Future<Output = Result<Attempt<T>>>,
    {
        let deadline = Instant::now() + LEADER_WAIT;
        let mut last_error = None;
        for n in 0.. {
            if let Some(peer) = self.leader_candidate(n) {
                match attempt(peer).await {
                    Ok(Attempt::Done(value)) => return Ok(value),
                    Ok(Attempt::Redirect(leader)) => self.hint(leader),
                    Err(GrapeError::Unavailable(e)) => {
                        self.hint(None);
                        last_error = Some(e);
                    }
                    Err(e) => return Err(e),
                }
            }
            if Instant::now() > deadline {
                break;
            }
            tokio::time::sleep(RETRY_PAUSE).await;
        }
        metrics::replication::consistency_failure(what, "no_leader");
        Err(GrapeError::unavailable(format!(
            "{what}: no leader of shard group {} answered within {}s{}",
            self.group,
            LEADER_WAIT.as_secs(),
            last_error
                .map(|e| format!(" (last error: {e})"))
                .unwrap_or_default()
        )))
    }

    async fn write(&self, ops: Vec<PointOperation>) -> Result<u64> {
        self.with_leader("write", |peer| {
            let ops = ops.clone();
            async move {
                match &self.local {
                    Some(local) if peer == self.ctx.peer_id => match local
                        .write(&self.ctx, ops)
                        .await
                    {
                        Ok(index) => Ok(Attempt::Done(index)),
                        Err(LocalWriteError::NotLeader(leader)) => Ok(Attempt::Redirect(leader)),
                        Err(LocalWriteError::Failed(e)) => Err(e),
                    },
                    _ => self.remote_write(peer, &ops).await,
                }
            }
        })
        .await
    }

    async fn remote_write(&self, peer: PeerId, ops: &[PointOperation]) -> Result<Attempt<u64>> {
        let request = ShardRequest {
            group_id: self.group,
            body: encode_json(&ops),
        };
        let answer = self
            .ctx
            .internal(peer)?
            .shard_write(peer_request(request))
            .await;
        decode_answer(answer)
    }

    /// Reads through the leader, linearizably.
    async fn leader_read(&self, request: &ShardReadRequest) -> Result<ShardReadResponse> {
        self.with_leader("read", |peer| async move {
            match &self.local {
                Some(local) if peer == self.ctx.peer_id => {
                    match local.ensure_linearizable().await {
                        Ok(()) => Ok(Attempt::Done(serve_read(&local.shard, request)?)),
                        Err(LocalWriteError::NotLeader(leader)) => Ok(Attempt::Redirect(leader)),
                        Err(LocalWriteError::Failed(e)) => Err(e),
                    }
                }
                _ => self.remote_read(peer, request, true).await,
            }
        })
        .await
    }

    async fn remote_read(
        &self,
        peer: PeerId,
        request: &ShardReadRequest,
        linearizable: bool,
    ) -> Result<Attempt<ShardReadResponse>> {
        let body = encode_json(&RemoteRead {
            request: request.clone(),
            linearizable,
        });
        let answer = self
            .ctx
            .internal(peer)?
            .shard_read(peer_request(ShardRequest {
                group_id: self.group,
                body,
            }))
            .await;
        decode_answer(answer)
    }

    /// Reads one replica: the local one when active, else the others, active ones first.
    async fn any_read(&self, request: &ShardReadRequest) -> Result<ShardReadResponse> {
        let replicas = self.replicas();
        let me = self.ctx.peer_id;
        let active = |p: &PeerId| replicas.get(p) == Some(&ReplicaState::Active);
        if let Some(local) = &self.local {
            if active(&me) {
                return serve_read(&local.shard, request);
            }
        }
        let mut order: Vec<PeerId> = replicas.keys().copied().filter(|p| *p != me).collect();
        order.sort_by_key(|p| !active(p));
        let mut last_error = None;
        for peer in order {
            match self.remote_read(peer, request, false).await {
                Ok(Attempt::Done(response)) => return Ok(response),
                Ok(Attempt::Redirect(_)) => {}
                Err(GrapeError::Unavailable(e)) => last_error = Some(e),
                Err(e) => return Err(e),
            }
        }
        // Nothing else answered: a local replica, even behind, is better than nothing.
        if let Some(local) = &self.local {
            return serve_read(&local.shard, request);
        }
        Err(GrapeError::unavailable(format!(
            "no replica of shard group {} answered{}",
            self.group,
            last_error
                .map(|e| format!(" (last error: {e})"))
                .unwrap_or_default()
        )))
    }

    /// Reads at the requested consistency. Every replica applies the same Raft log, so a
    /// linearizable read through the leader is the strongest answer; asking for `n` or `all`
    /// replicas also requires that many to be active.
    fn read(&self, request: ShardReadRequest, read: ReadConsistency) -> Result<ShardReadResponse> {
        let needed = match read {
            ReadConsistency::Factor(n) if n > 1 => Some(n as usize),
            ReadConsistency::Level(ConsistencyLevel::All) => Some(self.replicas.read().len()),
            _ => None,
        };
        if let Some(needed) = needed {
            let active = self
                .replicas
                .read()
                .values()
                .filter(|s| **s == ReplicaState::Active)
                .count();
            if active < needed {
                metrics::replication::consistency_failure("read", "replicas");
                return Err(GrapeError::unavailable(format!(
                    "shard group {} has {active} active replicas, the read needs {needed}",
                    self.group
                )));
            }
        }
        self.ctx.block_on(async {
            if read.is_linearizable() || needed.is_some() {
                self.leader_read(&request).await
            } else {
                self.any_read(&request).await
            }
        })
    }

    fn count_of(&self, request: ShardReadRequest, read: ReadConsistency) -> Result<usize> {
        match self.read(request, read)? {
            ShardReadResponse::Count(n) => Ok(n),
            other => Err(unexpected(&other)),
        }
    }
}

/// A peer's answer: a value, a redirect to the leader, or an engine error.
fn decode_answer<T: serde::de::DeserializeOwned>(
    answer: std::result::Result<tonic::Response<grape_proto::internal::Encoded>, tonic::Status>,
) -> Result<Attempt<T>> {
    match answer {
        Ok(reply) => Ok(Attempt::Done(decode_json(&reply.into_inner().body)?)),
        Err(status) => match crate::cluster::internal::not_leader(&status) {
            Some(leader) => Ok(Attempt::Redirect(leader)),
            None => Err(status_to_error(&status)),
        },
    }
}

fn unexpected(response: &ShardReadResponse) -> GrapeError {
    GrapeError::Internal(format!("unexpected answer from a replica: {response:?}"))
}

impl ShardAccess for ReplicaSet {
    fn check(&self, ops: &[PointOperation]) -> Result<()> {
        // The leader checks again before committing; the local replica refuses early what
        // is invalid for sure, so a multi-shard write is refused whole.
        match &self.local {
            Some(local) => local.shard.check(ops),
            None => Ok(()),
        }
    }

    fn update(&self, ops: Vec<PointOperation>) -> Result<u64> {
        self.ctx.block_on(self.write(ops))
    }

    fn search(&self, search: &ShardSearch, read: ReadConsistency) -> Result<Vec<ScoredPoint>> {
        match self.read(ShardReadRequest::Search(search.clone()), read)? {
            ShardReadResponse::Hits(hits) => Ok(hits),
            other => Err(unexpected(&other)),
        }
    }

    fn sparse_stats(&self, name: &str, dims: &[u32], read: ReadConsistency) -> Result<SparseStats> {
        let request = ShardReadRequest::SparseStats {
            name: name.to_string(),
            dims: dims.to_vec(),
        };
        match self.read(request, read)? {
            ShardReadResponse::SparseStats(stats) => Ok(stats),
            other => Err(unexpected(&other)),
        }
    }

    fn retrieve(
        &self,
        ids: &[PointId],
        projection: &Projection,
        read: ReadConsistency,
    ) -> Result<Vec<Record>> {
        let request = ShardReadRequest::Retrieve {
            ids: ids.to_vec(),
            projection: projection.clone(),
        };
        match self.read(request, read)? {
            ShardReadResponse::Records(records) => Ok(records),
            other => Err(unexpected(&other)),
        }
    }

    fn scroll(
        &self,
        page: &ShardScroll,
        read: ReadConsistency,
    ) -> Result<(Vec<Record>, Option<PointId>)> {
        match self.read(ShardReadRequest::Scroll(page.clone()), read)? {
            ShardReadResponse::Page(records, next) => Ok((records, next)),
            other => Err(unexpected(&other)),
        }
    }

    fn count(&self, filter: Option<&Filter>, read: ReadConsistency) -> Result<usize> {
        let filter = filter.cloned();
        self.count_of(ShardReadRequest::Count { filter }, read)
    }

    fn order_by(&self, order: &ShardOrder, read: ReadConsistency) -> Result<Vec<(f64, Record)>> {
        match self.read(ShardReadRequest::OrderBy(order.clone()), read)? {
            ShardReadResponse::Ordered(found) => Ok(found),
            other => Err(unexpected(&other)),
        }
    }

    fn facet_counts(
        &self,
        key: &JsonPath,
        filter: Option<&Filter>,
        exact: bool,
        read: ReadConsistency,
    ) -> Result<Vec<(Key, u64)>> {
        let request = ShardReadRequest::Facet {
            key: key.clone(),
            filter: filter.cloned(),
            exact,
        };
        match self.read(request, read)? {
            ShardReadResponse::Facets(counts) => Ok(counts),
            other => Err(unexpected(&other)),
        }
    }

    fn points_count(&self) -> Result<usize> {
        self.count(None, ReadConsistency::default())
    }

    fn indexed_vectors_count(&self) -> Result<usize> {
        self.count_of(ShardReadRequest::IndexedVectors, ReadConsistency::default())
    }

    fn indexed_points(&self, path: &JsonPath) -> Result<usize> {
        let path = path.to_string();
        self.count_of(
            ShardReadRequest::IndexedPoints { path },
            ReadConsistency::default(),
        )
    }

    /// Indexes travel through the shard's log: the node holding the leader commits the
    /// collection's new `payload_schema` there (the leaders' watch does it too, in case this
    /// one fails or leadership moves).
    fn set_field_indexes(&self, _fields: &[(JsonPath, FieldSchema)]) -> Result<()> {
        let Some(local) = self.local.clone() else {
            return Ok(());
        };
        if local.leader() != Some(self.ctx.peer_id) {
            return Ok(());
        }
        let Some(schema) = self.ctx.payload_schema(self.group) else {
            return Ok(());
        };
        tokio::spawn(async move {
            if let Err(LocalWriteError::Failed(e)) = local.declare_indexes(schema).await {
                tracing::warn!(group = local.group, error = %e, "could not declare indexes");
            }
        });
        Ok(())
    }

    /// Polls the leader until it applies the collection's current `payload_schema` (its
    /// node commits it to the group's log after the metadata changed).
    fn wait_indexes_applied(&self) -> Result<()> {
        let deadline = Instant::now() + INDEXES_WAIT;
        loop {
            let wanted = self.ctx.payload_schema(self.group).unwrap_or_default();
            let on_leader = ReadConsistency::Level(ConsistencyLevel::Majority);
            let applied = match self.read(ShardReadRequest::AppliedIndexes, on_leader)? {
                ShardReadResponse::Indexes(indexes) => indexes,
                other => return Err(unexpected(&other)),
            };
            // Reads default to this node's replica: it must apply them too.
            let local_done = self
                .local
                .as_ref()
                .is_none_or(|l| l.applied_indexes() == wanted);
            if applied == wanted && local_done {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(GrapeError::unavailable(format!(
                    "shard group {} did not apply the new payload indexes within {}s",
                    self.group,
                    INDEXES_WAIT.as_secs()
                )));
            }
            std::thread::sleep(RETRY_PAUSE * 2);
        }
    }

    fn checkpoint(&self) -> Result<()> {
        match &self.local {
            Some(local) => local.shard.checkpoint().map(|_| ()),
            None => Ok(()),
        }
    }

    fn local(&self) -> Option<&Shard> {
        self.local.as_ref().map(|l| l.shard.as_ref())
    }
}
