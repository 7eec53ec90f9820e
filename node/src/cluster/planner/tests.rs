use super::*;
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

fn node(id: PeerId) -> PlanNode {
    PlanNode {
        id,
        zone: None,
        weight: 1.0,
        draining: false,
    }
}

fn shard(id: u32, replicas: &[PeerId], leader: PeerId) -> PlanShard {
    PlanShard {
        collection: "c".to_string(),
        shard_id: id,
        replicas: replicas.iter().copied().collect(),
        leader: Some(leader),
    }
}

fn run(nodes: &[PlanNode], shards: &[PlanShard]) -> Vec<PlanShard> {
    let plan = plan(nodes, shards);
    let mut after = shards.to_vec();
    plan.moves.iter().for_each(|m| apply_move(&mut after, m));
    plan.leader_moves
        .iter()
        .for_each(|m| apply_leader_move(&mut after, m));
    after
}

#[test]
fn a_balanced_cluster_needs_no_plan() {
    let nodes: Vec<PlanNode> = (1..=3).map(node).collect();
    let shards = vec![
        shard(0, &[1, 2], 1),
        shard(1, &[2, 3], 2),
        shard(2, &[3, 1], 3),
    ];
    assert!(plan(&nodes, &shards).is_empty());
}

#[test]
fn a_new_node_takes_its_share_and_some_leaders() {
    let nodes: Vec<PlanNode> = (1..=4).map(node).collect();
    let shards: Vec<PlanShard> = (0..6)
        .map(|i| shard(i, &[1, 2, 3], [1, 2, 3][i as usize % 3]))
        .collect();
    let plan = plan(&nodes, &shards);
    assert_eq!(plan.moves.len(), 4, "{plan:?}");
    assert!(plan.moves.iter().all(|m| m.to == 4));
    let after = run(&nodes, &shards);
    let mut counts: Vec<usize> = replica_counts(&nodes, &after).into_values().collect();
    counts.sort();
    assert_eq!(counts, vec![4, 4, 5, 5]);
    let leaders_of_4 = after.iter().filter(|s| s.leader == Some(4)).count();
    assert!(leaders_of_4 >= 1, "{after:?}");
}

#[test]
fn a_draining_node_is_emptied() {
    let mut nodes: Vec<PlanNode> = (1..=4).map(node).collect();
    nodes[3].draining = true;
    let shards: Vec<PlanShard> = (0..4).map(|i| shard(i, &[2, 4], 4)).collect();
    let after = run(&nodes, &shards);
    assert_eq!(replica_counts(&nodes, &after)[&4], 0);
    assert!(after.iter().all(|s| s.replicas.len() == 2));
    assert!(after.iter().all(|s| s.leader.is_some_and(|l| l != 4)));
}

#[test]
fn replicas_on_unknown_peers_move_to_known_ones() {
    let nodes: Vec<PlanNode> = (1..=2).map(node).collect();
    let shards = vec![shard(0, &[1, 9], 9)];
    let after = run(&nodes, &shards);
    assert_eq!(after[0].replicas, BTreeSet::from([1, 2]));
}

#[test]
fn replicas_spread_over_zones() {
    let nodes: Vec<PlanNode> = (1..=4)
        .map(|id| PlanNode {
            zone: Some(if id <= 2 { "a" } else { "b" }.to_string()),
            ..node(id)
        })
        .collect();
    let shards = vec![shard(0, &[1, 2], 1), shard(1, &[3, 4], 3)];
    let after = run(&nodes, &shards);
    for s in &after {
        let zones: BTreeSet<_> = s.replicas.iter().map(|p| *p <= 2).collect();
        assert_eq!(zones.len(), 2, "{after:?}");
    }
}

#[test]
fn capacity_weights_share_replicas() {
    let mut nodes: Vec<PlanNode> = (1..=2).map(node).collect();
    nodes[1].weight = 3.0;
    let shards: Vec<PlanShard> = (0..8).map(|i| shard(i, &[1], 1)).collect();
    let counts = replica_counts(&nodes, &run(&nodes, &shards));
    assert_eq!(counts.values().copied().collect::<Vec<_>>(), vec![2, 6]);
}

/// A random cluster: nodes (with zones or capacity weights, some draining) and shards whose
/// replicas all sit on the first few nodes (as right after a scale-out).
fn random_cluster(seed: u64) -> (Vec<PlanNode>, Vec<PlanShard>, u32) {
    let mut rng = StdRng::seed_from_u64(seed);
    let rf: u32 = rng.gen_range(1..=3);
    let zones: u64 = [0, 2, 3][rng.gen_range(0..3)];
    let node_count = if zones > 0 {
        zones * rng.gen_range(rf as u64..=100 / zones)
    } else {
        rng.gen_range(rf as u64 + 1..=100)
    };
    let nodes: Vec<PlanNode> = (1..=node_count)
        .map(|id| PlanNode {
            id,
            zone: (zones > 0).then(|| format!("zone-{}", id % zones)),
            // Heavier nodes only where their share stays reachable (one replica per shard).
            weight: if zones == 0 && node_count >= 20 && rng.gen_bool(0.2) {
                2.0
            } else {
                1.0
            },
            draining: zones == 0 && id > rf as u64 && rng.gen_bool(0.1),
        })
        .collect();
    let occupied = rng.gen_range(rf as usize..=nodes.len());
    let shards = (0..rng.gen_range(1_000..1_400))
        .map(|id| {
            let mut on: Vec<PeerId> = nodes[..occupied].iter().map(|n| n.id).collect();
            on.shuffle(&mut rng);
            on.truncate(rf as usize);
            let leader = on.first().copied().filter(|_| rng.gen_bool(0.9));
            PlanShard {
                collection: format!("c{}", id % 3),
                shard_id: id,
                replicas: on.into_iter().collect(),
                leader,
            }
        })
        .collect();
    (nodes, shards, rf)
}

fn zone_count(nodes: &[PlanNode], shard: &PlanShard) -> usize {
    shard
        .replicas
        .iter()
        .filter_map(|p| nodes.iter().find(|n| n.id == *p)?.zone.as_deref())
        .collect::<BTreeSet<_>>()
        .len()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn plans_keep_every_invariant(seed in any::<u64>()) {
        let (nodes, shards, rf) = random_cluster(seed);
        let plan = plan(&nodes, &shards);
        let draining: BTreeSet<PeerId> =
            nodes.iter().filter(|n| n.draining).map(|n| n.id).collect();
        let mut state = shards.clone();
        for step in &plan.moves {
            let before = state.iter().find(|s| s.shard_id == step.shard_id).unwrap().clone();
            prop_assert!(before.replicas.contains(&step.from));
            prop_assert!(!before.replicas.contains(&step.to), "two replicas on one node");
            prop_assert!(!draining.contains(&step.to), "a move onto a draining node");
            apply_move(&mut state, step);
            let after = state.iter().find(|s| s.shard_id == step.shard_id).unwrap();
            prop_assert_eq!(after.replicas.len(), rf as usize);
            if !draining.contains(&step.from) {
                prop_assert!(zone_count(&nodes, after) >= zone_count(&nodes, &before));
            }
        }
        for step in &plan.leader_moves {
            let shard = state.iter().find(|s| s.shard_id == step.shard_id).unwrap();
            prop_assert!(shard.replicas.contains(&step.to), "a leader off its replicas");
            apply_leader_move(&mut state, step);
        }

        // The end state: drained, spread over zones, balanced within one by weight.
        let counts = replica_counts(&nodes, &state);
        let zones: BTreeSet<_> = nodes.iter().filter_map(|n| n.zone.clone()).collect();
        for shard in &state {
            prop_assert!(shard.replicas.iter().all(|p| !draining.contains(p)));
            prop_assert_eq!(zone_count(&nodes, shard), (rf as usize).min(zones.len()));
            prop_assert!(shard.leader.is_some());
        }
        let active: Vec<&PlanNode> = nodes.iter().filter(|n| !n.draining).collect();
        let weight: f64 = active.iter().map(|n| n.weight).sum();
        let total: usize = counts.values().sum();
        for n in &active {
            let share = total as f64 * n.weight / weight;
            prop_assert!((counts[&n.id] as f64 - share).abs() <= 1.0 + 1e-9,
                "node {} holds {} replicas, its share is {share}", n.id, counts[&n.id]);
        }
        // Point-count skew for uniform shard sizes, where shares are large enough to tell.
        let equal_weights = active.iter().all(|n| n.weight == 1.0);
        let mean = total as f64 / active.len() as f64;
        if equal_weights && mean >= 20.0 {
            let max = active.iter().map(|n| counts[&n.id]).max().unwrap() as f64;
            prop_assert!((max - mean) / mean < 0.05, "skew {}", (max - mean) / mean);
        }

        prop_assert!(super::plan(&nodes, &state).is_empty(), "planning again moves more");
    }
}
