//! Every Raft group on this node, labelled `group` (`meta`, or the shard group's id) and
//! `kind` (`meta` or `shard`): term, log, commit and applied indexes, role, leader changes,
//! how far followers are behind, log append and AppendEntries latency, snapshots sent and
//! received. Gauges are read from openraft's metrics at scrape time, so groups that left
//! the node disappear with them.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

use openraft::{RaftMetrics, ServerState};
use prometheus::{HistogramVec, IntCounterVec, IntGaugeVec, Opts};
use tokio::sync::watch;

use super::{histogram_opts, register, LATENCY_BUCKETS};
use crate::cluster::raft_types::{GroupId, PeerId, PeerNode, META_GROUP};
use crate::cluster::Cluster;

struct Raft {
    term: IntGaugeVec,
    last_log_index: IntGaugeVec,
    commit_index: IntGaugeVec,
    applied_index: IntGaugeVec,
    snapshot_index: IntGaugeVec,
    is_leader: IntGaugeVec,
    voters: IntGaugeVec,
    follower_lag: IntGaugeVec,
    groups: IntGaugeVec,
    leader_changes: IntCounterVec,
    log_append: HistogramVec,
    append_entries: HistogramVec,
    append_entries_failures: IntCounterVec,
    snapshots_sent: IntCounterVec,
    snapshot_bytes_sent: IntCounterVec,
    snapshots_received: IntCounterVec,
    /// The commit index each group last saved in its log (openraft 0.9's metrics lack it).
    committed: Mutex<HashMap<GroupId, u64>>,
}

fn gauge(name: &str, help: &str) -> IntGaugeVec {
    register(IntGaugeVec::new(Opts::new(name, help), &["kind", "group"]).expect("valid metric"))
}

fn counter(name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    register(IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric"))
}

static RAFT: LazyLock<Raft> = LazyLock::new(|| Raft {
    term: gauge("grape_raft_term", "Current term of the group"),
    last_log_index: gauge(
        "grape_raft_last_log_index",
        "Index of the last entry in this node's log of the group",
    ),
    commit_index: gauge(
        "grape_raft_commit_index",
        "Highest entry this node knows to be committed in the group",
    ),
    applied_index: gauge(
        "grape_raft_applied_index",
        "Highest entry this node applied to the group's state machine",
    ),
    snapshot_index: gauge(
        "grape_raft_snapshot_index",
        "Last entry covered by this node's latest snapshot of the group",
    ),
    is_leader: gauge(
        "grape_raft_is_leader",
        "1 when this node leads the group, else 0",
    ),
    voters: gauge("grape_raft_voters", "Voters in the group's membership"),
    follower_lag: gauge(
        "grape_raft_follower_lag_entries",
        "On the leader: entries the furthest follower is behind",
    ),
    groups: register(
        IntGaugeVec::new(
            Opts::new("grape_raft_groups", "Raft groups this node takes part in"),
            &["kind"],
        )
        .expect("valid metric"),
    ),
    leader_changes: counter(
        "grape_raft_leader_changes_total",
        "Times the group's leader, as this node knows it, changed",
        &["kind", "group"],
    ),
    log_append: register(
        HistogramVec::new(
            histogram_opts(
                "grape_raft_log_append_duration_seconds",
                "Time to append entries to the Raft log and flush them to disk",
                LATENCY_BUCKETS,
            ),
            &["kind"],
        )
        .expect("valid metric"),
    ),
    append_entries: register(
        HistogramVec::new(
            histogram_opts(
                "grape_raft_append_entries_duration_seconds",
                "Round trip of an AppendEntries call to a peer",
                LATENCY_BUCKETS,
            ),
            &["kind"],
        )
        .expect("valid metric"),
    ),
    append_entries_failures: counter(
        "grape_raft_append_entries_failures_total",
        "AppendEntries calls that failed (peer unreachable, or an error)",
        &["kind"],
    ),
    snapshots_sent: counter(
        "grape_raft_snapshots_sent_total",
        "Snapshots this node finished sending to a peer",
        &["kind"],
    ),
    snapshot_bytes_sent: counter(
        "grape_raft_snapshot_bytes_sent_total",
        "Snapshot bytes this node sent to peers",
        &["kind"],
    ),
    snapshots_received: counter(
        "grape_raft_snapshots_received_total",
        "Snapshots this node installed from a leader",
        &["kind"],
    ),
    committed: Mutex::new(HashMap::new()),
});

/// The two kinds of groups, as the `kind` label names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Meta,
    Shard,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::Meta => "meta",
            Kind::Shard => "shard",
        }
    }
}

fn kind(group: GroupId) -> &'static str {
    if group == META_GROUP {
        Kind::Meta.label()
    } else {
        Kind::Shard.label()
    }
}

fn group_label(group: GroupId) -> String {
    if group == META_GROUP {
        "meta".to_string()
    } else {
        group.to_string()
    }
}

/// Registers the Raft metrics (so they exist at zero before the first event).
pub(super) fn init() {
    let raft = LazyLock::force(&RAFT);
    for kind in ["meta", "shard"] {
        raft.log_append.with_label_values(&[kind]);
        raft.append_entries.with_label_values(&[kind]);
        raft.append_entries_failures.with_label_values(&[kind]);
        raft.snapshots_sent.with_label_values(&[kind]);
        raft.snapshot_bytes_sent.with_label_values(&[kind]);
        raft.snapshots_received.with_label_values(&[kind]);
    }
}

/// Refreshes the per-group gauges from every group on this node.
pub(super) fn read(cluster: &Cluster) {
    let raft = &*RAFT;
    for family in [
        &raft.term,
        &raft.last_log_index,
        &raft.commit_index,
        &raft.applied_index,
        &raft.snapshot_index,
        &raft.is_leader,
        &raft.voters,
        &raft.follower_lag,
    ] {
        family.reset();
    }
    let mut live = vec![(META_GROUP, cluster.groups.meta.metrics().borrow().clone())];
    let shards = cluster.groups.replicas();
    live.extend(
        shards
            .iter()
            .map(|r| (r.group, r.raft.metrics().borrow().clone())),
    );
    let mut committed = raft.committed.lock().expect("not poisoned");
    committed.retain(|group, _| live.iter().any(|(g, _)| g == group));
    for (group, metrics) in &live {
        let labels = [kind(*group), &group_label(*group)];
        let set = |family: &IntGaugeVec, value: u64| {
            family.with_label_values(&labels).set(value as i64);
        };
        set(&raft.term, metrics.current_term);
        set(&raft.last_log_index, metrics.last_log_index.unwrap_or(0));
        set(
            &raft.commit_index,
            committed.get(group).copied().unwrap_or(0),
        );
        set(&raft.applied_index, index(metrics.last_applied));
        set(&raft.snapshot_index, index(metrics.snapshot));
        set(
            &raft.is_leader,
            u64::from(metrics.state == ServerState::Leader),
        );
        set(
            &raft.voters,
            metrics.membership_config.membership().voter_ids().count() as u64,
        );
        if let Some(lag) = follower_lag(metrics) {
            set(&raft.follower_lag, lag);
        }
    }
    raft.groups.with_label_values(&["meta"]).set(1);
    raft.groups
        .with_label_values(&["shard"])
        .set(shards.len() as i64);
}

fn index(log_id: Option<openraft::LogId<PeerId>>) -> u64 {
    log_id.map_or(0, |l| l.index)
}

/// On a leader, how far its furthest follower is behind its log.
fn follower_lag(metrics: &RaftMetrics<PeerId, PeerNode>) -> Option<u64> {
    let last = metrics.last_log_index.unwrap_or(0);
    let replication = metrics.replication.as_ref()?;
    replication
        .iter()
        .filter(|(peer, _)| **peer != metrics.id)
        .map(|(_, matched)| last.saturating_sub(index(*matched)))
        .max()
}

/// Counts the leader changes of `group` for as long as its Raft instance runs.
pub fn follow_leader(group: GroupId, mut metrics: watch::Receiver<RaftMetrics<PeerId, PeerNode>>) {
    tokio::spawn(async move {
        let mut leader = metrics.borrow().current_leader;
        let counter = RAFT
            .leader_changes
            .with_label_values(&[kind(group), &group_label(group)]);
        while metrics.changed().await.is_ok() {
            let now = metrics.borrow().current_leader;
            if now.is_some() && now != leader {
                counter.inc();
            }
            leader = now;
        }
        // The group stopped on this node: its series goes with it.
        let _ = RAFT
            .leader_changes
            .remove_label_values(&[kind(group), &group_label(group)]);
    });
}

/// The group saved its commit index.
pub fn committed(group: GroupId, index: u64) {
    RAFT.committed
        .lock()
        .expect("not poisoned")
        .insert(group, index);
}

/// Entries appended to the group's log and flushed, in `elapsed`.
pub fn log_append(group: GroupId, elapsed: Duration) {
    RAFT.log_append
        .with_label_values(&[kind(group)])
        .observe(elapsed.as_secs_f64());
}

/// One AppendEntries round trip to a peer; `ok` false when it failed.
pub fn append_entries(group: GroupId, elapsed: Duration, ok: bool) {
    RAFT.append_entries
        .with_label_values(&[kind(group)])
        .observe(elapsed.as_secs_f64());
    if !ok {
        RAFT.append_entries_failures
            .with_label_values(&[kind(group)])
            .inc();
    }
}

/// A snapshot chunk of `bytes` sent to a peer; `done` on the last chunk.
pub fn snapshot_chunk_sent(group: GroupId, bytes: usize, done: bool) {
    RAFT.snapshot_bytes_sent
        .with_label_values(&[kind(group)])
        .inc_by(bytes as u64);
    if done {
        RAFT.snapshots_sent.with_label_values(&[kind(group)]).inc();
    }
}

/// A snapshot from a group's leader was installed on this node.
pub fn snapshot_received(kind: Kind) {
    RAFT.snapshots_received
        .with_label_values(&[kind.label()])
        .inc();
}
