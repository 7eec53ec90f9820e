//! Kubernetes conditions as the operator writes them on both resources.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;

/// A condition of `type_`; its transition time is kept from `previous` while its status
/// stays the same, so that `lastTransitionTime` says when it last flipped.
pub fn condition(
    previous: &[Condition],
    generation: Option<i64>,
    now: Timestamp,
    type_: &str,
    status: bool,
    reason: &str,
    message: &str,
) -> Condition {
    let status = if status { "True" } else { "False" }.to_string();
    let last_transition_time = previous
        .iter()
        .find(|c| c.type_ == type_ && c.status == status)
        .map(|c| c.last_transition_time.clone())
        .unwrap_or(Time(now));
    Condition {
        type_: type_.into(),
        status,
        reason: reason.into(),
        message: message.into(),
        observed_generation: generation,
        last_transition_time,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_transition_time_moves_only_when_the_status_flips() {
        let (t0, t1) = (
            Timestamp::from_second(100).unwrap(),
            Timestamp::from_second(200).unwrap(),
        );
        let first = condition(&[], Some(1), t0, "Ready", true, "A", "a");
        let same = condition(
            std::slice::from_ref(&first),
            Some(2),
            t1,
            "Ready",
            true,
            "B",
            "b",
        );
        assert_eq!(same.last_transition_time, Time(t0));
        assert_eq!(
            (same.reason.as_str(), same.observed_generation),
            ("B", Some(2))
        );
        let flipped = condition(&[same], Some(2), t1, "Ready", false, "C", "c");
        assert_eq!(flipped.last_transition_time, Time(t1));
        assert_eq!(flipped.status, "False");
    }
}
