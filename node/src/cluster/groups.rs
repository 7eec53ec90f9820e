//! The Raft groups running on this node: the metadata group and the shard replicas it holds.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::RwLock;

use super::raft_types::{GroupId, MetaRaft};
use super::replica::LocalReplica;

pub struct Groups {
    pub meta: MetaRaft,
    replicas: RwLock<HashMap<GroupId, Arc<LocalReplica>>>,
}

impl Groups {
    pub fn new(meta: MetaRaft) -> Self {
        Groups {
            meta,
            replicas: RwLock::new(HashMap::new()),
        }
    }

    pub fn replica(&self, group: GroupId) -> Option<Arc<LocalReplica>> {
        self.replicas.read().get(&group).cloned()
    }

    pub fn replicas(&self) -> Vec<Arc<LocalReplica>> {
        self.replicas.read().values().cloned().collect()
    }

    pub fn insert(&self, replica: Arc<LocalReplica>) {
        self.replicas.write().insert(replica.group, replica);
    }

    pub fn remove(&self, group: GroupId) -> Option<Arc<LocalReplica>> {
        self.replicas.write().remove(&group)
    }
}
