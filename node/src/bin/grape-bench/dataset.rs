//! The benchmark's data: points and queries from one seeded Gaussian mixture, and the
//! measures computed on results.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Normal};

use super::Args;

pub struct Dataset {
    pub points: Vec<Vec<f32>>,
    /// The cluster each point was drawn from.
    pub clusters: Vec<usize>,
    pub queries: Vec<Vec<f32>>,
}

impl Dataset {
    /// N(0,1) cluster centres; points and queries at σ = `--noise` (0.35) around a random
    /// centre.
    pub fn generate(args: &Args) -> Dataset {
        let mut rng = StdRng::seed_from_u64(2026);
        let unit = Normal::new(0.0f32, 1.0).expect("valid normal");
        let noise = Normal::new(0.0f32, args.noise).expect("valid normal");
        let centres: Vec<Vec<f32>> = (0..args.clusters)
            .map(|_| (0..args.dim).map(|_| unit.sample(&mut rng)).collect())
            .collect();
        let mut draw = |n: usize| -> (Vec<Vec<f32>>, Vec<usize>) {
            (0..n)
                .map(|_| {
                    let cluster = rng.gen_range(0..centres.len());
                    let v = centres[cluster].iter().map(|x| x + noise.sample(&mut rng));
                    (v.collect(), cluster)
                })
                .unzip()
        };
        let (points, clusters) = draw(args.points);
        let (queries, _) = draw(args.queries);
        Dataset {
            points,
            clusters,
            queries,
        }
    }
}

/// Point ids are 1-based positions in `points`.
pub fn id_of(index: usize) -> u64 {
    index as u64 + 1
}

pub fn recall(truth: &[Vec<u64>], found: &[Vec<u64>]) -> f64 {
    let hits: usize = truth
        .iter()
        .zip(found)
        .map(|(t, f)| t.iter().filter(|id| f.contains(id)).count())
        .sum();
    let wanted: usize = truth.iter().map(Vec::len).sum();
    hits as f64 / wanted.max(1) as f64
}

/// The `q` quantile of sorted latencies.
pub fn quantile(sorted: &[Duration], q: f64) -> Duration {
    let i = ((sorted.len() as f64 * q) as usize).min(sorted.len().saturating_sub(1));
    sorted.get(i).copied().unwrap_or_default()
}

/// Resident set size of a process, from /proc (0 where unavailable).
pub fn rss_mib(pid: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb / 1024)
}
