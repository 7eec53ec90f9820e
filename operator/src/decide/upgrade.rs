//! Rolling upgrade steps through the StatefulSet's `partition`: pods with an ordinal at or
//! above it run the new revision. The operator lowers it one ordinal at a time, highest
//! first, and only when every updated pod is ready and every node reports ready (all its
//! shards have leaders again), so at most one data node restarts at a time.

/// A data pod's ordinal, revision (its `controller-revision-hash` label) and readiness.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodRevision {
    pub ordinal: i32,
    pub revision: Option<String>,
    pub ready: bool,
}

/// What the rollout step needs to know.
#[derive(Debug, Clone, Default)]
pub struct Rollout {
    /// `status.updateRevision` of the StatefulSet: the revision of its current template.
    pub update_revision: Option<String>,
    /// The partition in the StatefulSet's spec now.
    pub partition: Option<i32>,
    pub pods: Vec<PodRevision>,
    /// Every data node reported itself ready recently.
    pub nodes_ready: bool,
}

/// The partition to apply for a StatefulSet of `replicas` pods. With nothing to roll out
/// it is `replicas`, which holds every pod on its revision: a template change then waits
/// for the operator instead of restarting pods at the StatefulSet controller's pace.
pub fn rollout_partition(replicas: i32, rollout: &Rollout) -> i32 {
    let Some(target) = &rollout.update_revision else {
        return replicas;
    };
    let on_target = |p: &PodRevision| p.revision.as_ref() == Some(target);
    if rollout.pods.iter().all(on_target) {
        return replicas;
    }
    let partition = rollout.partition.unwrap_or(replicas).clamp(0, replicas);
    let above_done = rollout
        .pods
        .iter()
        .filter(|p| p.ordinal >= partition)
        .all(|p| on_target(p) && p.ready);
    if above_done && rollout.nodes_ready {
        (partition - 1).max(0)
    } else {
        partition
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pods(revisions: &[(&str, bool)]) -> Vec<PodRevision> {
        revisions
            .iter()
            .enumerate()
            .map(|(i, &(rev, ready))| PodRevision {
                ordinal: i as i32,
                revision: Some(rev.into()),
                ready,
            })
            .collect()
    }

    fn rollout(partition: i32, revisions: &[(&str, bool)], nodes_ready: bool) -> Rollout {
        Rollout {
            update_revision: Some("new".into()),
            partition: Some(partition),
            pods: pods(revisions),
            nodes_ready,
        }
    }

    #[test]
    fn nothing_to_roll_out_holds_every_pod() {
        let steady = rollout(3, &[("new", true), ("new", true), ("new", true)], true);
        assert_eq!(rollout_partition(3, &steady), 3);
        assert_eq!(rollout_partition(3, &Rollout::default()), 3);
    }

    #[test]
    fn the_highest_ordinal_goes_first_then_one_at_a_time() {
        let fresh = rollout(3, &[("old", true), ("old", true), ("old", true)], true);
        assert_eq!(rollout_partition(3, &fresh), 2);
        let restarting = rollout(2, &[("old", true), ("old", true), ("new", false)], false);
        assert_eq!(rollout_partition(3, &restarting), 2);
        let back = rollout(2, &[("old", true), ("old", true), ("new", true)], true);
        assert_eq!(rollout_partition(3, &back), 1);
        let last = rollout(1, &[("old", true), ("new", true), ("new", true)], true);
        assert_eq!(rollout_partition(3, &last), 0);
    }

    #[test]
    fn the_next_pod_waits_until_every_node_reports_ready() {
        // The updated pod is ready, but some node's shards have no leader yet.
        let waiting = rollout(2, &[("old", true), ("old", true), ("new", true)], false);
        assert_eq!(rollout_partition(3, &waiting), 2);
    }
}
