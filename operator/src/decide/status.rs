//! The VectorCluster's status, derived from the StatefulSet, the data pods and the nodes'
//! own reports (`status.nodes`). The nodes' entries are theirs: the operator never writes
//! `nodes`, only reads them.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use k8s_openapi::jiff::Timestamp;

use super::condition::condition as make_condition;
use crate::crd::{ClusterPhase, NodeStatus, VectorClusterStatus};

/// A node report older than this no longer counts (nodes report every few seconds).
pub const HEARTBEAT_STALE_SECONDS: i64 = 30;

/// A data pod as the status needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodView {
    pub name: String,
    pub ready: bool,
    pub image: Option<String>,
}

/// The StatefulSet as the status needs it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RolloutView {
    /// `spec.replicas` of the StatefulSet (`None` before it exists).
    pub replicas: Option<i32>,
    /// A new revision is being rolled out.
    pub rolling: bool,
}

/// Everything the status is computed from.
#[derive(Debug, Clone)]
pub struct Observed<'a> {
    pub generation: Option<i64>,
    pub desired_replicas: i32,
    pub image: &'a str,
    pub paused: bool,
    pub statefulset: RolloutView,
    pub pods: &'a [PodView],
    pub nodes: &'a [NodeStatus],
    /// Why the operator refuses to do what the spec asks (reason, message), if it does.
    pub refusal: Option<(&'a str, &'a str)>,
    /// How the drain of the pods a scale-in removes is going, while it runs.
    pub draining: Option<&'a str>,
    pub previous: &'a VectorClusterStatus,
    pub now: Timestamp,
}

/// The status the operator writes: everything but `nodes`.
pub fn aggregate(o: &Observed) -> VectorClusterStatus {
    let health = Health::of(o);
    let progressing = progress(o, &health);
    let degraded = match (o.refusal, &progressing, health.available) {
        (Some((reason, message)), _, _) => (true, reason.to_string(), message.to_string()),
        (None, None, false) => (true, health.reason.to_string(), health.message.clone()),
        _ => (false, "AsExpected".into(), "nothing needs attention".into()),
    };
    let phase = phase(o, &health, progressing.as_ref(), degraded.0);
    let (progress_reason, progress_message) = progressing
        .clone()
        .unwrap_or_else(|| ("Reconciled".into(), "the cluster matches its spec".into()));
    let conditions = vec![
        condition(
            o,
            "Available",
            health.available,
            health.reason,
            &health.message,
        ),
        condition(
            o,
            "Progressing",
            progressing.is_some(),
            &progress_reason,
            &progress_message,
        ),
        condition(o, "Degraded", degraded.0, &degraded.1, &degraded.2),
    ];
    VectorClusterStatus {
        phase: Some(phase),
        conditions,
        ready_replicas: Some(health.ready_pods),
        current_image: current_image(o),
        target_image: Some(o.image.to_string()),
        raft_leader: health.leader.clone(),
        nodes: Vec::new(),
    }
}

/// Whether the data nodes serve as one cluster, and if not, why.
struct Health {
    available: bool,
    ready_pods: i32,
    leader: Option<String>,
    reason: &'static str,
    message: String,
    /// The cluster was never available yet (still being created).
    creating: bool,
}

impl Health {
    fn of(o: &Observed) -> Health {
        let ready_pods = o.pods.iter().filter(|p| p.ready).count() as i32;
        let fresh: Vec<&NodeStatus> = o
            .nodes
            .iter()
            .filter(|n| is_fresh(n, o.now) && o.pods.iter().any(|p| p.name == n.name))
            .collect();
        let reporting = fresh.iter().filter(|n| n.ready == Some(true)).count() as i32;
        let leaders: Vec<&str> = fresh
            .iter()
            .filter(|n| n.role.as_deref() == Some("Leader"))
            .map(|n| n.name.as_str())
            .collect();
        let want = o.desired_replicas;
        let (reason, message) = if ready_pods < want {
            (
                "NodesNotReady",
                format!("{ready_pods} of {want} data pods are ready"),
            )
        } else if reporting < want {
            (
                "NodesNotReporting",
                format!("{reporting} of {want} data nodes report themselves ready"),
            )
        } else if leaders.len() != 1 {
            (
                "NoRaftLeader",
                format!("{} nodes report leading the metadata group", leaders.len()),
            )
        } else {
            (
                "AllNodesReady",
                format!("{want} data nodes ready in one Raft cluster"),
            )
        };
        let available = reason == "AllNodesReady";
        let was_available = o
            .previous
            .conditions
            .iter()
            .any(|c| c.type_ == "Available" && (c.status == "True" || c.reason != "Creating"));
        Health {
            available,
            ready_pods,
            leader: leaders.first().map(|l| l.to_string()),
            reason: if available || was_available {
                reason
            } else {
                "Creating"
            },
            message,
            creating: !available && !was_available,
        }
    }
}

/// Why the cluster is moving towards its spec, if it is.
fn progress(o: &Observed, health: &Health) -> Option<(String, String)> {
    let want = o.desired_replicas;
    if let Some(message) = o.draining {
        return Some(("Draining".into(), message.to_string()));
    }
    if o.statefulset.rolling {
        return Some((
            "RollingUpdate".into(),
            format!("rolling out image {}", o.image),
        ));
    }
    let have = o.statefulset.replicas.unwrap_or(0);
    if have != want || o.pods.len() as i32 != want {
        return Some((
            "Scaling".into(),
            format!("{} data pods, {want} wanted", o.pods.len()),
        ));
    }
    if health.creating {
        return Some(("Creating".into(), health.message.clone()));
    }
    None
}

fn phase(
    o: &Observed,
    health: &Health,
    progressing: Option<&(String, String)>,
    degraded: bool,
) -> ClusterPhase {
    match progressing.map(|p| p.0.as_str()) {
        _ if o.paused => ClusterPhase::Paused,
        _ if degraded => ClusterPhase::Degraded,
        Some("RollingUpdate") => ClusterPhase::Upgrading,
        Some("Scaling" | "Draining") => ClusterPhase::Scaling,
        Some(_) => ClusterPhase::Creating,
        None if health.available => ClusterPhase::Running,
        None => ClusterPhase::Degraded,
    }
}

fn condition(o: &Observed, type_: &str, status: bool, reason: &str, message: &str) -> Condition {
    let previous = &o.previous.conditions;
    make_condition(
        previous,
        o.generation,
        o.now,
        type_,
        status,
        reason,
        message,
    )
}

/// The image every data pod runs, once they all run the same one; until then the last known.
fn current_image(o: &Observed) -> Option<String> {
    let first = o.pods.first().and_then(|p| p.image.clone());
    let uniform = !o.pods.is_empty() && o.pods.iter().all(|p| p.image == first);
    if uniform && !o.statefulset.rolling {
        first
    } else {
        o.previous.current_image.clone()
    }
}

/// The node reports to remove from `status.nodes`: their pod is gone (scaled in) and they
/// have not reported for [`HEARTBEAT_STALE_SECONDS`], so a pod being recreated under the same
/// name keeps its entry.
pub fn departed_reports<'a>(
    nodes: &'a [NodeStatus],
    pods: &[PodView],
    now: Timestamp,
) -> Vec<&'a str> {
    nodes
        .iter()
        .filter(|n| !pods.iter().any(|p| p.name == n.name) && !is_fresh(n, now))
        .map(|n| n.name.as_str())
        .collect()
}

fn is_fresh(node: &NodeStatus, now: Timestamp) -> bool {
    node.last_heartbeat
        .as_ref()
        .is_some_and(|t| now.as_second() - t.0.as_second() <= HEARTBEAT_STALE_SECONDS)
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    use super::*;

    const NOW: i64 = 1_800_000_000;

    fn at(second: i64) -> Timestamp {
        Timestamp::from_second(second).unwrap()
    }

    fn pods(n: usize, ready: bool) -> Vec<PodView> {
        (0..n)
            .map(|i| PodView {
                name: format!("vec-{i}"),
                ready,
                image: Some("grape-node:1".into()),
            })
            .collect()
    }

    fn node(i: usize, role: &str, age: i64) -> NodeStatus {
        NodeStatus {
            name: format!("vec-{i}"),
            peer_id: Some(format!("{}", 10_000_000_000_000_000_000u64 + i as u64)),
            ready: Some(true),
            role: Some(role.into()),
            last_heartbeat: Some(Time(at(NOW - age))),
            ..Default::default()
        }
    }

    fn healthy_nodes() -> Vec<NodeStatus> {
        vec![
            node(0, "Leader", 1),
            node(1, "Follower", 2),
            node(2, "Follower", 3),
        ]
    }

    fn observe<'a>(
        pods: &'a [PodView],
        nodes: &'a [NodeStatus],
        previous: &'a VectorClusterStatus,
    ) -> Observed<'a> {
        Observed {
            generation: Some(4),
            desired_replicas: 3,
            image: "grape-node:1",
            paused: false,
            statefulset: RolloutView {
                replicas: Some(3),
                rolling: false,
            },
            pods,
            nodes,
            refusal: None,
            draining: None,
            previous,
            now: at(NOW),
        }
    }

    fn cond<'a>(status: &'a VectorClusterStatus, type_: &str) -> &'a Condition {
        status.conditions.iter().find(|c| c.type_ == type_).unwrap()
    }

    #[test]
    fn three_ready_reporting_nodes_with_one_leader_are_available() {
        let (pods, nodes) = (pods(3, true), healthy_nodes());
        let status = aggregate(&observe(&pods, &nodes, &VectorClusterStatus::default()));
        assert_eq!(status.phase, Some(ClusterPhase::Running));
        assert_eq!(status.ready_replicas, Some(3));
        assert_eq!(status.raft_leader.as_deref(), Some("vec-0"));
        assert_eq!(status.current_image.as_deref(), Some("grape-node:1"));
        let available = cond(&status, "Available");
        assert_eq!(
            (available.status.as_str(), available.reason.as_str()),
            ("True", "AllNodesReady")
        );
        assert_eq!(available.observed_generation, Some(4));
        assert_eq!(cond(&status, "Progressing").status, "False");
        assert_eq!(cond(&status, "Degraded").status, "False");
        assert!(
            status.nodes.is_empty(),
            "the nodes' entries are not the operator's to write"
        );
    }

    #[test]
    fn a_new_cluster_is_creating_until_every_node_reports() {
        let pods = pods(3, true);
        let nodes = vec![node(0, "Leader", 1)];
        let status = aggregate(&observe(&pods, &nodes, &VectorClusterStatus::default()));
        assert_eq!(status.phase, Some(ClusterPhase::Creating));
        assert_eq!(cond(&status, "Available").reason, "Creating");
        assert_eq!(cond(&status, "Progressing").status, "True");
        assert_eq!(cond(&status, "Degraded").status, "False");
    }

    #[test]
    fn a_once_available_cluster_with_a_silent_node_is_degraded() {
        let (all, nodes) = (pods(3, true), healthy_nodes());
        let previous = aggregate(&observe(&all, &nodes, &VectorClusterStatus::default()));
        let stale = vec![
            node(0, "Leader", 1),
            node(1, "Follower", 2),
            node(2, "Follower", 90),
        ];
        let status = aggregate(&observe(&all, &stale, &previous));
        assert_eq!(status.phase, Some(ClusterPhase::Degraded));
        let available = cond(&status, "Available");
        assert_eq!(
            (available.status.as_str(), available.reason.as_str()),
            ("False", "NodesNotReporting")
        );
        assert_eq!(cond(&status, "Degraded").reason, "NodesNotReporting");
    }

    #[test]
    fn two_leaders_or_none_is_not_one_cluster() {
        let pods = pods(3, true);
        let split = vec![
            node(0, "Leader", 1),
            node(1, "Leader", 1),
            node(2, "Follower", 1),
        ];
        let status = aggregate(&observe(&pods, &split, &VectorClusterStatus::default()));
        assert_eq!(cond(&status, "Available").status, "False");
        assert!(cond(&status, "Available").message.contains("2 nodes"));
    }

    #[test]
    fn a_refused_scale_in_is_degraded_with_the_reason() {
        let (pods, nodes, none) = (
            pods(3, true),
            healthy_nodes(),
            VectorClusterStatus::default(),
        );
        let mut o = observe(&pods, &nodes, &none);
        o.desired_replicas = 1;
        o.refusal = Some(("ScaleInRefused", "replication factor 2 needs 2 data nodes"));
        let status = aggregate(&o);
        assert_eq!(status.phase, Some(ClusterPhase::Degraded));
        let degraded = cond(&status, "Degraded");
        assert_eq!(
            (degraded.status.as_str(), degraded.reason.as_str()),
            ("True", "ScaleInRefused")
        );
        assert_eq!(degraded.message, "replication factor 2 needs 2 data nodes");
    }

    #[test]
    fn a_drain_is_progress_not_degradation() {
        let (pods, nodes, none) = (
            pods(3, true),
            healthy_nodes(),
            VectorClusterStatus::default(),
        );
        let mut o = observe(&pods, &nodes, &none);
        o.desired_replicas = 2;
        o.draining = Some("draining vec-2: 3 replicas left");
        let status = aggregate(&o);
        assert_eq!(status.phase, Some(ClusterPhase::Scaling));
        let progressing = cond(&status, "Progressing");
        assert_eq!(
            (progressing.status.as_str(), progressing.reason.as_str()),
            ("True", "Draining")
        );
        assert_eq!(progressing.message, "draining vec-2: 3 replicas left");
        assert_eq!(cond(&status, "Degraded").status, "False");
    }

    #[test]
    fn a_rollout_is_upgrading_and_keeps_the_current_image() {
        let (old, nodes) = (pods(3, true), healthy_nodes());
        let previous = aggregate(&observe(&old, &nodes, &VectorClusterStatus::default()));
        let mut mixed = old.clone();
        mixed[2].image = Some("grape-node:2".into());
        let mut o = observe(&mixed, &nodes, &previous);
        o.image = "grape-node:2";
        o.statefulset.rolling = true;
        let status = aggregate(&o);
        assert_eq!(status.phase, Some(ClusterPhase::Upgrading));
        assert_eq!(status.current_image.as_deref(), Some("grape-node:1"));
        assert_eq!(status.target_image.as_deref(), Some("grape-node:2"));
        assert_eq!(cond(&status, "Progressing").reason, "RollingUpdate");
    }

    #[test]
    fn transition_times_survive_while_the_status_holds() {
        let (pods, nodes) = (pods(3, true), healthy_nodes());
        let first = aggregate(&observe(&pods, &nodes, &VectorClusterStatus::default()));
        let mut later = observe(&pods, &nodes, &first);
        later.now = at(NOW + 20);
        let second = aggregate(&later);
        assert_eq!(
            cond(&first, "Available").last_transition_time,
            cond(&second, "Available").last_transition_time
        );
    }

    #[test]
    fn paused_wins() {
        let (pods, nodes, none) = (
            pods(3, true),
            healthy_nodes(),
            VectorClusterStatus::default(),
        );
        let mut o = observe(&pods, &nodes, &none);
        o.paused = true;
        assert_eq!(aggregate(&o).phase, Some(ClusterPhase::Paused));
    }

    #[test]
    fn only_silent_reports_of_pods_that_are_gone_depart() {
        let three = pods(3, true);
        let nodes = vec![
            node(0, "Leader", 1),
            node(2, "Follower", 120), // its pod is there: it stays
            node(3, "Follower", 5),   // gone but reported lately (being recreated): stays
            node(4, "Follower", 31),  // scaled in and silent
        ];
        assert_eq!(departed_reports(&nodes, &three, at(NOW)), vec!["vec-4"]);
    }
}
