//! The planner's cost model: the work of each way to answer a filtered search, counted in
//! vector distance evaluations, from the shard size and the filter's selection.
//!
//! - Exact scoring touches each candidate (every point when the indexes do not bound the
//!   filter), checks the filter on it unless the indexes answered exactly, and scores the
//!   matches.
//! - A graph walk visits about `VISITS_PER_EF * ef` nodes to collect `ef` results; with a
//!   filter keeping a fraction `s` of the points, about `1/s` times as many (all of them at
//!   most), each scored and checked.
//! - Value graphs hold only points of the selected values: each is walked as above, with
//!   the fraction of its points the rest of the filter keeps.

use crate::types::HnswConfig;

use super::search::Plan;

/// Nodes scored per unit of `ef` by an unfiltered walk (measured on the benchmark set).
const VISITS_PER_EF: f64 = 24.0;
/// Cost of checking a filter on a payload, relative to scoring a vector.
const CHECK: f64 = 1.5;
/// Cost of looking an offset up in a candidate bitmap.
const LOOKUP: f64 = 0.2;

/// What the planner knows about a filtered search in one shard.
pub struct Costs {
    /// Live points of the shard.
    pub points: u64,
    /// Expected number of points passing the filter.
    pub matches: u64,
    /// Size of the index-bounded candidate set, if bounded.
    pub candidates: Option<u64>,
    /// Must each candidate be checked against the filter (the indexes answered a superset)?
    pub checked: bool,
    pub ef: u64,
    /// Points of each selected value, when they all have value graphs.
    pub value_points: Option<Vec<u64>>,
}

impl Costs {
    fn exact(&self) -> f64 {
        let touched = self.candidates.unwrap_or(self.points) as f64;
        let check = if self.checked { CHECK } else { 0.0 };
        touched * check + self.matches as f64
    }

    /// A walk over a graph of `nodes` points of which `kept` pass the filter.
    fn walk(&self, nodes: u64, kept: u64) -> f64 {
        let fraction = (kept.max(1) as f64 / nodes.max(1) as f64).min(1.0);
        let visits = (VISITS_PER_EF * self.ef as f64 / fraction).min(nodes as f64);
        let per_visit =
            1.0 + if self.candidates.is_some() {
                LOOKUP
            } else {
                0.0
            } + if self.checked { CHECK } else { 0.0 };
        visits * per_visit
    }

    fn graph(&self) -> f64 {
        self.walk(self.points, self.matches)
    }

    fn value_graphs(&self) -> Option<f64> {
        let sizes = self.value_points.as_ref()?;
        let total: u64 = sizes.iter().sum();
        let kept = |size: u64| self.matches.min(total) * size / total.max(1);
        Some(sizes.iter().map(|&size| self.walk(size, kept(size))).sum())
    }
}

/// The cheapest plan for a filtered search.
pub fn cheapest(costs: &Costs, ef: usize) -> Plan {
    let exact = costs.exact();
    let graph = costs.graph();
    match costs.value_graphs() {
        Some(values) if values < exact && values < graph => Plan::ValueGraphs { ef },
        _ if exact <= graph => Plan::Exact,
        _ => Plan::Graph { ef },
    }
}

/// The number of vectors whose storage fits in `full_scan_threshold` KB.
pub fn full_scan_points(hnsw: &HnswConfig, dim: usize) -> usize {
    hnsw.full_scan_threshold.saturating_mul(1024) / (dim.max(1) * std::mem::size_of::<f32>())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn costs(matches: u64, candidates: Option<u64>, checked: bool) -> Costs {
        Costs {
            points: 100_000,
            matches,
            candidates,
            checked,
            ef: 64,
            value_points: None,
        }
    }

    #[test]
    fn selective_filters_are_scored_exactly_broad_ones_walk_the_graph() {
        let plan = |c: &Costs| cheapest(c, 64);
        assert_eq!(plan(&costs(500, Some(500), false)), Plan::Exact);
        assert_eq!(
            plan(&costs(50_000, Some(50_000), false)),
            Plan::Graph { ef: 64 }
        );
        assert_eq!(
            plan(&costs(5_000, None, true)),
            Plan::Graph { ef: 64 },
            "without index candidates exact scoring checks every point"
        );
        assert_eq!(plan(&costs(100, None, true)), Plan::Exact);
        let mut keyword = costs(8_000, Some(8_000), false);
        keyword.value_points = Some(vec![8_000]);
        assert_eq!(plan(&keyword), Plan::ValueGraphs { ef: 64 });
    }
}
