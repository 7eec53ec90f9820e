//! The custom resources: `VectorCluster` (a Grape cluster) and `ShardPlacement` (where its
//! shards live). Group `grape.io`, version `v1alpha1`. The CRD YAML under `crds/` is
//! generated from these types (`grape-operator crd`).
//!
//! Rules the API server can check itself are CEL `x-kubernetes-validations`, so an invalid
//! spec is refused at `kubectl apply` with a clear message instead of failing later.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Affinity, ResourceRequirements, SecretKeySelector, Toleration, TopologySpreadConstraint,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, CustomResourceExt, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// API group of Grape's resources.
pub const GROUP: &str = "grape.io";

/// A Grape cluster: a StatefulSet of data nodes forming one Raft cluster, optional query
/// nodes, and the Services, configuration and permissions around them.
// Printer columns repeat `type_ = ...` by nature; clippy mistakes them for duplicates.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "grape.io",
    version = "v1alpha1",
    kind = "VectorCluster",
    namespaced,
    status = "VectorClusterStatus",
    shortname = "vc",
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(name = "Ready", type_ = "integer", json_path = ".status.readyReplicas"),
    printcolumn(name = "Replicas", type_ = "integer", json_path = ".spec.replicas"),
    printcolumn(name = "Leader", type_ = "string", json_path = ".status.raftLeader"),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[x_kube(validation = Rule::new(
    "!has(self.collectionDefaults) || !has(self.collectionDefaults.replicationFactor) \
     || self.replicas >= self.collectionDefaults.replicationFactor"
).message("spec.replicas must be at least spec.collectionDefaults.replicationFactor: \
           every replica of a shard needs its own data node"))]
#[serde(rename_all = "camelCase")]
pub struct VectorClusterSpec {
    /// Number of data nodes (StatefulSet pods).
    #[x_kube(validation = Rule::new("self >= 1").message("spec.replicas must be at least 1"))]
    pub replicas: i32,
    /// Container image of grape-node, e.g. `ghcr.io/grape/grape-node:0.1.0`.
    #[x_kube(validation = Rule::new("self != ''").message("spec.image must not be empty"))]
    pub image: String,
    /// CPU and memory of each data node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    /// The data volume of each data node.
    pub storage: StorageSpec,
    /// Node settings, written to the node's YAML config file (keys as in `grape-node
    /// --help`, snake_case). The operator's own flags (`uri`, `bootstrap`, `data_dir`, the
    /// collection defaults) take precedence over these.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "free_form_object")]
    pub config: Option<BTreeMap<String, serde_json::Value>>,
    /// Parameters of collections whose create request does not give them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collection_defaults: Option<CollectionDefaults>,
    /// Replicas of the stateless query (router) role; 0 or absent: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self >= 0").message("spec.queryNodes must not be negative"))]
    pub query_nodes: Option<i32>,
    /// Scheduling and metadata overrides for the pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_template: Option<PodTemplateOverrides>,
    /// The client Service (REST 6333, gRPC 6334).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<ServiceSpec>,
    /// API key authentication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<AuthSpec>,
    /// TLS for REST and gRPC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsSpec>,
    /// When true the operator leaves the cluster's objects alone (it still reports status).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub paused: bool,
}

#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct StorageSpec {
    /// Size of each data node's volume, e.g. `10Gi`.
    pub size: Quantity,
    /// StorageClass of the volumes; absent: the cluster's default class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class_name: Option<String>,
    /// What happens to the volumes when the VectorCluster is deleted (default Retain).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_policy: Option<RetentionPolicy>,
}

/// What happens to the data volumes when the VectorCluster is deleted.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RetentionPolicy {
    /// Keep the PersistentVolumeClaims (and so the data).
    #[default]
    Retain,
    /// Delete the PersistentVolumeClaims with the cluster.
    Delete,
}

#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[x_kube(validation = Rule::new(
    "!has(self.writeConsistencyFactor) || self.writeConsistencyFactor <= \
     (has(self.replicationFactor) ? self.replicationFactor : 1)"
).message("collectionDefaults.writeConsistencyFactor cannot exceed replicationFactor"))]
#[serde(rename_all = "camelCase")]
pub struct CollectionDefaults {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self >= 1").message("shardNumber must be at least 1"))]
    pub shard_number: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self >= 1").message("replicationFactor must be at least 1"))]
    pub replication_factor: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self >= 1").message("writeConsistencyFactor must be at least 1"))]
    pub write_consistency_factor: Option<u32>,
}

impl CollectionDefaults {
    /// Replicas per shard of a collection created without one.
    pub fn replication_factor(&self) -> u32 {
        self.replication_factor.unwrap_or(1)
    }
}

#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct PodTemplateOverrides {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity: Option<Affinity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerations: Option<Vec<Toleration>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topology_spread_constraints: Option<Vec<TopologySpreadConstraint>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_selector: Option<BTreeMap<String, String>>,
    /// Added to the pods' annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct ServiceSpec {
    /// Service type of the client Service (default ClusterIP).
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<ServiceType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServiceType {
    ClusterIP,
    NodePort,
    LoadBalancer,
}

impl ServiceType {
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceType::ClusterIP => "ClusterIP",
            ServiceType::NodePort => "NodePort",
            ServiceType::LoadBalancer => "LoadBalancer",
        }
    }
}

#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AuthSpec {
    /// Key of a Secret holding the API key every request must carry.
    pub api_key_secret_ref: SecretKeySelector,
    /// Key of a Secret holding an additional read-only API key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_only_api_key_secret_ref: Option<SecretKeySelector>,
}

#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TlsSpec {
    /// A `kubernetes.io/tls` Secret (`tls.crt`, `tls.key`) in the cluster's namespace.
    pub secret_name: String,
}

#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct VectorClusterStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<ClusterPhase>,
    /// Available, Progressing and Degraded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,
    /// Data nodes whose pod is ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_replicas: Option<i32>,
    /// The image every data node runs, once the StatefulSet has rolled out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_image: Option<String>,
    /// The image of spec.image, being rolled out when it differs from currentImage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_image: Option<String>,
    /// The pod whose node leads the metadata Raft group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raft_leader: Option<String>,
    /// Written by the nodes themselves, each its own entry (server-side apply, keyed by name).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["name".into()]))]
    pub nodes: Vec<NodeStatus>,
}

/// The cluster's state at a glance.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClusterPhase {
    /// Objects created, no data node ready yet.
    Creating,
    /// Every data node ready and in the cluster.
    Running,
    /// Data nodes being added or removed.
    Scaling,
    /// A new image or configuration being rolled out.
    Upgrading,
    /// Something needs attention; see the Degraded condition.
    Degraded,
    /// spec.paused is set.
    Paused,
}

/// One data node's report of itself.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct NodeStatus {
    /// The pod's name.
    pub name: String,
    /// The node's Raft peer id (a string: u64 ids exceed JSON-safe integers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer_id: Option<String>,
    /// Whether the node serves (its `/readyz`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready: Option<bool>,
    /// Role in the metadata Raft group: Leader, Follower or Candidate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Shard replicas the node holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shards: Option<u32>,
    /// Shards whose Raft group this node leads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leader_shards: Option<u32>,
    /// Points in the node's local replicas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub points: Option<u64>,
    /// Bytes in the node's data directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_heartbeat: Option<Time>,
}

/// Where the shards of a VectorCluster's collections live: balanced automatically or pinned
/// by hand, one move at a time or several.
#[allow(clippy::duplicated_attributes)] // printer columns, as above
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "grape.io",
    version = "v1alpha1",
    kind = "ShardPlacement",
    namespaced,
    status = "ShardPlacementStatus",
    shortname = "sp",
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(name = "Cluster", type_ = "string", json_path = ".spec.clusterRef"),
    printcolumn(name = "Mode", type_ = "string", json_path = ".spec.mode"),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[x_kube(validation = Rule::new("self.mode != 'Manual' || has(self.shards)")
    .message("mode Manual needs spec.shards: the nodes of each shard"))]
#[x_kube(validation = Rule::new("self.mode != 'Balanced' || !has(self.shards)")
    .message("spec.shards is only for mode Manual"))]
#[serde(rename_all = "camelCase")]
pub struct ShardPlacementSpec {
    /// Name of the VectorCluster, in the same namespace.
    pub cluster_ref: String,
    /// The collection to place; absent: every collection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collection: Option<String>,
    pub mode: PlacementMode,
    /// Manual mode: the data nodes (pod names) of each shard.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["shard".into()]))]
    pub shards: Option<Vec<ShardNodes>>,
    /// Replica moves running at once (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self >= 1").message("maxConcurrentMoves must be at least 1"))]
    pub max_concurrent_moves: Option<u32>,
    /// Automatic (default): the plan is carried out at once. Manual: it waits for the
    /// annotation `grape.io/approve: "true"`, which the operator removes once the plan it
    /// approved is carried out (the next plan waits for a new approval).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<Approval>,
}

#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlacementMode {
    /// Spread replicas and leaderships evenly over the data nodes.
    Balanced,
    /// Put each shard's replicas on the nodes of `spec.shards`.
    Manual,
}

#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Approval {
    Automatic,
    Manual,
}

#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ShardNodes {
    pub shard: u32,
    /// Pod names of the data nodes that should hold the shard's replicas.
    pub nodes: Vec<String>,
}

#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct ShardPlacementStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<PlacementPhase>,
    /// The moves of the current plan, each with its progress.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub plan: Vec<PlannedMove>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlacementPhase {
    Pending,
    PlanReady,
    Moving,
    Balanced,
    Failed,
}

/// One replica move of a plan and how far it got.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PlannedMove {
    pub collection: String,
    pub shard: u32,
    /// Pod name of the node the replica leaves.
    pub from: String,
    /// Pod name of the node that receives it.
    pub to: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<MoveState>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub points_done: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub points_total: Option<u64>,
}

#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum MoveState {
    Pending,
    Running,
    Done,
    Failed,
}

/// A schema that accepts any object (for pass-through settings); structural because it
/// says `type: object` and keeps the unknown fields.
fn free_form_object(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": true,
    })
}

/// First line of every generated CRD file.
const GENERATED: &str =
    "# Generated from operator/src/crd.rs by `cargo run -p grape-operator -- crd`; do not edit.\n";

/// The CRD documents, as written to `crds/<plural>.<group>.yaml`: file name and YAML.
pub fn crd_files() -> Result<Vec<(String, String)>, serde_yaml::Error> {
    [VectorCluster::crd(), ShardPlacement::crd()]
        .into_iter()
        .map(|crd| {
            let name = format!("{}.yaml", crd.metadata.name.as_deref().unwrap_or_default());
            Ok((name, format!("{GENERATED}{}", serde_yaml::to_string(&crd)?)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    fn schema_of(
        crd: &k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
    ) -> Value {
        let version = &crd.spec.versions[0];
        serde_json::to_value(&version.schema.as_ref().unwrap().open_api_v3_schema).unwrap()
    }

    #[test]
    fn node_entries_are_a_map_list_keyed_by_name_with_string_peer_ids() {
        let schema = schema_of(&VectorCluster::crd());
        let nodes = &schema["properties"]["status"]["properties"]["nodes"];
        assert_eq!(nodes["x-kubernetes-list-type"], "map");
        assert_eq!(
            nodes["x-kubernetes-list-map-keys"],
            serde_json::json!(["name"])
        );
        assert_eq!(nodes["items"]["properties"]["peerId"]["type"], "string");
        let conditions = &schema["properties"]["status"]["properties"]["conditions"];
        assert_eq!(
            conditions["x-kubernetes-list-map-keys"],
            serde_json::json!(["type"])
        );
    }

    #[test]
    fn the_replication_rule_is_a_cel_validation_of_the_spec() {
        let schema = schema_of(&VectorCluster::crd());
        let rules = schema["properties"]["spec"]["x-kubernetes-validations"].to_string();
        assert!(
            rules.contains("self.replicas >= self.collectionDefaults.replicationFactor"),
            "{rules}"
        );
        let config = &schema["properties"]["spec"]["properties"]["config"];
        assert_eq!(config["x-kubernetes-preserve-unknown-fields"], true);
    }

    #[test]
    fn printer_columns_and_status_subresource() {
        let crd = VectorCluster::crd();
        let version = &crd.spec.versions[0];
        let columns: Vec<_> = version
            .additional_printer_columns
            .iter()
            .flatten()
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(columns, ["Phase", "Ready", "Replicas", "Leader", "Age"]);
        assert!(version.subresources.as_ref().unwrap().status.is_some());
        assert_eq!(crd.spec.scope, "Namespaced");
        assert_eq!(ShardPlacement::crd().spec.group, GROUP);
    }
}
