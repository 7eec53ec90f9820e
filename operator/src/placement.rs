//! The ShardPlacement controller: one pass reads the cluster through a ready data pod's
//! admin service (peers, replicas, transfers, and for `Balanced` the cluster's own plan),
//! lets [`decide::step`] choose the phase and whether to move, starts the moves
//! (`Rebalance`, or `TransferShard` for `Manual`), and writes the status. Every call is
//! idempotent and the cluster records its transfers, so a pass that dies halfway is simply
//! repeated.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use grape_proto::cluster::{ClusterInfo, ReplicaState, TransferShardRequest};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::runtime::controller::{self, Action, Controller};
use kube::runtime::events::EventType;
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};

use crate::admin::RebalanceScope;
use crate::build::Names;
use crate::crd::{
    Approval, PlacementMode, PlacementPhase, PlannedMove, ShardPlacement, ShardPlacementStatus,
    VectorCluster,
};
use crate::decide::{self, PlacementStep, PlacementView, Transfer, APPROVE_ANNOTATION};
use crate::metrics::Kind;
use crate::reconcile::{self, kube_err, publish_on, Context, Error};
use crate::FIELD_MANAGER;

/// Runs the controller over `namespace` (`None`: all namespaces) until the process is asked
/// to stop.
pub async fn run(ctx: Arc<Context>, namespace: Option<&str>) {
    let placements: Api<ShardPlacement> = crate::controller::scoped(&ctx.client, namespace);
    // Our own status writes wake the controller too; the debounce folds them together.
    let config = controller::Config::default().debounce(Duration::from_secs(1));
    Controller::new(placements, watcher::Config::default().any_semantic())
        .with_config(config)
        .shutdown_on_signal()
        .run(reconcile, error_policy, ctx)
        .for_each(|result| async move {
            match result {
                Ok((object, _)) => tracing::debug!(%object, "placement reconciled"),
                Err(error) => tracing::warn!(%error, "placement reconcile failed"),
            }
        })
        .await;
}

fn error_policy(sp: Arc<ShardPlacement>, error: &Error, ctx: Arc<Context>) -> Action {
    ctx.metrics
        .reconcile_failed(Kind::ShardPlacement, error.kind());
    tracing::warn!(placement = %sp.name_any(), %error, "placement reconcile failed; retrying");
    Action::requeue(Duration::from_secs(10))
}

/// The cluster a placement acts on, as one of its ready data pods sees it.
struct Target {
    names: Names,
    uri: String,
    info: ClusterInfo,
}

/// Why a pass cannot act (reason, message), and whether the spec itself is at fault.
struct Obstacle {
    reason: &'static str,
    message: String,
    failed: bool,
}

impl Obstacle {
    fn passing(reason: &'static str, message: String) -> Obstacle {
        Obstacle {
            reason,
            message,
            failed: false,
        }
    }

    /// The spec cannot be carried out as it stands.
    fn invalid(message: String) -> Obstacle {
        Obstacle {
            reason: "InvalidPlacement",
            message,
            failed: true,
        }
    }
}

async fn reconcile(sp: Arc<ShardPlacement>, ctx: Arc<Context>) -> Result<Action, Error> {
    let _timer = ctx.metrics.reconcile_started(Kind::ShardPlacement);
    let previous = sp.status.clone().unwrap_or_default();
    let now = Timestamp::now();
    let generation = sp.metadata.generation;
    let (status, clear_approval) = match pass(&sp, &ctx, &previous, now).await? {
        Ok(step) => (step.status, step.clear_approval),
        Err(o) => {
            let status = decide::blocked(
                &previous,
                generation,
                now,
                (o.reason, o.message.as_str()),
                o.failed,
            );
            (status, false)
        }
    };
    let namespace = sp.namespace().unwrap_or_default();
    ctx.metrics
        .set_planned_moves(&namespace, &sp.name_any(), status.plan.len());
    announce(&sp, &ctx, &previous, &status).await;
    if status != previous {
        write_status(&sp, &ctx, &status).await?;
    }
    if clear_approval {
        remove_approval(&sp, &ctx).await?;
    }
    Ok(Action::requeue(Duration::from_secs(match status.phase {
        Some(PlacementPhase::Moving) => 2,
        Some(PlacementPhase::Balanced) => 30,
        Some(PlacementPhase::Failed) => 60,
        _ => 5,
    })))
}

/// Reads the cluster, decides and starts the moves; `Err(obstacle)` when it cannot.
async fn pass(
    sp: &ShardPlacement,
    ctx: &Context,
    previous: &ShardPlacementStatus,
    now: Timestamp,
) -> Result<Result<PlacementStep, Obstacle>, Error> {
    let target = match target(sp, ctx).await? {
        Ok(target) => target,
        Err(obstacle) => return Ok(Err(obstacle)),
    };
    Ok(match rebalance_scope(sp, ctx).await? {
        Ok(scope) => act(sp, ctx, &target, &scope, previous, now).await,
        Err(obstacle) => Err(obstacle),
    })
}

/// The collections the placement acts on: its own (or every one), and for a Balanced one
/// not those the cluster's Manual placements pin.
async fn rebalance_scope(
    sp: &ShardPlacement,
    ctx: &Context,
) -> Result<Result<RebalanceScope, Obstacle>, Error> {
    if sp.spec.mode == PlacementMode::Manual {
        return Ok(Ok(RebalanceScope {
            collection: sp.spec.collection.clone().unwrap_or_default(),
            excluded: Vec::new(),
        }));
    }
    let namespace = sp.namespace().unwrap_or_else(|| "default".into());
    let api: Api<ShardPlacement> = Api::namespaced(ctx.client.clone(), &namespace);
    let placements = api.list(&ListParams::default()).await.map_err(kube_err(
        "list",
        "ShardPlacements",
        &namespace,
    ))?;
    let pinned: Vec<(String, Option<String>)> = placements
        .items
        .iter()
        .filter(|p| {
            p.spec.cluster_ref == sp.spec.cluster_ref && p.spec.mode == PlacementMode::Manual
        })
        .map(|p| (p.name_any(), p.spec.collection.clone()))
        .collect();
    let scope = decide::balanced_scope(sp.spec.collection.as_deref(), &pinned);
    Ok(scope.map_err(|message| Obstacle::passing("PinnedManually", message)))
}

async fn act(
    sp: &ShardPlacement,
    ctx: &Context,
    target: &Target,
    scope: &RebalanceScope,
    previous: &ShardPlacementStatus,
    now: Timestamp,
) -> Result<PlacementStep, Obstacle> {
    let pods = decide::pods_of_peers(&target.info, &target.names);
    let manual = match sp.spec.mode {
        PlacementMode::Balanced => None,
        PlacementMode::Manual => Some(manual_plan(sp, target, &pods).map_err(Obstacle::invalid)?),
    };
    let planned: Vec<PlannedMove> = match &manual {
        Some(transfers) => transfers.iter().map(Transfer::planned_move).collect(),
        None => balanced_plan(ctx, target, scope, &pods).await?,
    };
    let running = running_moves(&target.info, &pods, scope);
    let held = held_replicas(&target.info, &pods);
    let step = decide::step(&PlacementView {
        generation: sp.metadata.generation,
        automatic: sp.spec.approval != Some(Approval::Manual),
        approved: approved(sp),
        planned: &planned,
        running: &running,
        held: &held,
        previous,
        now,
    });
    if step.start_moves {
        let started = match &manual {
            Some(transfers) => start_transfers(sp, ctx, target, &pods, transfers).await,
            None => {
                let limit = sp.spec.max_concurrent_moves.unwrap_or(1);
                let plan = ctx.admin.rebalance(&target.uri, scope, limit).await;
                plan.map(|_| ())
            }
        };
        started.map_err(|e| Obstacle::passing("MoveFailed", e.to_string()))?;
    }
    Ok(step)
}

/// Balanced mode: the moves the cluster's planner wants (pod names).
async fn balanced_plan(
    ctx: &Context,
    target: &Target,
    scope: &RebalanceScope,
    pods: &BTreeMap<u64, String>,
) -> Result<Vec<PlannedMove>, Obstacle> {
    let plan = ctx
        .admin
        .plan_rebalance(&target.uri, scope)
        .await
        .map_err(|e| Obstacle::passing("PlanFailed", e.to_string()))?;
    let moves = plan.moves.iter().map(|m| PlannedMove {
        collection: m.collection.clone(),
        shard: m.shard_id,
        from: pod_name(pods, m.from_peer_id),
        to: pod_name(pods, m.to_peer_id),
        state: None,
        points_done: None,
        points_total: None,
    });
    Ok(moves.collect())
}

/// The transfers in flight in the scope's collections, with their progress.
fn running_moves(
    info: &ClusterInfo,
    pods: &BTreeMap<u64, String>,
    scope: &RebalanceScope,
) -> Vec<PlannedMove> {
    info.transfers
        .iter()
        .filter(|t| scope.covers(&t.collection))
        .map(|t| {
            let progress = t.progress.clone().unwrap_or_default();
            PlannedMove {
                collection: t.collection.clone(),
                shard: t.shard_id,
                from: pod_name(pods, t.from_peer_id),
                to: pod_name(pods, t.to_peer_id),
                state: None,
                points_done: Some(progress.points_done),
                points_total: Some(progress.points_total),
            }
        })
        .collect()
}

/// The placement's VectorCluster and the view of one of its ready data pods.
async fn target(sp: &ShardPlacement, ctx: &Context) -> Result<Result<Target, Obstacle>, Error> {
    let namespace = sp.namespace().unwrap_or_else(|| "default".into());
    let clusters: Api<VectorCluster> = Api::namespaced(ctx.client.clone(), &namespace);
    let name = &sp.spec.cluster_ref;
    let Some(vc) = clusters
        .get_opt(name)
        .await
        .map_err(kube_err("get", "VectorCluster", name))?
    else {
        let message = format!("VectorCluster {name} does not exist");
        return Ok(Err(Obstacle::passing("ClusterNotFound", message)));
    };
    if vc.spec.paused {
        let message = format!("VectorCluster {name} is paused");
        return Ok(Err(Obstacle::passing("ClusterPaused", message)));
    }
    let names = Names::of(&vc);
    let pods = reconcile::data_pods(ctx, &names).await?;
    let Some(uri) = reconcile::admin_uri(&pods) else {
        let message = format!("no data pod of {name} is ready");
        return Ok(Err(Obstacle::passing("NoNodeReachable", message)));
    };
    match ctx.admin.cluster_info(&uri).await {
        Ok(info) => Ok(Ok(Target { names, uri, info })),
        Err(e) => Ok(Err(Obstacle::passing("NoNodeReachable", e.to_string()))),
    }
}

/// Manual mode: the transfers still needed to put each shard on its named nodes.
fn manual_plan(
    sp: &ShardPlacement,
    target: &Target,
    pods: &BTreeMap<u64, String>,
) -> Result<Vec<Transfer>, String> {
    let wanted = sp.spec.shards.as_deref().unwrap_or_default();
    let shards = decide::settled_shards(&target.info, pods);
    let members: BTreeSet<String> = pods.values().cloned().collect();
    decide::manual_transfers(wanted, sp.spec.collection.as_deref(), &shards, &members)
}

/// Starts the Manual transfers that may run now.
async fn start_transfers(
    sp: &ShardPlacement,
    ctx: &Context,
    target: &Target,
    pods: &BTreeMap<u64, String>,
    transfers: &[Transfer],
) -> Result<(), crate::admin::AdminError> {
    let busy: BTreeSet<(String, u32)> = target
        .info
        .transfers
        .iter()
        .map(|t| (t.collection.clone(), t.shard_id))
        .collect();
    let limit = sp.spec.max_concurrent_moves.unwrap_or(1) as usize;
    let peer = |pod: &str| pods.iter().find(|(_, p)| *p == pod).map(|(id, _)| *id);
    for t in decide::transfers_to_start(transfers, &busy, limit) {
        let (Some(from), Some(to)) = (peer(&t.from), peer(&t.to)) else {
            continue;
        };
        tracing::info!(collection = %t.collection, shard = t.shard, from = %t.from, to = %t.to,
            copy = t.copy, "starting a transfer");
        let request = TransferShardRequest {
            collection: t.collection.clone(),
            shard_id: t.shard,
            from_peer_id: from,
            to_peer_id: to,
            copy: t.copy,
        };
        ctx.admin.start_transfer(&target.uri, request).await?;
    }
    Ok(())
}

fn pod_name(pods: &BTreeMap<u64, String>, peer: u64) -> String {
    pods.get(&peer)
        .cloned()
        .unwrap_or_else(|| format!("peer-{peer}"))
}

/// Active replicas, as (collection, shard, pod).
fn held_replicas(
    info: &ClusterInfo,
    pods: &BTreeMap<u64, String>,
) -> BTreeSet<(String, u32, String)> {
    let active = ReplicaState::Active as i32;
    info.collections
        .iter()
        .flat_map(|c| c.shards.iter().map(move |s| (c, s)))
        .flat_map(|(c, s)| {
            s.replicas
                .iter()
                .filter(move |r| r.state == active)
                .map(move |r| (c.name.clone(), s.shard_id, pod_name(pods, r.peer_id)))
        })
        .collect()
}

fn approved(sp: &ShardPlacement) -> bool {
    sp.annotations().get(APPROVE_ANNOTATION).map(String::as_str) == Some("true")
}

/// An Event for each phase the placement enters.
async fn announce(
    sp: &ShardPlacement,
    ctx: &Context,
    previous: &ShardPlacementStatus,
    status: &ShardPlacementStatus,
) {
    if status.phase == previous.phase {
        return;
    }
    let message = status
        .conditions
        .iter()
        .find(|c| c.type_ == "Ready")
        .map(|c| c.message.clone())
        .unwrap_or_default();
    let (type_, reason) = match status.phase {
        Some(PlacementPhase::Failed) => (EventType::Warning, "PlacementFailed"),
        Some(PlacementPhase::PlanReady) => (EventType::Normal, "PlanReady"),
        Some(PlacementPhase::Moving) => (EventType::Normal, "MovingReplicas"),
        Some(PlacementPhase::Balanced) => (EventType::Normal, "Balanced"),
        Some(PlacementPhase::Pending) | None => (EventType::Normal, "Pending"),
    };
    publish_on(
        ctx,
        &sp.object_ref(&()),
        None,
        (type_, reason, "Place"),
        message,
    )
    .await;
}

async fn write_status(
    sp: &ShardPlacement,
    ctx: &Context,
    status: &ShardPlacementStatus,
) -> Result<(), Error> {
    let name = sp.name_any();
    let api: Api<ShardPlacement> =
        Api::namespaced(ctx.client.clone(), &sp.namespace().unwrap_or_default());
    let body = serde_json::json!({
        "apiVersion": ShardPlacement::api_version(&()),
        "kind": ShardPlacement::kind(&()),
        "status": status,
    });
    api.patch_status(
        &name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(body),
    )
    .await
    .map_err(kube_err("patch status of", "ShardPlacement", &name))?;
    Ok(())
}

/// Removes the approval annotation once its plan was carried out (a merge patch: the
/// annotation is the user's, not part of what the operator applies).
async fn remove_approval(sp: &ShardPlacement, ctx: &Context) -> Result<(), Error> {
    let name = sp.name_any();
    let api: Api<ShardPlacement> =
        Api::namespaced(ctx.client.clone(), &sp.namespace().unwrap_or_default());
    let patch = serde_json::json!({"metadata": {"annotations": {APPROVE_ANNOTATION: null}}});
    api.patch(&name, &PatchParams::default(), &Patch::Merge(patch))
        .await
        .map_err(kube_err("remove the approval of", "ShardPlacement", &name))?;
    Ok(())
}
