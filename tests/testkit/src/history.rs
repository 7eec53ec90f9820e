//! What a workload did, and the verifier that checks what the database holds afterwards.
//! Pure logic, no I/O.
//!
//! Every upsert writes a payload carrying a counter unique to that write, so the value a
//! point holds names the write that produced it. Operations on one point id are issued one
//! after another by one client task. An *unknown* outcome (timeout, connection lost) may
//! or may not have taken effect, and may take effect *late*: a request the client gave up
//! on can still be executed after the client's next, acknowledged, request (a paused node
//! runs its backlog concurrently on resume; a Raft entry can commit after a re-election).
//! A *failed* one (the server refused it) did not take effect. So, for each id, the
//! verifier allows exactly:
//! - the effect of the last acknowledged write (its counter, or absence for a delete), or
//!   no point at all when no write on the id was acknowledged;
//! - the effect of any *unknown* write on the id.
//!
//! This is what linearizability allows when an unanswered operation's completion is open
//! ended. Anything else is an anomaly: a lost write, a stale value (an earlier
//! acknowledged write), a resurrected delete, a value from a failed write, a phantom (an
//! id or value never written), or a duplicate id.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::Duration;

/// One client operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Upsert of point `id` with payload `{"counter": counter}`.
    Upsert {
        id: u64,
        counter: u64,
    },
    Delete {
        id: u64,
    },
    Search,
    Count,
}

impl Op {
    pub fn is_write(&self) -> bool {
        matches!(self, Op::Upsert { .. } | Op::Delete { .. })
    }

    /// The point id a write is about.
    pub fn id(&self) -> Option<u64> {
        match *self {
            Op::Upsert { id, .. } | Op::Delete { id } => Some(id),
            Op::Search | Op::Count => None,
        }
    }

    /// What the point looks like if this write took effect.
    fn effect(&self) -> State {
        match *self {
            Op::Upsert { counter, .. } => State::Present(Some(counter)),
            _ => State::Absent,
        }
    }
}

/// How an operation ended. The string is the error kind (a gRPC code name, `timeout`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Acknowledged: the server said it was done.
    Ok,
    /// The server refused it; it did not take effect.
    Failed(String),
    /// No answer (timeout, connection lost): it may or may not take effect.
    Unknown(String),
}

/// One operation with its outcome. Times are offsets from the workload's start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Invocation order across the workload.
    pub seq: u64,
    pub op: Op,
    /// Index of the node (in the workload's target list) the request went to.
    pub target: usize,
    pub started: Duration,
    pub finished: Duration,
    pub outcome: Outcome,
}

/// A point as read back from the database: its id and the counter in its payload (`None`
/// if the payload has none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObservedPoint {
    pub id: u64,
    pub counter: Option<u64>,
}

/// Every operation of a workload.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct History {
    events: Vec<Event>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub acked: usize,
    pub failed: usize,
    pub unknown: usize,
}

/// The longest stretch without an acknowledged write, as offsets from the workload's start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gap {
    pub from: Duration,
    pub to: Duration,
}

impl Gap {
    pub fn length(&self) -> Duration {
        self.to - self.from
    }
}

/// A way the database disagrees with the history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Anomaly {
    /// The last acknowledged write was an upsert, and the point is missing.
    Lost { id: u64, counter: u64 },
    /// The point holds an earlier value than the last acknowledged write's.
    Stale { id: u64, found: u64, expected: u64 },
    /// The last acknowledged write was a delete, and an earlier value is back.
    Resurrected { id: u64, found: u64 },
    /// The point holds the value of a write the server refused.
    FailedWriteVisible { id: u64, counter: u64 },
    /// The point (or its value) was never written by the workload.
    Phantom { id: u64, counter: Option<u64> },
    /// The read-back returned the id more than once.
    Duplicate { id: u64 },
}

impl Anomaly {
    pub fn id(&self) -> u64 {
        match *self {
            Anomaly::Lost { id, .. }
            | Anomaly::Stale { id, .. }
            | Anomaly::Resurrected { id, .. }
            | Anomaly::FailedWriteVisible { id, .. }
            | Anomaly::Phantom { id, .. }
            | Anomaly::Duplicate { id } => id,
        }
    }
}

/// Anomalies a report explains (and prints).
const SHOWN: usize = 20;

/// The verifier's verdict and the workload's statistics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub writes: Counts,
    pub reads: Counts,
    pub longest_write_gap: Option<Gap>,
    /// `failed/<kind>` and `unknown/<kind>` with their counts.
    pub error_kinds: BTreeMap<String, usize>,
    pub anomalies: Vec<Anomaly>,
    /// The writes on the ids of the first anomalies, to explain them.
    pub writes_on: BTreeMap<u64, Vec<Event>>,
}

impl Report {
    /// No anomaly: everything acknowledged is there, nothing else is.
    pub fn is_consistent(&self) -> bool {
        self.anomalies.is_empty()
    }
}

/// What a point id holds: nothing, or a point with a payload counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum State {
    Absent,
    Present(Option<u64>),
}

impl History {
    pub fn new(events: Vec<Event>) -> History {
        let mut events = events;
        events.sort_by_key(|event| event.seq);
        History { events }
    }

    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// Checks the database's contents (every point of the collection) against the history.
    pub fn verify(&self, observed: &[ObservedPoint]) -> Report {
        let (writes, reads): (Vec<&Event>, Vec<&Event>) =
            self.events.iter().partition(|event| event.op.is_write());
        let anomalies = self.anomalies(&writes, observed);
        let explained: BTreeSet<u64> = anomalies.iter().take(SHOWN).map(Anomaly::id).collect();
        let writes_on = explained
            .into_iter()
            .map(|id| {
                let on_id = writes.iter().filter(|e| e.op.id() == Some(id));
                (id, on_id.map(|&e| e.clone()).collect())
            })
            .collect();
        Report {
            writes: counts(&writes),
            reads: counts(&reads),
            longest_write_gap: longest_gap(&writes),
            error_kinds: error_kinds(&self.events),
            anomalies,
            writes_on,
        }
    }

    fn anomalies(&self, writes: &[&Event], observed: &[ObservedPoint]) -> Vec<Anomaly> {
        let mut by_id: BTreeMap<u64, Vec<&Event>> = BTreeMap::new();
        for event in writes {
            if let Some(id) = event.op.id() {
                by_id.entry(id).or_default().push(event);
            }
        }
        let mut seen: BTreeMap<u64, State> = BTreeMap::new();
        let mut anomalies = Vec::new();
        for point in observed {
            if seen
                .insert(point.id, State::Present(point.counter))
                .is_some()
            {
                anomalies.push(Anomaly::Duplicate { id: point.id });
            }
        }
        for (&id, &state) in &seen {
            if !by_id.contains_key(&id) {
                let counter = match state {
                    State::Present(counter) => counter,
                    State::Absent => None,
                };
                anomalies.push(Anomaly::Phantom { id, counter });
            }
        }
        for (id, ops) in &by_id {
            let state = seen.get(id).copied().unwrap_or(State::Absent);
            anomalies.extend(check_point(*id, ops, state));
        }
        anomalies
    }
}

/// The anomaly, if any, of one point id given its writes (in order) and what it holds.
fn check_point(id: u64, ops: &[&Event], state: State) -> Option<Anomaly> {
    let last_ack = ops.iter().rposition(|event| event.outcome == Outcome::Ok);
    let base = last_ack.map_or(State::Absent, |i| ops[i].op.effect());
    let allowed: BTreeSet<State> = std::iter::once(base)
        .chain(
            ops.iter()
                .filter(|event| matches!(event.outcome, Outcome::Unknown(_)))
                .map(|event| event.op.effect()),
        )
        .collect();
    if allowed.contains(&state) {
        return None;
    }
    let found = match (state, base) {
        (State::Present(Some(found)), _) => found,
        (State::Present(None), _) => return Some(Anomaly::Phantom { id, counter: None }),
        (State::Absent, State::Present(Some(counter))) => {
            return Some(Anomaly::Lost { id, counter })
        }
        // Absence is always allowed when the base is absence.
        (State::Absent, _) => return None,
    };
    let writer = ops
        .iter()
        .find(|event| event.op == Op::Upsert { id, counter: found });
    Some(match (writer, base) {
        (None, _) => Anomaly::Phantom {
            id,
            counter: Some(found),
        },
        (Some(event), _) if matches!(event.outcome, Outcome::Failed(_)) => {
            Anomaly::FailedWriteVisible { id, counter: found }
        }
        (Some(_), State::Present(Some(expected))) => Anomaly::Stale {
            id,
            found,
            expected,
        },
        (Some(_), _) => Anomaly::Resurrected { id, found },
    })
}

fn counts(events: &[&Event]) -> Counts {
    let mut counts = Counts::default();
    for event in events {
        match event.outcome {
            Outcome::Ok => counts.acked += 1,
            Outcome::Failed(_) => counts.failed += 1,
            Outcome::Unknown(_) => counts.unknown += 1,
        }
    }
    counts
}

fn longest_gap(writes: &[&Event]) -> Option<Gap> {
    let mut acked: Vec<Duration> = writes
        .iter()
        .filter(|event| event.outcome == Outcome::Ok)
        .map(|event| event.finished)
        .collect();
    acked.sort();
    acked
        .windows(2)
        .map(|pair| Gap {
            from: pair[0],
            to: pair[1],
        })
        .max_by_key(Gap::length)
}

fn error_kinds(events: &[Event]) -> BTreeMap<String, usize> {
    let mut kinds = BTreeMap::new();
    for event in events {
        let kind = match &event.outcome {
            Outcome::Ok => continue,
            Outcome::Failed(kind) => format!("failed/{kind}"),
            Outcome::Unknown(kind) => format!("unknown/{kind}"),
        };
        *kinds.entry(kind).or_insert(0) += 1;
    }
    kinds
}

impl fmt::Display for Counts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} acked, {} failed, {} unknown",
            self.acked, self.failed, self.unknown
        )
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "writes: {}; reads: {}", self.writes, self.reads)?;
        if let Some(gap) = self.longest_write_gap {
            writeln!(
                f,
                "longest gap between acknowledged writes: {:?} (from {:?} to {:?})",
                gap.length(),
                gap.from,
                gap.to
            )?;
        }
        writeln!(f, "errors: {:?}", self.error_kinds)?;
        writeln!(f, "anomalies: {}", self.anomalies.len())?;
        for anomaly in self.anomalies.iter().take(SHOWN) {
            writeln!(f, "  {anomaly:?}; writes on the id:")?;
            for event in self.writes_on.get(&anomaly.id()).into_iter().flatten() {
                writeln!(
                    f,
                    "    #{} {:?} -> {:?} (node {}, {:?}..{:?})",
                    event.seq, event.op, event.outcome, event.target, event.started, event.finished
                )?;
            }
        }
        if self.anomalies.len() > SHOWN {
            writeln!(f, "  ... and {} more", self.anomalies.len() - SHOWN)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a history from (op, outcome) pairs, one per 10 ms, in order.
    fn history(ops: &[(Op, Outcome)]) -> History {
        let events = ops
            .iter()
            .enumerate()
            .map(|(i, (op, outcome))| Event {
                seq: i as u64,
                op: *op,
                target: 0,
                started: Duration::from_millis(10 * i as u64),
                finished: Duration::from_millis(10 * i as u64 + 5),
                outcome: outcome.clone(),
            })
            .collect();
        History::new(events)
    }

    fn up(id: u64, counter: u64) -> Op {
        Op::Upsert { id, counter }
    }

    fn del(id: u64) -> Op {
        Op::Delete { id }
    }

    fn point(id: u64, counter: u64) -> ObservedPoint {
        ObservedPoint {
            id,
            counter: Some(counter),
        }
    }

    fn ok() -> Outcome {
        Outcome::Ok
    }

    fn unknown() -> Outcome {
        Outcome::Unknown("timeout".into())
    }

    fn failed() -> Outcome {
        Outcome::Failed("InvalidArgument".into())
    }

    #[test]
    fn a_faithful_database_passes() {
        let h = history(&[
            (up(1, 1), ok()),
            (up(2, 2), ok()),
            (up(1, 3), ok()),
            (del(2), ok()),
            (Op::Search, ok()),
        ]);
        let report = h.verify(&[point(1, 3)]);
        assert!(report.is_consistent(), "{report}");
        assert_eq!(
            report.writes,
            Counts {
                acked: 4,
                failed: 0,
                unknown: 0
            }
        );
        assert_eq!(report.reads.acked, 1);
    }

    #[test]
    fn catches_a_lost_write() {
        let h = history(&[(up(1, 1), ok()), (up(2, 2), ok())]);
        let report = h.verify(&[point(1, 1)]);
        assert_eq!(report.anomalies, [Anomaly::Lost { id: 2, counter: 2 }]);
    }

    #[test]
    fn catches_a_lost_overwrite() {
        let h = history(&[(up(1, 1), ok()), (up(1, 2), ok())]);
        let report = h.verify(&[point(1, 1)]);
        assert_eq!(
            report.anomalies,
            [Anomaly::Stale {
                id: 1,
                found: 1,
                expected: 2
            }]
        );
    }

    #[test]
    fn catches_a_resurrected_delete() {
        let h = history(&[(up(1, 1), ok()), (del(1), ok())]);
        let report = h.verify(&[point(1, 1)]);
        assert_eq!(report.anomalies, [Anomaly::Resurrected { id: 1, found: 1 }]);
    }

    #[test]
    fn catches_phantom_points_and_values() {
        let h = history(&[(up(1, 1), ok())]);
        let report = h.verify(&[
            point(1, 99),
            point(7, 7),
            ObservedPoint {
                id: 8,
                counter: None,
            },
        ]);
        assert_eq!(
            report.anomalies,
            [
                Anomaly::Phantom {
                    id: 7,
                    counter: Some(7)
                },
                Anomaly::Phantom {
                    id: 8,
                    counter: None
                },
                Anomaly::Phantom {
                    id: 1,
                    counter: Some(99)
                },
            ]
        );
    }

    #[test]
    fn catches_a_refused_write_that_took_effect() {
        let h = history(&[(up(1, 1), ok()), (up(1, 2), failed()), (up(2, 3), failed())]);
        let report = h.verify(&[point(1, 2), point(2, 3)]);
        assert_eq!(
            report.anomalies,
            [
                Anomaly::FailedWriteVisible { id: 1, counter: 2 },
                Anomaly::FailedWriteVisible { id: 2, counter: 3 },
            ]
        );
    }

    #[test]
    fn catches_duplicates() {
        let h = history(&[(up(1, 1), ok())]);
        let report = h.verify(&[point(1, 1), point(1, 1)]);
        assert_eq!(report.anomalies, [Anomaly::Duplicate { id: 1 }]);
    }

    #[test]
    fn unknown_writes_may_or_may_not_have_applied_even_late() {
        let h = history(&[
            (up(1, 1), unknown()),
            (up(1, 2), ok()),
            (up(1, 3), unknown()),
            (del(1), unknown()),
            (up(2, 4), unknown()),
        ]);
        let states = [
            vec![point(1, 2)],
            vec![point(1, 3)],
            vec![point(1, 1)],
            vec![],
            vec![point(2, 4)],
        ];
        for state in states {
            let report = h.verify(&state);
            assert!(report.is_consistent(), "{state:?}: {report}");
        }
    }

    #[test]
    fn an_earlier_acknowledged_write_must_not_win() {
        let h = history(&[(up(1, 1), ok()), (up(1, 2), unknown()), (up(1, 3), ok())]);
        let report = h.verify(&[point(1, 1)]);
        assert_eq!(
            report.anomalies,
            [Anomaly::Stale {
                id: 1,
                found: 1,
                expected: 3
            }]
        );
        let h = history(&[(up(1, 1), ok()), (up(1, 2), ok()), (del(1), ok())]);
        let report = h.verify(&[point(1, 1)]);
        assert_eq!(report.anomalies, [Anomaly::Resurrected { id: 1, found: 1 }]);
        let text = report.to_string();
        assert!(
            text.contains("#2 Delete { id: 1 } -> Ok"),
            "the report explains: {text}"
        );
    }

    #[test]
    fn failed_writes_are_not_expected_to_be_there() {
        let h = history(&[(up(1, 1), failed()), (up(2, 2), ok()), (del(2), failed())]);
        let report = h.verify(&[point(2, 2)]);
        assert!(report.is_consistent(), "{report}");
        assert_eq!(
            report.writes,
            Counts {
                acked: 1,
                failed: 2,
                unknown: 0
            }
        );
    }

    #[test]
    fn statistics_report_the_longest_gap_and_error_kinds() {
        let mut events = history(&[
            (up(1, 1), ok()),
            (up(2, 2), unknown()),
            (up(3, 3), Outcome::Unknown("Unavailable".into())),
            (up(4, 4), ok()),
            (up(5, 5), ok()),
            (Op::Count, unknown()),
        ])
        .events
        .clone();
        events[3].finished = Duration::from_secs(2);
        events[4].finished = Duration::from_millis(2100);
        let report = History::new(events).verify(&[point(1, 1), point(4, 4), point(5, 5)]);
        assert!(report.is_consistent(), "{report}");
        let gap = report.longest_write_gap.unwrap();
        assert_eq!(
            (gap.from, gap.to),
            (Duration::from_millis(5), Duration::from_secs(2))
        );
        assert_eq!(
            report.error_kinds,
            BTreeMap::from([
                ("unknown/Unavailable".to_string(), 1),
                ("unknown/timeout".to_string(), 2)
            ])
        );
        assert_eq!(
            report.reads,
            Counts {
                acked: 0,
                failed: 0,
                unknown: 1
            }
        );
    }
}
