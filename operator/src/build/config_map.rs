//! The ConfigMap holding the node's YAML configuration file, rendered from `spec.config`.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;

use super::{owned_meta, Names};
use crate::crd::VectorCluster;

/// The file's name in the ConfigMap and in the pod's config directory.
pub const CONFIG_FILE: &str = "grape.yaml";

pub fn config_map(vc: &VectorCluster) -> ConfigMap {
    ConfigMap {
        metadata: owned_meta(vc, Names::of(vc).config_map()),
        data: Some(BTreeMap::from([(CONFIG_FILE.into(), render(vc))])),
        ..Default::default()
    }
}

/// `spec.config` as YAML (keys sorted, so the text is stable).
fn render(vc: &VectorCluster) -> String {
    let config = vc.spec.config.clone().unwrap_or_default();
    // A map of JSON values always serializes to YAML.
    serde_yaml::to_string(&config).unwrap_or_default()
}

/// A stable fingerprint of the configuration file (FNV-1a, hex). It is a pod annotation, so
/// a configuration change rolls the pods, and the same configuration never does, whatever
/// operator version computes it.
pub(super) fn config_hash(vc: &VectorCluster) -> String {
    let hash = render(vc).bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::build::fixtures::cluster;

    #[test]
    fn spec_config_becomes_the_node_config_file() {
        let vc = cluster(json!({
            "replicas": 1, "image": "grape-node:1", "storage": {"size": "1Gi"},
            "config": {"log_level": "debug", "http_port": 6333},
        }));
        let cm = config_map(&vc);
        assert_eq!(cm.metadata.name.as_deref(), Some("vec-config"));
        let text = &cm.data.unwrap()[CONFIG_FILE];
        let parsed: serde_json::Value = serde_yaml::from_str(text).unwrap();
        assert_eq!(parsed, json!({"http_port": 6333, "log_level": "debug"}));
    }

    #[test]
    fn no_config_is_an_empty_file_the_node_accepts() {
        let vc = cluster(json!({"replicas": 1, "image": "i", "storage": {"size": "1Gi"}}));
        let text = config_map(&vc).data.unwrap()[CONFIG_FILE].clone();
        assert_eq!(text.trim(), "{}");
    }
}
