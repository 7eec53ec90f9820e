//! grape-operator: runs Grape clusters on Kubernetes.
//!
//! A reconciliation reads top-down through the modules: [`crd`] defines what the user asks
//! for, [`build`] turns it into Kubernetes objects, [`decide`] chooses the scale, rollout and
//! status from what was observed, [`reconcile`] does the API calls of one pass, and
//! [`controller`] runs passes for every VectorCluster; [`placement`] does the same for
//! ShardPlacements (where the shards live). [`admin`] talks to the nodes,
//! [`leader`] keeps a single active replica, [`metrics`] and [`http`] expose the operator;
//! [`permissions`] lists the API permissions all of this needs (the Helm chart's RBAC).

pub mod admin;
pub mod build;
pub mod controller;
pub mod crd;
pub mod decide;
pub mod http;
pub mod leader;
pub mod metrics;
pub mod permissions;
pub mod placement;
pub mod reconcile;

/// Field manager of everything the operator applies.
pub const FIELD_MANAGER: &str = "grape-operator";
