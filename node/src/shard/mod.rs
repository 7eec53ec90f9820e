//! A shard: the unit the cluster replicates and moves. It owns its write-ahead log, its
//! in-memory state (vectors, payloads, HNSW graphs) and its checkpoints.
//!
//! Writes are validated, appended to the WAL with the next sequence number and fsynced, then
//! applied. Restart loads the latest checkpoint and replays the WAL records after it, through
//! the same `apply` path.
//!
//! A *replica* shard has no WAL: its shard group's Raft log plays that role, feeding it
//! committed operations through [`Shard::apply_replicated`] with the log index as sequence
//! number, and its checkpoints double as Raft snapshots ([`packing`]).

mod access;
mod checkpoint;
mod cost;
mod facet;
mod field_index;
mod order;
pub mod packing;
mod search;
mod space;
mod state;
mod validate;
mod value_graph;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use parking_lot::{Mutex, RwLock};

use crate::error::{GrapeError, Result};
use crate::filter::Filter;
use crate::index::SparseStats;
use crate::payload;
use crate::storage::wal::Wal;
use crate::types::{
    HnswConfig, PointId, PointOperation, QuantizationConfig, Record, ScoredPoint,
    SparseVectorParams, Vector, VectorParams, VectorStruct, WithPayload, WithVector,
};

pub use access::{QueryVector, ReadConsistency, ShardAccess, ShardOrder, ShardScroll, ShardSearch};
pub use field_index::{FieldSchema, Key, SchemaError};
pub use order::OrderQuery;
pub use search::{MultiQuery, Plan, ShardQuery, SparseQuery, Strategy};
use space::{MultiSpace, SparseSpace, VectorSpace};
use state::ShardState;

/// A checkpoint is taken once the WAL grows past this many bytes.
const CHECKPOINT_WAL_BYTES: u64 = 64 << 20;

/// The vector spaces of a shard, keyed by name: dense ones with their parameters and
/// effective HNSW and quantization settings, sparse ones, and multivectors.
#[derive(Debug, Clone, Default)]
pub struct SpaceConfigs {
    pub dense: BTreeMap<String, DenseConfig>,
    pub sparse: BTreeMap<String, SparseVectorParams>,
    pub multi: BTreeMap<String, VectorParams>,
}

/// The settings of one dense vector space.
#[derive(Debug, Clone, PartialEq)]
pub struct DenseConfig {
    pub params: VectorParams,
    pub hnsw: HnswConfig,
    pub quantization: Option<QuantizationConfig>,
}

/// Bytes of a shard's dense vector spaces: original vectors, quantized codes, HNSW graphs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DenseMemory {
    pub vectors: usize,
    pub codes: usize,
    pub graph: usize,
}

pub struct Shard {
    dir: PathBuf,
    /// Changed only by [`Shard::set_quantization`]; read to reload a checkpoint.
    spaces: RwLock<SpaceConfigs>,
    state: RwLock<ShardState>,
    /// Held for the whole of a write, so writes are serialized and logged in sequence order.
    /// `None` for a replica, whose log is its Raft group's.
    wal: Mutex<Option<Wal>>,
}

/// What a read should return for each point.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Projection {
    pub with_payload: WithPayload,
    pub with_vector: WithVector,
}

impl Shard {
    /// Opens the shard in `dir` (creating it when empty): loads the live checkpoint, builds
    /// the payload field indexes, then replays the WAL records it does not cover (filters in
    /// them are evaluated with the indexes they were applied with: see `set_field_indexes`).
    pub fn open(
        dir: &Path,
        spaces: &SpaceConfigs,
        fields: &[(payload::JsonPath, FieldSchema)],
    ) -> Result<Shard> {
        let mut state = load_state(dir, spaces)?;
        state.set_field_indexes(fields);
        let (wal, records) = Wal::open(&dir.join("wal.log"))?;
        let checkpointed = state.applied_seq;
        let mut replayed = 0;
        for record in records.into_iter().filter(|r| r.seq > checkpointed) {
            let ops: Vec<PointOperation> = serde_json::from_slice(&record.body).map_err(|e| {
                GrapeError::Internal(format!("undecodable WAL record {}: {e}", record.seq))
            })?;
            state.apply(record.seq, &ops);
            replayed += 1;
        }
        tracing::debug!(dir = %dir.display(), points = state.len(), replayed, "shard opened");
        Ok(Shard::new(dir, spaces, state, Some(wal)))
    }

    /// Opens a replica shard in `dir`: its live checkpoint only, since the Raft log replays
    /// what follows it.
    pub fn open_replica(dir: &Path, spaces: &SpaceConfigs) -> Result<Shard> {
        let state = load_state(dir, spaces)?;
        tracing::debug!(dir = %dir.display(), points = state.len(), "replica shard opened");
        Ok(Shard::new(dir, spaces, state, None))
    }

    fn new(dir: &Path, spaces: &SpaceConfigs, state: ShardState, wal: Option<Wal>) -> Shard {
        Shard {
            dir: dir.to_path_buf(),
            spaces: RwLock::new(spaces.clone()),
            state: RwLock::new(state),
            wal: Mutex::new(wal),
        }
    }

    /// Checks operations without applying them (used to refuse a multi-shard write whole).
    pub fn check(&self, ops: &[PointOperation]) -> Result<()> {
        validate::check_operations(&self.state.read(), ops)
    }

    /// Validates, logs durably and applies a list of operations as one unit; returns its
    /// sequence number. An invalid list is refused whole.
    pub fn update(&self, ops: &[PointOperation]) -> Result<u64> {
        let mut guard = self.wal.lock();
        let Some(wal) = guard.as_mut() else {
            return Err(GrapeError::Internal(
                "a replica shard is written through its Raft group".to_string(),
            ));
        };
        let seq = {
            let state = self.state.read();
            validate::check_operations(&state, ops)?;
            state.applied_seq + 1
        };
        let body = serde_json::to_vec(ops)
            .map_err(|e| GrapeError::Internal(format!("encode operations: {e}")))?;
        wal.append(seq, &body)?;
        self.state.write().apply(seq, ops);
        if wal.len() > CHECKPOINT_WAL_BYTES {
            self.checkpoint_locked(&mut guard)?;
        }
        Ok(seq)
    }

    /// Applies operations committed by the replica's Raft group at log index `seq`, and
    /// records `replication` (the group's applied position, opaque here) with the state so
    /// checkpoints keep both together.
    pub fn apply_replicated(
        &self,
        seq: u64,
        ops: &[PointOperation],
        replication: serde_json::Value,
    ) {
        let mut state = self.state.write();
        state.apply(seq, ops);
        state.replication = Some(replication);
    }

    /// The replication position recorded by the last [`Shard::apply_replicated`].
    pub fn replication(&self) -> Option<serde_json::Value> {
        self.state.read().replication.clone()
    }

    /// Writes a checkpoint of the current state and empties the WAL.
    pub fn checkpoint(&self) -> Result<PathBuf> {
        let mut wal = self.wal.lock();
        self.checkpoint_locked(&mut wal)
    }

    /// Replaces the state with the live checkpoint on disk (after a replica received a
    /// snapshot); the caller then declares the payload indexes that state was built under.
    fn reload(&self) -> Result<()> {
        let _writes = self.wal.lock();
        *self.state.write() = load_state(&self.dir, &self.spaces.read())?;
        Ok(())
    }

    /// Checkpoints and runs `f` on the checkpoint directory while writes are held back, so
    /// the directory cannot be replaced while `f` reads it (used by snapshots).
    pub fn with_checkpoint<T>(&self, f: impl FnOnce(&Path) -> Result<T>) -> Result<T> {
        let mut wal = self.wal.lock();
        let dir = self.checkpoint_locked(&mut wal)?;
        f(&dir)
    }

    fn checkpoint_locked(&self, wal: &mut Option<Wal>) -> Result<PathBuf> {
        let start = Instant::now();
        let dir = checkpoint::save(&self.dir, &self.state.read())?;
        crate::metrics::storage::checkpoint(start.elapsed());
        if let Some(wal) = wal {
            wal.clear()?;
        }
        Ok(dir)
    }

    /// Sequence number of the last applied operation.
    pub fn applied_seq(&self) -> u64 {
        self.state.read().applied_seq
    }

    pub fn points_count(&self) -> usize {
        self.state.read().len()
    }

    /// Number of live vectors held by the HNSW graphs, over all vector spaces.
    pub fn indexed_vectors_count(&self) -> usize {
        let state = self.state.read();
        state
            .spaces
            .values()
            .map(|space| state.ids.values().filter(|&&o| space.has(o)).count())
            .sum()
    }

    /// Bytes of vectors and vector indexes held in memory, over every vector space.
    pub fn memory_bytes(&self) -> usize {
        let state = self.state.read();
        let dense: usize = state
            .spaces
            .values()
            .map(|s| s.vectors.memory_bytes() + s.index.memory_bytes())
            .sum();
        let sparse: usize = state.sparse.values().map(|s| s.index.memory_bytes()).sum();
        let multi: usize = state.multi.values().map(|s| s.vectors.memory_bytes()).sum();
        dense + sparse + multi
    }

    /// Declares the payload field indexes (building new ones from the stored payloads). A
    /// text index changes what `match: text` selects, so the WAL is checkpointed first: every
    /// logged write is then replayed under the indexes it was applied with. (A replica gets
    /// its indexes through its Raft log, in order with its writes.)
    pub fn set_field_indexes(&self, fields: &[(payload::JsonPath, FieldSchema)]) -> Result<()> {
        let mut wal = self.wal.lock();
        if wal.as_ref().is_some_and(|w| !w.is_empty()) {
            self.checkpoint_locked(&mut wal)?;
        }
        self.state.write().set_field_indexes(fields);
        Ok(())
    }

    /// Applies new quantization settings of the dense vector spaces: codes are rebuilt
    /// (or dropped) where the setting changed. Codes derive from the vectors, so this is
    /// not logged: a checkpoint keeps them, a replay rebuilds them from the same settings.
    pub fn set_quantization(&self, configs: &BTreeMap<String, Option<QuantizationConfig>>) {
        let mut spaces = self.spaces.write();
        let mut state = self.state.write();
        for (name, config) in configs {
            if let (Some(space), Some(settings)) =
                (state.spaces.get_mut(name), spaces.dense.get_mut(name))
            {
                settings.quantization = *config;
                space.set_quantization(*config);
            }
        }
    }

    /// Bytes held by the dense vector spaces, by kind.
    pub fn dense_memory(&self) -> DenseMemory {
        let state = self.state.read();
        let mut memory = DenseMemory::default();
        for space in state.spaces.values() {
            memory.vectors += space.vectors.memory_bytes();
            memory.codes += space.quantizer.as_ref().map_or(0, |q| q.memory_bytes());
            memory.graph += space.index.memory_bytes();
        }
        memory
    }

    /// How many live points have a value at an indexed payload path.
    pub fn indexed_points(&self, path: &payload::JsonPath) -> usize {
        let state = self.state.read();
        state
            .field_indexes
            .field(path)
            .map_or(0, |i| i.points() as usize)
    }

    pub fn retrieve(&self, ids: &[PointId], projection: &Projection) -> Vec<Record> {
        let state = self.state.read();
        ids.iter()
            .filter_map(|id| Some(record(&state, *state.ids.get(id)?, projection)))
            .collect()
    }

    /// Best `query.top` points, best first, with scores in Qdrant's convention.
    pub fn search(&self, query: &ShardQuery, projection: &Projection) -> Result<Vec<ScoredPoint>> {
        let state = self.state.read();
        let found = search::search(&state, query)?;
        Ok(scored_points(&state, found, projection))
    }

    /// Best `query.top` points by dot product with a sparse vector, best first.
    pub fn search_sparse(
        &self,
        query: &SparseQuery,
        projection: &Projection,
    ) -> Result<Vec<ScoredPoint>> {
        let state = self.state.read();
        let found = search::search_sparse(&state, query)?;
        Ok(scored_points(&state, found, projection))
    }

    /// Best `query.top` points by MaxSim with a multivector, best first.
    pub fn search_multi(
        &self,
        query: &MultiQuery,
        projection: &Projection,
    ) -> Result<Vec<ScoredPoint>> {
        let state = self.state.read();
        let found = search::search_multi(&state, query)?;
        Ok(scored_points(&state, found, projection))
    }

    /// Runs a search request: dense, sparse or multivector.
    pub fn run_search(&self, search: &ShardSearch) -> Result<Vec<ScoredPoint>> {
        match &search.vector {
            QueryVector::Dense(vector) => {
                self.search(&search.dense_query(vector), &search.projection)
            }
            QueryVector::Sparse(vector) => {
                self.search_sparse(&search.sparse_query(vector), &search.projection)
            }
            QueryVector::Multi(vector) => {
                self.search_multi(&search.multi_query(vector), &search.projection)
            }
        }
    }

    /// How many live vectors the sparse space `name` holds, and how many hold each of `dims`.
    pub fn sparse_stats(&self, name: &str, dims: &[u32]) -> Result<SparseStats> {
        let state = self.state.read();
        let space = validate::sparse_space_named(&state, name)?;
        Ok(space.index.stats(dims))
    }

    /// Up to `limit` points with id ≥ `from` matching the filter, in id order, and the id
    /// where the next page starts.
    pub fn scroll(
        &self,
        from: Option<PointId>,
        limit: usize,
        filter: Option<&Filter>,
        projection: &Projection,
    ) -> (Vec<Record>, Option<PointId>) {
        let state = self.state.read();
        let start = from.map_or(std::ops::Bound::Unbounded, std::ops::Bound::Included);
        let mut page = state
            .ids
            .range((start, std::ops::Bound::Unbounded))
            .filter(|(_, &offset)| state.matches(offset, filter))
            .take(limit + 1)
            .map(|(_, &offset)| record(&state, offset, projection))
            .collect::<Vec<_>>();
        let next = if page.len() > limit {
            page.pop().map(|r| r.id)
        } else {
            None
        };
        (page, next)
    }

    pub fn count(&self, filter: Option<&Filter>) -> usize {
        let state = self.state.read();
        let Some(filter) = filter else {
            return state.len();
        };
        let selection = search::Selection::new(&state, filter);
        if let Some(count) = selection.exact_count(&state) {
            return count as usize;
        }
        match selection.candidates() {
            Some(set) => set.iter().filter(|&o| selection.accepts(&state, o)).count(),
            None => state.matching_offsets(Some(filter)).count(),
        }
    }

    /// The plan a search would use; exposed for tests and diagnostics.
    pub fn plan(&self, query: &ShardQuery) -> Option<Plan> {
        let state = self.state.read();
        let space = state.spaces.get(query.vector_name)?;
        let selection = query.filter.map(|f| search::Selection::new(&state, f));
        Some(search::plan(&state, space, query, selection.as_ref()))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// The state of the live checkpoint in `dir`, or an empty state (creating `dir`).
fn load_state(dir: &Path, spaces: &SpaceConfigs) -> Result<ShardState> {
    std::fs::create_dir_all(dir).map_err(GrapeError::io(format!(
        "create shard dir {}",
        dir.display()
    )))?;
    Ok(match checkpoint::load(dir, spaces)? {
        Some(state) => state,
        None => ShardState::new(
            new_spaces(spaces),
            new_sparse_spaces(spaces),
            new_multi_spaces(spaces),
        ),
    })
}

fn new_spaces(configs: &SpaceConfigs) -> BTreeMap<String, VectorSpace> {
    configs
        .dense
        .iter()
        .map(|(name, config)| (name.clone(), VectorSpace::new(config.clone())))
        .collect()
}

fn new_multi_spaces(configs: &SpaceConfigs) -> BTreeMap<String, MultiSpace> {
    configs
        .multi
        .iter()
        .map(|(name, params)| (name.clone(), MultiSpace::new(params.clone())))
        .collect()
}

fn new_sparse_spaces(configs: &SpaceConfigs) -> BTreeMap<String, SparseSpace> {
    configs
        .sparse
        .keys()
        .map(|name| (name.clone(), SparseSpace::default()))
        .collect()
}

fn record(state: &ShardState, offset: u32, projection: &Projection) -> Record {
    let slot = state.slots[offset as usize]
        .as_ref()
        .expect("offset of a live point");
    let payload = payload::select(&slot.payload, &projection.with_payload);
    let wanted = |name: &str| match &projection.with_vector {
        WithVector::Bool(all) => *all,
        WithVector::Names(names) => names.iter().any(|n| n == name),
    };
    let dense = state
        .spaces
        .iter()
        .filter(|(name, _)| wanted(name))
        .filter_map(|(name, space)| {
            Some((name.clone(), Vector::Dense(space.get(offset)?.to_vec())))
        });
    let sparse = state
        .sparse
        .iter()
        .filter(|(name, _)| wanted(name))
        .filter_map(|(name, space)| {
            Some((
                name.clone(),
                Vector::Sparse(space.index.get(offset)?.clone()),
            ))
        });
    let multi = state
        .multi
        .iter()
        .filter(|(name, _)| wanted(name))
        .filter_map(|(name, space)| {
            Some((name.clone(), Vector::Multi(space.vectors.get(offset)?)))
        });
    let vectors: std::collections::HashMap<String, Vector> =
        dense.chain(sparse).chain(multi).collect();
    let vector = match &projection.with_vector {
        WithVector::Bool(false) => None,
        _ => Some(VectorStruct::from_named(vectors)),
    };
    Record {
        id: slot.id,
        payload,
        vector,
        order_value: None,
    }
}

/// Search hits as Qdrant returns them, with what the projection asks for.
fn scored_points(
    state: &ShardState,
    found: Vec<crate::index::ScoredOffset>,
    projection: &Projection,
) -> Vec<ScoredPoint> {
    found
        .into_iter()
        .map(|hit| {
            let rec = record(state, hit.offset, projection);
            let version = state.slots[hit.offset as usize]
                .as_ref()
                .map_or(0, |s| s.version);
            ScoredPoint {
                id: rec.id,
                version,
                score: hit.score,
                payload: rec.payload,
                vector: rec.vector,
                order_value: rec.order_value,
            }
        })
        .collect()
}
