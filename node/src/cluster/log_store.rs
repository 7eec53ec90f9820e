//! The Raft log of every group of a node, in one sled database: a tree of entries per group
//! (key: big-endian log index) and one tree of per-group log state (vote, committed, purged).
//! Appends are acknowledged to openraft only after sled flushed them to disk.

// openraft's storage traits fix the (large) error type.
#![allow(clippy::result_large_err)]

use std::fmt::Debug;
use std::marker::PhantomData;
use std::ops::{Bound, RangeBounds};
use std::time::Instant;

use openraft::storage::{LogFlushed, RaftLogStorage};
use openraft::{
    Entry, LogId, LogState, OptionalSend, RaftLogReader, RaftTypeConfig, StorageError,
    StorageIOError, Vote,
};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::codec::{decode_raft, encode_raft};
use super::raft_types::{GroupId, PeerId};
use crate::metrics;

/// The log of one group.
pub struct LogStore<C> {
    group: GroupId,
    entries: sled::Tree,
    state: sled::Tree,
    _config: PhantomData<C>,
}

impl<C> Clone for LogStore<C> {
    fn clone(&self) -> Self {
        LogStore {
            group: self.group,
            entries: self.entries.clone(),
            state: self.state.clone(),
            _config: PhantomData,
        }
    }
}

type StorageResult<T> = Result<T, StorageError<PeerId>>;

fn io_error(e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

impl<C> LogStore<C> {
    /// Opens the log of `group` in `db`.
    pub fn open(db: &sled::Db, group: GroupId) -> sled::Result<Self> {
        Ok(LogStore {
            group,
            entries: db.open_tree(format!("log-{group}"))?,
            state: db.open_tree("log-state")?,
            _config: PhantomData,
        })
    }

    /// Deletes the group's log and state (its replica left this node).
    pub fn destroy(db: &sled::Db, group: GroupId) -> sled::Result<()> {
        db.drop_tree(format!("log-{group}"))?;
        let state = db.open_tree("log-state")?;
        for key in ["vote", "committed", "purged"] {
            state.remove(Self::state_key_of(group, key))?;
        }
        db.flush().map(|_| ())
    }

    fn state_key_of(group: GroupId, key: &str) -> Vec<u8> {
        format!("{group}/{key}").into_bytes()
    }

    fn read_state<T: DeserializeOwned>(&self, key: &str) -> StorageResult<Option<T>> {
        let bytes = self
            .state
            .get(Self::state_key_of(self.group, key))
            .map_err(|e| StorageIOError::read(&io_error(e)))?;
        bytes
            .map(|b| decode_raft(&b).map_err(|e| StorageIOError::read(&io_error(e)).into()))
            .transpose()
    }

    async fn write_state<T: Serialize>(&self, key: &str, value: &T) -> StorageResult<()> {
        self.state
            .insert(Self::state_key_of(self.group, key), encode_raft(value))
            .map_err(|e| StorageIOError::write(&io_error(e)))?;
        self.state
            .flush_async()
            .await
            .map_err(|e| StorageIOError::write(&io_error(e)))?;
        Ok(())
    }

    fn last_entry<T: DeserializeOwned>(&self) -> StorageResult<Option<T>> {
        let last = self
            .entries
            .last()
            .map_err(|e| StorageIOError::read_logs(&io_error(e)))?;
        last.map(|(_, v)| {
            decode_raft(&v).map_err(|e| StorageIOError::read_logs(&io_error(e)).into())
        })
        .transpose()
    }
}

fn index_key(index: u64) -> [u8; 8] {
    index.to_be_bytes()
}

/// The sled key range of a range of log indexes.
fn key_range(range: &impl RangeBounds<u64>) -> (Bound<[u8; 8]>, Bound<[u8; 8]>) {
    let key = |bound: Bound<&u64>| bound.map(|i| index_key(*i));
    (key(range.start_bound()), key(range.end_bound()))
}

impl<C> RaftLogReader<C> for LogStore<C>
where
    C: RaftTypeConfig<NodeId = PeerId, Entry = Entry<C>>,
    Entry<C>: Serialize + DeserializeOwned,
{
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> StorageResult<Vec<C::Entry>> {
        self.entries
            .range::<[u8; 8], _>(key_range(&range))
            .map(|item| {
                let (_, bytes) = item.map_err(|e| StorageIOError::read_logs(&io_error(e)))?;
                decode_raft(&bytes).map_err(|e| StorageIOError::read_logs(&io_error(e)).into())
            })
            .collect()
    }
}

impl<C> RaftLogStorage<C> for LogStore<C>
where
    C: RaftTypeConfig<NodeId = PeerId, Entry = Entry<C>>,
    Entry<C>: Serialize + DeserializeOwned,
{
    type LogReader = Self;

    async fn get_log_state(&mut self) -> StorageResult<LogState<C>> {
        let last_purged_log_id: Option<LogId<PeerId>> = self.read_state("purged")?;
        let last_log_id = self
            .last_entry::<Entry<C>>()?
            .map(|e| e.log_id)
            .or(last_purged_log_id);
        Ok(LogState {
            last_purged_log_id,
            last_log_id,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<PeerId>) -> StorageResult<()> {
        self.write_state("vote", vote).await
    }

    async fn read_vote(&mut self) -> StorageResult<Option<Vote<PeerId>>> {
        self.read_state("vote")
    }

    async fn save_committed(&mut self, committed: Option<LogId<PeerId>>) -> StorageResult<()> {
        metrics::raft::committed(self.group, committed.map_or(0, |c| c.index));
        self.write_state("committed", &committed).await
    }

    async fn read_committed(&mut self) -> StorageResult<Option<LogId<PeerId>>> {
        Ok(self
            .read_state::<Option<LogId<PeerId>>>("committed")?
            .flatten())
    }

    async fn append<I>(&mut self, entries: I, callback: LogFlushed<C>) -> StorageResult<()>
    where
        I: IntoIterator<Item = C::Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let start = Instant::now();
        let mut batch = sled::Batch::default();
        for entry in entries {
            batch.insert(&index_key(entry.log_id.index), encode_raft(&entry));
        }
        self.entries
            .apply_batch(batch)
            .map_err(|e| StorageIOError::write_logs(&io_error(e)))?;
        let flushed = self
            .entries
            .flush_async()
            .await
            .map(|_| ())
            .map_err(io_error);
        metrics::raft::log_append(self.group, start.elapsed());
        callback.log_io_completed(flushed);
        Ok(())
    }

    async fn truncate(&mut self, log_id: LogId<PeerId>) -> StorageResult<()> {
        self.remove_range(log_id.index..).await
    }

    async fn purge(&mut self, log_id: LogId<PeerId>) -> StorageResult<()> {
        self.write_state("purged", &log_id).await?;
        self.remove_range(..=log_id.index).await
    }
}

impl<C> LogStore<C> {
    async fn remove_range(&self, range: impl RangeBounds<u64>) -> StorageResult<()> {
        let mut batch = sled::Batch::default();
        for key in self.entries.range::<[u8; 8], _>(key_range(&range)).keys() {
            batch.remove(key.map_err(|e| StorageIOError::write_logs(&io_error(e)))?);
        }
        self.entries
            .apply_batch(batch)
            .map_err(|e| StorageIOError::write_logs(&io_error(e)))?;
        self.entries
            .flush_async()
            .await
            .map_err(|e| StorageIOError::write_logs(&io_error(e)))?;
        Ok(())
    }
}
