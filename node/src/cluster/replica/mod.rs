//! Shard replicas: the ones this node holds ([`LocalReplica`], a shard fed by its group's
//! Raft), and the whole replica set of a shard as a collection sees it ([`ReplicaSet`]).

mod machine;
pub mod set;
pub mod visibility;
mod watchdog;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use openraft::error::{ClientWriteError, RaftError};
use openraft::{Config, SnapshotPolicy};
use parking_lot::Mutex;

pub use machine::SinceSnapshot;
use machine::{Position, ShardMachine};
pub use set::ReplicaSet;

use super::codec::Json;
use super::context::NodeContext;
use super::log_store::LogStore;
use super::network::GroupNetwork;
use super::raft_types::{GroupId, PeerId, ShardCommand, ShardConfig, ShardRaft};
use crate::collection::FieldIndex;
use crate::error::{GrapeError, Result};
use crate::shard::{Shard, SpaceConfigs};
use crate::types::PointOperation;

/// A snapshot (a packed checkpoint, after which the log is purged) is taken once this many
/// points were written since the last, or this many entries: it bounds log size and replay.
const SNAPSHOT_AFTER_POINTS: u64 = 50_000;
const SNAPSHOT_AFTER_ENTRIES: u64 = 20_000;

/// How long a leader waits for a write (or a leadership check) to be acknowledged by a
/// majority; shorter than a peer request, so a forwarded write gets the answer.
const COMMIT_TIMEOUT: Duration = Duration::from_secs(5);

/// The longest election timeout of shard groups; it is also openraft's leader lease: a voter
/// refuses to vote for another candidate until its leader was silent that long.
pub const ELECTION_TIMEOUT_MAX: Duration = Duration::from_millis(800);

/// Raft timing of shard groups. In openraft 0.9 a follower campaigns once its leader was
/// silent for the lease plus its election timeout (1.2–1.6 s here); the [`watchdog`]
/// campaigns sooner, once the lease ran out.
fn shard_raft_config() -> Config {
    Config {
        cluster_name: "grape-shard".to_string(),
        heartbeat_interval: 100,
        election_timeout_min: 400,
        election_timeout_max: ELECTION_TIMEOUT_MAX.as_millis() as u64,
        // A chunk may wait up to 4.2 s under the slowest transfer rate limit (1 MB/s).
        install_snapshot_timeout: 10_000,
        max_payload_entries: 64,
        snapshot_policy: SnapshotPolicy::Never,
        max_in_snapshot_log_to_keep: 200,
        snapshot_max_chunk_size: 4 << 20,
        ..Default::default()
    }
}

/// A replica this node holds.
pub struct LocalReplica {
    pub group: GroupId,
    pub shard: Arc<Shard>,
    pub raft: ShardRaft,
    dir: PathBuf,
    since_snapshot: Arc<SinceSnapshot>,
    /// The voter leadership is being handed to (0: none): writes and linearizable reads
    /// are redirected there meanwhile.
    handing_to: AtomicU64,
    /// When the latest election hold ends: only the hold that set it lifts it.
    held_until: Mutex<Instant>,
    /// When this replica last heard from its group's leader (or led it, or opened).
    leader_contact: Mutex<Instant>,
    /// Whether its log matched a leader's since it opened (a restarted replica may be far
    /// behind until then).
    followed_a_leader: AtomicBool,
}

/// A handover in progress on a leader; dropping it resumes writes and heartbeats.
pub struct Handover<'a> {
    replica: &'a LocalReplica,
}

impl Drop for Handover<'_> {
    fn drop(&mut self) {
        self.replica.raft.runtime_config().heartbeat(true);
        self.replica.handing_to.store(0, Ordering::SeqCst);
    }
}

/// Why a write did not go through this replica.
pub enum LocalWriteError {
    /// This replica is not the leader; the leader, when known.
    NotLeader(Option<PeerId>),
    Failed(GrapeError),
}

impl LocalReplica {
    /// Opens (or creates) the replica of `group` in `dir` with its Raft.
    pub async fn open(
        ctx: &Arc<NodeContext>,
        group: GroupId,
        dir: PathBuf,
        spaces: SpaceConfigs,
    ) -> Result<Arc<LocalReplica>> {
        let shard_dir = dir.join("shard");
        let shard = tokio::task::spawn_blocking(move || Shard::open_replica(&shard_dir, &spaces))
            .await
            .map_err(|e| GrapeError::Internal(format!("open replica: {e}")))??;
        machine::declare_indexes(&shard, &Position::of(&shard).indexes);
        let shard = Arc::new(shard);
        let snapshots = dir.join("raft-snapshots");
        std::fs::create_dir_all(&snapshots).map_err(GrapeError::io("create snapshot dir"))?;
        let since_snapshot = Arc::new(SinceSnapshot::default());
        let machine = ShardMachine::new(shard.clone(), snapshots, since_snapshot.clone());
        let log = LogStore::<ShardConfig>::open(&ctx.raft_db, group)
            .map_err(|e| GrapeError::Internal(format!("open log of group {group}: {e}")))?;
        let network = GroupNetwork::new(group, ctx);
        let config = Arc::new(
            shard_raft_config()
                .validate()
                .map_err(|e| GrapeError::Internal(format!("shard Raft config: {e}")))?,
        );
        let raft = ShardRaft::new(ctx.peer_id, config, network, log, machine)
            .await
            .map_err(|e| GrapeError::Internal(format!("start Raft of group {group}: {e}")))?;
        let replica = Arc::new(LocalReplica {
            group,
            shard,
            raft,
            dir,
            since_snapshot,
            handing_to: AtomicU64::new(0),
            held_until: Mutex::new(Instant::now()),
            leader_contact: Mutex::new(Instant::now()),
            followed_a_leader: AtomicBool::new(false),
        });
        tokio::spawn(replica.clone().snapshot_when_due());
        tokio::spawn(watchdog::campaign_when_leader_silent(replica.clone()));
        crate::metrics::raft::follow_leader(group, replica.raft.metrics());
        Ok(replica)
    }

    /// The size of the snapshot a new replica would receive (0 before the first one).
    pub fn snapshot_bytes(&self) -> u64 {
        machine::current_snapshot_size(&self.dir.join("raft-snapshots"))
    }

    /// The leader this replica knows of.
    pub fn leader(&self) -> Option<PeerId> {
        self.raft.metrics().borrow().current_leader
    }

    /// Starts handing leadership to `target`: from now on writes and linearizable reads are
    /// redirected to it, so the log stops growing and the target can catch up completely.
    /// `None` while another handover is in progress.
    pub fn begin_handover(&self, target: PeerId) -> Option<Handover<'_>> {
        self.handing_to
            .compare_exchange(0, target, Ordering::SeqCst, Ordering::SeqCst)
            .ok()?;
        Some(Handover { replica: self })
    }

    fn handover_target(&self) -> Option<PeerId> {
        Some(self.handing_to.load(Ordering::SeqCst)).filter(|&t| t != 0)
    }

    /// Keeps this replica from campaigning for `period` (another voter is taking over).
    pub fn hold_elections(self: &Arc<Self>, period: Duration) {
        *self.held_until.lock() = Instant::now() + period;
        self.raft.runtime_config().elect(false);
        let replica = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(period).await;
            if !replica.elections_held() {
                replica.raft.runtime_config().elect(true);
            }
        });
    }

    fn elections_held(&self) -> bool {
        Instant::now() < *self.held_until.lock()
    }

    /// Records a message from the group's leader (the Raft server saw one arrive), and
    /// whether this replica's log matched the leader's.
    pub fn heard_from_leader(&self, log_matched: bool) {
        *self.leader_contact.lock() = Instant::now();
        if log_matched {
            self.followed_a_leader.store(true, Ordering::Relaxed);
        }
    }

    fn followed_a_leader(&self) -> bool {
        self.followed_a_leader.load(Ordering::Relaxed)
    }

    fn leader_silence(&self) -> Duration {
        self.leader_contact.lock().elapsed()
    }

    /// Validates operations against this replica (the leader) and commits them; returns the
    /// log index they were applied at, once the write quorum of replicas (this one
    /// included) holds it and the live followers applied it too.
    pub async fn write(
        &self,
        ctx: &NodeContext,
        ops: Vec<PointOperation>,
    ) -> Result<u64, LocalWriteError> {
        let shard = self.shard.clone();
        let checked = ops.clone();
        tokio::task::spawn_blocking(move || shard.check(&checked))
            .await
            .map_err(|e| LocalWriteError::Failed(GrapeError::Internal(e.to_string())))?
            .map_err(LocalWriteError::Failed)?;
        let quorum = ctx.write_quorum(self.group);
        let index = self.commit(ShardCommand::Write(ops), quorum).await?;
        visibility::await_followers(ctx, self, index).await;
        Ok(index)
    }

    /// Waits (at most [`visibility::VISIBILITY_WAIT`]) until this replica applied log entry
    /// `index`; whether it did.
    pub async fn wait_applied(&self, index: u64) -> bool {
        self.raft
            .wait(Some(visibility::VISIBILITY_WAIT))
            .applied_index_at_least(Some(index), "a committed write")
            .await
            .is_ok()
    }

    /// Commits the collection's payload indexes in the group's log, unless the replica
    /// already applies exactly those.
    pub async fn declare_indexes(
        &self,
        indexes: BTreeMap<String, FieldIndex>,
    ) -> Result<(), LocalWriteError> {
        if Position::of(&self.shard).indexes == indexes {
            return Ok(());
        }
        self.commit(ShardCommand::SetIndexes(indexes), 1)
            .await
            .map(|_| ())
    }

    /// The indexes the replica applies now.
    pub fn applied_indexes(&self) -> BTreeMap<String, FieldIndex> {
        Position::of(&self.shard).indexes
    }

    async fn commit(&self, command: ShardCommand, quorum: usize) -> Result<u64, LocalWriteError> {
        if let Some(target) = self.handover_target() {
            return Err(LocalWriteError::NotLeader(Some(target)));
        }
        let write = self.raft.client_write(Json(command));
        // A leader cut off from its majority never commits: fail, and let the caller look
        // for the new leader (the outcome is unknown: the entry may still commit).
        let written = tokio::time::timeout(COMMIT_TIMEOUT, write)
            .await
            .map_err(|_| {
                LocalWriteError::Failed(GrapeError::unavailable(format!(
                    "shard group {}: the write was not committed in time",
                    self.group
                )))
            })?;
        match written {
            Ok(response) => {
                let index = response.log_id.index;
                self.wait_replicated(index, quorum).await?;
                Ok(index)
            }
            Err(RaftError::APIError(ClientWriteError::ForwardToLeader(forward))) => {
                Err(LocalWriteError::NotLeader(forward.leader_id))
            }
            Err(e) => Err(LocalWriteError::Failed(GrapeError::unavailable(format!(
                "shard group {}: {e}",
                self.group
            )))),
        }
    }

    /// Waits until `quorum` replicas (the leader included) hold the entry at `index`; a
    /// majority already does once it is committed.
    async fn wait_replicated(&self, index: u64, quorum: usize) -> Result<(), LocalWriteError> {
        let mut metrics = self.raft.metrics();
        let held = |m: &openraft::RaftMetrics<PeerId, super::raft_types::PeerNode>| {
            let followers = m.replication.as_ref().map_or(0, |r| {
                r.values()
                    .filter(|matched| matched.is_some_and(|l| l.index >= index))
                    .count()
            });
            followers + 1 >= quorum
        };
        let waited = tokio::time::timeout(COMMIT_TIMEOUT, metrics.wait_for(held)).await;
        match waited {
            Ok(Ok(_)) => Ok(()),
            _ => Err(LocalWriteError::Failed(GrapeError::unavailable(format!(
                "shard group {}: the write reached fewer than {quorum} replicas in time",
                self.group
            )))),
        }
    }

    /// Confirms this replica is the leader with a majority (Raft's ReadIndex) and waits until
    /// it applied everything committed before the read: what it reads next is linearizable.
    pub async fn ensure_linearizable(&self) -> Result<(), LocalWriteError> {
        // Confirming leadership sends heartbeats, which would renew the voters' lease.
        if let Some(target) = self.handover_target() {
            return Err(LocalWriteError::NotLeader(Some(target)));
        }
        let check = tokio::time::timeout(COMMIT_TIMEOUT, self.raft.ensure_linearizable())
            .await
            .map_err(|_| {
                LocalWriteError::Failed(GrapeError::unavailable(format!(
                    "shard group {}: leadership not confirmed in time",
                    self.group
                )))
            })?;
        match check {
            Ok(_) => Ok(()),
            Err(RaftError::APIError(openraft::error::CheckIsLeaderError::ForwardToLeader(f))) => {
                Err(LocalWriteError::NotLeader(f.leader_id))
            }
            Err(e) => Err(LocalWriteError::Failed(GrapeError::unavailable(format!(
                "shard group {}: {e}",
                self.group
            )))),
        }
    }

    /// Takes a snapshot once enough was written since the last one; openraft then purges
    /// the log it covers.
    async fn snapshot_when_due(self: Arc<Self>) {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            if self.raft.metrics().borrow().running_state.is_err() {
                return; // Raft shut down: the replica is gone.
            }
            let points = self.since_snapshot.points.load(Ordering::Relaxed);
            let entries = self.since_snapshot.entries.load(Ordering::Relaxed);
            if points < SNAPSHOT_AFTER_POINTS && entries < SNAPSHOT_AFTER_ENTRIES {
                continue;
            }
            // Reset now so a slow snapshot is not triggered twice; the builder resets again.
            self.since_snapshot.points.store(0, Ordering::Relaxed);
            self.since_snapshot.entries.store(0, Ordering::Relaxed);
            if self.raft.trigger().snapshot().await.is_err() {
                return; // Raft shut down: the replica is gone.
            }
        }
    }

    /// Stops the replica's Raft (its files stay).
    pub async fn shutdown(&self) {
        if let Err(e) = self.raft.shutdown().await {
            tracing::warn!(group = self.group, error = %e, "replica Raft did not stop cleanly");
        }
    }

    /// Stops the replica and deletes its data and log: it no longer belongs on this node.
    pub async fn destroy(&self, ctx: &NodeContext) -> Result<()> {
        self.shutdown().await;
        LogStore::<ShardConfig>::destroy(&ctx.raft_db, self.group).map_err(|e| {
            GrapeError::Internal(format!("delete log of group {}: {e}", self.group))
        })?;
        std::fs::remove_dir_all(&self.dir).map_err(GrapeError::io("delete replica files"))
    }
}
