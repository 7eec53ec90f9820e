//! Makes this node match the metadata: opens the replicas placed on it (the seed replica
//! initializes its group), deletes replicas that left it, and installs every collection of
//! the cluster in the engine with a replica set per shard. It runs after every metadata
//! change, and publishes the index it reflects.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::context::NodeContext;
use super::groups::Groups;
use super::log_store::LogStore;
use super::meta::machine::MetaView;
use super::meta::{ClusterState, CollectionEntry, ShardPlacement};
use super::raft_types::{GroupId, PeerNode, ShardConfig};
use super::replica::{LocalReplica, ReplicaSet};
use crate::collection::{space_configs, Collection};
use crate::engine::Engine;
use crate::error::{GrapeError, Result};
use crate::shard::ShardAccess;

/// A collection as installed in the engine, with what it was built from.
struct Installed {
    groups: Vec<GroupId>,
    local: Vec<bool>,
    sets: Vec<Arc<ReplicaSet>>,
    collection: Arc<Collection>,
}

pub struct Reconciler {
    ctx: Arc<NodeContext>,
    engine: Arc<Engine>,
    groups: Arc<Groups>,
    installed: BTreeMap<String, Installed>,
    reconciled: watch::Sender<u64>,
}

impl Reconciler {
    pub fn new(
        ctx: Arc<NodeContext>,
        engine: Arc<Engine>,
        groups: Arc<Groups>,
        reconciled: watch::Sender<u64>,
    ) -> Self {
        Reconciler {
            ctx,
            engine,
            groups,
            installed: BTreeMap::new(),
            reconciled,
        }
    }

    /// Follows the metadata until it stops (the node shuts down).
    pub async fn run(mut self, mut view: watch::Receiver<MetaView>) {
        loop {
            let current = view.borrow_and_update().clone();
            match self.reconcile(&current.state).await {
                Ok(()) => {
                    self.reconciled.send_replace(current.applied);
                    if view.changed().await.is_err() {
                        return;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, index = current.applied, "reconcile failed; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }

    async fn reconcile(&mut self, state: &ClusterState) -> Result<()> {
        let wanted = self.wanted_replicas(state);
        for (group, (entry, shard)) in &wanted {
            self.ensure_replica(*group, entry, shard).await?;
        }
        self.remove_unwanted_replicas(&wanted).await?;
        for (name, entry) in &state.collections {
            self.install(name, entry).await?;
        }
        self.uninstall_deleted(state);
        self.engine.set_aliases(state.aliases.clone());
        Ok(())
    }

    /// The shard groups with a replica placed on this node.
    fn wanted_replicas<'s>(
        &self,
        state: &'s ClusterState,
    ) -> BTreeMap<GroupId, (&'s CollectionEntry, &'s ShardPlacement)> {
        let me = self.ctx.peer_id;
        state
            .collections
            .values()
            .flat_map(|entry| entry.shards.iter().map(move |shard| (entry, shard)))
            .filter(|(_, shard)| shard.holds(me))
            .map(|(entry, shard)| (shard.group_id, (entry, shard)))
            .collect()
    }

    fn replica_dir(&self, group: GroupId) -> PathBuf {
        self.ctx.data_dir.join("replicas").join(group.to_string())
    }

    /// Opens the replica of `group` if it is not running, and lets the seed initialize it.
    async fn ensure_replica(
        &self,
        group: GroupId,
        entry: &CollectionEntry,
        shard: &ShardPlacement,
    ) -> Result<()> {
        let replica = match self.groups.replica(group) {
            Some(replica) => replica,
            None => {
                let spaces = space_configs(&entry.meta.config);
                let replica =
                    LocalReplica::open(&self.ctx, group, self.replica_dir(group), spaces).await?;
                self.groups.insert(replica.clone());
                tracing::info!(group, "replica opened");
                replica
            }
        };
        if shard.seed != Some(self.ctx.peer_id) {
            return Ok(());
        }
        let initialized = replica
            .raft
            .is_initialized()
            .await
            .map_err(|e| GrapeError::Internal(format!("group {group}: {e}")))?;
        if initialized {
            return Ok(());
        }
        let members = shard
            .replicas
            .keys()
            .map(|&peer| Ok((peer, PeerNode::new(self.ctx.peer_uri(peer)?))))
            .collect::<Result<BTreeMap<_, _>>>()?;
        match replica.raft.initialize(members).await {
            Ok(()) => tracing::info!(group, "shard group initialized"),
            // Another start already initialized it: nothing to do.
            Err(e) => tracing::debug!(group, error = %e, "shard group not initialized"),
        }
        Ok(())
    }

    /// Deletes the replicas (running or left on disk) that are no longer placed here.
    async fn remove_unwanted_replicas<T>(&self, wanted: &BTreeMap<GroupId, T>) -> Result<()> {
        for replica in self.groups.replicas() {
            if !wanted.contains_key(&replica.group) {
                self.groups.remove(replica.group);
                replica.destroy(&self.ctx).await?;
                tracing::info!(group = replica.group, "replica removed");
            }
        }
        let on_disk: BTreeSet<GroupId> = std::fs::read_dir(self.ctx.data_dir.join("replicas"))
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse().ok())
            .collect();
        for group in on_disk.into_iter().filter(|g| !wanted.contains_key(g)) {
            LogStore::<ShardConfig>::destroy(&self.ctx.raft_db, group)
                .map_err(|e| GrapeError::Internal(format!("delete log of group {group}: {e}")))?;
            std::fs::remove_dir_all(self.replica_dir(group))
                .map_err(GrapeError::io("delete replica files"))?;
        }
        Ok(())
    }

    /// Installs (or refreshes) a collection of the cluster in the engine.
    async fn install(&mut self, name: &str, entry: &CollectionEntry) -> Result<()> {
        let me = self.ctx.peer_id;
        let groups: Vec<GroupId> = entry.shards.iter().map(|s| s.group_id).collect();
        let local: Vec<bool> = entry.shards.iter().map(|s| s.holds(me)).collect();
        if let Some(installed) = self.installed.get(name) {
            if installed.groups == groups && installed.local == local {
                for (set, shard) in installed.sets.iter().zip(&entry.shards) {
                    set.set_replicas(shard.replicas.clone());
                }
                if installed.collection.meta() != entry.meta {
                    let (collection, meta) = (installed.collection.clone(), entry.meta.clone());
                    blocking(move || collection.set_meta(meta)).await??;
                }
                return Ok(());
            }
        }
        let sets: Vec<Arc<ReplicaSet>> = entry
            .shards
            .iter()
            .map(|shard| {
                let local = self.groups.replica(shard.group_id);
                let replicas = shard.replicas.clone();
                Arc::new(ReplicaSet::new(
                    self.ctx.clone(),
                    shard.group_id,
                    local,
                    replicas,
                ))
            })
            .collect();
        let shards: Vec<Arc<dyn ShardAccess>> = sets
            .iter()
            .map(|s| s.clone() as Arc<dyn ShardAccess>)
            .collect();
        let (dir, meta, owned) = (
            self.ctx.data_dir.join("collections").join(name),
            entry.meta.clone(),
            name.to_string(),
        );
        let collection =
            blocking(move || Arc::new(Collection::with_shards(&owned, &dir, meta, shards))).await?;
        self.engine.install_collection(collection.clone());
        let installed = Installed {
            groups,
            local,
            sets,
            collection,
        };
        self.installed.insert(name.to_string(), installed);
        Ok(())
    }

    fn uninstall_deleted(&mut self, state: &ClusterState) {
        for name in self.engine.list_collections() {
            if !state.collections.contains_key(&name) {
                self.engine.uninstall_collection(&name);
                self.installed.remove(&name);
            }
        }
    }
}

/// Runs engine work that may take a while (index building) off the runtime's threads.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| GrapeError::Internal(format!("reconcile task: {e}")))
}
