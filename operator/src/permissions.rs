//! Every Kubernetes API permission the operator uses, with the calls that need it. The Helm
//! chart's RBAC (`helm/grape-operator/templates/rbac.yaml`) grants exactly these:
//! `operator/tests/chart.rs` renders the chart and fails on a missing or extra verb, and the
//! chart-install scenario runs the operator with the chart's ServiceAccount.
//!
//! Change an API call in [`crate::reconcile`], [`crate::placement`], [`crate::controller`]
//! or [`crate::leader`], and change this list with it.

/// Where a permission is needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// In every namespace the operator watches (a ClusterRole, or a Role in each of the
    /// chart's `watchNamespaces`).
    Watched,
    /// Only in the operator's own namespace (the leader-election Lease).
    Own,
}

/// Verbs on resources of one API group (`""` is the core group).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Permission {
    pub group: &'static str,
    pub resource: &'static str,
    pub verbs: &'static [&'static str],
    pub scope: Scope,
}

const fn watched(
    group: &'static str,
    resource: &'static str,
    verbs: &'static [&'static str],
) -> Permission {
    Permission {
        group,
        resource,
        verbs,
        scope: Scope::Watched,
    }
}

/// The operator's permissions, one entry per resource.
pub const PERMISSIONS: &[Permission] = &[
    // The controllers' watches; `get` by the placement controller (its cluster); `patch` by
    // the finalizer (a JSON patch of metadata.finalizers).
    watched(
        "grape.io",
        "vectorclusters",
        &["get", "list", "watch", "patch"],
    ),
    // The operator's part of the status. `get`: the nodes' Role grants get and patch of
    // it, and RBAC lets the operator grant only what it holds itself.
    watched("grape.io", "vectorclusters/status", &["get", "patch"]),
    // Owner references with blockOwnerDeletion (set on every owned object) need it where
    // the OwnerReferencesPermissionEnforcement admission plugin is on (e.g. OpenShift).
    watched("grape.io", "vectorclusters/finalizers", &["update"]),
    // Watched; the cluster's own placement is read and server-side applied (apply creates
    // it: `create`); the approval annotation is removed with a merge patch.
    watched(
        "grape.io",
        "shardplacements",
        &["get", "list", "watch", "create", "patch"],
    ),
    watched("grape.io", "shardplacements/status", &["patch"]),
    // Owned objects: watched, server-side applied (create or patch).
    watched(
        "apps",
        "statefulsets",
        &["get", "list", "watch", "create", "patch"],
    ),
    // The query nodes; deleted when spec.queryNodes drops to 0.
    watched(
        "apps",
        "deployments",
        &["list", "watch", "create", "patch", "delete"],
    ),
    watched("", "services", &["list", "watch", "create", "patch"]),
    watched("", "configmaps", &["list", "watch", "create", "patch"]),
    watched(
        "policy",
        "poddisruptionbudgets",
        &["list", "watch", "create", "patch"],
    ),
    // The nodes' report permissions: applied, never watched.
    watched("", "serviceaccounts", &["create", "patch"]),
    watched("rbac.authorization.k8s.io", "roles", &["create", "patch"]),
    watched(
        "rbac.authorization.k8s.io",
        "rolebindings",
        &["create", "patch"],
    ),
    // Data pods: watched (readiness wakes the controller) and listed per cluster.
    watched("", "pods", &["list", "watch"]),
    // storage.retentionPolicy: Delete removes a deleted cluster's volumes by label.
    watched("", "persistentvolumeclaims", &["deletecollection"]),
    // kube's event Recorder creates an Event, then patches it when it repeats.
    watched("events.k8s.io", "events", &["create", "patch"]),
    // Leader election: read, create on first start, replace to renew or take over.
    Permission {
        group: "coordination.k8s.io",
        resource: "leases",
        verbs: &["get", "create", "update"],
        scope: Scope::Own,
    },
];
