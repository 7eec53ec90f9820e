//! The PodDisruptionBudget: never more than one data node down voluntarily (node drains,
//! evictions), so a shard with two or more replicas keeps a majority.

use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::{owned_meta, selector_labels, Names};
use crate::crd::VectorCluster;

pub fn pod_disruption_budget(vc: &VectorCluster) -> PodDisruptionBudget {
    PodDisruptionBudget {
        metadata: owned_meta(vc, Names::of(vc).cluster),
        spec: Some(PodDisruptionBudgetSpec {
            max_unavailable: Some(IntOrString::Int(1)),
            selector: Some(LabelSelector {
                match_labels: Some(selector_labels(vc, "data")),
                ..Default::default()
            }),
            ..Default::default()
        }),
        status: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::fixtures::three_nodes;

    #[test]
    fn one_data_node_at_a_time() {
        let pdb = pod_disruption_budget(&three_nodes());
        let spec = pdb.spec.unwrap();
        assert_eq!(spec.max_unavailable, Some(IntOrString::Int(1)));
        let labels = spec.selector.unwrap().match_labels.unwrap();
        assert_eq!(labels["grape.io/role"], "data");
    }
}
