//! Scale decisions: how many data pods the StatefulSet may have.
//!
//! Scale out is immediate (new pods join through pod 0). Scale in removes the pods with the
//! highest ordinals, and only after their peers left the cluster (their replicas moved
//! away); a target below what the collections' replication factors need is refused.

/// What to do with the StatefulSet's replica count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScaleDecision {
    /// Set the StatefulSet to this many replicas.
    Apply { replicas: i32 },
    /// Keep `replicas`; these pods must leave the cluster first.
    Drain { replicas: i32, pods: Vec<i32> },
    /// Keep `replicas`: the target is unsafe, for the reason given.
    Refuse { replicas: i32, reason: String },
}

/// `current`: the StatefulSet's replicas (`None` before it exists); `desired`:
/// `spec.replicas`; `needed`: the largest replication factor of any collection (or the
/// default) and what needs it; `departed`: ordinals whose peers already left the cluster.
pub fn scale(
    current: Option<i32>,
    desired: i32,
    needed: (u32, &str),
    departed: &[i32],
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
    let pods: Vec<i32> = (desired..current)
        .filter(|o| !departed.contains(o))
        .collect();
    if pods.is_empty() {
        ScaleDecision::Apply { replicas: desired }
    } else {
        ScaleDecision::Drain {
            replicas: current,
            pods,
        }
    }
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
            scale(Some(3), 5, (2, "x"), &[]),
            ScaleDecision::Apply { replicas: 5 }
        );
        assert_eq!(
            scale(Some(3), 3, (3, "x"), &[]),
            ScaleDecision::Apply { replicas: 3 }
        );
    }

    #[test]
    fn scale_in_below_the_replication_factor_is_refused_with_the_reason() {
        let decision = scale(Some(3), 1, (2, "collection \"docs\""), &[]);
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
    fn scale_in_drains_the_highest_ordinals_first() {
        assert_eq!(
            scale(Some(5), 3, (2, "x"), &[]),
            ScaleDecision::Drain {
                replicas: 5,
                pods: vec![3, 4]
            }
        );
        assert_eq!(
            scale(Some(5), 3, (2, "x"), &[4]),
            ScaleDecision::Drain {
                replicas: 5,
                pods: vec![3]
            }
        );
        assert_eq!(
            scale(Some(5), 3, (2, "x"), &[3, 4]),
            ScaleDecision::Apply { replicas: 3 }
        );
    }
}
