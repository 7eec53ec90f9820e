//! The StatefulSet of data nodes.
//!
//! Every pod gets its stable internal address from the headless Service and is told to
//! bootstrap from pod 0; pod 0 sees its own address there and forms the cluster (the node
//! treats `--bootstrap` equal to `--uri` as "form"). A restarted pod keeps its volume and so
//! its peer identity, and rejoins as the same member.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{
    RollingUpdateStatefulSetStrategy, StatefulSet, StatefulSetPersistentVolumeClaimRetentionPolicy,
    StatefulSetSpec, StatefulSetUpdateStrategy,
};
use k8s_openapi::api::core::v1::{
    ConfigMapVolumeSource, Container, ContainerPort, EnvVar, EnvVarSource, HTTPGetAction,
    ObjectFieldSelector, PersistentVolumeClaim, PersistentVolumeClaimSpec, PodSpec,
    PodTemplateSpec, Probe, SecretVolumeSource, Volume, VolumeMount, VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::config_map::config_hash;
use super::{
    owned_meta, selector_labels, with_labels, Names, CONFIG_FILE, GRPC_PORT, HTTP_PORT, P2P_PORT,
};
use crate::crd::VectorCluster;

/// Where the data volume is mounted in a data pod.
pub const DATA_DIR: &str = "/var/lib/grape";
const CONFIG_DIR: &str = "/etc/grape";
const TLS_DIR: &str = "/etc/grape/tls";
/// Time for a stopping node to hand off its shard leaderships and checkpoint.
const TERMINATION_GRACE_SECONDS: i64 = 120;
/// Pod annotation whose change restarts the pods when the configuration changes.
pub const CONFIG_HASH_ANNOTATION: &str = "grape.io/config-hash";

/// The data nodes' StatefulSet with `replicas` pods, of which those with an ordinal below
/// `partition` keep their current revision during a rolling update.
pub fn statefulset(vc: &VectorCluster, replicas: i32, partition: i32) -> StatefulSet {
    let names = Names::of(vc);
    let labels = selector_labels(vc, "data");
    StatefulSet {
        metadata: owned_meta(vc, names.cluster.clone()),
        spec: Some(StatefulSetSpec {
            replicas: Some(replicas),
            service_name: Some(names.headless()),
            pod_management_policy: Some("Parallel".into()),
            selector: LabelSelector {
                match_labels: Some(labels.clone()),
                ..Default::default()
            },
            update_strategy: Some(StatefulSetUpdateStrategy {
                type_: Some("RollingUpdate".into()),
                rolling_update: Some(RollingUpdateStatefulSetStrategy {
                    partition: Some(partition),
                    ..Default::default()
                }),
            }),
            template: pod_template(vc, &names, labels),
            volume_claim_templates: Some(vec![data_claim(vc)]),
            persistent_volume_claim_retention_policy: Some(claim_retention()),
            ..Default::default()
        }),
        status: None,
    }
}

/// The operator shrinks the StatefulSet only after the removed pods' peers left the
/// cluster, so their volumes hold nothing the cluster needs: they go, and a later scale-out
/// starts fresh peers instead of reviving removed ones. On deletion the finalizer applies
/// `storage.retentionPolicy` itself.
fn claim_retention() -> StatefulSetPersistentVolumeClaimRetentionPolicy {
    StatefulSetPersistentVolumeClaimRetentionPolicy {
        when_scaled: Some("Delete".into()),
        when_deleted: Some("Retain".into()),
    }
}

fn pod_template(
    vc: &VectorCluster,
    names: &Names,
    labels: BTreeMap<String, String>,
) -> PodTemplateSpec {
    let overrides = vc.spec.pod_template.clone().unwrap_or_default();
    let mut annotations = overrides.annotations.unwrap_or_default();
    annotations.insert(CONFIG_HASH_ANNOTATION.into(), config_hash(vc));
    let mut volumes = vec![Volume {
        name: "config".into(),
        config_map: Some(ConfigMapVolumeSource {
            name: names.config_map(),
            ..Default::default()
        }),
        ..Default::default()
    }];
    if let Some(tls) = &vc.spec.tls {
        volumes.push(Volume {
            name: "tls".into(),
            secret: Some(SecretVolumeSource {
                secret_name: Some(tls.secret_name.clone()),
                ..Default::default()
            }),
            ..Default::default()
        });
    }
    PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(with_labels(super::common_labels(vc), labels)),
            annotations: Some(annotations),
            ..Default::default()
        }),
        spec: Some(PodSpec {
            service_account_name: Some(names.node_account()),
            termination_grace_period_seconds: Some(TERMINATION_GRACE_SECONDS),
            containers: vec![node_container(vc, names)],
            volumes: Some(volumes),
            affinity: overrides.affinity,
            tolerations: overrides.tolerations,
            topology_spread_constraints: overrides.topology_spread_constraints,
            node_selector: overrides.node_selector,
            ..Default::default()
        }),
    }
}

fn node_container(vc: &VectorCluster, names: &Names) -> Container {
    let mut volume_mounts = vec![mount("data", DATA_DIR), mount("config", CONFIG_DIR)];
    if vc.spec.tls.is_some() {
        volume_mounts.push(mount("tls", TLS_DIR));
    }
    Container {
        name: "grape-node".into(),
        image: Some(vc.spec.image.clone()),
        args: Some(node_args(vc, names)),
        env: Some(node_env(vc)),
        ports: Some(ports()),
        resources: vc.spec.resources.clone(),
        readiness_probe: Some(http_probe(vc, "/readyz", 2, 3)),
        liveness_probe: Some(http_probe(vc, "/livez", 10, 6)),
        volume_mounts: Some(volume_mounts),
        ..Default::default()
    }
}

/// The node's command line: its stable address, pod 0 to bootstrap from, the data and
/// config paths and the collection defaults. Flags win over the config file.
fn node_args(vc: &VectorCluster, names: &Names) -> Vec<String> {
    let mut args = vec![
        "--uri".to_string(),
        // $(POD_NAME) is expanded by the kubelet from the container's environment.
        names.peer_uri("$(POD_NAME)"),
        "--bootstrap".into(),
        names.peer_uri(&names.pod(0)),
        "--data-dir".into(),
        DATA_DIR.into(),
        "--config".into(),
        format!("{CONFIG_DIR}/{CONFIG_FILE}"),
    ];
    let defaults = vc.spec.collection_defaults.clone().unwrap_or_default();
    for (flag, value) in [
        ("--default-shard-number", defaults.shard_number),
        ("--default-replication-factor", defaults.replication_factor),
        (
            "--default-write-consistency-factor",
            defaults.write_consistency_factor,
        ),
    ] {
        if let Some(value) = value {
            args.extend([flag.to_string(), value.to_string()]);
        }
    }
    if vc.spec.tls.is_some() {
        args.extend([
            "--tls-cert".into(),
            format!("{TLS_DIR}/tls.crt"),
            "--tls-key".into(),
            format!("{TLS_DIR}/tls.key"),
        ]);
    }
    args
}

/// The pod's identity from the downward API (the node's status reports need it), the
/// cluster's name, and the API keys from their Secrets.
pub(super) fn node_env(vc: &VectorCluster) -> Vec<EnvVar> {
    let field = |name: &str, path: &str| EnvVar {
        name: name.into(),
        value_from: Some(EnvVarSource {
            field_ref: Some(ObjectFieldSelector {
                field_path: path.into(),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    let mut env = vec![
        field("POD_NAME", "metadata.name"),
        field("POD_NAMESPACE", "metadata.namespace"),
        field("POD_IP", "status.podIP"),
        EnvVar {
            name: "GRAPE_CLUSTER_NAME".into(),
            value: Some(Names::of(vc).cluster),
            ..Default::default()
        },
    ];
    if let Some(auth) = &vc.spec.auth {
        let secret = |name: &str, key: &k8s_openapi::api::core::v1::SecretKeySelector| EnvVar {
            name: name.into(),
            value_from: Some(EnvVarSource {
                secret_key_ref: Some(key.clone()),
                ..Default::default()
            }),
            ..Default::default()
        };
        env.push(secret("GRAPE_API_KEY", &auth.api_key_secret_ref));
        if let Some(read_only) = &auth.read_only_api_key_secret_ref {
            env.push(secret("GRAPE_READ_ONLY_API_KEY", read_only));
        }
    }
    env
}

pub(super) fn ports() -> Vec<ContainerPort> {
    [("http", HTTP_PORT), ("grpc", GRPC_PORT), ("p2p", P2P_PORT)]
        .into_iter()
        .map(|(name, port)| ContainerPort {
            name: Some(name.into()),
            container_port: port,
            ..Default::default()
        })
        .collect()
}

/// An HTTP probe of the REST port (HTTPS when the cluster has TLS).
pub(super) fn http_probe(vc: &VectorCluster, path: &str, period: i32, failures: i32) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.into()),
            port: IntOrString::Int(HTTP_PORT),
            scheme: Some(
                if vc.spec.tls.is_some() {
                    "HTTPS"
                } else {
                    "HTTP"
                }
                .into(),
            ),
            ..Default::default()
        }),
        period_seconds: Some(period),
        failure_threshold: Some(failures),
        ..Default::default()
    }
}

fn mount(name: &str, path: &str) -> VolumeMount {
    VolumeMount {
        name: name.into(),
        mount_path: path.into(),
        ..Default::default()
    }
}

fn data_claim(vc: &VectorCluster) -> PersistentVolumeClaim {
    let storage = &vc.spec.storage;
    PersistentVolumeClaim {
        metadata: ObjectMeta {
            name: Some("data".into()),
            labels: Some(super::common_labels(vc)),
            ..Default::default()
        },
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(vec!["ReadWriteOnce".into()]),
            storage_class_name: storage.storage_class_name.clone(),
            resources: Some(VolumeResourceRequirements {
                requests: Some(BTreeMap::from([("storage".into(), storage.size.clone())])),
                ..Default::default()
            }),
            ..Default::default()
        }),
        status: None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::build::fixtures::{cluster, three_nodes};

    fn container(set: &StatefulSet) -> Container {
        set.spec
            .as_ref()
            .unwrap()
            .template
            .spec
            .as_ref()
            .unwrap()
            .containers[0]
            .clone()
    }

    #[test]
    fn data_nodes_bootstrap_from_pod_zero_at_their_stable_addresses() {
        let set = statefulset(&three_nodes(), 3, 0);
        let args = container(&set).args.unwrap();
        let flag = |name: &str| {
            let at = args.iter().position(|a| a == name).expect(name);
            args[at + 1].clone()
        };
        assert_eq!(
            flag("--uri"),
            "http://$(POD_NAME).vec-headless.db.svc.cluster.local:6335"
        );
        assert_eq!(
            flag("--bootstrap"),
            "http://vec-0.vec-headless.db.svc.cluster.local:6335"
        );
        assert_eq!(flag("--data-dir"), DATA_DIR);
        assert_eq!(flag("--config"), "/etc/grape/grape.yaml");
        assert_eq!(flag("--default-shard-number"), "6");
        assert_eq!(flag("--default-replication-factor"), "2");
        assert!(!args.contains(&"--default-write-consistency-factor".to_string()));
    }

    #[test]
    fn statefulset_shape() {
        let set = statefulset(&three_nodes(), 3, 2);
        let spec = set.spec.as_ref().unwrap();
        assert_eq!(spec.replicas, Some(3));
        assert_eq!(spec.service_name.as_deref(), Some("vec-headless"));
        assert_eq!(spec.pod_management_policy.as_deref(), Some("Parallel"));
        let rolling = spec
            .update_strategy
            .as_ref()
            .unwrap()
            .rolling_update
            .as_ref();
        assert_eq!(rolling.unwrap().partition, Some(2));
        let retention = spec
            .persistent_volume_claim_retention_policy
            .as_ref()
            .unwrap();
        assert_eq!(retention.when_scaled.as_deref(), Some("Delete"));
        assert_eq!(retention.when_deleted.as_deref(), Some("Retain"));
        let claim = &spec.volume_claim_templates.as_ref().unwrap()[0];
        let requests = claim.spec.as_ref().unwrap().resources.as_ref().unwrap();
        assert_eq!(requests.requests.as_ref().unwrap()["storage"].0, "10Gi");
        let pod = spec.template.spec.as_ref().unwrap();
        assert_eq!(pod.service_account_name.as_deref(), Some("vec-node"));
        assert!(pod.termination_grace_period_seconds.unwrap() >= 60);
        let c = container(&set);
        let probe = c.readiness_probe.unwrap().http_get.unwrap();
        assert_eq!(
            (probe.path.as_deref(), probe.port.clone()),
            (Some("/readyz"), IntOrString::Int(6333))
        );
        let live = c.liveness_probe.unwrap().http_get.unwrap();
        assert_eq!(live.path.as_deref(), Some("/livez"));
        let env: Vec<_> = c.env.unwrap().into_iter().map(|e| e.name).collect();
        for name in ["POD_NAME", "POD_NAMESPACE", "POD_IP", "GRAPE_CLUSTER_NAME"] {
            assert!(
                env.contains(&name.to_string()),
                "{name} missing from {env:?}"
            );
        }
        let owner = &set.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!(
            (owner.kind.as_str(), owner.controller),
            ("VectorCluster", Some(true))
        );
        let selector = spec.selector.match_labels.as_ref().unwrap();
        let pod_labels = spec
            .template
            .metadata
            .as_ref()
            .unwrap()
            .labels
            .as_ref()
            .unwrap();
        assert!(selector.iter().all(|(k, v)| pod_labels.get(k) == Some(v)));
    }

    #[test]
    fn pod_template_overrides_auth_and_tls_are_applied() {
        let vc = cluster(json!({
            "replicas": 3, "image": "grape-node:1", "storage": {"size": "1Gi", "storageClassName": "fast"},
            "podTemplate": {
                "nodeSelector": {"disk": "ssd"},
                "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "grape", "effect": "NoSchedule"}],
                "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule"}],
                "affinity": {"podAntiAffinity": {}},
                "annotations": {"team": "search"},
            },
            "auth": {"apiKeySecretRef": {"name": "keys", "key": "api"}},
            "tls": {"secretName": "certs"},
        }));
        let set = statefulset(&vc, 3, 0);
        let spec = set.spec.unwrap();
        let pod = spec.template.spec.clone().unwrap();
        assert_eq!(pod.node_selector.unwrap()["disk"], "ssd");
        assert_eq!(
            pod.tolerations.unwrap()[0].key.as_deref(),
            Some("dedicated")
        );
        assert_eq!(
            pod.topology_spread_constraints.unwrap()[0].topology_key,
            "zone"
        );
        assert!(pod.affinity.unwrap().pod_anti_affinity.is_some());
        let annotations = spec.template.metadata.unwrap().annotations.unwrap();
        assert_eq!(annotations["team"], "search");
        assert!(annotations.contains_key(CONFIG_HASH_ANNOTATION));
        let claim = &spec.volume_claim_templates.unwrap()[0];
        assert_eq!(
            claim.spec.as_ref().unwrap().storage_class_name.as_deref(),
            Some("fast")
        );
        let c = &pod.containers[0];
        let api_key = c
            .env
            .as_ref()
            .unwrap()
            .iter()
            .find(|e| e.name == "GRAPE_API_KEY");
        let from = api_key
            .unwrap()
            .value_from
            .as_ref()
            .unwrap()
            .secret_key_ref
            .as_ref();
        assert_eq!(from.unwrap().name, "keys");
        assert!(c
            .args
            .as_ref()
            .unwrap()
            .contains(&"/etc/grape/tls/tls.crt".to_string()));
        let scheme = c
            .readiness_probe
            .as_ref()
            .unwrap()
            .http_get
            .as_ref()
            .unwrap()
            .scheme
            .clone();
        assert_eq!(scheme.as_deref(), Some("HTTPS"));
    }

    #[test]
    fn a_config_change_changes_the_pod_template() {
        let before = three_nodes();
        let mut after = before.clone();
        after.spec.config = Some([("log_level".to_string(), json!("debug"))].into());
        let hash = |vc: &VectorCluster| {
            statefulset(vc, 3, 0)
                .spec
                .unwrap()
                .template
                .metadata
                .unwrap()
                .annotations
                .unwrap()[CONFIG_HASH_ANNOTATION]
                .clone()
        };
        assert_ne!(hash(&before), hash(&after));
        assert_eq!(hash(&before), hash(&three_nodes()));
    }
}
