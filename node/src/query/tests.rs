//! The query module against brute-force references computed here.

use serde_json::json;

use super::*;

// The tests read at the default consistency (one replica: the only one).
fn query(engine: &Engine, c: &str, r: QueryRequest) -> Result<Vec<ScoredPoint>> {
    super::query(engine, c, r, ReadConsistency::default())
}

fn query_groups(engine: &Engine, c: &str, r: QueryGroupsRequest) -> Result<GroupsResult> {
    super::query_groups(engine, c, r, ReadConsistency::default())
}

fn recommend(engine: &Engine, c: &str, r: RecommendRequest) -> Result<Vec<ScoredPoint>> {
    super::recommend(engine, c, r, ReadConsistency::default())
}

fn search_batch(engine: &Engine, c: &str, r: &[SearchRequest]) -> Result<Vec<Vec<ScoredPoint>>> {
    super::search_batch(engine, c, r, ReadConsistency::default())
}

fn search_groups(engine: &Engine, c: &str, r: SearchGroupsRequest) -> Result<GroupsResult> {
    super::search_groups(engine, c, r, ReadConsistency::default())
}

/// A small collection `c` with 2-d points `i = 0..n`: vector `[cos θ, sin θ] * (1 + i/10)`,
/// payload `{"i": i, "color": one of red/green/blue, "tags": [...]}`.
fn setup(distance: &str, n: u64) -> (tempfile::TempDir, Engine) {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path()).unwrap();
    engine
        .create_collection(
            "c",
            serde_json::from_value(json!({"vectors": {"size": 2, "distance": distance}})).unwrap(),
        )
        .unwrap();
    let colors = ["red", "green", "blue"];
    let points: Vec<serde_json::Value> = (0..n)
        .map(|i| {
            json!({
                "id": i,
                "vector": vector_of_point(i),
                "payload": {
                    "i": i,
                    "color": colors[(i % 3) as usize],
                    "tags": if i % 2 == 0 { json!(["even", "all"]) } else { json!(["all"]) },
                }
            })
        })
        .collect();
    let op: PointOperation = serde_json::from_value(json!({"upsert": {"points": points}})).unwrap();
    engine
        .collection("c")
        .unwrap()
        .update(vec![op], true)
        .unwrap();
    (dir, engine)
}

fn vector_of_point(i: u64) -> Vec<f32> {
    let theta = i as f32 * 0.37;
    let r = 1.0 + i as f32 / 10.0;
    vec![theta.cos() * r, theta.sin() * r]
}

fn request(body: serde_json::Value) -> QueryRequest {
    serde_json::from_value(body).unwrap()
}

fn ids(points: &[ScoredPoint]) -> Vec<u64> {
    points
        .iter()
        .map(|p| match p.id {
            PointId::Num(n) => n,
            PointId::Uuid(_) => panic!("uuid"),
        })
        .collect()
}

/// Ids of all points sorted by `key` (best first), ties by id.
fn brute_force(n: u64, key: impl Fn(u64) -> f32, higher_is_better: bool) -> Vec<u64> {
    let mut all: Vec<u64> = (0..n).collect();
    all.sort_by(|&a, &b| {
        let o = key(a).total_cmp(&key(b));
        if higher_is_better { o.reverse() } else { o }.then(a.cmp(&b))
    });
    all
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn euclid(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).powi(2))
        .sum::<f32>()
        .sqrt()
}

#[test]
fn nearest_by_vector_matches_brute_force_with_offset_and_scores() {
    let (_dir, engine) = setup("Euclid", 40);
    let q = [0.3f32, -1.2];
    let got = query(
        &engine,
        "c",
        request(json!({"query": q, "limit": 5, "offset": 2, "with_payload": true})),
    )
    .unwrap();
    let expected = brute_force(40, |i| euclid(&q, &vector_of_point(i)), false);
    assert_eq!(ids(&got), expected[2..7]);
    for p in &got {
        let i = ids(std::slice::from_ref(p))[0];
        assert!((p.score - euclid(&q, &vector_of_point(i))).abs() < 1e-4);
        assert_eq!(p.payload.as_ref().unwrap()["i"], json!(i));
        assert!(p.vector.is_none());
    }
}

#[test]
fn nearest_by_id_excludes_the_point_itself() {
    let (_dir, engine) = setup("Dot", 30);
    let got = query(&engine, "c", request(json!({"query": 7, "limit": 4}))).unwrap();
    let me = vector_of_point(7);
    let expected: Vec<u64> = brute_force(30, |i| dot(&me, &vector_of_point(i)), true)
        .into_iter()
        .filter(|&i| i != 7)
        .take(4)
        .collect();
    assert_eq!(ids(&got), expected);
    // Unknown id: 404-style error.
    assert!(matches!(
        query(&engine, "c", request(json!({"query": 999}))),
        Err(GrapeError::PointNotFound(_))
    ));
}

#[test]
fn recommend_average_vector_and_best_score() {
    let (_dir, engine) = setup("Dot", 30);
    let (p1, p2, n1) = (vector_of_point(3), vector_of_point(5), vector_of_point(20));
    let target: Vec<f32> = (0..2)
        .map(|d| {
            let avg_pos = (p1[d] + p2[d]) / 2.0;
            avg_pos + avg_pos - n1[d]
        })
        .collect();
    let got = recommend(
        &engine,
        "c",
        serde_json::from_value(json!({"positive": [3, 5], "negative": [20], "limit": 5})).unwrap(),
    )
    .unwrap();
    let expected: Vec<u64> = brute_force(30, |i| dot(&target, &vector_of_point(i)), true)
        .into_iter()
        .filter(|i| ![3, 5, 20].contains(i))
        .take(5)
        .collect();
    assert_eq!(ids(&got), expected);

    let best = |i: u64| {
        let v = vector_of_point(i);
        let pos = dot(&p1, &v).max(dot(&p2, &v));
        let neg = dot(&n1, &v);
        if pos > neg {
            scaled_fast_sigmoid(pos)
        } else {
            -scaled_fast_sigmoid(neg)
        }
    };
    let got = query(
        &engine,
        "c",
        request(json!({"query": {"recommend": {"positive": [3, 5], "negative": [20], "strategy": "best_score"}}, "limit": 6})),
    )
    .unwrap();
    let expected: Vec<u64> = brute_force(30, best, true)
        .into_iter()
        .filter(|i| ![3, 5, 20].contains(i))
        .take(6)
        .collect();
    assert_eq!(ids(&got), expected);
    for p in &got {
        assert!((p.score - best(ids(std::slice::from_ref(p))[0])).abs() < 1e-5);
    }

    // sum_scores with a raw vector example.
    let raw = [1.0f32, 0.0];
    let got = query(
        &engine,
        "c",
        request(json!({"query": {"recommend": {"positive": [raw], "negative": [4], "strategy": "sum_scores"}}, "limit": 3})),
    )
    .unwrap();
    let n4 = vector_of_point(4);
    let expected: Vec<u64> = brute_force(
        30,
        |i| dot(&raw, &vector_of_point(i)) - dot(&n4, &vector_of_point(i)),
        true,
    )
    .into_iter()
    .filter(|&i| i != 4)
    .take(3)
    .collect();
    assert_eq!(ids(&got), expected);
}

#[test]
fn recommend_without_examples_is_bad_input() {
    let (_dir, engine) = setup("Dot", 5);
    let err = recommend(
        &engine,
        "c",
        serde_json::from_value(json!({"positive": [], "limit": 3})).unwrap(),
    )
    .unwrap_err();
    assert!(matches!(err, GrapeError::BadInput(_)), "{err}");
}

#[test]
fn prefetch_results_are_rescored_by_the_outer_query() {
    let (_dir, engine) = setup("Dot", 40);
    let a = [1.0f32, 0.0];
    let b = [0.0f32, 1.0];
    let got = query(
        &engine,
        "c",
        request(json!({"prefetch": {"query": a, "limit": 8}, "query": b, "limit": 3})),
    )
    .unwrap();
    let candidates: Vec<u64> =
        brute_force(40, |i| dot(&a, &vector_of_point(i)), true)[..8].to_vec();
    let mut expected = candidates.clone();
    expected.sort_by(|&x, &y| {
        dot(&b, &vector_of_point(y))
            .total_cmp(&dot(&b, &vector_of_point(x)))
            .then(x.cmp(&y))
    });
    expected.truncate(3);
    assert_eq!(ids(&got), expected);
}

#[test]
fn rrf_fuses_prefetches_by_rank() {
    let (_dir, engine) = setup("Dot", 40);
    let a = [1.0f32, 0.2];
    let b = [-0.3f32, 1.0];
    let got = query(
        &engine,
        "c",
        request(json!({
            "prefetch": [{"query": a, "limit": 6}, {"query": b, "limit": 6}],
            "query": {"fusion": "rrf"},
            "limit": 4
        })),
    )
    .unwrap();
    let la = brute_force(40, |i| dot(&a, &vector_of_point(i)), true)[..6].to_vec();
    let lb = brute_force(40, |i| dot(&b, &vector_of_point(i)), true)[..6].to_vec();
    let rrf_score = |i: u64| {
        let part = |l: &[u64]| {
            l.iter()
                .position(|&x| x == i)
                .map_or(0.0, |r| 1.0 / (DEFAULT_RRF_K as f32 + r as f32))
        };
        part(&la) + part(&lb)
    };
    let mut union: Vec<u64> = la.iter().chain(&lb).copied().collect();
    union.sort();
    union.dedup();
    union.sort_by(|&x, &y| rrf_score(y).total_cmp(&rrf_score(x)).then(x.cmp(&y)));
    assert_eq!(ids(&got), union[..4]);
    for p in &got {
        assert!((p.score - rrf_score(ids(std::slice::from_ref(p))[0])).abs() < 1e-6);
    }
    // Fusion without prefetch is refused.
    assert!(matches!(
        query(&engine, "c", request(json!({"query": {"fusion": "rrf"}}))),
        Err(GrapeError::BadInput(_))
    ));
}

#[test]
fn mmr_re_ranks_the_nearest_candidates() {
    let (_dir, engine) = setup("Euclid", 30);
    let q = [2.0f32, 1.0];
    let nearest = brute_force(30, |i| euclid(&q, &vector_of_point(i)), false);
    // Without diversity MMR keeps the nearest order, and the points keep their distances.
    let plain = query(
        &engine,
        "c",
        request(json!({"query": {"nearest": q, "mmr": {"diversity": 0.0, "candidates_limit": 10}}, "limit": 4})),
    )
    .unwrap();
    assert_eq!(ids(&plain), nearest[..4]);
    for p in &plain {
        let i = ids(std::slice::from_ref(p))[0];
        assert!((p.score - euclid(&q, &vector_of_point(i))).abs() < 1e-5);
    }
    // With diversity the picks come from the candidates, the nearest first.
    let diverse = query(
        &engine,
        "c",
        request(json!({"query": {"nearest": q, "mmr": {"diversity": 0.9, "candidates_limit": 10}}, "limit": 4})),
    )
    .unwrap();
    let picked = ids(&diverse);
    assert_eq!(picked[0], nearest[0]);
    assert!(picked.iter().all(|i| nearest[..10].contains(i)));
    assert_ne!(picked, nearest[..4]);
}

#[test]
fn formula_rescores_prefetches_with_payloads_conditions_and_scores() {
    let (_dir, engine) = setup("Dot", 30);
    let a = [1.0f32, 0.0];
    let formula = json!({"sum": [
        "$score",
        {"mult": [-0.1, "i"]},
        {"mult": [5, {"key": "tags", "match": {"value": "even"}}]},
        {"mult": [2, "$score[1]"]},
    ]});
    let got = query(
        &engine,
        "c",
        request(json!({
            "prefetch": [{"query": a, "limit": 12}, {"filter": {"must": {"has_id": [3, 4]}}}],
            "query": {"formula": formula},
            "limit": 5
        })),
    )
    .unwrap();
    let prefetched = &brute_force(30, |i| dot(&a, &vector_of_point(i)), true)[..12];
    let value = |i: u64| {
        let score = if prefetched.contains(&i) {
            dot(&a, &vector_of_point(i))
        } else {
            0.0
        };
        score - 0.1 * i as f32 + if i.is_multiple_of(2) { 5.0 } else { 0.0 }
    };
    let mut candidates: Vec<u64> = prefetched.iter().copied().chain([3, 4]).collect();
    candidates.sort();
    candidates.dedup();
    candidates.sort_by(|&x, &y| value(y).total_cmp(&value(x)).then(x.cmp(&y)));
    assert_eq!(ids(&got), candidates[..5]);
    for (p, i) in got.iter().zip(&candidates) {
        assert!((p.score - value(*i)).abs() < 1e-4, "{i}: {}", p.score);
    }
}

#[test]
fn formula_errors_are_bad_input() {
    let (_dir, engine) = setup("Dot", 5);
    for formula in [
        json!({"formula": "missing"}),
        json!({"formula": {"div": {"left": 1, "right": "i"}}}),
        json!({"formula": {"ln": {"neg": "i"}}}),
    ] {
        let body = json!({"prefetch": {"limit": 5}, "query": formula});
        let err = query(&engine, "c", request(body.clone())).unwrap_err();
        assert!(matches!(err, GrapeError::BadInput(_)), "{body}: {err}");
    }
    let body = json!({"query": {"formula": "$score"}});
    assert!(matches!(
        query(&engine, "c", request(body)),
        Err(GrapeError::BadInput(m)) if m.contains("prefetch")
    ));
}

#[test]
fn order_by_needs_a_range_index_and_orders_by_payload() {
    let (_dir, engine) = setup("Dot", 20);
    let body = json!({"query": {"order_by": {"key": "i", "direction": "desc", "start_from": 15}}, "limit": 3});
    assert!(matches!(
        query(&engine, "c", request(body.clone())),
        Err(GrapeError::BadInput(_))
    ));
    engine
        .create_field_index("c", "i", json!("integer"))
        .unwrap();
    let got = query(&engine, "c", request(body)).unwrap();
    assert_eq!(ids(&got), vec![15, 14, 13]);
    assert_eq!(got[0].order_value, Some(OrderValue::Int(15)));
    let got = query(
        &engine,
        "c",
        request(json!({"query": {"order_by": "i"}, "limit": 2})),
    )
    .unwrap();
    assert_eq!(ids(&got), vec![0, 1]);
}

#[test]
fn sample_returns_distinct_existing_points() {
    let (_dir, engine) = setup("Dot", 20);
    let got = query(
        &engine,
        "c",
        request(json!({"query": {"sample": "random"}, "limit": 7})),
    )
    .unwrap();
    let mut got = ids(&got);
    assert_eq!(got.len(), 7);
    got.sort();
    got.dedup();
    assert_eq!(got.len(), 7);
    assert!(got.iter().all(|&i| i < 20));
}

#[test]
fn query_without_query_lists_points_by_id() {
    let (_dir, engine) = setup("Dot", 20);
    let got = query(&engine, "c", request(json!({"limit": 3, "offset": 2}))).unwrap();
    assert_eq!(ids(&got), vec![2, 3, 4]);
}

#[test]
fn groups_take_the_best_hits_of_the_best_groups() {
    let (_dir, engine) = setup("Dot", 30);
    let q = [0.6f32, 0.8];
    let result = query_groups(
        &engine,
        "c",
        serde_json::from_value(json!({"query": q, "group_by": "color", "group_size": 2, "limit": 2, "with_payload": true}))
            .unwrap(),
    )
    .unwrap();
    let ranked = brute_force(30, |i| dot(&q, &vector_of_point(i)), true);
    let colors = ["red", "green", "blue"];
    let mut expected: Vec<(String, Vec<u64>)> = Vec::new();
    for i in ranked {
        let color = colors[(i % 3) as usize].to_string();
        match expected.iter().position(|(c, _)| *c == color) {
            Some(g) if expected[g].1.len() < 2 => expected[g].1.push(i),
            Some(_) => {}
            None if expected.len() < 2 => expected.push((color, vec![i])),
            None => {}
        }
    }
    let got: Vec<(String, Vec<u64>)> = result
        .groups
        .iter()
        .map(|g| match &g.id {
            GroupId::Keyword(c) => (c.clone(), ids(&g.hits)),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(got, expected);
    assert!(result.groups[0].hits[0].payload.is_some());
}

#[test]
fn groups_can_look_up_records_in_another_collection() {
    let (_dir, engine) = setup("Dot", 12);
    engine
        .create_collection(
            "owners",
            serde_json::from_value(json!({"vectors": {"size": 2, "distance": "Dot"}})).unwrap(),
        )
        .unwrap();
    let op: PointOperation = serde_json::from_value(json!({"upsert": {"points": [
        {"id": 0, "vector": [1.0, 0.0], "payload": {"name": "zero"}},
        {"id": 1, "vector": [1.0, 0.0], "payload": {"name": "one"}},
    ]}}))
    .unwrap();
    engine
        .collection("owners")
        .unwrap()
        .update(vec![op], true)
        .unwrap();
    let result = search_groups(
        &engine,
        "c",
        serde_json::from_value(json!({"vector": [1.0, 0.0], "group_by": "i", "group_size": 1, "limit": 20, "with_lookup": "owners"}))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(result.groups.len(), 12);
    for group in &result.groups {
        let lookup = group
            .lookup
            .as_ref()
            .map(|r| r.payload.clone().unwrap()["name"].clone());
        match group.id {
            GroupId::Integer(0) => assert_eq!(lookup, Some(json!("zero"))),
            GroupId::Integer(1) => assert_eq!(lookup, Some(json!("one"))),
            _ => assert_eq!(lookup, None),
        }
    }
}

#[test]
fn facet_counts_values_and_needs_an_index() {
    let facet =
        |engine: &Engine, c: &str, r| crate::facet::facet(engine, c, r, ReadConsistency::default());
    let (_dir, engine) = setup("Dot", 10);
    let req = |key: &str| -> FacetRequest { serde_json::from_value(json!({"key": key})).unwrap() };
    assert!(matches!(
        facet(&engine, "c", req("color")),
        Err(GrapeError::BadInput(_))
    ));
    engine
        .create_field_index("c", "color", json!("keyword"))
        .unwrap();
    engine
        .create_field_index("c", "tags", json!({"type": "keyword"}))
        .unwrap();
    let got = facet(&engine, "c", req("color")).unwrap();
    // ids 0..10: red = 0,3,6,9; green = 1,4,7; blue = 2,5,8.
    assert_eq!(
        got.hits,
        vec![
            FacetValueHit {
                value: FacetValue::Keyword("red".into()),
                count: 4
            },
            FacetValueHit {
                value: FacetValue::Keyword("blue".into()),
                count: 3
            },
            FacetValueHit {
                value: FacetValue::Keyword("green".into()),
                count: 3
            },
        ]
    );
    // Array values count once per point.
    let got = facet(&engine, "c", req("tags")).unwrap();
    assert_eq!(
        got.hits[0],
        FacetValueHit {
            value: FacetValue::Keyword("all".into()),
            count: 10
        }
    );
    assert_eq!(
        got.hits[1],
        FacetValueHit {
            value: FacetValue::Keyword("even".into()),
            count: 5
        }
    );
}

#[test]
fn lookup_from_takes_vectors_from_another_collection() {
    let (_dir, engine) = setup("Dot", 20);
    engine
        .create_collection(
            "other",
            serde_json::from_value(json!({"vectors": {"size": 2, "distance": "Dot"}})).unwrap(),
        )
        .unwrap();
    let op: PointOperation =
        serde_json::from_value(json!({"upsert": {"points": [{"id": 3, "vector": [0.0, 1.0]}]}}))
            .unwrap();
    engine
        .collection("other")
        .unwrap()
        .update(vec![op], true)
        .unwrap();
    let got = query(
        &engine,
        "c",
        request(json!({"query": 3, "lookup_from": {"collection": "other"}, "limit": 3})),
    )
    .unwrap();
    let expected = brute_force(20, |i| dot(&[0.0, 1.0], &vector_of_point(i)), true);
    // The id refers to the other collection: point 3 of `c` is not excluded.
    assert_eq!(ids(&got), expected[..3]);
}

#[test]
fn search_batch_and_unsupported_inputs() {
    let (_dir, engine) = setup("Dot", 10);
    let requests: Vec<SearchRequest> = serde_json::from_value(json!([
        {"vector": [1.0, 0.0], "limit": 2},
        {"vector": [0.0, 1.0], "limit": 3},
    ]))
    .unwrap();
    let got = search_batch(&engine, "c", &requests).unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(got[1].len(), 3);
    for body in [
        json!({"query": {"indices": [1], "values": [0.5]}}),
        json!({"query": [[1.0, 0.0]]}),
        json!({"query": "not-a-uuid"}),
        json!({"query": {"nearest": [1.0, 0.0], "mmr": {"diversity": 1.5}}}),
        json!({"query": {"nearest": [1.0, 0.0], "mmr": {"candidates_limit": 20000}}}),
    ] {
        let err = query(&engine, "c", request(body.clone())).unwrap_err();
        assert!(matches!(err, GrapeError::BadInput(_)), "{body}: {err}");
    }
    assert!(matches!(
        query(&engine, "missing", QueryRequest::default()),
        Err(GrapeError::CollectionNotFound(_))
    ));
}

/// Point `i`'s sparse vector: three dimensions from disjoint ranges, so indices are unique.
fn sparse_of_point(i: u64) -> SparseVector {
    SparseVector {
        indices: vec![(i % 5) as u32, 5 + (i % 7) as u32, 12 + (i % 4) as u32],
        values: (0..3)
            .map(|j| 1.0 + ((i * 13 + j) % 10) as f32 / 10.0)
            .collect(),
    }
}

/// A collection `s` with a dense vector `d` (as in `setup`) and sparse vectors `plain` and
/// `weighted` (idf) on points `0..n`, over `shards` shards.
fn setup_sparse(dir: &std::path::Path, n: u64, shards: u32) -> Engine {
    let engine = Engine::open(dir).unwrap();
    let config = json!({
        "vectors": {"d": {"size": 2, "distance": "Dot"}},
        "sparse_vectors": {"plain": {}, "weighted": {"modifier": "idf", "index": {"on_disk": false}}},
        "shard_number": shards,
    });
    engine
        .create_collection("s", serde_json::from_value(config).unwrap())
        .unwrap();
    let points: Vec<serde_json::Value> = (0..n)
        .map(|i| {
            json!({
                "id": i,
                "vector": {"d": vector_of_point(i), "plain": sparse_of_point(i), "weighted": sparse_of_point(i)},
                "payload": {"i": i},
            })
        })
        .collect();
    let op: PointOperation = serde_json::from_value(json!({"upsert": {"points": points}})).unwrap();
    engine
        .collection("s")
        .unwrap()
        .update(vec![op], true)
        .unwrap();
    engine
}

/// Brute-force sparse scores of points `0..n` against `query`, with IDF weights if asked:
/// only points sharing a dimension, best first, ties by id.
fn sparse_reference(n: u64, query: &SparseVector, with_idf: bool) -> Vec<(u64, f32)> {
    let weight = |dim: u32| {
        if !with_idf {
            return 1.0;
        }
        let df = (0..n)
            .filter(|&i| sparse_of_point(i).indices.contains(&dim))
            .count() as f64;
        ((n as f64 - df + 0.5) / (df + 0.5) + 1.0).ln() as f32
    };
    let mut scored: Vec<(u64, f32)> = (0..n)
        .filter_map(|i| {
            let v = sparse_of_point(i);
            let mut shared = false;
            let mut score = 0.0;
            for (d, q) in query.indices.iter().zip(&query.values) {
                if let Some(pos) = v.indices.iter().position(|x| x == d) {
                    shared = true;
                    score += q * weight(*d) * v.values[pos];
                }
            }
            shared.then_some((i, score))
        })
        .collect();
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    scored
}

fn assert_matches_reference(got: &[ScoredPoint], expected: &[(u64, f32)]) {
    assert_eq!(got.len(), expected.len());
    for (p, (id, score)) in got.iter().zip(expected) {
        assert!((p.score - score).abs() < 1e-4, "{p:?} vs {id}: {score}");
    }
    // Ids agree except where scores tie.
    let by_score = |l: &[(u64, f32)]| {
        l.iter()
            .map(|x| (x.1 * 1e4).round() as i64)
            .collect::<Vec<_>>()
    };
    let got_pairs: Vec<(u64, f32)> = ids(got)
        .into_iter()
        .zip(got.iter().map(|p| p.score))
        .collect();
    assert_eq!(by_score(&got_pairs), by_score(expected));
}

#[test]
fn sparse_nearest_matches_brute_force_with_and_without_idf() {
    let dir = tempfile::tempdir().unwrap();
    let n = 60;
    let engine = setup_sparse(dir.path(), n, 3);
    let q = SparseVector {
        indices: vec![2, 7, 13, 40],
        values: vec![0.5, 1.5, 1.0, 3.0],
    };
    for (using, idf) in [("plain", false), ("weighted", true)] {
        let got = query(
            &engine,
            "s",
            request(json!({"query": q, "using": using, "limit": 7})),
        )
        .unwrap();
        let expected = sparse_reference(n, &q, idf);
        assert_matches_reference(&got, &expected[..7]);
        // Filter and score threshold.
        let threshold = expected[10].1;
        let got = query(
            &engine,
            "s",
            request(json!({
                "query": {"nearest": q}, "using": using, "limit": 100,
                "filter": {"must": [{"key": "i", "range": {"gte": 20}}]},
                "score_threshold": threshold,
            })),
        )
        .unwrap();
        let filtered: Vec<(u64, f32)> = expected
            .iter()
            .copied()
            .filter(|&(i, s)| i >= 20 && s >= threshold)
            .collect();
        assert_matches_reference(&got, &filtered);
    }
}

#[test]
fn idf_follows_writes_and_sparse_vectors_survive_restart() {
    let dir = tempfile::tempdir().unwrap();
    let n = 30;
    let q = SparseVector {
        indices: vec![1, 6],
        values: vec![1.0, 1.0],
    };
    let engine = setup_sparse(dir.path(), n, 1);
    let before = query(
        &engine,
        "s",
        request(json!({"query": q, "using": "weighted"})),
    )
    .unwrap();
    let delete: PointOperation =
        serde_json::from_value(json!({"delete": {"points": (n - 10..n).collect::<Vec<_>>()}}))
            .unwrap();
    let collection = engine.collection("s").unwrap();
    collection.update(vec![delete], true).unwrap();
    let after = query(
        &engine,
        "s",
        request(json!({"query": q, "using": "weighted", "limit": 100})),
    )
    .unwrap();
    assert_matches_reference(&after, &sparse_reference(n - 10, &q, true));
    assert_ne!(before[0].score, after[0].score, "IDF follows deletions");
    drop((collection, engine));
    // WAL replay.
    let engine = Engine::open(dir.path()).unwrap();
    let replayed = query(
        &engine,
        "s",
        request(json!({"query": q, "using": "weighted", "limit": 100})),
    )
    .unwrap();
    assert_eq!(replayed, after);
    // Checkpoint load.
    engine.collection("s").unwrap().checkpoint().unwrap();
    drop(engine);
    let engine = Engine::open(dir.path()).unwrap();
    let loaded = query(
        &engine,
        "s",
        request(json!({"query": q, "using": "weighted", "limit": 100, "with_vector": ["plain"]})),
    )
    .unwrap();
    assert_eq!(ids(&loaded), ids(&after));
    let first = ids(&loaded)[0];
    let Some(VectorStruct::Named(vectors)) = &loaded[0].vector else {
        panic!("vectors asked for")
    };
    assert_eq!(vectors["plain"], Vector::Sparse(sparse_of_point(first)));
}

#[test]
fn bad_sparse_vectors_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let engine = setup_sparse(dir.path(), 5, 1);
    let collection = engine.collection("s").unwrap();
    for vector in [
        json!({"plain": {"indices": [1, 2], "values": [1.0]}}),
        json!({"plain": {"indices": [3, 3], "values": [1.0, 2.0]}}),
        json!({"d": {"indices": [3], "values": [1.0]}}),
        json!({"plain": [1.0, 2.0]}),
    ] {
        let op: PointOperation =
            serde_json::from_value(json!({"upsert": {"points": [{"id": 9, "vector": vector}]}}))
                .unwrap();
        let err = collection.update(vec![op], true).unwrap_err();
        assert!(matches!(err, GrapeError::BadInput(_)), "{vector}: {err}");
    }
    let err = query(
        &engine,
        "s",
        request(json!({"query": {"indices": [1, 1], "values": [1.0, 1.0]}, "using": "plain"})),
    )
    .unwrap_err();
    assert!(err.to_string().contains("unique"), "{err}");
}

#[test]
fn hybrid_rrf_of_sparse_and_dense_prefetches() {
    let dir = tempfile::tempdir().unwrap();
    let n = 40;
    let engine = setup_sparse(dir.path(), n, 2);
    let q = SparseVector {
        indices: vec![3, 9],
        values: vec![1.0, 2.0],
    };
    let d = [0.3f32, 1.0];
    let got = query(
        &engine,
        "s",
        request(json!({
            "prefetch": [
                {"query": q, "using": "plain", "limit": 8},
                {"query": d, "using": "d", "limit": 8},
            ],
            "query": {"fusion": "rrf"},
            "limit": 5,
        })),
    )
    .unwrap();
    let sparse_list: Vec<u64> = sparse_reference(n, &q, false)
        .into_iter()
        .take(8)
        .map(|x| x.0)
        .collect();
    let dense_list = brute_force(n, |i| dot(&d, &vector_of_point(i)), true)[..8].to_vec();
    for p in &got {
        let id = ids(std::slice::from_ref(p))[0];
        let part = |l: &[u64]| {
            l.iter()
                .position(|&x| x == id)
                .map_or(0.0, |r| 1.0 / (r as f32 + 2.0))
        };
        assert!((p.score - (part(&sparse_list) + part(&dense_list))).abs() < 1e-6);
    }
    assert!(got.windows(2).all(|w| w[0].score >= w[1].score));
}

#[test]
fn fusion_formulas_follow_qdrant() {
    // RRF with k = 2: 1/2, 1/3, ...; a weight of 2 halves the rank term.
    assert_eq!(rrf_score(0, 1.0, 2.0), 0.5);
    assert_eq!(rrf_score(1, 1.0, 2.0), 1.0 / 3.0);
    assert_eq!(rrf_score(1, 2.0, 2.0), 1.0 / 2.0);
    assert_eq!(rrf_score(0, 0.0, 2.0), 0.0);
    // DBSF: mean ± 3 sample standard deviations map to 0 and 1.
    let scores = [1.0f32, 2.0, 3.0];
    let normalized = dbsf_normalize(&scores);
    let std = 1.0f32; // sample std of 1, 2, 3
    for (s, n) in scores.iter().zip(&normalized) {
        assert!((n - (s - (2.0 - 3.0 * std)) / (6.0 * std)).abs() < 1e-6);
    }
    assert_eq!(dbsf_normalize(&[4.0]), vec![0.5]);
    assert_eq!(dbsf_normalize(&[4.0, 4.0]), vec![0.5, 0.5]);
}
