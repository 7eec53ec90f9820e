//! The metadata group's state machine: a [`ClusterState`] persisted in sled after every
//! applied batch (it is small), published to the rest of the node through a watch channel.

// openraft's storage traits fix the (large) error type.
#![allow(clippy::result_large_err)]

use std::io::Cursor;
use std::sync::Arc;

use openraft::storage::{RaftSnapshotBuilder, RaftStateMachine};
use openraft::{
    Entry, EntryPayload, LogId, OptionalSend, Snapshot, SnapshotMeta, StorageError, StorageIOError,
    StoredMembership,
};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::ClusterState;
use crate::cluster::codec::Json;
use crate::cluster::raft_types::{MetaConfig, MetaResponse, PeerId, PeerNode};

/// The metadata as of a log index, shared by everything on the node that follows it.
#[derive(Debug, Clone, Default)]
pub struct MetaView {
    /// Index of the last applied log entry (0 before any).
    pub applied: u64,
    pub state: Arc<ClusterState>,
}

/// What is persisted: the state and the Raft position it reflects.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Stored {
    last_applied: Option<LogId<PeerId>>,
    membership: StoredMembership<PeerId, PeerNode>,
    state: ClusterState,
}

#[derive(Serialize, Deserialize)]
struct StoredSnapshot {
    meta: SnapshotMeta<PeerId, PeerNode>,
    data: Vec<u8>,
}

const STATE_KEY: &str = "state";
const SNAPSHOT_KEY: &str = "snapshot";

type StorageResult<T> = Result<T, StorageError<PeerId>>;

fn io_error(e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

pub struct MetaMachine {
    tree: sled::Tree,
    stored: Stored,
    published: watch::Sender<MetaView>,
}

impl MetaMachine {
    /// Opens the machine persisted in `db` (empty on a new node).
    pub fn open(db: &sled::Db) -> crate::Result<(MetaMachine, watch::Receiver<MetaView>)> {
        let internal = |e: String| crate::GrapeError::Internal(format!("metadata store: {e}"));
        let tree = db
            .open_tree("meta-machine")
            .map_err(|e| internal(e.to_string()))?;
        let stored: Stored = match tree.get(STATE_KEY).map_err(|e| internal(e.to_string()))? {
            Some(bytes) => serde_json::from_slice(&bytes).map_err(|e| internal(e.to_string()))?,
            None => Stored::default(),
        };
        let (published, view) = watch::channel(view_of(&stored));
        Ok((
            MetaMachine {
                tree,
                stored,
                published,
            },
            view,
        ))
    }

    async fn persist(&self) -> StorageResult<()> {
        let bytes = serde_json::to_vec(&self.stored).expect("metadata serializes");
        self.tree
            .insert(STATE_KEY, bytes)
            .map_err(|e| StorageIOError::write_state_machine(&io_error(e)))?;
        self.tree
            .flush_async()
            .await
            .map_err(|e| StorageIOError::write_state_machine(&io_error(e)))?;
        self.published.send_replace(view_of(&self.stored));
        Ok(())
    }
}

fn view_of(stored: &Stored) -> MetaView {
    MetaView {
        applied: stored.last_applied.map_or(0, |l| l.index),
        state: Arc::new(stored.state.clone()),
    }
}

impl RaftStateMachine<MetaConfig> for MetaMachine {
    type SnapshotBuilder = MetaSnapshotBuilder;

    async fn applied_state(
        &mut self,
    ) -> StorageResult<(Option<LogId<PeerId>>, StoredMembership<PeerId, PeerNode>)> {
        Ok((self.stored.last_applied, self.stored.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> StorageResult<Vec<MetaResponse>>
    where
        I: IntoIterator<Item = Entry<MetaConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut responses = Vec::new();
        for entry in entries {
            self.stored.last_applied = Some(entry.log_id);
            let response = match entry.payload {
                EntryPayload::Blank => Ok(false),
                EntryPayload::Normal(Json(command)) => {
                    let result = self.stored.state.apply(&command);
                    if let Err(e) = &result {
                        tracing::debug!(?command, error = %e, "metadata command refused");
                    }
                    result.map_err(|e| (&e).into())
                }
                EntryPayload::Membership(membership) => {
                    self.stored.membership = StoredMembership::new(Some(entry.log_id), membership);
                    Ok(false)
                }
            };
            responses.push(response);
        }
        self.persist().await?;
        Ok(responses)
    }

    async fn get_snapshot_builder(&mut self) -> MetaSnapshotBuilder {
        MetaSnapshotBuilder {
            tree: self.tree.clone(),
            stored: self.stored.clone(),
        }
    }

    async fn begin_receiving_snapshot(&mut self) -> StorageResult<Box<Cursor<Vec<u8>>>> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<PeerId, PeerNode>,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> StorageResult<()> {
        crate::metrics::raft::snapshot_received(crate::metrics::raft::Kind::Meta);
        let data = snapshot.into_inner();
        let bad = |e: serde_json::Error| {
            StorageIOError::read_snapshot(Some(meta.signature()), &io_error(e))
        };
        self.stored = serde_json::from_slice(&data).map_err(bad)?;
        save_snapshot(&self.tree, meta.clone(), data)?;
        self.persist().await
    }

    async fn get_current_snapshot(&mut self) -> StorageResult<Option<Snapshot<MetaConfig>>> {
        let Some(bytes) = self
            .tree
            .get(SNAPSHOT_KEY)
            .map_err(|e| StorageIOError::read_snapshot(None, &io_error(e)))?
        else {
            return Ok(None);
        };
        let stored: StoredSnapshot = serde_json::from_slice(&bytes)
            .map_err(|e| StorageIOError::read_snapshot(None, &io_error(e)))?;
        Ok(Some(Snapshot {
            meta: stored.meta,
            snapshot: Box::new(Cursor::new(stored.data)),
        }))
    }
}

fn save_snapshot(
    tree: &sled::Tree,
    meta: SnapshotMeta<PeerId, PeerNode>,
    data: Vec<u8>,
) -> StorageResult<()> {
    let signature = meta.signature();
    let bytes = serde_json::to_vec(&StoredSnapshot { meta, data }).expect("snapshot serializes");
    tree.insert(SNAPSHOT_KEY, bytes)
        .map_err(|e| StorageIOError::write_snapshot(Some(signature), &io_error(e)))?;
    Ok(())
}

/// Builds a snapshot of the state as it was when the builder was made.
pub struct MetaSnapshotBuilder {
    tree: sled::Tree,
    stored: Stored,
}

impl RaftSnapshotBuilder<MetaConfig> for MetaSnapshotBuilder {
    async fn build_snapshot(&mut self) -> StorageResult<Snapshot<MetaConfig>> {
        let data = serde_json::to_vec(&self.stored).expect("metadata serializes");
        let last = self.stored.last_applied;
        let meta = SnapshotMeta {
            last_log_id: last,
            last_membership: self.stored.membership.clone(),
            snapshot_id: format!("{}-{}", last.map_or(0, |l| l.index), uuid::Uuid::new_v4()),
        };
        save_snapshot(&self.tree, meta.clone(), data.clone())?;
        Ok(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data)),
        })
    }
}
