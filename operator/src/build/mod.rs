//! The desired objects of a `VectorCluster`: pure functions from the resource to the
//! Kubernetes objects the operator server-side applies. No client, no I/O, so every rule
//! here is unit-tested.

mod config_map;
mod pdb;
mod placement;
mod query;
mod rbac;
mod services;
mod statefulset;

pub use config_map::{config_map, CONFIG_FILE};
pub use pdb::pod_disruption_budget;
pub use placement::{placed_for, shard_placement, DATA_NODES_ANNOTATION};
pub use query::query_deployment;
pub use rbac::{role, role_binding, service_account};
pub use services::{client_service, headless_service};
pub use statefulset::{statefulset, DATA_DIR};

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::{Resource, ResourceExt};

use crate::crd::VectorCluster;

/// Ports every grape-node serves.
pub const HTTP_PORT: i32 = 6333;
pub const GRPC_PORT: i32 = 6334;
pub const P2P_PORT: i32 = 6335;

/// Label naming the VectorCluster an object belongs to (also the pods' selector).
pub const CLUSTER_LABEL: &str = "grape.io/cluster";
/// Label telling data nodes from query nodes.
pub const ROLE_LABEL: &str = "grape.io/role";

/// The names of a cluster's objects, derived from the VectorCluster's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    /// The StatefulSet, the client Service and the PodDisruptionBudget.
    pub cluster: String,
    pub namespace: String,
}

impl Names {
    pub fn of(vc: &VectorCluster) -> Names {
        Names {
            cluster: vc.name_any(),
            namespace: vc.namespace().unwrap_or_else(|| "default".to_string()),
        }
    }

    pub fn headless(&self) -> String {
        format!("{}-headless", self.cluster)
    }

    pub fn config_map(&self) -> String {
        format!("{}-config", self.cluster)
    }

    /// The ServiceAccount, Role and RoleBinding of the nodes.
    pub fn node_account(&self) -> String {
        format!("{}-node", self.cluster)
    }

    pub fn query(&self) -> String {
        format!("{}-query", self.cluster)
    }

    /// The data pod with this ordinal.
    pub fn pod(&self, ordinal: i32) -> String {
        format!("{}-{ordinal}", self.cluster)
    }

    /// A data pod's internal (peer-to-peer) address, stable across restarts.
    pub fn peer_uri(&self, pod: &str) -> String {
        format!(
            "http://{pod}.{}.{}.svc.cluster.local:{P2P_PORT}",
            self.headless(),
            self.namespace
        )
    }

    /// The data pod whose internal address is `uri`, if it is one of this cluster's.
    pub fn pod_of_peer_uri(&self, uri: &str) -> Option<String> {
        let pod = uri.strip_prefix("http://")?.split_once('.')?.0;
        let ordinal = pod.strip_prefix(&format!("{}-", self.cluster))?;
        (ordinal.parse::<u32>().is_ok() && self.peer_uri(pod) == uri).then(|| pod.to_string())
    }
}

/// Labels on every object of the cluster.
pub fn common_labels(vc: &VectorCluster) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app.kubernetes.io/name".into(), "grape".into()),
        ("app.kubernetes.io/instance".into(), vc.name_any()),
        (
            "app.kubernetes.io/managed-by".into(),
            "grape-operator".into(),
        ),
        (CLUSTER_LABEL.into(), vc.name_any()),
    ])
}

/// Selector labels of the pods of one role (`data` or `query`).
pub fn selector_labels(vc: &VectorCluster, role: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (CLUSTER_LABEL.into(), vc.name_any()),
        (ROLE_LABEL.into(), role.into()),
    ])
}

/// Metadata of an object owned by the cluster: name, namespace, labels, owner reference
/// (so the garbage collector deletes it with the VectorCluster).
pub fn owned_meta(vc: &VectorCluster, name: String) -> ObjectMeta {
    ObjectMeta {
        name: Some(name),
        namespace: vc.namespace(),
        labels: Some(common_labels(vc)),
        owner_references: owner_reference(vc).map(|o| vec![o]),
        ..Default::default()
    }
}

/// The controller owner reference to the VectorCluster; `None` before it has a uid (only
/// in tests: objects from the API server always have one).
fn owner_reference(vc: &VectorCluster) -> Option<OwnerReference> {
    vc.controller_owner_ref(&())
}

/// Labels plus those of `extra`.
fn with_labels(
    mut labels: BTreeMap<String, String>,
    extra: BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    labels.extend(extra);
    labels
}

#[cfg(test)]
mod tests {
    use super::fixtures::three_nodes;
    use super::*;

    #[test]
    fn peer_addresses_map_back_to_their_pods() {
        let names = Names::of(&three_nodes());
        let uri = names.peer_uri("vec-4");
        assert_eq!(names.pod_of_peer_uri(&uri).as_deref(), Some("vec-4"));
        for other in [
            "http://vec-4.vec-headless.other.svc.cluster.local:6335",
            "http://vecx-4.vec-headless.db.svc.cluster.local:6335",
            "http://10.250.0.5:6335",
        ] {
            assert_eq!(names.pod_of_peer_uri(other), None, "{other}");
        }
    }
}

#[cfg(test)]
pub(crate) mod fixtures {
    use crate::crd::VectorCluster;

    /// A VectorCluster as the API server returns it (with uid and generation).
    pub fn cluster(spec: serde_json::Value) -> VectorCluster {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "grape.io/v1alpha1",
            "kind": "VectorCluster",
            "metadata": {"name": "vec", "namespace": "db", "uid": "u-1", "generation": 3},
            "spec": spec,
        }))
        .expect("valid VectorCluster")
    }

    pub fn three_nodes() -> VectorCluster {
        cluster(serde_json::json!({
            "replicas": 3,
            "image": "grape-node:1.0",
            "storage": {"size": "10Gi"},
            "collectionDefaults": {"shardNumber": 6, "replicationFactor": 2},
        }))
    }
}
