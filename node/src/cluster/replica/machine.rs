//! A shard group's state machine: the replica's [`Shard`], fed committed operations, with
//! its Raft position saved inside the shard's checkpoints. A snapshot is the packed live
//! checkpoint ([`packing`]); it is streamed to a peer in chunks by openraft.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use openraft::storage::{RaftSnapshotBuilder, RaftStateMachine};
use openraft::{
    Entry, EntryPayload, LogId, OptionalSend, Snapshot, SnapshotMeta, StorageError, StorageIOError,
    StoredMembership,
};
use serde::{Deserialize, Serialize};

use crate::cluster::codec::Json;
use crate::cluster::raft_types::{PeerId, PeerNode, ShardCommand, ShardConfig};
use crate::collection::{indexed_fields, FieldIndex};
use crate::shard::{packing, Shard};
use crate::types::PointOperation;

/// The Raft position a replica's state reflects, and the payload indexes it was built
/// under; saved with the shard's state.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Position {
    last_applied: Option<LogId<PeerId>>,
    membership: StoredMembership<PeerId, PeerNode>,
    #[serde(default)]
    pub indexes: BTreeMap<String, FieldIndex>,
}

impl Position {
    pub fn of(shard: &Shard) -> Position {
        shard
            .replication()
            .and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or_default()
    }

    fn to_value(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("positions serialize")
    }
}

type StorageResult<T> = Result<T, StorageError<PeerId>>;

fn io_error(e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

/// Counts what was applied since the last snapshot, so the replica knows when to take one.
#[derive(Debug, Default)]
pub struct SinceSnapshot {
    pub entries: AtomicU64,
    pub points: AtomicU64,
}

pub struct ShardMachine {
    shard: Arc<Shard>,
    /// Where packed snapshots (`snapshot-<index>.tar` + `.json`) are kept.
    snapshots: PathBuf,
    /// The file a snapshot is being received into.
    receiving: Option<PathBuf>,
    since_snapshot: Arc<SinceSnapshot>,
}

impl ShardMachine {
    pub fn new(shard: Arc<Shard>, snapshots: PathBuf, since_snapshot: Arc<SinceSnapshot>) -> Self {
        ShardMachine {
            shard,
            snapshots,
            receiving: None,
            since_snapshot,
        }
    }
}

/// How many points an operation list writes (a proxy for the log bytes it adds).
fn written_points(ops: &[PointOperation]) -> u64 {
    use crate::types::UpsertPoints;
    ops.iter()
        .map(|op| match op {
            PointOperation::Upsert(UpsertPoints::Points { points }) => points.len(),
            PointOperation::Upsert(UpsertPoints::Batch { batch }) => batch.ids.len(),
            PointOperation::UpdateVectors(update) => update.points.len(),
            _ => 1,
        } as u64)
        .sum()
}

impl RaftStateMachine<ShardConfig> for ShardMachine {
    type SnapshotBuilder = ShardSnapshotBuilder;

    async fn applied_state(
        &mut self,
    ) -> StorageResult<(Option<LogId<PeerId>>, StoredMembership<PeerId, PeerNode>)> {
        let position = Position::of(&self.shard);
        Ok((position.last_applied, position.membership))
    }

    async fn apply<I>(&mut self, entries: I) -> StorageResult<Vec<()>>
    where
        I: IntoIterator<Item = Entry<ShardConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let entries: Vec<Entry<ShardConfig>> = entries.into_iter().collect();
        let count = entries.len();
        let shard = self.shard.clone();
        let since = self.since_snapshot.clone();
        // Applying indexes vectors: keep that CPU work off the runtime's threads, which
        // carry heartbeats.
        tokio::task::spawn_blocking(move || {
            let mut position = Position::of(&shard);
            for entry in entries {
                position.last_applied = Some(entry.log_id);
                let ops = match entry.payload {
                    EntryPayload::Normal(Json(ShardCommand::Write(ops))) => ops,
                    EntryPayload::Normal(Json(ShardCommand::SetIndexes(indexes))) => {
                        declare_indexes(&shard, &indexes);
                        position.indexes = indexes;
                        Vec::new()
                    }
                    EntryPayload::Membership(m) => {
                        position.membership = StoredMembership::new(Some(entry.log_id), m);
                        Vec::new()
                    }
                    EntryPayload::Blank => Vec::new(),
                };
                since.entries.fetch_add(1, Ordering::Relaxed);
                since
                    .points
                    .fetch_add(written_points(&ops), Ordering::Relaxed);
                shard.apply_replicated(entry.log_id.index, &ops, position.to_value());
            }
        })
        .await
        .map_err(|e| StorageIOError::write_state_machine(&io_error(e)))?;
        Ok(vec![(); count])
    }

    async fn get_snapshot_builder(&mut self) -> ShardSnapshotBuilder {
        ShardSnapshotBuilder {
            shard: self.shard.clone(),
            snapshots: self.snapshots.clone(),
            since_snapshot: self.since_snapshot.clone(),
        }
    }

    async fn begin_receiving_snapshot(&mut self) -> StorageResult<Box<tokio::fs::File>> {
        let path = self
            .snapshots
            .join(format!("incoming-{}.tar", uuid::Uuid::new_v4()));
        let file = create_file(&path)
            .await
            .map_err(|e| StorageIOError::write_snapshot(None, &e))?;
        self.receiving = Some(path);
        Ok(Box::new(file))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<PeerId, PeerNode>,
        snapshot: Box<tokio::fs::File>,
    ) -> StorageResult<()> {
        crate::metrics::raft::snapshot_received(crate::metrics::raft::Kind::Shard);
        let failed = |e: std::io::Error| StorageIOError::write_snapshot(Some(meta.signature()), &e);
        snapshot.sync_all().await.map_err(failed)?;
        drop(snapshot);
        let received = self
            .receiving
            .take()
            .ok_or_else(|| failed(io_error("no snapshot is being received")))?;
        let path = snapshot_path(&self.snapshots, meta);
        tokio::fs::rename(&received, &path).await.map_err(failed)?;
        let shard = self.shard.clone();
        let archive = path.clone();
        tokio::task::spawn_blocking(move || {
            packing::install(&shard, &archive)?;
            declare_indexes(&shard, &Position::of(&shard).indexes);
            Ok::<_, crate::GrapeError>(())
        })
        .await
        .map_err(|e| failed(io_error(e)))?
        .map_err(|e| failed(io_error(e)))?;
        save_meta(&self.snapshots, meta).map_err(failed)?;
        self.since_snapshot.entries.store(0, Ordering::Relaxed);
        self.since_snapshot.points.store(0, Ordering::Relaxed);
        tracing::info!(snapshot = %meta.snapshot_id, "replica installed a snapshot");
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> StorageResult<Option<Snapshot<ShardConfig>>> {
        let failed = |e: std::io::Error| StorageIOError::read_snapshot(None, &e);
        let Some(meta) = latest_meta(&self.snapshots).map_err(failed)? else {
            return Ok(None);
        };
        let file = tokio::fs::File::open(snapshot_path(&self.snapshots, &meta))
            .await
            .map_err(failed)?;
        Ok(Some(Snapshot {
            meta,
            snapshot: Box::new(file),
        }))
    }
}

/// Builds the payload indexes `indexes` (a `payload_schema`) on the replica's shard.
pub fn declare_indexes(shard: &Shard, indexes: &BTreeMap<String, FieldIndex>) {
    if let Err(e) = shard.set_field_indexes(&indexed_fields(indexes)) {
        // A replica has no WAL to checkpoint first, so this cannot fail today.
        tracing::error!(error = %e, "replica could not build its payload indexes");
    }
}

async fn create_file(path: &Path) -> std::io::Result<tokio::fs::File> {
    tokio::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .await
}

fn snapshot_path(dir: &Path, meta: &SnapshotMeta<PeerId, PeerNode>) -> PathBuf {
    dir.join(format!("snapshot-{}.tar", meta.snapshot_id))
}

/// Records `meta` as the current snapshot and deletes every other snapshot file.
fn save_meta(dir: &Path, meta: &SnapshotMeta<PeerId, PeerNode>) -> std::io::Result<()> {
    let bytes = serde_json::to_vec(meta).map_err(io_error)?;
    crate::storage::files::write_atomic(&dir.join("current.json"), &bytes).map_err(io_error)?;
    let keep = snapshot_path(dir, meta);
    for entry in std::fs::read_dir(dir)?.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().to_string();
        if name.starts_with("snapshot-") && path != keep {
            let _ = std::fs::remove_file(path);
        }
    }
    Ok(())
}

/// The size of the current snapshot's file in `dir`, 0 when there is none.
pub fn current_snapshot_size(dir: &Path) -> u64 {
    let Ok(Some(meta)) = latest_meta(dir) else {
        return 0;
    };
    std::fs::metadata(snapshot_path(dir, &meta)).map_or(0, |m| m.len())
}

fn latest_meta(dir: &Path) -> std::io::Result<Option<SnapshotMeta<PeerId, PeerNode>>> {
    match std::fs::read(dir.join("current.json")) {
        Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(io_error),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Packs the live state into a snapshot.
pub struct ShardSnapshotBuilder {
    shard: Arc<Shard>,
    snapshots: PathBuf,
    since_snapshot: Arc<SinceSnapshot>,
}

impl RaftSnapshotBuilder<ShardConfig> for ShardSnapshotBuilder {
    async fn build_snapshot(&mut self) -> StorageResult<Snapshot<ShardConfig>> {
        let failed = |e: std::io::Error| StorageIOError::write_snapshot(None, &e);
        let shard = self.shard.clone();
        let packing_path = self
            .snapshots
            .join(format!("packing-{}.tar", uuid::Uuid::new_v4()));
        let target = packing_path.clone();
        self.since_snapshot.entries.store(0, Ordering::Relaxed);
        self.since_snapshot.points.store(0, Ordering::Relaxed);
        let (_, replication) = tokio::task::spawn_blocking(move || packing::pack(&shard, &target))
            .await
            .map_err(|e| failed(io_error(e)))?
            .map_err(|e| failed(io_error(e)))?;
        let position: Position = replication
            .and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or_default();
        let meta = SnapshotMeta {
            last_log_id: position.last_applied,
            last_membership: position.membership,
            snapshot_id: format!(
                "{}-{}",
                position.last_applied.map_or(0, |l| l.index),
                uuid::Uuid::new_v4().simple()
            ),
        };
        let path = snapshot_path(&self.snapshots, &meta);
        tokio::fs::rename(&packing_path, &path)
            .await
            .map_err(failed)?;
        save_meta(&self.snapshots, &meta).map_err(failed)?;
        let file = tokio::fs::File::open(&path).await.map_err(failed)?;
        tracing::debug!(snapshot = %meta.snapshot_id, "replica built a snapshot");
        Ok(Snapshot {
            meta,
            snapshot: Box::new(file),
        })
    }
}
