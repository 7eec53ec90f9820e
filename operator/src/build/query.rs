//! The Deployment of stateless query nodes (`spec.queryNodes`, `grape-node --role query`):
//! they hold no shards and route requests to the data nodes, so they scale freely. A pod
//! advertises its pod IP and keeps its transient Raft state in an `emptyDir`; it joins as a
//! new peer each time it starts and leaves the cluster when it stops.

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{
    Container, EmptyDirVolumeSource, PodSpec, PodTemplateSpec, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};

use super::statefulset::{http_probe, node_env, ports, DATA_DIR};
use super::{owned_meta, selector_labels, with_labels, Names, P2P_PORT};
use crate::crd::VectorCluster;

/// The query nodes' Deployment, or `None` when `spec.queryNodes` is 0 or absent.
pub fn query_deployment(vc: &VectorCluster) -> Option<Deployment> {
    let replicas = vc.spec.query_nodes.filter(|&n| n > 0)?;
    let names = Names::of(vc);
    let labels = selector_labels(vc, "query");
    let overrides = vc.spec.pod_template.clone().unwrap_or_default();
    let container = Container {
        name: "grape-query".into(),
        image: Some(vc.spec.image.clone()),
        args: Some(vec![
            "--role".into(),
            "query".into(),
            "--uri".into(),
            // $(POD_IP) is expanded by the kubelet from the container's environment.
            format!("http://$(POD_IP):{P2P_PORT}"),
            "--bootstrap".into(),
            names.peer_uri(&names.pod(0)),
            "--data-dir".into(),
            DATA_DIR.into(),
        ]),
        volume_mounts: Some(vec![VolumeMount {
            name: "data".into(),
            mount_path: DATA_DIR.into(),
            ..Default::default()
        }]),
        env: Some(node_env(vc)),
        ports: Some(ports()),
        resources: vc.spec.resources.clone(),
        readiness_probe: Some(http_probe(vc, "/readyz", 2, 3)),
        liveness_probe: Some(http_probe(vc, "/livez", 10, 6)),
        ..Default::default()
    };
    Some(Deployment {
        metadata: owned_meta(vc, names.query()),
        spec: Some(DeploymentSpec {
            replicas: Some(replicas),
            selector: LabelSelector {
                match_labels: Some(labels.clone()),
                ..Default::default()
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(with_labels(super::common_labels(vc), labels)),
                    annotations: overrides.annotations,
                    ..Default::default()
                }),
                spec: Some(PodSpec {
                    containers: vec![container],
                    volumes: Some(vec![Volume {
                        name: "data".into(),
                        empty_dir: Some(EmptyDirVolumeSource::default()),
                        ..Default::default()
                    }]),
                    affinity: overrides.affinity,
                    tolerations: overrides.tolerations,
                    topology_spread_constraints: overrides.topology_spread_constraints,
                    node_selector: overrides.node_selector,
                    ..Default::default()
                }),
            },
            ..Default::default()
        }),
        status: None,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::build::fixtures::{cluster, three_nodes};

    #[test]
    fn query_nodes_only_when_asked() {
        assert!(query_deployment(&three_nodes()).is_none());
        let vc = cluster(json!({
            "replicas": 3, "image": "grape-node:1", "storage": {"size": "1Gi"}, "queryNodes": 2,
        }));
        let deployment = query_deployment(&vc).unwrap();
        assert_eq!(deployment.metadata.name.as_deref(), Some("vec-query"));
        let spec = deployment.spec.unwrap();
        assert_eq!(spec.replicas, Some(2));
        assert_eq!(
            spec.selector.match_labels.unwrap()["grape.io/role"],
            "query"
        );
        let args = spec.template.spec.unwrap().containers[0]
            .args
            .clone()
            .unwrap();
        assert_eq!(args[..2], ["--role", "query"]);
        let flag = |name: &str| &args[args.iter().position(|a| a == name).unwrap() + 1];
        assert_eq!(flag("--uri"), "http://$(POD_IP):6335");
        assert!(flag("--bootstrap").starts_with("http://vec-0."), "{args:?}");
        assert_eq!(flag("--data-dir"), DATA_DIR);
    }
}
