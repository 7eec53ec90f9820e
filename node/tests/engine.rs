//! The engine used in-process: collections, writes, reads, durability across reopen,
//! snapshots and refusal of bad input.

use std::path::Path;

use grape::engine::{AliasOperation, Engine};
use grape::shard::Projection;
use grape::types::*;
use grape::GrapeError;
use serde_json::json;

fn create(engine: &Engine, name: &str, body: serde_json::Value) {
    engine
        .create_collection(name, serde_json::from_value(body).unwrap())
        .unwrap();
}

fn op(body: serde_json::Value) -> PointOperation {
    serde_json::from_value(body).unwrap()
}

fn upsert(engine: &Engine, name: &str, points: serde_json::Value) -> UpdateResult {
    engine
        .collection(name)
        .unwrap()
        .update(vec![op(json!({"upsert": {"points": points}}))], true)
        .unwrap()
}

fn all_projection() -> Projection {
    Projection {
        with_payload: WithPayload::Bool(true),
        with_vector: WithVector::Bool(true),
    }
}

fn search(engine: &Engine, name: &str, body: serde_json::Value) -> Vec<ScoredPoint> {
    engine
        .collection(name)
        .unwrap()
        .search(&serde_json::from_value(body).unwrap(), Default::default())
        .unwrap()
}

fn ids(points: &[ScoredPoint]) -> Vec<PointId> {
    points.iter().map(|p| p.id).collect()
}

fn open(dir: &Path) -> Engine {
    Engine::open(dir).unwrap()
}

#[test]
fn collections_can_be_created_listed_and_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    create(
        &engine,
        "a",
        json!({"vectors": {"size": 3, "distance": "Dot"}}),
    );
    create(
        &engine,
        "b",
        json!({"vectors": {"img": {"size": 2, "distance": "Euclid"}, "txt": {"size": 4, "distance": "Cosine"}}}),
    );
    assert_eq!(engine.list_collections(), vec!["a", "b"]);
    assert!(matches!(
        engine.create_collection(
            "a",
            serde_json::from_value(json!({"vectors": {"size": 3, "distance": "Dot"}})).unwrap()
        ),
        Err(GrapeError::CollectionExists(_))
    ));
    assert!(engine.delete_collection("a").unwrap());
    assert!(!engine.delete_collection("a").unwrap());
    assert!(!engine.collection_exists("a"));
    drop(engine);
    assert_eq!(open(dir.path()).list_collections(), vec!["b"]);
}

#[test]
fn cosine_vectors_are_normalized_and_scores_follow_qdrant_conventions() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    create(
        &engine,
        "cos",
        json!({"vectors": {"size": 2, "distance": "Cosine"}}),
    );
    create(
        &engine,
        "euc",
        json!({"vectors": {"size": 2, "distance": "Euclid"}}),
    );
    let points = json!([{"id": 1, "vector": [3.0, 4.0]}, {"id": 2, "vector": [0.0, 1.0]}]);
    upsert(&engine, "cos", points.clone());
    upsert(&engine, "euc", points);

    let stored = engine
        .collection("cos")
        .unwrap()
        .retrieve(&[PointId::Num(1)], &all_projection(), Default::default())
        .unwrap();
    assert_eq!(stored[0].vector, Some(VectorStruct::Single(vec![0.6, 0.8])));

    let hits = search(&engine, "cos", json!({"vector": [0.0, 2.0], "limit": 2}));
    assert_eq!(ids(&hits), vec![PointId::Num(2), PointId::Num(1)]);
    assert!((hits[0].score - 1.0).abs() < 1e-6 && (hits[1].score - 0.8).abs() < 1e-6);

    let hits = search(&engine, "euc", json!({"vector": [0.0, 0.0], "limit": 2}));
    assert_eq!(ids(&hits), vec![PointId::Num(2), PointId::Num(1)]);
    assert!((hits[0].score - 1.0).abs() < 1e-6 && (hits[1].score - 5.0).abs() < 1e-6);

    let within = search(
        &engine,
        "euc",
        json!({"vector": [0.0, 0.0], "limit": 2, "score_threshold": 2.0}),
    );
    assert_eq!(ids(&within), vec![PointId::Num(2)]);
    let paged = search(
        &engine,
        "euc",
        json!({"vector": [0.0, 0.0], "limit": 1, "offset": 1}),
    );
    assert_eq!(ids(&paged), vec![PointId::Num(1)]);
}

#[test]
fn writes_survive_reopen_through_wal_replay_and_checkpoints() {
    let dir = tempfile::tempdir().unwrap();
    let uuid = uuid::Uuid::new_v4();
    {
        let engine = open(dir.path());
        create(
            &engine,
            "c",
            json!({"vectors": {"size": 2, "distance": "Dot"}, "shard_number": 3}),
        );
        upsert(
            &engine,
            "c",
            json!([
                {"id": 1, "vector": [1.0, 0.0], "payload": {"a": 1}},
                {"id": uuid.to_string(), "vector": [0.0, 1.0], "payload": {"a": 2}},
                {"id": 3, "vector": [1.0, 1.0]}
            ]),
        );
        engine.collection("c").unwrap().checkpoint().unwrap();
        let c = engine.collection("c").unwrap();
        c.update(vec![op(json!({"delete": {"points": [3]}}))], true)
            .unwrap();
        c.update(
            vec![op(
                json!({"set_payload": {"payload": {"b": true}, "points": [1]}}),
            )],
            true,
        )
        .unwrap();
        // No shutdown: the last two writes exist only in the WAL.
    }
    let engine = open(dir.path());
    let c = engine.collection("c").unwrap();
    assert_eq!(
        c.count(&CountRequest::default(), Default::default())
            .unwrap(),
        2
    );
    let records = c
        .retrieve(
            &[PointId::Num(1), PointId::Uuid(uuid), PointId::Num(3)],
            &all_projection(),
            Default::default(),
        )
        .unwrap();
    assert_eq!(records.len(), 2);
    assert_eq!(records[0].payload.as_ref().unwrap()["b"], json!(true));
    assert_eq!(records[1].id, PointId::Uuid(uuid));
    assert_eq!(
        records[1].vector,
        Some(VectorStruct::Single(vec![0.0, 1.0]))
    );
}

/// Deleted points, and the old vectors of overwritten ones, stay in the graph as waypoints;
/// an unfiltered walk must never return them, before or after a checkpoint and reopen.
#[test]
fn graph_searches_skip_deleted_and_overwritten_points() {
    let dir = tempfile::tempdir().unwrap();
    let points: Vec<_> = (0..300)
        .map(|i| {
            let angle = i as f32 * 0.021;
            json!({"id": i, "vector": [angle.cos(), angle.sin(), 0.1]})
        })
        .collect();
    let query = json!({"vector": [1.0, 0.2, 0.1], "limit": 50, "params": {"hnsw_ef": 128}});
    let check = |engine: &Engine| {
        let found = search(engine, "c", query.clone());
        assert_eq!(found.len(), 50);
        for p in &found {
            let PointId::Num(n) = p.id else { panic!() };
            assert!(n % 3 != 0, "deleted point {n} returned");
            if n % 3 == 1 {
                // Overwritten with [0, 0, 1]: its score is that vector's.
                assert!(
                    (p.score - 0.1).abs() < 1e-5,
                    "stale vector of {n}: {}",
                    p.score
                );
            }
        }
    };
    {
        let engine = open(dir.path());
        create(
            &engine,
            "c",
            json!({"vectors": {"size": 3, "distance": "Dot"},
                   "hnsw_config": {"full_scan_threshold": 1}}),
        );
        upsert(&engine, "c", json!(points));
        let c = engine.collection("c").unwrap();
        let deleted: Vec<u64> = (0..300).filter(|i| i % 3 == 0).collect();
        c.update(vec![op(json!({"delete": {"points": deleted}}))], true)
            .unwrap();
        let moved: Vec<_> = (0..300)
            .filter(|i| i % 3 == 1)
            .map(|i| json!({"id": i, "vector": [0.0, 0.0, 1.0]}))
            .collect();
        upsert(&engine, "c", json!(moved));
        check(&engine);
        c.checkpoint().unwrap();
    }
    check(&open(dir.path()));
}

#[test]
fn scroll_pages_through_every_point_in_id_order() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    create(
        &engine,
        "c",
        json!({"vectors": {"size": 1, "distance": "Dot"}, "shard_number": 4}),
    );
    let points: Vec<_> = (0..53u64)
        .rev()
        .map(|i| json!({"id": i * 2, "vector": [i as f32]}))
        .collect();
    upsert(&engine, "c", json!(points));
    let c = engine.collection("c").unwrap();
    let mut seen = Vec::new();
    let mut offset = None;
    loop {
        let page = c
            .scroll(
                &ScrollRequest {
                    offset,
                    limit: Some(10),
                    ..Default::default()
                },
                Default::default(),
            )
            .unwrap();
        assert!(page.points.len() <= 10);
        seen.extend(page.points.iter().map(|r| r.id));
        match page.next_page_offset {
            Some(next) => offset = Some(next),
            None => break,
        }
    }
    let expected: Vec<PointId> = (0..53u64).map(|i| PointId::Num(i * 2)).collect();
    assert_eq!(seen, expected);
}

#[test]
fn payload_and_vector_operations_apply_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    create(
        &engine,
        "c",
        json!({"vectors": {"a": {"size": 2, "distance": "Dot"}, "b": {"size": 2, "distance": "Dot"}}}),
    );
    let c = engine.collection("c").unwrap();
    c.update(
        vec![
            op(json!({"upsert": {"points": [{"id": 1, "vector": {"a": [1.0, 0.0], "b": [0.0, 1.0]}, "payload": {"x": 1, "y": 2}}]}})),
            op(json!({"set_payload": {"payload": {"z": 3}, "points": [1]}})),
            op(json!({"delete_payload": {"keys": ["x"], "points": [1]}})),
            op(json!({"update_vectors": {"points": [{"id": 1, "vector": {"b": [5.0, 5.0]}}]}})),
            op(json!({"delete_vectors": {"points": [1], "vector": ["a"]}})),
        ],
        true,
    )
    .unwrap();
    let record = &c
        .retrieve(&[PointId::Num(1)], &all_projection(), Default::default())
        .unwrap()[0];
    assert_eq!(
        record.payload,
        Some(json!({"y": 2, "z": 3}).as_object().unwrap().clone())
    );
    let mut expected = std::collections::HashMap::new();
    expected.insert("b".to_string(), Vector::Dense(vec![5.0, 5.0]));
    assert_eq!(record.vector, Some(VectorStruct::Named(expected)));
    // Point 1 lost vector `a`: a search on `a` cannot return it, one on `b` does.
    assert!(search(
        &engine,
        "c",
        json!({"vector": {"name": "a", "vector": [1.0, 0.0]}, "limit": 5})
    )
    .is_empty());
    assert_eq!(
        search(
            &engine,
            "c",
            json!({"vector": {"name": "b", "vector": [1.0, 0.0]}, "limit": 5})
        )[0]
        .score,
        5.0
    );

    c.update(
        vec![op(
            json!({"overwrite_payload": {"payload": {"only": 1}, "points": [1]}}),
        )],
        true,
    )
    .unwrap();
    let record = &c
        .retrieve(&[PointId::Num(1)], &all_projection(), Default::default())
        .unwrap()[0];
    assert_eq!(
        record.payload,
        Some(json!({"only": 1}).as_object().unwrap().clone())
    );
    c.update(vec![op(json!({"clear_payload": {"points": [1]}}))], true)
        .unwrap();
    let record = &c
        .retrieve(&[PointId::Num(1)], &all_projection(), Default::default())
        .unwrap()[0];
    assert_eq!(record.payload, Some(Default::default()));
}

#[test]
fn bad_input_is_refused_whole() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    create(
        &engine,
        "c",
        json!({"vectors": {"size": 2, "distance": "Dot"}}),
    );
    let c = engine.collection("c").unwrap();
    let refused = |ops: Vec<PointOperation>| c.update(ops, true).unwrap_err().to_string();

    let msg = refused(vec![
        op(json!({"upsert": {"points": [{"id": 1, "vector": [1.0, 0.0]}]}})),
        op(json!({"upsert": {"points": [{"id": 2, "vector": [1.0, 0.0, 3.0]}]}})),
    ]);
    assert!(msg.contains("expected dim: 2, got 3"), "{msg}");
    let nan = vec![
        op(json!({"upsert": {"points": [{"id": 1, "vector": [1.0, 0.0]}]}})),
        PointOperation::Upsert(UpsertPoints::Points {
            points: vec![PointStruct {
                id: PointId::Num(2),
                vector: VectorStruct::Single(vec![f32::NAN, 0.0]),
                payload: None,
            }],
        }),
    ];
    assert!(refused(nan).contains("NaN"));
    let msg = refused(vec![op(
        json!({"set_payload": {"payload": {"a": 1}, "points": [42]}}),
    )]);
    assert!(msg.contains("No point with id 42"), "{msg}");
    let msg = refused(vec![op(
        json!({"upsert": {"points": [{"id": 1, "vector": {"nope": [1.0, 0.0]}}]}}),
    )]);
    assert!(msg.contains("Not existing vector name"), "{msg}");
    assert_eq!(
        c.count(&CountRequest::default(), Default::default())
            .unwrap(),
        0,
        "nothing partially applied"
    );

    assert!(matches!(
        engine.collection("missing"),
        Err(GrapeError::CollectionNotFound(_))
    ));
    assert!(engine
        .create_collection(
            "../evil",
            serde_json::from_value(json!({"vectors": {"size": 2, "distance": "Dot"}})).unwrap()
        )
        .is_err());
    assert!(serde_json::from_value::<CreateCollection>(
        json!({"vectors": {"size": 2, "distance": "Hamming"}})
    )
    .is_err());
    let search_err = c
        .search(
            &serde_json::from_value(json!({"vector": [1.0], "limit": 1})).unwrap(),
            Default::default(),
        )
        .unwrap_err();
    assert!(matches!(search_err, GrapeError::BadInput(_)));
}

#[test]
fn snapshot_recovers_a_point_in_time_copy() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    create(
        &engine,
        "c",
        json!({"vectors": {"size": 2, "distance": "Dot"}, "shard_number": 2}),
    );
    upsert(
        &engine,
        "c",
        json!([{"id": 1, "vector": [1.0, 0.0], "payload": {"v": 1}}, {"id": 2, "vector": [0.0, 1.0]}]),
    );
    let snapshot = engine.create_snapshot("c").unwrap();
    assert_eq!(engine.list_snapshots("c").unwrap(), vec![snapshot.clone()]);
    upsert(&engine, "c", json!([{"id": 3, "vector": [1.0, 1.0]}]));

    let path = engine.snapshot_path("c", &snapshot.name).unwrap();
    engine.recover_snapshot("copy", &path).unwrap();
    let copy = engine.collection("copy").unwrap();
    assert_eq!(
        copy.count(&CountRequest::default(), Default::default())
            .unwrap(),
        2
    );
    assert_eq!(
        copy.retrieve(&[PointId::Num(1)], &all_projection(), Default::default())
            .unwrap()[0]
            .payload
            .as_ref()
            .unwrap()["v"],
        json!(1)
    );
    drop(engine);
    let engine = open(dir.path());
    assert_eq!(
        engine
            .collection("copy")
            .unwrap()
            .count(&CountRequest::default(), Default::default())
            .unwrap(),
        2
    );
    assert_eq!(
        engine
            .collection("c")
            .unwrap()
            .count(&CountRequest::default(), Default::default())
            .unwrap(),
        3
    );
    engine.delete_snapshot("c", &snapshot.name).unwrap();
    assert!(engine.list_snapshots("c").unwrap().is_empty());
}

#[test]
fn aliases_resolve_and_persist() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    create(
        &engine,
        "c",
        json!({"vectors": {"size": 2, "distance": "Dot"}}),
    );
    engine
        .update_aliases(&[AliasOperation::CreateAlias {
            collection_name: "c".into(),
            alias_name: "live".into(),
        }])
        .unwrap();
    upsert(&engine, "live", json!([{"id": 1, "vector": [1.0, 0.0]}]));
    assert_eq!(
        engine
            .collection("c")
            .unwrap()
            .count(&CountRequest::default(), Default::default())
            .unwrap(),
        1
    );
    engine
        .update_aliases(&[AliasOperation::RenameAlias {
            old_alias_name: "live".into(),
            new_alias_name: "prod".into(),
        }])
        .unwrap();
    drop(engine);
    let engine = open(dir.path());
    assert_eq!(engine.aliases_of("c").unwrap(), vec!["prod"]);
    assert!(engine.collection_exists("prod") && !engine.collection_exists("live"));
    engine.delete_collection("c").unwrap();
    assert!(engine.list_aliases().unwrap().is_empty());
}

#[test]
fn collection_info_reports_counts_config_and_payload_schema() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    create(
        &engine,
        "c",
        json!({"vectors": {"size": 2, "distance": "Dot"}, "hnsw_config": {"m": 8}}),
    );
    upsert(
        &engine,
        "c",
        json!([{"id": 1, "vector": [1.0, 0.0], "payload": {"city": "Oslo"}}, {"id": 2, "vector": [0.0, 1.0]}]),
    );
    engine
        .create_field_index("c", "city", json!("keyword"))
        .unwrap();
    engine
        .update_collection(
            "c",
            serde_json::from_value(json!({"hnsw_config": {"ef_construct": 64}})).unwrap(),
        )
        .unwrap();
    let info = engine.collection("c").unwrap().info().unwrap();
    assert_eq!(info.points_count, 2);
    assert_eq!(info.indexed_vectors_count, 2);
    assert_eq!(info.config.hnsw_config.m, 8);
    assert_eq!(info.config.hnsw_config.ef_construct, 64);
    assert_eq!(info.payload_schema["city"].data_type, "keyword");
    assert_eq!(info.payload_schema["city"].points, 1);
    drop(engine);
    let info = open(dir.path()).collection("c").unwrap().info().unwrap();
    assert_eq!(info.config.hnsw_config.ef_construct, 64);
    assert!(info.payload_schema.contains_key("city"));
}

#[test]
fn payload_indexes_plan_selective_filters_and_follow_updates() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    // 10 KB of 4-d vectors is 640 points: above that, unfiltered searches walk the graph.
    create(
        &engine,
        "c",
        json!({"vectors": {"size": 4, "distance": "Euclid"}, "hnsw_config": {"full_scan_threshold": 10}}),
    );
    let vector = |i: u64| {
        vec![
            (i % 17) as f32,
            (i % 13) as f32,
            (i % 7) as f32,
            (i / 100) as f32,
        ]
    };
    let points: Vec<_> = (0..3000u64)
        .map(|i| json!({"id": i, "vector": vector(i), "payload": {"group": i % 100}}))
        .collect();
    upsert(&engine, "c", json!(points));
    engine
        .create_field_index("c", "group", json!("integer"))
        .unwrap();

    let group7 = json!({"must": [{"key": "group", "match": {"value": 7}}]});
    let query = [3.0, 4.0, 5.0, 6.0];
    let collection = engine.collection("c").unwrap();
    let filter: grape::filter::Filter = serde_json::from_value(group7.clone()).unwrap();
    let shard_query = grape::shard::ShardQuery {
        vector_name: "",
        vector: &query,
        filter: Some(&filter),
        params: None,
        top: 5,
        score_threshold: None,
    };
    assert_eq!(
        collection.shards()[0].local().unwrap().plan(&shard_query),
        Some(grape::shard::Plan::Exact),
        "30 indexed matches are below the threshold"
    );
    // Multiples of 5 match 600 points; sampling every 5th offset would see only matches and
    // estimate 3000, so an exact plan here shows the count came from the index.
    let fives: grape::filter::Filter = serde_json::from_value(
        json!({"must": [{"key": "group", "match": {"any": (0..100).step_by(5).collect::<Vec<_>>()}}]}),
    )
    .unwrap();
    let selective = grape::shard::ShardQuery {
        filter: Some(&fives),
        ..shard_query
    };
    assert_eq!(
        collection.shards()[0].local().unwrap().plan(&selective),
        Some(grape::shard::Plan::Exact)
    );
    engine.delete_field_index("c", "group").unwrap();
    assert!(
        matches!(
            collection.shards()[0].local().unwrap().plan(&selective),
            Some(grape::shard::Plan::Graph { .. })
        ),
        "without the index the sampled estimate is 3000"
    );
    engine
        .create_field_index("c", "group", json!("integer"))
        .unwrap();
    let unfiltered = grape::shard::ShardQuery {
        filter: None,
        ..shard_query
    };
    assert!(matches!(
        collection.shards()[0].local().unwrap().plan(&unfiltered),
        Some(grape::shard::Plan::Graph { .. })
    ));

    let found = search(
        &engine,
        "c",
        json!({"vector": query, "limit": 5, "filter": group7}),
    );
    let distance = |i: u64| {
        let v = vector(i);
        v.iter()
            .zip(query)
            .map(|(a, b)| (a - b) * (a - b))
            .sum::<f32>()
            .sqrt()
    };
    let mut expected: Vec<u64> = (0..3000).filter(|i| i % 100 == 7).collect();
    expected.sort_by(|a, b| distance(*a).total_cmp(&distance(*b)).then(a.cmp(b)));
    let found_distances: Vec<f32> = found.iter().map(|p| p.score).collect();
    let expected_distances: Vec<f32> = expected[..5].iter().map(|&i| distance(i)).collect();
    assert_eq!(found_distances, expected_distances);

    let count = |engine: &Engine| {
        let request: CountRequest = serde_json::from_value(
            json!({"filter": {"must": [{"key": "group", "match": {"value": 7}}]}, "exact": true}),
        )
        .unwrap();
        engine
            .collection("c")
            .unwrap()
            .count(&request, Default::default())
            .unwrap()
    };
    assert_eq!(count(&engine), 30);
    collection
        .update(
            vec![op(
                json!({"set_payload": {"payload": {"group": 8}, "points": [7, 107]}}),
            )],
            true,
        )
        .unwrap();
    assert_eq!(
        count(&engine),
        28,
        "payload edits move points between index values"
    );
    assert_eq!(
        collection.info().unwrap().payload_schema["group"].points,
        3000
    );
    drop(collection);
    drop(engine);
    assert_eq!(count(&open(dir.path())), 28, "indexes are rebuilt on open");
}

#[test]
fn writes_selected_by_text_filters_replay_under_the_same_index() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    create(
        &engine,
        "c",
        json!({"vectors": {"size": 2, "distance": "Dot"}}),
    );
    let texts = ["quick fox", "quickly", "a quick one", "slow"];
    let points: Vec<_> = texts
        .iter()
        .enumerate()
        .map(|(i, t)| json!({"id": i, "vector": [1.0, 0.0], "payload": {"t": t}}))
        .collect();
    upsert(&engine, "c", json!(points));
    let collection = engine.collection("c").unwrap();
    let quick = json!({"filter": {"must": [{"key": "t", "match": {"text": "quick"}}]}});
    // Without an index, `quick` is a substring of "quickly" too.
    collection
        .update(
            vec![op(
                json!({"set_payload": {"payload": {"seen": true}, "filter": quick["filter"]}}),
            )],
            true,
        )
        .unwrap();
    engine
        .create_field_index("c", "t", json!({"type": "text", "tokenizer": "word"}))
        .unwrap();
    // With it, only the token: "quickly" stays.
    collection
        .update(
            vec![op(json!({"delete": {"filter": quick["filter"]}}))],
            true,
        )
        .unwrap();
    let remaining = |engine: &Engine| {
        let request: CountRequest = serde_json::from_value(json!({"exact": true})).unwrap();
        let seen: CountRequest = serde_json::from_value(
            json!({"filter": {"must": [{"key": "seen", "match": {"value": true}}]}}),
        )
        .unwrap();
        let c = engine.collection("c").unwrap();
        let read = Default::default();
        (
            c.count(&request, read).unwrap(),
            c.count(&seen, read).unwrap(),
        )
    };
    assert_eq!(
        remaining(&engine),
        (2, 1),
        "\"quickly\" and \"slow\" remain, one seen"
    );
    drop(collection);
    drop(engine);
    assert_eq!(
        remaining(&open(dir.path())),
        (2, 1),
        "the same after replaying the WAL"
    );
}
