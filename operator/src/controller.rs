//! The VectorCluster controller: watches the clusters and everything they own, and runs a
//! reconciliation ([`crate::reconcile`]) whenever one of them changes, when a data pod
//! changes, and periodically. A finalizer gives deletion a last pass for the storage
//! retention policy.

use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use futures::StreamExt;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Service};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::Api;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{EventType, Recorder, Reporter};
use kube::runtime::finalizer::{finalizer, Event as Finalizer};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;

use crate::admin::NodeAdmin;
use crate::build::CLUSTER_LABEL;
use crate::crd::VectorCluster;
use crate::metrics::{Kind, Metrics};
use crate::reconcile::{self, Context};

/// Finalizer that holds a deleted VectorCluster until its storage policy was carried out.
pub const FINALIZER: &str = "grape.io/storage-retention";

#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct Error(#[from] Box<kube::runtime::finalizer::Error<reconcile::Error>>);

impl Error {
    /// A short label for the errors metric.
    fn kind(&self) -> &'static str {
        use kube::runtime::finalizer::Error as F;
        match self.0.as_ref() {
            F::ApplyFailed(e) | F::CleanupFailed(e) => e.kind(),
            F::AddFinalizer(_) | F::RemoveFinalizer(_) => "finalizer",
            F::UnnamedObject | F::InvalidFinalizer => "object",
        }
    }
}

/// The context of every reconciliation; `instance` names this operator replica in Events.
pub fn context(
    client: Client,
    admin: Arc<dyn NodeAdmin>,
    metrics: Arc<Metrics>,
    instance: &str,
) -> Arc<Context> {
    let reporter = Reporter {
        controller: crate::FIELD_MANAGER.into(),
        instance: Some(instance.into()),
    };
    Arc::new(Context {
        recorder: Recorder::new(client.clone(), reporter),
        client,
        admin,
        metrics,
    })
}

/// The namespaces the controllers watch: every namespace (the chart's ClusterRole), or a
/// list of them (the chart's `watchNamespaces`, with a Role in each).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Watch {
    #[default]
    All,
    Namespaces(Vec<String>),
}

impl Watch {
    /// `All` for an empty list.
    pub fn namespaces(namespaces: Vec<String>) -> Watch {
        if namespaces.is_empty() {
            Watch::All
        } else {
            Watch::Namespaces(namespaces)
        }
    }

    /// One entry per watch: `None` for all namespaces, else each namespace.
    fn scopes(&self) -> Vec<Option<String>> {
        match self {
            Watch::All => vec![None],
            Watch::Namespaces(list) => list.iter().cloned().map(Some).collect(),
        }
    }
}

/// The Api of `K` in `namespace`, or across all namespaces for `None`.
pub(crate) fn scoped<K>(client: &Client, namespace: Option<&str>) -> Api<K>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + DeserializeOwned
        + Clone
        + std::fmt::Debug,
{
    match namespace {
        Some(namespace) => Api::namespaced(client.clone(), namespace),
        None => Api::all(client.clone()),
    }
}

/// Runs the VectorCluster and ShardPlacement controllers over the watched namespaces until
/// the process is asked to stop.
pub async fn run(ctx: Arc<Context>, watch: Watch) {
    let scopes = watch.scopes();
    let clusters = scopes
        .iter()
        .map(|ns| run_clusters(ctx.clone(), ns.as_deref()));
    let placements = scopes
        .iter()
        .map(|ns| crate::placement::run(ctx.clone(), ns.as_deref()));
    tokio::join!(join_all(clusters), join_all(placements));
}

async fn run_clusters(ctx: Arc<Context>, namespace: Option<&str>) {
    let client = ctx.client.clone();
    let clusters: Api<VectorCluster> = scoped(&client, namespace);
    let pods: Api<Pod> = scoped(&client, namespace);
    let owned = watcher::Config::default().labels(CLUSTER_LABEL);
    Controller::new(clusters, watcher::Config::default().any_semantic())
        .owns(scoped::<StatefulSet>(&client, namespace), owned.clone())
        .owns(scoped::<Service>(&client, namespace), owned.clone())
        .owns(scoped::<ConfigMap>(&client, namespace), owned.clone())
        .owns(
            scoped::<PodDisruptionBudget>(&client, namespace),
            owned.clone(),
        )
        .owns(scoped::<Deployment>(&client, namespace), owned.clone())
        // Pods belong to the StatefulSet, not to the VectorCluster: map them by label, so
        // that a pod becoming ready updates the status at once.
        .watches(pods, owned, cluster_of_pod)
        .shutdown_on_signal()
        .run(reconcile, error_policy, ctx)
        .for_each(|result| async move {
            match result {
                Ok((object, _)) => tracing::debug!(%object, "reconciled"),
                Err(error) => tracing::warn!(%error, "reconcile failed"),
            }
        })
        .await;
}

fn cluster_of_pod(pod: Pod) -> Option<ObjectRef<VectorCluster>> {
    let cluster = pod.labels().get(CLUSTER_LABEL)?;
    Some(ObjectRef::new(cluster).within(&pod.namespace()?))
}

async fn reconcile(vc: Arc<VectorCluster>, ctx: Arc<Context>) -> Result<Action, Error> {
    let _timer = ctx.metrics.reconcile_started(Kind::VectorCluster);
    let namespace = vc.namespace().unwrap_or_default();
    let api: Api<VectorCluster> = Api::namespaced(ctx.client.clone(), &namespace);
    let pass = ctx.clone();
    let result = finalizer(&api, FINALIZER, vc.clone(), |event| async move {
        match event {
            Finalizer::Apply(vc) => reconcile::apply(&vc, &pass).await,
            Finalizer::Cleanup(vc) => reconcile::cleanup(&vc, &pass).await,
        }
    })
    .await
    .map_err(|e| Error(Box::new(e)));
    if let Err(error) = &result {
        report_failure(&vc, &ctx, error).await;
    }
    result
}

/// A failed pass as a Warning Event on the VectorCluster (the error itself is also logged
/// and counted).
async fn report_failure(vc: &VectorCluster, ctx: &Context, error: &Error) {
    let note = error.to_string().chars().take(1000).collect();
    let event = (EventType::Warning, "ReconcileFailed", "Reconcile");
    reconcile::publish_on(ctx, &vc.object_ref(&()), None, event, note).await;
}

fn error_policy(vc: Arc<VectorCluster>, error: &Error, ctx: Arc<Context>) -> Action {
    ctx.metrics
        .reconcile_failed(Kind::VectorCluster, error.kind());
    tracing::warn!(cluster = %vc.name_any(), %error, "reconcile failed; retrying");
    Action::requeue(Duration::from_secs(10))
}
