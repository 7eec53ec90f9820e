//! Scale decisions: how many data pods the StatefulSet may have, and when the cluster
//! should be rebalanced over them.
//!
//! Scale out is immediate (new pods join through pod 0). Scale in removes the pods with the
//! highest ordinals, and only after their peers left the cluster (their replicas moved
//! away); a target below what the collections' replication factors need is refused. All the
//! pods to remove drain at once, so that no replica moves onto a pod about to go; the
//! StatefulSet shrinks past each highest ordinal as soon as it has left. A scale back out
//! cancels the drains of the pods it keeps, and takes back the peers that already left.

/// What to do with the StatefulSet's replica count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScaleDecision {
    /// Set the StatefulSet to this many replicas.
    Apply { replicas: i32 },
    /// Set the StatefulSet to `replicas`; the pods `pods` must leave the cluster first.
    Drain { replicas: i32, pods: Vec<i32> },
    /// Keep `replicas`: the target is unsafe, for the reason given.
    Refuse { replicas: i32, reason: String },
}

/// `current`: the StatefulSet's replicas (`None` before it exists); `desired`:
/// `spec.replicas`; `needed`: the largest replication factor of any collection (or the
/// default) and what needs it; `members`: ordinals whose peers are (or may still be)
/// members of the cluster. A pod that is not a member holds nothing and may go.
pub fn scale(
    current: Option<i32>,
    desired: i32,
    needed: (u32, &str),
    members: &[i32],
) -> ScaleDecision {
    let Some(current) = current.filter(|&c| c > desired) else {
        return ScaleDecision::Apply { replicas: desired };
    };
    let (factor, what) = needed;
    if i64::from(desired) < i64::from(factor) {
        return ScaleDecision::Refuse {
            replicas: current,
            reason: format!(
                "scale-in from {current} to {desired} data nodes refused: {what} has \
                 replication factor {factor}, which needs at least {factor} data nodes"
            ),
        };
    }
    // The StatefulSet can only drop its highest ordinals: keep up to the highest member.
    let keep = (desired..current)
        .rev()
        .find(|o| members.contains(o))
        .map_or(desired, |o| o + 1);
    let pods: Vec<i32> = (desired..keep).filter(|o| members.contains(o)).collect();
    if pods.is_empty() {
        ScaleDecision::Apply { replicas: desired }
    } else {
        ScaleDecision::Drain {
            replicas: keep,
            pods,
        }
    }
}

/// The ordinals whose drain a scale back out interrupts: draining members that the spec
/// keeps again. Their drains stop and their peers stay.
pub fn drains_to_cancel(desired: i32, draining: &[i32]) -> Vec<i32> {
    draining.iter().copied().filter(|&o| o < desired).collect()
}

/// A data pod's standing in the cluster, for [`pods_to_rejoin`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PodMembership {
    pub ordinal: i32,
    /// The peer id its node reported in `status.nodes`.
    pub reported_peer: Option<u64>,
    /// Whether that peer (or the pod's address) is a member of the cluster.
    pub member: bool,
}

/// The pods to take back into the cluster, with their peer ids: pods the spec keeps whose
/// node reported a peer that is no member. A node reports only once it joined, so such a
/// peer left while its pod stayed: its drain finished just before a scale back out (before
/// the StatefulSet shrank), or it was removed by hand.
pub fn pods_to_rejoin(desired: i32, pods: &[PodMembership]) -> Vec<(i32, u64)> {
    pods.iter()
        .filter(|p| p.ordinal < desired && !p.member)
        .filter_map(|p| Some((p.ordinal, p.reported_peer?)))
        .collect()
}

/// Whether the operator should (re)apply the cluster's Balanced ShardPlacement now: once
/// the cluster is available at its spec size with every pod ready, and the placement was
/// last applied for another number of data nodes (or never). `placed_for` is that number.
pub fn rebalance_due(
    desired: i32,
    statefulset_replicas: Option<i32>,
    ready_pods: i32,
    available: bool,
    placed_for: Option<i32>,
) -> bool {
    available
        && statefulset_replicas == Some(desired)
        && ready_pods == desired
        && placed_for != Some(desired)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creation_and_scale_out_apply_the_spec() {
        assert_eq!(
            scale(None, 3, (2, "x"), &[]),
            ScaleDecision::Apply { replicas: 3 }
        );
        assert_eq!(
            scale(Some(3), 5, (2, "x"), &[0, 1, 2]),
            ScaleDecision::Apply { replicas: 5 }
        );
        assert_eq!(
            scale(Some(3), 3, (3, "x"), &[0, 1, 2]),
            ScaleDecision::Apply { replicas: 3 }
        );
    }

    #[test]
    fn scale_in_below_the_replication_factor_is_refused_with_the_reason() {
        let decision = scale(Some(3), 1, (2, "collection \"docs\""), &[0, 1, 2]);
        let ScaleDecision::Refuse { replicas, reason } = decision else {
            panic!("{decision:?}");
        };
        assert_eq!(replicas, 3);
        assert!(
            reason.contains("collection \"docs\" has replication factor 2"),
            "{reason}"
        );
        assert!(reason.contains("from 3 to 1"), "{reason}");
    }

    #[test]
    fn scale_in_drains_every_pod_to_remove_before_shrinking() {
        assert_eq!(
            scale(Some(5), 3, (2, "x"), &[0, 1, 2, 3, 4]),
            ScaleDecision::Drain {
                replicas: 5,
                pods: vec![3, 4]
            }
        );
    }

    #[test]
    fn the_statefulset_shrinks_past_the_highest_ordinals_that_left() {
        assert_eq!(
            scale(Some(5), 3, (2, "x"), &[0, 1, 2, 3]),
            ScaleDecision::Drain {
                replicas: 4,
                pods: vec![3]
            }
        );
        // Ordinal 3 left first: it must wait for 4, which the StatefulSet removes first.
        assert_eq!(
            scale(Some(5), 3, (2, "x"), &[0, 1, 2, 4]),
            ScaleDecision::Drain {
                replicas: 5,
                pods: vec![4]
            }
        );
        assert_eq!(
            scale(Some(5), 3, (2, "x"), &[0, 1, 2]),
            ScaleDecision::Apply { replicas: 3 }
        );
    }

    #[test]
    fn raising_replicas_during_a_drain_stops_shrinking() {
        assert_eq!(
            scale(Some(5), 5, (2, "x"), &[0, 1, 2, 3]),
            ScaleDecision::Apply { replicas: 5 }
        );
    }

    #[test]
    fn a_scale_back_out_cancels_the_drains_of_the_pods_it_keeps() {
        // 5 → 3 drains 3 and 4; back to 4 keeps 3, back to 5 keeps both.
        assert_eq!(drains_to_cancel(4, &[3, 4]), vec![3]);
        assert_eq!(drains_to_cancel(5, &[3, 4]), vec![3, 4]);
        assert!(drains_to_cancel(3, &[3, 4]).is_empty());
    }

    #[test]
    fn a_pod_the_spec_keeps_rejoins_once_its_peer_left() {
        let pod = |ordinal, reported_peer, member| PodMembership {
            ordinal,
            reported_peer,
            member,
        };
        let pods = [
            pod(0, Some(10), true),
            // Drained and removed, then spec.replicas went back to 5.
            pod(3, Some(13), false),
            // Still starting: its node has not reported (nor joined) yet.
            pod(4, None, false),
        ];
        assert_eq!(pods_to_rejoin(5, &pods), vec![(3, 13)]);
        // A scale-in to 3 removes it: it stays out.
        assert!(pods_to_rejoin(3, &pods).is_empty());
    }

    #[test]
    fn rebalance_is_due_once_the_new_size_is_ready() {
        // Scale out 3 → 5: not while pods start, then once, then not again.
        assert!(!rebalance_due(5, Some(5), 4, false, Some(3)));
        assert!(!rebalance_due(5, Some(5), 5, false, Some(3)));
        assert!(rebalance_due(5, Some(5), 5, true, Some(3)));
        assert!(!rebalance_due(5, Some(5), 5, true, Some(5)));
        // A new cluster gets its placement once available.
        assert!(rebalance_due(3, Some(3), 3, true, None));
        // Scale in: not while drained pods remain.
        assert!(!rebalance_due(3, Some(4), 4, true, Some(5)));
        assert!(rebalance_due(3, Some(3), 3, true, Some(5)));
    }
}
