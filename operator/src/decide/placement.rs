//! A ShardPlacement's next step and status, from the moves the cluster still has to make
//! and the transfers it is running. The plan is recomputed by the cluster on every pass
//! (its planner is deterministic and counts transfers in flight as done), so a pass never
//! depends on remembering what the previous one started: it only carries forward the
//! moves of the current run that already finished, for the record.
//!
//! Phases: Pending (cluster not reachable yet) → PlanReady (moves planned, waiting for
//! approval) → Moving → Balanced; Failed when the spec cannot be carried out.

use std::collections::BTreeSet;

use k8s_openapi::jiff::Timestamp;

use super::condition::condition;
use crate::crd::{MoveState, PlacementPhase, PlannedMove, ShardPlacementStatus};

/// Annotation that approves the plan of a ShardPlacement with `approval: Manual`.
pub const APPROVE_ANNOTATION: &str = "grape.io/approve";

/// What one pass saw of the placement and its cluster.
#[derive(Debug, Clone)]
pub struct PlacementView<'a> {
    pub generation: Option<i64>,
    /// `approval` is Automatic (or absent).
    pub automatic: bool,
    /// The approval annotation says "true".
    pub approved: bool,
    /// Moves the cluster still has to make (pod names), beyond those in flight.
    pub planned: &'a [PlannedMove],
    /// Transfers in flight, with their progress.
    pub running: &'a [PlannedMove],
    /// The replicas the cluster holds now, as (collection, shard, pod): a move that left
    /// the transfers is done when its target holds the replica, failed otherwise.
    pub held: &'a BTreeSet<(String, u32, String)>,
    pub previous: &'a ShardPlacementStatus,
    pub now: Timestamp,
}

/// The outcome of a pass.
#[derive(Debug, Clone, PartialEq)]
pub struct PlacementStep {
    pub status: ShardPlacementStatus,
    /// Start (more of) the planned moves now.
    pub start_moves: bool,
    /// The approved plan was carried out: remove the approval annotation, so that the next
    /// plan waits for a new one.
    pub clear_approval: bool,
}

/// The next step of a placement whose cluster answered.
pub fn step(v: &PlacementView) -> PlacementStep {
    let outstanding = !v.planned.is_empty() || !v.running.is_empty();
    let go = v.automatic || v.approved;
    let phase = match (outstanding, go) {
        (false, _) => PlacementPhase::Balanced,
        (true, true) => PlacementPhase::Moving,
        (true, false) => PlacementPhase::PlanReady,
    };
    let plan = merge_plan(v, phase);
    let (reason, message) = describe(phase, &plan);
    let status = ShardPlacementStatus {
        phase: Some(phase),
        conditions: conditions(v.previous, v.generation, v.now, phase, reason, &message),
        plan,
        observed_generation: v.generation,
    };
    PlacementStep {
        status,
        start_moves: phase == PlacementPhase::Moving && !v.planned.is_empty(),
        clear_approval: phase == PlacementPhase::Balanced && v.approved && !v.automatic,
    }
}

/// The status of a placement that cannot proceed: `failed` for a spec that cannot be
/// carried out (phase Failed), otherwise a passing obstacle (the phase stays, or Pending).
pub fn blocked(
    previous: &ShardPlacementStatus,
    generation: Option<i64>,
    now: Timestamp,
    (reason, message): (&str, &str),
    failed: bool,
) -> ShardPlacementStatus {
    let phase = if failed {
        PlacementPhase::Failed
    } else {
        previous
            .phase
            .filter(|p| *p != PlacementPhase::Failed)
            .unwrap_or(PlacementPhase::Pending)
    };
    let conditions = vec![
        condition(
            &previous.conditions,
            generation,
            now,
            "Ready",
            false,
            reason,
            message,
        ),
        condition(
            &previous.conditions,
            generation,
            now,
            "Progressing",
            false,
            reason,
            message,
        ),
    ];
    ShardPlacementStatus {
        phase: Some(phase),
        plan: previous.plan.clone(),
        conditions,
        observed_generation: generation,
    }
}

fn key(m: &PlannedMove) -> (&str, u32, &str, &str) {
    (&m.collection, m.shard, &m.from, &m.to)
}

/// Moves in flight, then those still planned, then the finished moves of this run.
fn merge_plan(v: &PlacementView, phase: PlacementPhase) -> Vec<PlannedMove> {
    let mut plan: Vec<PlannedMove> = v
        .running
        .iter()
        .map(|m| with_state(m, MoveState::Running))
        .collect();
    for m in v.planned {
        if !plan.iter().any(|p| key(p) == key(m)) {
            plan.push(with_state(m, MoveState::Pending));
        }
    }
    // A new run starts when a balanced placement has moves again: the old record goes.
    let new_run =
        v.previous.phase == Some(PlacementPhase::Balanced) && phase != PlacementPhase::Balanced;
    if !new_run {
        for old in &v.previous.plan {
            if plan.iter().any(|p| key(p) == key(old)) {
                continue;
            }
            let state = match old.state {
                Some(MoveState::Running) => finished(v, old),
                Some(done_or_failed @ (MoveState::Done | MoveState::Failed)) => done_or_failed,
                // Started and finished between two passes: the replica is where it went.
                Some(MoveState::Pending) | None if moved(v, old) => MoveState::Done,
                // Otherwise the cluster planned it away, or it never started.
                Some(MoveState::Pending) | None => continue,
            };
            plan.push(with_state(old, state));
        }
    }
    plan.sort_by(|a, b| (&a.collection, a.shard).cmp(&(&b.collection, b.shard)));
    plan
}

/// The move's target holds the replica and its source does not.
fn moved(v: &PlacementView, m: &PlannedMove) -> bool {
    let holds = |pod: &String| {
        v.held
            .contains(&(m.collection.clone(), m.shard, pod.clone()))
    };
    holds(&m.to) && !holds(&m.from)
}

fn finished(v: &PlacementView, m: &PlannedMove) -> MoveState {
    if v.held
        .contains(&(m.collection.clone(), m.shard, m.to.clone()))
    {
        MoveState::Done
    } else {
        MoveState::Failed
    }
}

fn with_state(m: &PlannedMove, state: MoveState) -> PlannedMove {
    let mut m = m.clone();
    if state == MoveState::Done {
        m.points_done = m.points_total.or(m.points_done);
    }
    m.state = Some(state);
    m
}

fn count(plan: &[PlannedMove], state: MoveState) -> usize {
    plan.iter().filter(|m| m.state == Some(state)).count()
}

fn describe(phase: PlacementPhase, plan: &[PlannedMove]) -> (&'static str, String) {
    let (done, running, pending, failed) = (
        count(plan, MoveState::Done),
        count(plan, MoveState::Running),
        count(plan, MoveState::Pending),
        count(plan, MoveState::Failed),
    );
    match phase {
        PlacementPhase::Balanced if failed > 0 => (
            "Balanced",
            format!("balanced; {done} moves done, {failed} failed and planned anew"),
        ),
        PlacementPhase::Balanced => ("Balanced", format!("balanced; {done} moves done")),
        PlacementPhase::PlanReady => (
            "AwaitingApproval",
            format!(
                "{} moves planned; approve with the annotation {APPROVE_ANNOTATION}=\"true\"",
                pending + running
            ),
        ),
        _ => (
            "Moving",
            format!("{done} moves done, {running} running, {pending} pending"),
        ),
    }
}

fn conditions(
    previous: &ShardPlacementStatus,
    generation: Option<i64>,
    now: Timestamp,
    phase: PlacementPhase,
    reason: &str,
    message: &str,
) -> Vec<k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition> {
    let balanced = phase == PlacementPhase::Balanced;
    let moving = phase == PlacementPhase::Moving;
    let previous = &previous.conditions;
    vec![
        condition(
            previous, generation, now, "Ready", balanced, reason, message,
        ),
        condition(
            previous,
            generation,
            now,
            "Progressing",
            moving,
            reason,
            message,
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mv(shard: u32, from: &str, to: &str) -> PlannedMove {
        PlannedMove {
            collection: "docs".into(),
            shard,
            from: from.into(),
            to: to.into(),
            state: None,
            points_done: None,
            points_total: None,
        }
    }

    fn running(shard: u32, from: &str, to: &str, done: u64, total: u64) -> PlannedMove {
        PlannedMove {
            points_done: Some(done),
            points_total: Some(total),
            ..mv(shard, from, to)
        }
    }

    struct Case {
        automatic: bool,
        approved: bool,
        planned: Vec<PlannedMove>,
        running: Vec<PlannedMove>,
        held: BTreeSet<(String, u32, String)>,
    }

    impl Case {
        fn new(planned: Vec<PlannedMove>, running: Vec<PlannedMove>) -> Case {
            Case {
                automatic: true,
                approved: false,
                planned,
                running,
                held: BTreeSet::new(),
            }
        }

        fn step(&self, previous: &ShardPlacementStatus) -> PlacementStep {
            step(&PlacementView {
                generation: Some(2),
                automatic: self.automatic,
                approved: self.approved,
                planned: &self.planned,
                running: &self.running,
                held: &self.held,
                previous,
                now: Timestamp::from_second(1_800_000_000).unwrap(),
            })
        }
    }

    fn cond<'a>(s: &'a ShardPlacementStatus, type_: &str) -> (&'a str, &'a str) {
        let c = s.conditions.iter().find(|c| c.type_ == type_).unwrap();
        (c.status.as_str(), c.reason.as_str())
    }

    fn states(s: &ShardPlacementStatus) -> Vec<(u32, Option<MoveState>)> {
        s.plan.iter().map(|m| (m.shard, m.state)).collect()
    }

    #[test]
    fn nothing_to_move_is_balanced() {
        let step = Case::new(vec![], vec![]).step(&ShardPlacementStatus::default());
        assert_eq!(step.status.phase, Some(PlacementPhase::Balanced));
        assert!(!step.start_moves && !step.clear_approval);
        assert_eq!(cond(&step.status, "Ready"), ("True", "Balanced"));
        assert_eq!(cond(&step.status, "Progressing").0, "False");
        assert_eq!(step.status.observed_generation, Some(2));
    }

    #[test]
    fn automatic_approval_moves_at_once() {
        let case = Case::new(
            vec![mv(0, "vec-0", "vec-3"), mv(1, "vec-1", "vec-4")],
            vec![],
        );
        let step = case.step(&ShardPlacementStatus::default());
        assert_eq!(step.status.phase, Some(PlacementPhase::Moving));
        assert!(step.start_moves);
        assert_eq!(
            states(&step.status),
            [(0, Some(MoveState::Pending)), (1, Some(MoveState::Pending))]
        );
        assert_eq!(cond(&step.status, "Progressing"), ("True", "Moving"));
        assert_eq!(cond(&step.status, "Ready").0, "False");
    }

    #[test]
    fn manual_approval_waits_for_the_annotation_then_clears_it_when_done() {
        let mut case = Case::new(vec![mv(0, "vec-0", "vec-3")], vec![]);
        case.automatic = false;
        let waiting = case.step(&ShardPlacementStatus::default());
        assert_eq!(waiting.status.phase, Some(PlacementPhase::PlanReady));
        assert!(!waiting.start_moves);
        assert_eq!(
            cond(&waiting.status, "Ready"),
            ("False", "AwaitingApproval")
        );
        case.approved = true;
        let moving = case.step(&waiting.status);
        assert_eq!(moving.status.phase, Some(PlacementPhase::Moving));
        assert!(moving.start_moves && !moving.clear_approval);
        case.planned.clear();
        case.held.insert(("docs".into(), 0, "vec-3".into()));
        let done = case.step(&moving.status);
        assert_eq!(done.status.phase, Some(PlacementPhase::Balanced));
        assert!(done.clear_approval);
    }

    #[test]
    fn progress_comes_from_the_transfers_and_finished_moves_stay_on_record() {
        let previous = Case::new(
            vec![mv(0, "vec-0", "vec-3"), mv(1, "vec-1", "vec-4")],
            vec![],
        )
        .step(&ShardPlacementStatus::default())
        .status;
        // Shard 0 is in flight; the planner counts it as done, so only shard 1 is planned.
        let case = Case::new(
            vec![mv(1, "vec-1", "vec-4")],
            vec![running(0, "vec-0", "vec-3", 400, 1000)],
        );
        let moving = case.step(&previous);
        assert_eq!(
            states(&moving.status),
            [(0, Some(MoveState::Running)), (1, Some(MoveState::Pending))]
        );
        assert_eq!(moving.status.plan[0].points_done, Some(400));
        // Shard 0 finished (its target holds it), shard 1 runs.
        let mut case = Case::new(vec![], vec![running(1, "vec-1", "vec-4", 0, 800)]);
        case.held.insert(("docs".into(), 0, "vec-3".into()));
        let later = case.step(&moving.status);
        assert_eq!(later.status.phase, Some(PlacementPhase::Moving));
        assert!(!later.start_moves, "nothing left to start");
        assert_eq!(
            states(&later.status),
            [(0, Some(MoveState::Done)), (1, Some(MoveState::Running))]
        );
        assert_eq!(later.status.plan[0].points_done, Some(1000));
        // Shard 1's transfer vanished without its target holding it: failed.
        let end = Case::new(vec![], vec![]).step(&later.status);
        assert_eq!(end.status.phase, Some(PlacementPhase::Balanced));
        assert_eq!(
            states(&end.status),
            [(0, Some(MoveState::Done)), (1, Some(MoveState::Failed))]
        );
        assert!(cond(&end.status, "Ready") == ("True", "Balanced"));
    }

    #[test]
    fn a_new_run_forgets_the_last_one() {
        let mut case = Case::new(vec![], vec![running(0, "vec-0", "vec-3", 1, 2)]);
        let moving = case.step(&ShardPlacementStatus::default());
        case.running.clear();
        case.held.insert(("docs".into(), 0, "vec-3".into()));
        let balanced = case.step(&moving.status);
        assert_eq!(states(&balanced.status), [(0, Some(MoveState::Done))]);
        let again = case.step(&balanced.status);
        assert_eq!(again.status.plan, balanced.status.plan, "the record stays");
        let next = Case::new(vec![mv(2, "vec-1", "vec-2")], vec![]).step(&again.status);
        assert_eq!(states(&next.status), [(2, Some(MoveState::Pending))]);
    }

    #[test]
    fn a_move_that_ran_between_two_passes_is_on_record() {
        let previous = Case::new(
            vec![mv(0, "vec-0", "vec-3"), mv(1, "vec-1", "vec-4")],
            vec![],
        )
        .step(&ShardPlacementStatus::default())
        .status;
        let mut case = Case::new(vec![mv(1, "vec-1", "vec-4")], vec![]);
        case.held.insert(("docs".into(), 0, "vec-3".into()));
        let step = case.step(&previous);
        assert_eq!(
            states(&step.status),
            [(0, Some(MoveState::Done)), (1, Some(MoveState::Pending))]
        );
    }

    #[test]
    fn a_planned_move_the_cluster_dropped_is_forgotten() {
        let previous = Case::new(vec![mv(0, "vec-0", "vec-3")], vec![])
            .step(&ShardPlacementStatus::default())
            .status;
        let replanned = Case::new(vec![mv(0, "vec-0", "vec-4")], vec![]).step(&previous);
        assert_eq!(replanned.status.plan.len(), 1);
        assert_eq!(replanned.status.plan[0].to, "vec-4");
    }

    #[test]
    fn blocked_keeps_the_phase_and_failed_is_final() {
        let moving = Case::new(vec![mv(0, "a", "b")], vec![])
            .step(&ShardPlacementStatus::default())
            .status;
        let now = Timestamp::from_second(1_800_000_100).unwrap();
        let waiting = blocked(&moving, Some(2), now, ("NoNodeReachable", "x"), false);
        assert_eq!(waiting.phase, Some(PlacementPhase::Moving));
        assert_eq!(cond(&waiting, "Ready"), ("False", "NoNodeReachable"));
        assert_eq!(waiting.plan, moving.plan);
        let fresh = blocked(
            &ShardPlacementStatus::default(),
            None,
            now,
            ("R", "m"),
            false,
        );
        assert_eq!(fresh.phase, Some(PlacementPhase::Pending));
        let failed = blocked(&moving, Some(3), now, ("InvalidPlacement", "m"), true);
        assert_eq!(failed.phase, Some(PlacementPhase::Failed));
        assert_eq!(failed.observed_generation, Some(3));
    }
}
