//! Quantized search through the engine: each method's recall against brute force, the
//! `rescore` / `ignore` / `oversampling` parameters, per-vector settings, updates, invalid
//! settings, and codes kept across a restart.

use std::path::Path;

use grape::engine::Engine;
use grape::types::*;
use grape::GrapeError;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

const DIM: usize = 32;
const POINTS: usize = 3000;
const QUERIES: usize = 30;

/// Points around 30 random centres (clustered like real embeddings), seeded.
fn vectors(n: usize, seed: u64) -> Vec<Vec<f32>> {
    let mut rng = StdRng::seed_from_u64(7);
    let centres: Vec<Vec<f32>> = (0..30)
        .map(|_| (0..DIM).map(|_| rng.gen_range(-1.0..1.0)).collect())
        .collect();
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            let centre = &centres[rng.gen_range(0..centres.len())];
            centre
                .iter()
                .map(|c| c + rng.gen_range(-0.4..0.4))
                .collect()
        })
        .collect()
}

/// A collection that walks its graph from the first point on (tiny full-scan threshold),
/// built on one thread so two such collections have the same graph.
fn create(engine: &Engine, name: &str, distance: &str, quantization: Value) -> Vec<Vec<f32>> {
    let mut body = json!({
        "vectors": {"size": DIM, "distance": distance},
        "hnsw_config": {"full_scan_threshold": 1, "m": 16, "ef_construct": 64, "max_indexing_threads": 1},
    });
    if !quantization.is_null() {
        body["quantization_config"] = quantization;
    }
    engine
        .create_collection(name, serde_json::from_value(body).unwrap())
        .unwrap();
    let points = vectors(POINTS, 1);
    let batch: Vec<Value> = points
        .iter()
        .enumerate()
        .map(|(i, v)| json!({"id": i, "vector": v}))
        .collect();
    let op = serde_json::from_value(json!({"upsert": {"points": batch}})).unwrap();
    engine
        .collection(name)
        .unwrap()
        .update(vec![op], true)
        .unwrap();
    points
}

fn search(engine: &Engine, name: &str, query: &[f32], params: Value) -> Vec<ScoredPoint> {
    let request = json!({"vector": query, "limit": 10, "params": params});
    engine
        .collection(name)
        .unwrap()
        .search(
            &serde_json::from_value(request).unwrap(),
            Default::default(),
        )
        .unwrap()
}

fn ids(points: &[ScoredPoint]) -> Vec<PointId> {
    points.iter().map(|p| p.id).collect()
}

/// Mean share of the exact top 10 that a search with `params` finds.
fn recall(engine: &Engine, name: &str, params: Value) -> f64 {
    let queries = vectors(QUERIES, 2);
    let hits: usize = queries
        .iter()
        .map(|q| {
            let truth = ids(&search(engine, name, q, json!({"exact": true})));
            let found = ids(&search(engine, name, q, params.clone()));
            truth.iter().filter(|id| found.contains(id)).count()
        })
        .sum();
    hits as f64 / (QUERIES * 10) as f64
}

fn update(engine: &Engine, name: &str, body: Value) -> Result<(), GrapeError> {
    engine.update_collection(name, serde_json::from_value(body).unwrap())
}

#[test]
fn every_method_finds_the_brute_force_neighbours() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path()).unwrap();
    // Binary codes of 32 components are coarse: they need more candidates re-scored.
    let cases = [
        (
            "int8",
            json!({"scalar": {"type": "int8", "quantile": 0.99}}),
            2.0,
            0.9,
        ),
        ("binary", json!({"binary": {}}), 10.0, 0.7),
        (
            "binary-1.5bit",
            json!({"binary": {"encoding": "one_and_half_bits"}}),
            10.0,
            0.7,
        ),
        (
            "binary-2bit",
            json!({"binary": {"encoding": "two_bits"}}),
            10.0,
            0.8,
        ),
        (
            "binary-q8",
            json!({"binary": {"query_encoding": "scalar8bits"}}),
            10.0,
            0.8,
        ),
        ("pq", json!({"product": {"compression": "x8"}}), 3.0, 0.85),
    ];
    for (name, config, oversampling, minimum) in cases {
        for distance in ["Cosine", "Euclid", "Dot"] {
            let collection = format!("{name}-{distance}");
            create(&engine, &collection, distance, config.clone());
            let params = json!({"hnsw_ef": 64, "quantization": {"oversampling": oversampling}});
            let found = recall(&engine, &collection, params);
            assert!(found >= minimum, "{collection}: recall {found}");
        }
    }
}

#[test]
fn rescoring_reports_exact_scores_and_without_it_scores_are_approximate() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path()).unwrap();
    let points = create(&engine, "c", "Euclid", json!({"scalar": {"type": "int8"}}));
    let query = &vectors(1, 3)[0];
    let exact = |id: &PointId| {
        let PointId::Num(i) = id else {
            panic!("numeric ids")
        };
        let v = &points[*i as usize];
        v.iter()
            .zip(query)
            .map(|(a, b)| (a - b) * (a - b))
            .sum::<f32>()
            .sqrt()
    };
    let rescored = search(
        &engine,
        "c",
        query,
        json!({"quantization": {"rescore": true}}),
    );
    for hit in &rescored {
        assert!((hit.score - exact(&hit.id)).abs() < 1e-4, "{hit:?}");
    }
    let approximate = search(
        &engine,
        "c",
        query,
        json!({"quantization": {"rescore": false}}),
    );
    let errors: Vec<f32> = approximate
        .iter()
        .map(|hit| (hit.score - exact(&hit.id)).abs())
        .collect();
    assert!(
        errors.iter().any(|&e| e > 1e-4),
        "codes give other scores: {errors:?}"
    );
    assert!(
        errors.iter().all(|&e| e < 0.1),
        "but close ones: {errors:?}"
    );
}

#[test]
fn ignoring_the_codes_equals_a_search_without_quantization() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path()).unwrap();
    create(&engine, "plain", "Cosine", Value::Null);
    create(&engine, "binary", "Cosine", json!({"binary": {}}));
    for query in vectors(10, 4) {
        let plain = search(&engine, "plain", &query, json!({"hnsw_ef": 32}));
        let ignored = search(
            &engine,
            "binary",
            &query,
            json!({"hnsw_ef": 32, "quantization": {"ignore": true}}),
        );
        assert_eq!(plain, ignored);
    }
}

#[test]
fn oversampling_recovers_recall_lost_to_coarse_codes() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path()).unwrap();
    create(&engine, "c", "Cosine", json!({"binary": {}}));
    let once = recall(&engine, "c", json!({"quantization": {"oversampling": 1.0}}));
    let more = recall(&engine, "c", json!({"quantization": {"oversampling": 8.0}}));
    assert!(more > once + 0.05, "oversampling 8: {more}, 1: {once}");
    let error = engine
        .collection("c")
        .unwrap()
        .search(
            &serde_json::from_value(
                json!({"vector": vec![0.0; DIM], "limit": 3, "params": {"quantization": {"oversampling": 0.5}}}),
            )
            .unwrap(),
            Default::default(),
        )
        .unwrap_err();
    assert!(matches!(error, GrapeError::BadInput(m) if m.contains("oversampling")));
}

#[test]
fn a_vector_setting_overrides_the_collections_and_updates_rebuild_codes() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path()).unwrap();
    let body = json!({
        "vectors": {
            "a": {"size": 4, "distance": "Dot", "quantization_config": {"binary": {}}},
            "b": {"size": 4, "distance": "Dot"},
        },
        "quantization_config": {"scalar": {"type": "int8"}},
    });
    engine
        .create_collection("c", serde_json::from_value(body).unwrap())
        .unwrap();
    let config = || engine.collection("c").unwrap().config();
    let effective = |name: &str| {
        let config = config();
        config.quantization_for(&config.params.vectors.named()[name])
    };
    assert!(matches!(
        effective("a"),
        Some(QuantizationConfig::Binary(_))
    ));
    assert!(matches!(
        effective("b"),
        Some(QuantizationConfig::Scalar(_))
    ));

    update(
        &engine,
        "c",
        json!({"vectors": {"a": {"quantization_config": "Disabled"}}}),
    )
    .unwrap();
    assert!(matches!(
        effective("a"),
        Some(QuantizationConfig::Scalar(_))
    ));
    update(&engine, "c", json!({"quantization_config": "Disabled"})).unwrap();
    assert_eq!((effective("a"), effective("b")), (None, None));
    let product = json!({"product": {"compression": "x4"}});
    update(
        &engine,
        "c",
        json!({"vectors": {"b": {"quantization_config": product}}}),
    )
    .unwrap();
    assert!(matches!(
        effective("b"),
        Some(QuantizationConfig::Product(_))
    ));
}

#[test]
fn changing_the_setting_changes_the_codes_searches_use() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path()).unwrap();
    create(&engine, "c", "Dot", json!({"scalar": {"type": "int8"}}));
    let query = &vectors(1, 5)[0];
    let approximate = |engine: &Engine| {
        search(
            engine,
            "c",
            query,
            json!({"quantization": {"rescore": false}}),
        )
    };
    let exact = search(&engine, "c", query, json!({"exact": true}));
    let int8 = approximate(&engine);
    update(&engine, "c", json!({"quantization_config": {"binary": {}}})).unwrap();
    let binary = approximate(&engine);
    assert_ne!(int8, binary);
    update(&engine, "c", json!({"quantization_config": "Disabled"})).unwrap();
    let scores = |hits: &[ScoredPoint]| hits.iter().map(|h| h.score).collect::<Vec<_>>();
    assert_eq!(scores(&approximate(&engine)), scores(&exact));
}

#[test]
fn invalid_settings_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path()).unwrap();
    let quantile = json!({
        "vectors": {"size": 4, "distance": "Dot"},
        "quantization_config": {"scalar": {"type": "int8", "quantile": 0.2}},
    });
    let error = engine
        .create_collection("c", serde_json::from_value(quantile).unwrap())
        .unwrap_err();
    assert!(
        matches!(&error, GrapeError::BadInput(m) if m.contains("quantization_config.scalar.quantile")),
        "{error}"
    );
    let per_vector = json!({
        "vectors": {"v": {"size": 4, "distance": "Dot",
            "quantization_config": {"scalar": {"type": "int8", "quantile": 0.1}}}},
    });
    let error = engine
        .create_collection("c", serde_json::from_value(per_vector).unwrap())
        .unwrap_err();
    assert!(
        matches!(&error, GrapeError::BadInput(m) if m.contains("vectors.v.quantization_config"))
    );
    create(&engine, "ok", "Dot", Value::Null);
    let bad = json!({"quantization_config": {"scalar": {"type": "int8", "quantile": 1.5}}});
    assert!(matches!(
        update(&engine, "ok", bad),
        Err(GrapeError::BadInput(_))
    ));
    assert_eq!(
        engine
            .collection("ok")
            .unwrap()
            .config()
            .quantization_config,
        None
    );
}

fn checkpoint_files(dir: &Path, name: &str) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.file_name().is_some_and(|f| f == name) {
                found.push(path);
            }
        }
    }
    found
}

#[test]
fn codes_are_checkpointed_and_searches_agree_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let query = &vectors(1, 6)[0];
    let params = json!({"quantization": {"rescore": false}});
    let before = {
        let engine = Engine::open(dir.path()).unwrap();
        create(
            &engine,
            "c",
            "Cosine",
            json!({"product": {"compression": "x16"}}),
        );
        let before = search(&engine, "c", query, params.clone());
        engine.shutdown().unwrap();
        before
    };
    assert_eq!(checkpoint_files(dir.path(), "quantized-0.bin").len(), 1);
    let engine = Engine::open(dir.path()).unwrap();
    assert_eq!(search(&engine, "c", query, params.clone()), before);

    // A setting changed after the last checkpoint is honoured on restart: codes rebuilt.
    update(
        &engine,
        "c",
        json!({"quantization_config": {"scalar": {"type": "int8"}}}),
    )
    .unwrap();
    let int8 = search(&engine, "c", query, params.clone());
    drop(engine);
    let engine = Engine::open(dir.path()).unwrap();
    assert_eq!(search(&engine, "c", query, params), int8);
}
