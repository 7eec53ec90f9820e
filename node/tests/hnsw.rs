//! HNSW quality and persistence, measured against exact search on clustered data.

use grape::index::{exact_search, preprocess, DenseVectors, HnswIndex};
use grape::types::Distance;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const DIM: usize = 24;
const POINTS: usize = 3_000;
const QUERIES: usize = 100;
const TOP: usize = 10;

/// Points from a mixture of Gaussian clusters, like the benchmark's dataset.
fn clustered(rng: &mut StdRng, n: usize, centres: &[Vec<f32>]) -> Vec<Vec<f32>> {
    (0..n)
        .map(|_| {
            let c = &centres[rng.gen_range(0..centres.len())];
            c.iter().map(|x| x + rng.gen_range(-0.6..0.6)).collect()
        })
        .collect()
}

/// Builds a graph; `threads` 0 links the batch on every core, 1 sequentially.
fn build_with(
    distance: Distance,
    rng: &mut StdRng,
    threads: usize,
) -> (DenseVectors, HnswIndex, Vec<Vec<f32>>) {
    let centres: Vec<Vec<f32>> = (0..20)
        .map(|_| (0..DIM).map(|_| rng.gen_range(-2.0..2.0)).collect())
        .collect();
    let mut vectors = DenseVectors::new(DIM, distance);
    let offsets: Vec<u32> = clustered(rng, POINTS, &centres)
        .iter()
        .map(|v| vectors.push(v))
        .collect();
    let mut index = HnswIndex::new(16, 100, 7, threads);
    index.insert_batch(&vectors, &offsets);
    let queries = clustered(rng, QUERIES, &centres)
        .into_iter()
        .map(|mut q| {
            preprocess(distance, &mut q);
            q
        })
        .collect();
    (vectors, index, queries)
}

fn build(distance: Distance, rng: &mut StdRng) -> (DenseVectors, HnswIndex, Vec<Vec<f32>>) {
    build_with(distance, rng, 0)
}

/// Mean recall@TOP of the graph against exact search, over offsets passing `accept`.
fn recall(
    vectors: &DenseVectors,
    index: &HnswIndex,
    queries: &[Vec<f32>],
    ef: usize,
    accept: &dyn Fn(u32) -> bool,
) -> f64 {
    let mut hits = 0;
    let mut wanted = 0;
    for q in queries {
        let truth = exact_search(
            vectors,
            q,
            TOP,
            (0..vectors.len() as u32).filter(|&o| accept(o)),
        );
        let found = index.search(vectors, q, TOP, ef, accept);
        assert!(
            found.iter().all(|r| accept(r.offset)),
            "a rejected offset was returned"
        );
        wanted += truth.len();
        hits += truth
            .iter()
            .filter(|t| found.iter().any(|f| f.offset == t.offset))
            .count();
    }
    hits as f64 / wanted as f64
}

#[test]
fn recall_at_10_is_high_for_every_distance() {
    for distance in [
        Distance::Cosine,
        Distance::Dot,
        Distance::Euclid,
        Distance::Manhattan,
    ] {
        let mut rng = StdRng::seed_from_u64(42);
        let (vectors, index, queries) = build(distance, &mut rng);
        assert_eq!(index.len(), POINTS);
        let r = recall(&vectors, &index, &queries, 64, &|_| true);
        assert!(r >= 0.95, "{distance:?}: recall {r}");
    }
}

#[test]
fn scores_follow_qdrant_conventions_and_order() {
    for distance in [Distance::Cosine, Distance::Euclid] {
        let mut rng = StdRng::seed_from_u64(1);
        let (vectors, index, queries) = build(distance, &mut rng);
        let found = index.search(&vectors, &queries[0], TOP, 64, &|_| true);
        let scores: Vec<f32> = found.iter().map(|r| r.score).collect();
        let mut sorted = scores.clone();
        if distance.higher_is_better() {
            sorted.sort_by(|a, b| b.total_cmp(a));
        } else {
            sorted.sort_by(|a, b| a.total_cmp(b));
            assert!(
                scores.iter().all(|&s| s >= 0.0),
                "distances are non-negative"
            );
        }
        assert_eq!(scores, sorted);
        let exact = exact_search(&vectors, &queries[0], 1, 0..vectors.len() as u32);
        assert!((exact[0].score - found[0].score).abs() < 1e-5);
    }
}

#[test]
fn filtered_traversal_keeps_recall_for_broad_filters() {
    let mut rng = StdRng::seed_from_u64(3);
    let (vectors, index, queries) = build(Distance::Cosine, &mut rng);
    for modulus in [2u32, 5] {
        let accept = move |o: u32| o.is_multiple_of(modulus);
        let r = recall(&vectors, &index, &queries, 128, &accept);
        assert!(r >= 0.9, "1/{modulus} of points accepted: recall {r}");
    }
}

#[test]
fn saved_graph_loads_and_answers_identically() {
    let mut rng = StdRng::seed_from_u64(5);
    let (vectors, index, queries) = build(Distance::Euclid, &mut rng);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hnsw.bin");
    index.save(&path).unwrap();
    let loaded = HnswIndex::load(&path).unwrap();
    assert_eq!(loaded.len(), index.len());
    for q in &queries[..10] {
        assert_eq!(
            index.search(&vectors, q, TOP, 32, &|_| true),
            loaded.search(&vectors, q, TOP, 32, &|_| true)
        );
    }
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    assert!(
        HnswIndex::load(&path).is_err(),
        "a truncated graph must not load"
    );
}

#[test]
fn sequential_builds_are_deterministic() {
    let mut a = StdRng::seed_from_u64(9);
    let mut b = StdRng::seed_from_u64(9);
    let (vectors, first, queries) = build_with(Distance::Dot, &mut a, 1);
    let (_, second, _) = build_with(Distance::Dot, &mut b, 1);
    for q in &queries[..10] {
        assert_eq!(
            first.search(&vectors, q, TOP, 16, &|_| true),
            second.search(&vectors, q, TOP, 16, &|_| true)
        );
    }
}
