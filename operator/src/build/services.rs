//! The headless Service (stable peer addresses of the data pods) and the client Service.

use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::{owned_meta, selector_labels, Names, CLUSTER_LABEL, GRPC_PORT, HTTP_PORT, P2P_PORT};
use crate::crd::{ServiceType, VectorCluster};

/// Gives each data pod the DNS name `<pod>.<name>-headless.<ns>.svc.cluster.local`. Not-ready
/// pods are published too: a starting node must reach pod 0 before either is ready.
pub fn headless_service(vc: &VectorCluster) -> Service {
    Service {
        metadata: owned_meta(vc, Names::of(vc).headless()),
        spec: Some(ServiceSpec {
            cluster_ip: Some("None".into()),
            publish_not_ready_addresses: Some(true),
            selector: Some(selector_labels(vc, "data")),
            ports: Some(ports(&[
                ("http", HTTP_PORT),
                ("grpc", GRPC_PORT),
                ("p2p", P2P_PORT),
            ])),
            ..Default::default()
        }),
        status: None,
    }
}

/// REST and gRPC for clients, on every ready pod of the cluster (data and query nodes).
pub fn client_service(vc: &VectorCluster) -> Service {
    let spec = vc.spec.service.clone().unwrap_or_default();
    let mut metadata = owned_meta(vc, Names::of(vc).cluster);
    metadata.annotations = spec.annotations;
    let cluster = vc.metadata.name.clone().unwrap_or_default();
    Service {
        metadata,
        spec: Some(ServiceSpec {
            type_: Some(spec.type_.unwrap_or(ServiceType::ClusterIP).as_str().into()),
            selector: Some([(CLUSTER_LABEL.to_string(), cluster)].into()),
            ports: Some(ports(&[("http", HTTP_PORT), ("grpc", GRPC_PORT)])),
            ..Default::default()
        }),
        status: None,
    }
}

fn ports(ports: &[(&str, i32)]) -> Vec<ServicePort> {
    ports
        .iter()
        .map(|&(name, port)| ServicePort {
            name: Some(name.into()),
            port,
            target_port: Some(IntOrString::Int(port)),
            ..Default::default()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::build::fixtures::{cluster, three_nodes};

    fn port_numbers(service: &Service) -> Vec<i32> {
        let ports = service.spec.as_ref().unwrap().ports.as_ref().unwrap();
        ports.iter().map(|p| p.port).collect()
    }

    #[test]
    fn headless_service_publishes_every_data_pod() {
        let svc = headless_service(&three_nodes());
        let spec = svc.spec.as_ref().unwrap();
        assert_eq!(svc.metadata.name.as_deref(), Some("vec-headless"));
        assert_eq!(spec.cluster_ip.as_deref(), Some("None"));
        assert_eq!(spec.publish_not_ready_addresses, Some(true));
        assert_eq!(spec.selector.as_ref().unwrap()["grape.io/role"], "data");
        assert_eq!(port_numbers(&svc), [6333, 6334, 6335]);
    }

    #[test]
    fn client_service_type_and_annotations_come_from_the_spec() {
        let default = client_service(&three_nodes());
        assert_eq!(
            default.spec.as_ref().unwrap().type_.as_deref(),
            Some("ClusterIP")
        );
        assert_eq!(port_numbers(&default), [6333, 6334]);
        let vc = cluster(json!({
            "replicas": 1, "image": "i", "storage": {"size": "1Gi"},
            "service": {"type": "LoadBalancer", "annotations": {"lb": "internal"}},
        }));
        let svc = client_service(&vc);
        assert_eq!(
            svc.spec.as_ref().unwrap().type_.as_deref(),
            Some("LoadBalancer")
        );
        assert_eq!(svc.metadata.annotations.unwrap()["lb"], "internal");
    }
}
