//! The nodes' ServiceAccount and the Role letting them report into their VectorCluster's
//! status (`status.nodes`), and nothing else.

use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::{PolicyRule, Role, RoleBinding, RoleRef, Subject};

use super::{owned_meta, Names};
use crate::crd::{VectorCluster, GROUP};

pub fn service_account(vc: &VectorCluster) -> ServiceAccount {
    ServiceAccount {
        metadata: owned_meta(vc, Names::of(vc).node_account()),
        ..Default::default()
    }
}

/// get and patch of this one VectorCluster's status.
pub fn role(vc: &VectorCluster) -> Role {
    let names = Names::of(vc);
    Role {
        metadata: owned_meta(vc, names.node_account()),
        rules: Some(vec![PolicyRule {
            api_groups: Some(vec![GROUP.into()]),
            resources: Some(vec!["vectorclusters/status".into()]),
            resource_names: Some(vec![names.cluster]),
            verbs: vec!["get".into(), "patch".into()],
            ..Default::default()
        }]),
    }
}

pub fn role_binding(vc: &VectorCluster) -> RoleBinding {
    let names = Names::of(vc);
    RoleBinding {
        metadata: owned_meta(vc, names.node_account()),
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".into(),
            kind: "Role".into(),
            name: names.node_account(),
        },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".into(),
            name: names.node_account(),
            namespace: Some(names.namespace),
            ..Default::default()
        }]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::fixtures::three_nodes;

    #[test]
    fn nodes_may_only_get_and_patch_their_clusters_status() {
        let vc = three_nodes();
        let rule = &role(&vc).rules.unwrap()[0];
        assert_eq!(
            rule.resources.as_deref(),
            Some(&["vectorclusters/status".to_string()][..])
        );
        assert_eq!(
            rule.resource_names.as_deref(),
            Some(&["vec".to_string()][..])
        );
        assert_eq!(rule.verbs, ["get", "patch"]);
        let binding = role_binding(&vc);
        assert_eq!(binding.role_ref.name, "vec-node");
        let subject = &binding.subjects.unwrap()[0];
        assert_eq!(
            (subject.name.as_str(), subject.namespace.as_deref()),
            ("vec-node", Some("db"))
        );
        assert_eq!(
            service_account(&vc).metadata.name.as_deref(),
            Some("vec-node")
        );
    }
}
