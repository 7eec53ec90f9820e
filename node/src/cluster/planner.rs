//! Rebalance planning: which replicas to move, and which leaderships, so that the cluster is
//! balanced. Pure and deterministic (no I/O, no clock, no randomness): the same input always
//! gives the same plan, so every caller agrees and the plan is unit- and property-tested.
//!
//! A plan, applied in order, keeps these invariants after every step:
//! 1. no node holds two replicas of a shard, and a shard's replicas span as many zones as
//!    they can;
//! 2. it never lowers a shard's replica count (a move copies first, then drops the source);
//!
//! and reaches, at the end:
//! 3. no replica on a draining node;
//! 4. replica counts per node within one of their capacity-weighted share;
//! 5. leader counts per node within one of their share, where placement allows.
//!
//! Moves are greedy: each one goes from the most over-loaded node to the most under-loaded
//! node that can take one of its shards, so no move is wasted and planning the result again
//! gives an empty plan.

use std::collections::{BTreeMap, BTreeSet};

use super::raft_types::PeerId;

/// A node as the planner sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanNode {
    pub id: PeerId,
    /// Failure domain (e.g. the Kubernetes zone); `None` means no zone is known.
    pub zone: Option<String>,
    /// Relative capacity; replicas are shared in proportion to it.
    pub weight: f64,
    /// The node must end up empty.
    pub draining: bool,
}

/// A shard as the planner sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanShard {
    pub collection: String,
    pub shard_id: u32,
    pub replicas: BTreeSet<PeerId>,
    pub leader: Option<PeerId>,
}

/// Moves one replica: copy to `to`, then drop `from`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaMove {
    pub collection: String,
    pub shard_id: u32,
    pub from: PeerId,
    pub to: PeerId,
}

/// Hands a shard's leadership to `to` (one of its replicas).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaderMove {
    pub collection: String,
    pub shard_id: u32,
    pub to: PeerId,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub moves: Vec<ReplicaMove>,
    pub leader_moves: Vec<LeaderMove>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.moves.is_empty() && self.leader_moves.is_empty()
    }
}

/// The plan that balances `shards` over `nodes`.
pub fn plan(nodes: &[PlanNode], shards: &[PlanShard]) -> Plan {
    let mut layout = Layout::new(nodes, shards);
    let mut plan = Plan::default();
    while let Some((shard, from, to)) = layout.next_replica_move() {
        plan.moves.push(layout.apply_move(shard, from, to));
    }
    while let Some((shard, to)) = layout.next_leader_move() {
        plan.leader_moves.push(layout.apply_leader_move(shard, to));
    }
    plan
}

/// Applies a replica move to shards, as the cluster will.
pub fn apply_move(shards: &mut [PlanShard], step: &ReplicaMove) {
    if let Some(shard) = find(shards, &step.collection, step.shard_id) {
        shard.replicas.remove(&step.from);
        shard.replicas.insert(step.to);
        if shard.leader == Some(step.from) {
            shard.leader = None;
        }
    }
}

/// Applies a leader move to shards.
pub fn apply_leader_move(shards: &mut [PlanShard], step: &LeaderMove) {
    if let Some(shard) = find(shards, &step.collection, step.shard_id) {
        shard.leader = Some(step.to);
    }
}

fn find<'s>(shards: &'s mut [PlanShard], collection: &str, id: u32) -> Option<&'s mut PlanShard> {
    shards
        .iter_mut()
        .find(|s| s.collection == collection && s.shard_id == id)
}

/// Node positions in the layout's nodes, shard positions in `shards`.
type Node = usize;
type ShardIndex = usize;

/// The working state of a plan: shards with replicas as node positions, and per-node
/// counts. A replica on a peer the planner was not told about sits on a draining node of
/// its own, so it moves like any replica of a draining node.
struct Layout<'a> {
    nodes: Vec<PlanNode>,
    shards: &'a [PlanShard],
    replicas: Vec<BTreeSet<Node>>,
    leaders: Vec<Option<Node>>,
    /// Shards held by each node.
    held: Vec<BTreeSet<ShardIndex>>,
    leading: Vec<usize>,
    /// Zones of the nodes that are not draining.
    zones: usize,
    active_weight: f64,
    total_replicas: usize,
}

impl<'a> Layout<'a> {
    fn new(nodes: &[PlanNode], shards: &'a [PlanShard]) -> Self {
        let mut nodes = nodes.to_vec();
        let known: BTreeSet<PeerId> = nodes.iter().map(|n| n.id).collect();
        let unknown: BTreeSet<PeerId> = shards
            .iter()
            .flat_map(|s| &s.replicas)
            .filter(|p| !known.contains(p))
            .copied()
            .collect();
        nodes.extend(unknown.into_iter().map(|id| PlanNode {
            id,
            zone: None,
            weight: 1.0,
            draining: true,
        }));
        let position: BTreeMap<PeerId, Node> =
            nodes.iter().enumerate().map(|(i, n)| (n.id, i)).collect();
        let replicas: Vec<BTreeSet<Node>> = shards
            .iter()
            .map(|s| s.replicas.iter().map(|p| position[p]).collect())
            .collect();
        let leaders: Vec<Option<Node>> = shards
            .iter()
            .zip(&replicas)
            .map(|(s, on)| {
                let leader = s.leader.and_then(|l| position.get(&l).copied())?;
                on.contains(&leader).then_some(leader)
            })
            .collect();
        let mut held = vec![BTreeSet::new(); nodes.len()];
        let mut leading = vec![0; nodes.len()];
        for (shard, on) in replicas.iter().enumerate() {
            for node in on {
                held[*node].insert(shard);
            }
        }
        for node in leaders.iter().flatten() {
            leading[*node] += 1;
        }
        let active: Vec<&PlanNode> = nodes.iter().filter(|n| !n.draining).collect();
        let zones = active
            .iter()
            .filter_map(|n| n.zone.as_deref())
            .collect::<BTreeSet<_>>()
            .len();
        let active_weight = active.iter().map(|n| weight(n)).sum();
        Layout {
            total_replicas: replicas.iter().map(BTreeSet::len).sum(),
            nodes,
            shards,
            replicas,
            leaders,
            held,
            leading,
            zones,
            active_weight,
        }
    }

    /// How far a node holding `count` is above its share of `total` (negative: below).
    /// Draining nodes have a share of zero.
    fn excess(&self, node: Node, count: usize, total: usize) -> f64 {
        let n = &self.nodes[node];
        let share = if n.draining || self.active_weight <= 0.0 {
            0.0
        } else {
            total as f64 * weight(n) / self.active_weight
        };
        count as f64 - share
    }

    fn replica_excess(&self, node: Node) -> f64 {
        self.excess(node, self.held[node].len(), self.total_replicas)
    }

    /// How many zones the shard's replicas span, with `from` swapped for `to` if given.
    fn zones(&self, shard: ShardIndex, swap: Option<(Node, Node)>) -> usize {
        let on = &self.replicas[shard];
        let kept = on
            .iter()
            .filter(|n| swap.is_none_or(|(from, _)| **n != from));
        let added = swap.map(|(_, to)| to);
        kept.copied()
            .chain(added)
            .filter_map(|n| self.nodes[n].zone.as_deref())
            .collect::<BTreeSet<_>>()
            .len()
    }

    fn takes(&self, shard: ShardIndex, to: Node) -> bool {
        !self.nodes[to].draining && !self.replicas[shard].contains(&to)
    }

    /// Active nodes from the least loaded, ties broken by id.
    fn targets_by_load(&self) -> Vec<Node> {
        let mut order: Vec<Node> = (0..self.nodes.len())
            .filter(|&i| !self.nodes[i].draining)
            .collect();
        order.sort_by(|&a, &b| {
            let (ea, eb) = (self.replica_excess(a), self.replica_excess(b));
            ea.total_cmp(&eb)
                .then(self.nodes[a].id.cmp(&self.nodes[b].id))
        });
        order
    }

    /// The next replica move: first whatever must move (replicas on draining nodes, shards
    /// that could span more zones), then balance.
    fn next_replica_move(&self) -> Option<(ShardIndex, Node, Node)> {
        let targets = self.targets_by_load();
        self.forced_move(&targets)
            .or_else(|| self.zone_move(&targets))
            .or_else(|| self.balance_move(&targets))
    }

    /// Moves a replica off a draining node, to the least loaded node that keeps the most
    /// zones.
    fn forced_move(&self, targets: &[Node]) -> Option<(ShardIndex, Node, Node)> {
        let draining = (0..self.nodes.len()).filter(|&n| self.nodes[n].draining);
        draining.into_iter().find_map(|from| {
            self.held[from].iter().find_map(|&shard| {
                let (_, to) = targets
                    .iter()
                    .enumerate()
                    .filter(|(_, to)| self.takes(shard, **to))
                    .min_by_key(|(rank, to)| {
                        (
                            std::cmp::Reverse(self.zones(shard, Some((from, **to)))),
                            *rank,
                        )
                    })?;
                Some((shard, from, *to))
            })
        })
    }

    /// Moves a replica out of a zone holding two of a shard's replicas, to a zone holding
    /// none, when one exists.
    fn zone_move(&self, targets: &[Node]) -> Option<(ShardIndex, Node, Node)> {
        if self.zones < 2 {
            return None;
        }
        (0..self.shards.len()).find_map(|shard| {
            let now = self.zones(shard, None);
            if now >= self.replicas[shard].len().min(self.zones) {
                return None;
            }
            let mut seen = BTreeSet::new();
            let crowded: Vec<Node> = self.replicas[shard]
                .iter()
                .filter(|n| !seen.insert(self.nodes[**n].zone.as_deref()))
                .copied()
                .collect();
            crowded.iter().find_map(|&from| {
                let to = targets.iter().find(|&&to| {
                    self.takes(shard, to) && self.zones(shard, Some((from, to))) > now
                })?;
                Some((shard, from, *to))
            })
        })
    }

    /// Moves one replica from the most over-loaded node to the most under-loaded one that
    /// can take one of its shards, while their excesses differ by more than one.
    fn balance_move(&self, targets: &[Node]) -> Option<(ShardIndex, Node, Node)> {
        for &from in targets.iter().rev() {
            for &to in targets {
                if self.replica_excess(from) - self.replica_excess(to) <= 1.0 + 1e-9 {
                    break;
                }
                // Prefer a shard the source follows: moving it changes no leadership.
                let candidate = self.held[from]
                    .iter()
                    .copied()
                    .filter(|&s| {
                        self.takes(s, to) && self.zones(s, Some((from, to))) >= self.zones(s, None)
                    })
                    .min_by_key(|&s| self.leaders[s] == Some(from));
                if let Some(shard) = candidate {
                    return Some((shard, from, to));
                }
            }
        }
        None
    }

    fn apply_move(&mut self, shard: ShardIndex, from: Node, to: Node) -> ReplicaMove {
        self.replicas[shard].remove(&from);
        self.replicas[shard].insert(to);
        self.held[from].remove(&shard);
        self.held[to].insert(shard);
        if self.leaders[shard] == Some(from) {
            self.leaders[shard] = None;
            self.leading[from] -= 1;
        }
        ReplicaMove {
            collection: self.shards[shard].collection.clone(),
            shard_id: self.shards[shard].shard_id,
            from: self.nodes[from].id,
            to: self.nodes[to].id,
        }
    }

    /// The next leadership to hand over: a shard without a known leader gets the replica
    /// leading least; otherwise leadership moves from the most leading node to a replica
    /// of the same shard whose excess is lower by more than one.
    fn next_leader_move(&self) -> Option<(ShardIndex, Node)> {
        if let Some(shard) = (0..self.shards.len()).find(|&s| self.leaders[s].is_none()) {
            let to = self.replicas[shard]
                .iter()
                .min_by_key(|&&n| (self.leading[n], self.nodes[n].id))?;
            return Some((shard, *to));
        }
        let total = self.shards.len();
        let excess = |n: Node| self.excess(n, self.leading[n], total);
        let mut best: Option<(f64, ShardIndex, Node)> = None;
        for (shard, leader) in self.leaders.iter().enumerate() {
            let Some(from) = *leader else { continue };
            for &to in &self.replicas[shard] {
                let gap = excess(from) - excess(to);
                if gap > 1.0 + 1e-9 && best.is_none_or(|(g, _, _)| gap > g) {
                    best = Some((gap, shard, to));
                }
            }
        }
        best.map(|(_, shard, to)| (shard, to))
    }

    fn apply_leader_move(&mut self, shard: ShardIndex, to: Node) -> LeaderMove {
        if let Some(from) = self.leaders[shard] {
            self.leading[from] -= 1;
        }
        self.leaders[shard] = Some(to);
        self.leading[to] += 1;
        LeaderMove {
            collection: self.shards[shard].collection.clone(),
            shard_id: self.shards[shard].shard_id,
            to: self.nodes[to].id,
        }
    }
}

fn weight(node: &PlanNode) -> f64 {
    if node.weight > 0.0 {
        node.weight
    } else {
        1.0
    }
}

/// Replica counts per node of `shards` (every node of `nodes` included).
pub fn replica_counts(nodes: &[PlanNode], shards: &[PlanShard]) -> BTreeMap<PeerId, usize> {
    let mut counts: BTreeMap<PeerId, usize> = nodes.iter().map(|n| (n.id, 0)).collect();
    for peer in shards.iter().flat_map(|s| &s.replicas) {
        *counts.entry(*peer).or_default() += 1;
    }
    counts
}

#[cfg(test)]
mod tests;
