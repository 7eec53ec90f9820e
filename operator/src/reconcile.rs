//! One reconciliation of a VectorCluster: observe (StatefulSet, pods, the nodes' reports,
//! the cluster's own view through the admin service), decide (scale, rollout step, status),
//! then apply the desired objects with server-side apply and write the status.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use grape_proto::cluster::{ClusterInfo, Peer};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{ObjectReference, PersistentVolumeClaim, Pod};
use k8s_openapi::jiff::Timestamp;
use k8s_openapi::NamespaceResourceScope;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType, Recorder};
use kube::{Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::admin::{AdminError, NodeAdmin};
use crate::build::{self, Names, CLUSTER_LABEL, P2P_PORT, ROLE_LABEL};
use crate::crd::{RetentionPolicy, ShardPlacement, VectorCluster, VectorClusterStatus};
use crate::decide::{
    self, Observed, PodMembership, PodRevision, PodView, Rollout, RolloutView, ScaleDecision,
};
use crate::metrics::{ClusterSizes, Metrics};
use crate::FIELD_MANAGER;

/// What a reconciliation needs besides the VectorCluster.
pub struct Context {
    pub client: Client,
    pub recorder: Recorder,
    pub admin: Arc<dyn NodeAdmin>,
    pub metrics: Arc<Metrics>,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{action} {kind} {name}: {source}")]
    Kube {
        action: &'static str,
        kind: String,
        name: String,
        #[source]
        source: kube::Error,
    },
}

impl Error {
    /// Every value of [`Error::kind`], for metrics that exist before the first error.
    pub const KINDS: [&'static str; 1] = ["kube"];

    /// A short label for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Kube { .. } => "kube",
        }
    }
}

/// Adds the context of a failed API call.
pub(crate) fn kube_err(
    action: &'static str,
    kind: &str,
    name: &str,
) -> impl FnOnce(kube::Error) -> Error {
    let (kind, name) = (kind.to_string(), name.to_string());
    move |source| Error::Kube {
        action,
        kind,
        name,
        source,
    }
}

/// The pass for a live VectorCluster.
pub async fn apply(vc: &VectorCluster, ctx: &Context) -> Result<Action, Error> {
    let names = Names::of(vc);
    let seen = observe(ctx, vc, &names).await?;
    let previous = vc.status.clone().unwrap_or_default();
    let mut refusal: Option<(&str, String)> = None;
    let mut draining: Option<String> = None;
    let mut draining_pods = 0;
    let mut replicas = seen.statefulset_replicas().unwrap_or(vc.spec.replicas);
    let mut partition = replicas;
    if !vc.spec.paused {
        match decide_scale(vc, &names, &seen) {
            ScaleDecision::Apply { replicas: r } => replicas = r,
            ScaleDecision::Refuse {
                replicas: r,
                reason,
            } => {
                replicas = r;
                refusal = Some(("ScaleInRefused", reason));
            }
            ScaleDecision::Drain { replicas: r, pods } => {
                replicas = r;
                draining_pods = pods.len();
                match drain(ctx, vc, &names, &seen, &pods).await? {
                    Drain::Progress(message) => draining = Some(message),
                    Drain::Blocked(reason, message) => refusal = Some((reason, message)),
                }
            }
        }
        cancel_drains(ctx, vc, &names, &seen).await?;
        rejoin_departed(ctx, vc, &names, &seen).await?;
        partition = decide::rollout_partition(replicas, &seen.rollout(replicas, vc, &names));
        if seen.restarts(partition, replicas) {
            prepare_restart(ctx, &names, &seen, partition).await;
        }
        apply_objects(vc, ctx, &names, replicas, partition).await?;
    }
    let status = decide::aggregate(&Observed {
        generation: vc.metadata.generation,
        desired_replicas: vc.spec.replicas,
        image: &vc.spec.image,
        paused: vc.spec.paused,
        statefulset: seen.rollout_view(),
        pods: &seen.pods,
        nodes: &previous.nodes,
        refusal: refusal.as_ref().map(|(r, m)| (*r, m.as_str())),
        draining: draining.as_deref(),
        previous: &previous,
        now: Timestamp::now(),
    });
    announce(vc, ctx, &seen, &previous, &status, replicas, partition).await;
    write_status(vc, ctx, &status).await?;
    forget_departed(vc, ctx, &seen, &previous).await?;
    if !vc.spec.paused {
        request_rebalance(vc, ctx, &seen, &status).await?;
    }
    let sizes = ClusterSizes {
        desired: vc.spec.replicas,
        ready: status.ready_replicas.unwrap_or(0),
        draining: draining_pods,
    };
    ctx.metrics
        .set_cluster(&names.namespace, &names.cluster, sizes);
    if let Some(info) = &seen.info {
        ctx.metrics
            .set_moves_in_flight(&names.namespace, &names.cluster, info.transfers.len());
    }
    let settled = status.phase == Some(crate::crd::ClusterPhase::Running);
    Ok(Action::requeue(Duration::from_secs(if settled {
        30
    } else {
        5
    })))
}

/// The pass for a VectorCluster being deleted: its objects go with it (owner references);
/// the data volumes stay or go as `storage.retentionPolicy` says.
pub async fn cleanup(vc: &VectorCluster, ctx: &Context) -> Result<Action, Error> {
    let names = Names::of(vc);
    let policy = vc.spec.storage.retention_policy.unwrap_or_default();
    let note = match policy {
        RetentionPolicy::Retain => "data volumes retained".to_string(),
        RetentionPolicy::Delete => {
            let claims: Api<PersistentVolumeClaim> =
                Api::namespaced(ctx.client.clone(), &names.namespace);
            let selector = format!("{CLUSTER_LABEL}={}", names.cluster);
            claims
                .delete_collection(
                    &DeleteParams::default(),
                    &ListParams::default().labels(&selector),
                )
                .await
                .map_err(kube_err("delete", "PersistentVolumeClaims", &selector))?;
            "data volumes deleted".to_string()
        }
    };
    tracing::info!(cluster = %names.cluster, ?policy, "VectorCluster deleted: {note}");
    publish(ctx, vc, EventType::Normal, "Deleted", "Cleanup", note).await;
    Ok(Action::await_change())
}

/// What the pass saw of the cluster.
struct Seen {
    statefulset: Option<StatefulSet>,
    /// Data pods, by ordinal.
    pods: Vec<PodView>,
    revisions: Vec<PodRevision>,
    /// Internal address of a data pod to ask about the cluster (`http://<pod-ip>:6335`).
    admin_uri: Option<String>,
    /// The cluster's view from that pod, when it answered.
    info: Option<ClusterInfo>,
    /// The peer ids the nodes reported in `status.nodes`, by pod name.
    reported: Vec<(String, u64)>,
    /// The cluster's own ShardPlacement, once the operator applied it.
    placement: Option<ShardPlacement>,
}

impl Seen {
    fn statefulset_replicas(&self) -> Option<i32> {
        self.statefulset.as_ref()?.spec.as_ref()?.replicas
    }

    fn rollout_view(&self) -> RolloutView {
        let status = self.statefulset.as_ref().and_then(|s| s.status.as_ref());
        let update = status.and_then(|s| s.update_revision.clone());
        let rolling = update.is_some()
            && self
                .revisions
                .iter()
                .any(|p| p.revision.is_some() && p.revision != update);
        RolloutView {
            replicas: self.statefulset_replicas(),
            rolling,
        }
    }

    /// The StatefulSet's current rolling-update partition.
    fn partition(&self) -> Option<i32> {
        let spec = self.statefulset.as_ref()?.spec.as_ref()?;
        spec.update_strategy
            .as_ref()?
            .rolling_update
            .as_ref()?
            .partition
    }

    /// Whether lowering the partition to `partition` restarts the pod at that ordinal (it
    /// does not when the StatefulSet merely shrinks to `replicas == partition`).
    fn restarts(&self, partition: i32, replicas: i32) -> bool {
        partition < replicas && self.partition().is_some_and(|p| partition < p)
    }

    fn rollout(&self, replicas: i32, vc: &VectorCluster, names: &Names) -> Rollout {
        let set = self.statefulset.as_ref();
        let partition = self.partition();
        let reports = vc
            .status
            .as_ref()
            .map(|s| s.nodes.as_slice())
            .unwrap_or_default();
        let now = Timestamp::now().as_second();
        let nodes_ready = (0..replicas).all(|ordinal| {
            reports.iter().any(|n| {
                n.name == names.pod(ordinal)
                    && n.ready == Some(true)
                    && n.last_heartbeat
                        .as_ref()
                        .is_some_and(|t| now - t.0.as_second() <= decide::HEARTBEAT_STALE_SECONDS)
            })
        });
        Rollout {
            update_revision: set.and_then(|s| s.status.as_ref()?.update_revision.clone()),
            partition,
            pods: self.revisions.clone(),
            nodes_ready,
        }
    }

    /// The cluster member a data pod runs: the peer registered with the pod's address, or
    /// the peer id the pod's node reported. `None` when the pod's node is no member (it
    /// never joined, or it left).
    fn member(&self, names: &Names, ordinal: i32) -> Option<&Peer> {
        let pod = names.pod(ordinal);
        let uri = names.peer_uri(&pod);
        let reported = self.reported_peer(&pod);
        let peers = &self.info.as_ref()?.peers;
        peers
            .iter()
            .find(|p| p.uri == uri || reported == Some(p.peer_id))
    }

    /// The admin address to act through, once a node there answered with the cluster's view.
    fn answering_admin(&self) -> Option<&String> {
        self.admin_uri.as_ref().filter(|_| self.info.is_some())
    }

    /// The peer id the node of `pod` reported in `status.nodes`.
    fn reported_peer(&self, pod: &str) -> Option<u64> {
        let reported = self.reported.iter().find(|(name, _)| name == pod);
        reported.map(|(_, id)| *id)
    }

    fn peer_id(&self, names: &Names, ordinal: i32) -> Option<u64> {
        self.member(names, ordinal).map(|p| p.peer_id)
    }
}

async fn observe(ctx: &Context, vc: &VectorCluster, names: &Names) -> Result<Seen, Error> {
    let sets: Api<StatefulSet> = Api::namespaced(ctx.client.clone(), &names.namespace);
    let statefulset = sets.get_opt(&names.cluster).await.map_err(kube_err(
        "get",
        "StatefulSet",
        &names.cluster,
    ))?;
    let listed = data_pods(ctx, names).await?;
    let admin_uri = admin_uri(&listed);
    let info = match &admin_uri {
        Some(uri) => match ctx.admin.cluster_info(uri).await {
            Ok(info) => Some(info),
            Err(error) => {
                tracing::warn!(cluster = %names.cluster, %error, "no cluster info");
                None
            }
        },
        None => None,
    };
    Ok(Seen {
        pods: listed.iter().map(pod_view).collect(),
        revisions: listed
            .iter()
            .map(|p| PodRevision {
                ordinal: ordinal(names, &p.name_any()).unwrap_or_default(),
                revision: p.labels().get("controller-revision-hash").cloned(),
                ready: pod_ready(p),
            })
            .collect(),
        statefulset,
        admin_uri,
        info,
        reported: reported_peers(vc),
        placement: own_placement(ctx, names).await?,
    })
}

fn reported_peers(vc: &VectorCluster) -> Vec<(String, u64)> {
    let nodes = vc.status.iter().flat_map(|s| &s.nodes);
    nodes
        .filter_map(|n| Some((n.name.clone(), n.peer_id.as_deref()?.parse().ok()?)))
        .collect()
}

async fn own_placement(ctx: &Context, names: &Names) -> Result<Option<ShardPlacement>, Error> {
    let api: Api<ShardPlacement> = Api::namespaced(ctx.client.clone(), &names.namespace);
    api.get_opt(&names.cluster)
        .await
        .map_err(kube_err("get", "ShardPlacement", &names.cluster))
}

/// The cluster's data pods, by ordinal.
pub(crate) async fn data_pods(ctx: &Context, names: &Names) -> Result<Vec<Pod>, Error> {
    let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), &names.namespace);
    let selector = format!("{CLUSTER_LABEL}={},{ROLE_LABEL}=data", names.cluster);
    let mut listed = pods
        .list(&ListParams::default().labels(&selector))
        .await
        .map_err(kube_err("list", "Pods", &selector))?
        .items;
    listed.retain(|p| ordinal(names, &p.name_any()).is_some());
    listed.sort_by_key(|p| ordinal(names, &p.name_any()));
    Ok(listed)
}

/// The internal address of the first ready data pod, to ask about the cluster through.
pub(crate) fn admin_uri(pods: &[Pod]) -> Option<String> {
    pods.iter()
        .filter(|p| pod_ready(p))
        .find_map(|p| p.status.as_ref()?.pod_ip.clone())
        .map(|ip| format!("http://{ip}:{P2P_PORT}"))
}

/// The ordinal of a data pod `<cluster>-<n>`.
fn ordinal(names: &Names, pod: &str) -> Option<i32> {
    pod.strip_prefix(&format!("{}-", names.cluster))?
        .parse()
        .ok()
}

fn pod_ready(pod: &Pod) -> bool {
    let status = pod.status.as_ref();
    status.and_then(|s| s.phase.as_deref()) == Some("Running")
        && status
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

fn pod_view(pod: &Pod) -> PodView {
    PodView {
        name: pod.name_any(),
        ready: pod_ready(pod),
        image: pod
            .spec
            .as_ref()
            .and_then(|s| s.containers.first())
            .and_then(|c| c.image.clone()),
    }
}

/// The scale decision, with the replication factor the cluster's collections need.
fn decide_scale(vc: &VectorCluster, names: &Names, seen: &Seen) -> ScaleDecision {
    let default_rf = vc
        .spec
        .collection_defaults
        .as_ref()
        .map_or(1, |d| d.replication_factor());
    let mut needed = (default_rf, "spec.collectionDefaults".to_string());
    let collections = seen.info.iter().flat_map(|i| &i.collections);
    for collection in collections {
        if collection.replication_factor > needed.0 {
            needed = (
                collection.replication_factor,
                format!("collection {:?}", collection.name),
            );
        }
    }
    // Without the cluster's view every pod may still be a member.
    let pods = 0..seen.statefulset_replicas().unwrap_or(0);
    let members: Vec<i32> = match &seen.info {
        Some(_) => pods.filter(|&o| seen.member(names, o).is_some()).collect(),
        None => pods.collect(),
    };
    decide::scale(
        seen.statefulset_replicas(),
        vc.spec.replicas,
        (needed.0, &needed.1),
        &members,
    )
}

/// Where the drain of the pods a scale-in removes stands.
enum Drain {
    /// Going on; how far each pod got.
    Progress(String),
    /// It cannot go on: reason and message for the Degraded condition.
    Blocked(&'static str, String),
}

/// Marks the peers of the pods to remove draining (`LeaveCluster`, idempotent: repeating it
/// follows the drain), with an Event when a pod's drain starts.
async fn drain(
    ctx: &Context,
    vc: &VectorCluster,
    names: &Names,
    seen: &Seen,
    ordinals: &[i32],
) -> Result<Drain, Error> {
    let pods: Vec<String> = ordinals.iter().map(|&o| names.pod(o)).collect();
    let Some(uri) = seen.answering_admin() else {
        let message = format!(
            "no ready data node answers to drain {} through",
            pods.join(", ")
        );
        return Ok(Drain::Blocked("DrainBlocked", message));
    };
    let mut progress = Vec::new();
    for (&ordinal, pod) in ordinals.iter().zip(&pods) {
        // `scale` only drains members.
        let Some(peer) = seen.member(names, ordinal) else {
            continue;
        };
        let reply = match ctx.admin.leave_cluster(uri, peer.peer_id).await {
            Ok(reply) => reply,
            Err(error) => {
                let (reason, message) = drain_refusal(&pods, &error);
                return Ok(Drain::Blocked(reason, message));
            }
        };
        tracing::info!(
            %pod, peer = peer.peer_id, remaining = reply.remaining_replicas,
            removed = reply.removed, "draining"
        );
        if !peer.draining {
            let note = format!(
                "draining {pod} (peer {}): moving its {} replicas to the other data nodes",
                peer.peer_id, peer.replicas
            );
            let event = (EventType::Normal, "DrainStarted", "Drain");
            publish_about_pod(ctx, vc, names, pod, event, note).await;
        }
        progress.push(if reply.removed {
            format!("{pod} left the cluster")
        } else {
            format!("{pod} has {} replicas left", reply.remaining_replicas)
        });
    }
    Ok(Drain::Progress(format!(
        "scale-in to {} data nodes waits for the drain: {}",
        vc.spec.replicas,
        progress.join(", ")
    )))
}

/// Stops the drains of the pods a scale back out keeps (`CancelDrain`), with an Event: their
/// peers stay, and the cluster's Balanced ShardPlacement gives them back their share. A
/// failed call is repeated on the next pass.
async fn cancel_drains(
    ctx: &Context,
    vc: &VectorCluster,
    names: &Names,
    seen: &Seen,
) -> Result<(), Error> {
    let Some(uri) = seen.answering_admin() else {
        return Ok(());
    };
    let draining: BTreeMap<i32, u64> = (0..seen.statefulset_replicas().unwrap_or(0))
        .filter_map(|o| Some((o, seen.member(names, o).filter(|p| p.draining)?.peer_id)))
        .collect();
    let ordinals: Vec<i32> = draining.keys().copied().collect();
    for ordinal in decide::drains_to_cancel(vc.spec.replicas, &ordinals) {
        let (pod, peer_id) = (names.pod(ordinal), draining[&ordinal]);
        if let Err(error) = ctx.admin.cancel_drain(uri, peer_id).await {
            tracing::warn!(%pod, peer_id, %error, "cancelling the drain failed; retrying");
            continue;
        }
        tracing::info!(%pod, peer_id, "drain cancelled");
        let note = format!(
            "{pod} stays: spec.replicas is {} again, so its drain stopped (peer {peer_id})",
            vc.spec.replicas
        );
        let event = (EventType::Normal, "DrainCancelled", "Drain");
        publish_about_pod(ctx, vc, names, &pod, event, note).await;
    }
    Ok(())
}

/// Takes back into the cluster the pods the spec keeps whose peers left (`JoinCluster` with
/// the peer id each node reported), with an Event: a drain that finished just before a scale
/// back out, or a peer removed by hand, would otherwise leave a running pod that holds
/// nothing and never joins again. A failed call is repeated on the next pass.
async fn rejoin_departed(
    ctx: &Context,
    vc: &VectorCluster,
    names: &Names,
    seen: &Seen,
) -> Result<(), Error> {
    let Some(uri) = seen.answering_admin() else {
        return Ok(());
    };
    let pods: Vec<PodMembership> = seen
        .pods
        .iter()
        .filter_map(|pod| {
            let ordinal = ordinal(names, &pod.name)?;
            Some(PodMembership {
                ordinal,
                reported_peer: seen.reported_peer(&pod.name),
                member: seen.member(names, ordinal).is_some(),
            })
        })
        .collect();
    for (ordinal, peer_id) in decide::pods_to_rejoin(vc.spec.replicas, &pods) {
        let pod = names.pod(ordinal);
        if let Err(error) = ctx.admin.rejoin(uri, peer_id, &names.peer_uri(&pod)).await {
            tracing::warn!(%pod, peer_id, %error, "taking the peer back failed; retrying");
            continue;
        }
        tracing::info!(%pod, peer_id, "peer rejoined");
        let note = format!(
            "{pod} rejoined the cluster as peer {peer_id}: its peer had left, and \
             spec.replicas ({}) keeps the pod",
            vc.spec.replicas
        );
        let event = (EventType::Normal, "Rejoined", "Join");
        publish_about_pod(ctx, vc, names, &pod, event, note).await;
    }
    Ok(())
}

fn pod_ref(names: &Names, pod: &str) -> ObjectReference {
    ObjectReference {
        api_version: Some("v1".into()),
        kind: Some("Pod".into()),
        name: Some(pod.into()),
        namespace: Some(names.namespace.clone()),
        ..Default::default()
    }
}

fn drain_refusal(pods: &[String], error: &AdminError) -> (&'static str, String) {
    let pods = pods.join(", ");
    if error.is_unimplemented() {
        return (
            "DrainUnsupported",
            format!(
                "scale-in needs {pods} drained first, and these grape-nodes cannot drain yet \
                 (LeaveCluster is not implemented)"
            ),
        );
    }
    ("DrainFailed", format!("draining {pods}: {error}"))
}

/// Before the pod at ordinal `partition` restarts on the new revision, moves its shard
/// leaderships away so that writes do not wait for an election. Nodes that predate
/// `TransferLeadership` still hand off in their own graceful shutdown.
async fn prepare_restart(ctx: &Context, names: &Names, seen: &Seen, partition: i32) {
    let (Some(uri), Some(peer)) = (&seen.admin_uri, seen.peer_id(names, partition)) else {
        return;
    };
    match ctx.admin.transfer_leadership_away(uri, peer).await {
        Ok(remaining) => {
            tracing::info!(pod = %names.pod(partition), remaining, "leadership moved away")
        }
        Err(error) if error.is_unimplemented() => {
            tracing::debug!(pod = %names.pod(partition), "nodes cannot transfer leadership yet")
        }
        Err(error) => {
            tracing::warn!(pod = %names.pod(partition), %error, "leadership transfer failed")
        }
    }
}

/// Server-side applies every desired object.
async fn apply_objects(
    vc: &VectorCluster,
    ctx: &Context,
    names: &Names,
    replicas: i32,
    partition: i32,
) -> Result<(), Error> {
    let ns = &names.namespace;
    apply_one(ctx, ns, build::service_account(vc)).await?;
    apply_one(ctx, ns, build::role(vc)).await?;
    apply_one(ctx, ns, build::role_binding(vc)).await?;
    apply_one(ctx, ns, build::config_map(vc)).await?;
    apply_one(ctx, ns, build::headless_service(vc)).await?;
    apply_one(ctx, ns, build::client_service(vc)).await?;
    apply_one(ctx, ns, build::pod_disruption_budget(vc)).await?;
    apply_one(ctx, ns, build::statefulset(vc, replicas, partition)).await?;
    match build::query_deployment(vc) {
        Some(deployment) => apply_one(ctx, ns, deployment).await,
        None => delete_query_nodes(ctx, names).await,
    }
}

async fn apply_one<K>(ctx: &Context, namespace: &str, object: K) -> Result<(), Error>
where
    K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>
        + Serialize
        + DeserializeOwned
        + Clone
        + std::fmt::Debug,
{
    let api: Api<K> = Api::namespaced(ctx.client.clone(), namespace);
    let name = object.name_any();
    api.patch(
        &name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&object),
    )
    .await
    .map_err(kube_err("apply", &K::kind(&()), &name))?;
    Ok(())
}

/// Removes the query Deployment once `spec.queryNodes` drops to 0.
async fn delete_query_nodes(ctx: &Context, names: &Names) -> Result<(), Error> {
    let api: Api<Deployment> = Api::namespaced(ctx.client.clone(), &names.namespace);
    match api.delete(&names.query(), &DeleteParams::default()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(source) => Err(kube_err("delete", "Deployment", &names.query())(source)),
    }
}

/// Kubernetes Events for what this pass changed.
async fn announce(
    vc: &VectorCluster,
    ctx: &Context,
    seen: &Seen,
    previous: &VectorClusterStatus,
    status: &VectorClusterStatus,
    replicas: i32,
    partition: i32,
) {
    let names = Names::of(vc);
    if vc.spec.paused {
        return;
    }
    match seen.statefulset_replicas() {
        None => {
            let note = format!("{replicas} data nodes, image {}", vc.spec.image);
            publish(ctx, vc, EventType::Normal, "Created", "Create", note).await;
        }
        Some(before) if before > replicas => {
            let gone: Vec<String> = (replicas..before).map(|o| names.pod(o)).collect();
            let note = format!(
                "data nodes {before} → {replicas}: {} drained and removed from the cluster",
                gone.join(", ")
            );
            // Each step of a scale-in is its own Event, told apart by the pod it removes.
            let event = (EventType::Normal, "Scaled", "Scale");
            publish_about_pod(ctx, vc, &names, &names.pod(replicas), event, note).await;
        }
        Some(before) if before != replicas => {
            let note = format!("data nodes {before} → {replicas}");
            publish(ctx, vc, EventType::Normal, "Scaled", "Scale", note).await;
        }
        Some(_) => {}
    }
    if seen.restarts(partition, replicas) {
        let note = format!("restarting {} on the new revision", names.pod(partition));
        publish(ctx, vc, EventType::Normal, "UpgradeStep", "Upgrade", note).await;
    }
    let degraded = |s: &VectorClusterStatus| {
        s.conditions
            .iter()
            .find(|c| c.type_ == "Degraded" && c.status == "True")
            .map(|c| (c.reason.clone(), c.message.clone()))
    };
    if let Some((reason, message)) =
        degraded(status).filter(|d| degraded(previous).as_ref() != Some(d))
    {
        publish(ctx, vc, EventType::Warning, &reason, "Reconcile", message).await;
    }
}

async fn publish(
    ctx: &Context,
    vc: &VectorCluster,
    type_: EventType,
    reason: &str,
    action: &str,
    note: String,
) {
    publish_on(
        ctx,
        &vc.object_ref(&()),
        None,
        (type_, reason, action),
        note,
    )
    .await
}

/// An Event about the VectorCluster that names one of its pods as the related object.
async fn publish_about_pod(
    ctx: &Context,
    vc: &VectorCluster,
    names: &Names,
    pod: &str,
    event: (EventType, &str, &str),
    note: String,
) {
    let pod = Some(pod_ref(names, pod));
    publish_on(ctx, &vc.object_ref(&()), pod, event, note).await
}

/// Publishes an Event (type, reason, action) about the object `reference`. Events with the
/// same reason about the same objects fold into one series, so a step about one of several
/// objects names it as `related`.
///
/// Events only report, so a failure to publish one is logged and the reconcile goes on: in a
/// namespace being deleted the API server refuses new Events, and the finalizer that lets
/// the namespace go must still run.
pub(crate) async fn publish_on(
    ctx: &Context,
    reference: &ObjectReference,
    related: Option<ObjectReference>,
    (type_, reason, action): (EventType, &str, &str),
    note: String,
) {
    let type_label = match type_ {
        EventType::Normal => "Normal",
        EventType::Warning => "Warning",
    };
    ctx.metrics.event_published(type_label, reason);
    let event = Event {
        type_,
        reason: reason.into(),
        note: Some(note),
        action: action.into(),
        secondary: related,
    };
    if let Err(error) = ctx.recorder.publish(&event, reference).await {
        tracing::warn!(%error, reason, object = reference.name.as_deref().unwrap_or_default(), "publishing an event failed");
    }
}

/// Once the cluster runs at a new size with every node ready, (re)applies its Balanced
/// ShardPlacement, whose controller then moves shards onto the new nodes.
async fn request_rebalance(
    vc: &VectorCluster,
    ctx: &Context,
    seen: &Seen,
    status: &VectorClusterStatus,
) -> Result<(), Error> {
    let available = status
        .conditions
        .iter()
        .any(|c| c.type_ == "Available" && c.status == "True");
    let placed_for = seen.placement.as_ref().and_then(build::placed_for);
    let due = decide::rebalance_due(
        vc.spec.replicas,
        seen.statefulset_replicas(),
        status.ready_replicas.unwrap_or(0),
        available,
        placed_for,
    );
    if !due {
        return Ok(());
    }
    let names = Names::of(vc);
    apply_one(
        ctx,
        &names.namespace,
        build::shard_placement(vc, vc.spec.replicas),
    )
    .await?;
    let note = format!(
        "{} data nodes ready: ShardPlacement {} balances the shards over them",
        vc.spec.replicas, names.cluster
    );
    publish(
        ctx,
        vc,
        EventType::Normal,
        "RebalanceRequested",
        "Rebalance",
        note,
    )
    .await;
    Ok(())
}

/// Removes the `status.nodes` entries of pods that are gone. Each entry belongs to its node's
/// field manager (`grape-node-<pod>`), so applying an empty list as that manager deletes it.
async fn forget_departed(
    vc: &VectorCluster,
    ctx: &Context,
    seen: &Seen,
    previous: &VectorClusterStatus,
) -> Result<(), Error> {
    let no_nodes = serde_json::json!({ "nodes": [] });
    for pod in decide::departed_reports(&previous.nodes, &seen.pods, Timestamp::now()) {
        apply_status(vc, ctx, &format!("grape-node-{pod}"), &no_nodes).await?;
        tracing::info!(cluster = %vc.name_any(), pod, "removed the report of a departed node");
    }
    Ok(())
}

/// Applies the operator's part of the status (never `nodes`: those entries are the nodes').
async fn write_status(
    vc: &VectorCluster,
    ctx: &Context,
    status: &VectorClusterStatus,
) -> Result<(), Error> {
    apply_status(vc, ctx, FIELD_MANAGER, status).await
}

/// Server-side applies `status` to the VectorCluster's status as `manager`.
async fn apply_status(
    vc: &VectorCluster,
    ctx: &Context,
    manager: &str,
    status: &impl Serialize,
) -> Result<(), Error> {
    let names = Names::of(vc);
    let api: Api<VectorCluster> = Api::namespaced(ctx.client.clone(), &names.namespace);
    let body = serde_json::json!({
        "apiVersion": VectorCluster::api_version(&()),
        "kind": VectorCluster::kind(&()),
        "status": status,
    });
    api.patch_status(
        &names.cluster,
        &PatchParams::apply(manager).force(),
        &Patch::Apply(body),
    )
    .await
    .map_err(kube_err("patch status of", "VectorCluster", &names.cluster))?;
    Ok(())
}
