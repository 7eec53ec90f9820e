//! The gRPC API, driven by the official `qdrant-client` crate against a real `grape-node`
//! process. Answers are checked against a brute-force reference computed here.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use qdrant_client::qdrant::points_update_operation::{self, Operation};
use qdrant_client::qdrant::{
    facet_value, group_id, order_value, Direction, FacetCountsBuilder, Fusion, OrderByBuilder,
    PrefetchQueryBuilder, Query, QueryBatchPointsBuilder, QueryPointGroupsBuilder,
    QueryPointsBuilder, RecommendPointsBuilder, SearchPointGroupsBuilder,
};
use qdrant_client::qdrant::{
    point_id::PointIdOptions, value::Kind, vectors_output::VectorsOptions, Condition,
    CountPointsBuilder, CreateAliasBuilder, CreateCollectionBuilder,
    CreateFieldIndexCollectionBuilder, DeleteFieldIndexCollectionBuilder,
    DeletePayloadPointsBuilder, DeletePointVectorsBuilder, DeletePointsBuilder,
    DeleteSnapshotRequestBuilder, Distance, FieldType, Filter, GetPointsBuilder,
    HnswConfigDiffBuilder, PayloadIncludeSelector, PayloadSchemaType, PointId, PointStruct,
    PointVectors, PointsIdsList, PointsUpdateOperation, Range, RenameAliasBuilder, RetrievedPoint,
    ScoredPoint, ScrollPointsBuilder, SearchBatchPointsBuilder, SearchParamsBuilder,
    SearchPointsBuilder, SetPayloadPointsBuilder, UpdateBatchPointsBuilder,
    UpdateCollectionBuilder, UpdatePointVectorsBuilder, UpdateStatus, UpsertPointsBuilder, Value,
    VectorParamsBuilder, VectorsConfigBuilder, VectorsSelector,
};
use qdrant_client::qdrant::{
    r#match::MatchValue, DatetimeRange, GeoBoundingBox, GeoLineString, GeoPoint, GeoPolygon,
    GeoRadius, ListValue, Struct, ValuesCount,
};
use qdrant_client::{Payload, Qdrant, QdrantError};
use serde_json::{json, Value as Json};
use tonic::Code;

mod support;

use support::node::Node;

// ---- data and references ----------------------------------------------------------------

const DIM: usize = 4;
const COLORS: [&str; 3] = ["red", "green", "blue"];

fn vector_of(i: u64) -> Vec<f32> {
    let x = i as f32;
    vec![
        (x * 0.9).sin(),
        (x * 0.7).cos(),
        (i % 5) as f32 / 5.0 - 0.4,
        1.0 - x / 30.0,
    ]
}

fn payload_of(i: u64) -> Payload {
    let mut payload = Payload::new();
    payload.insert("color", COLORS[i as usize % 3]);
    payload.insert("n", i as i64);
    payload
}

fn point(i: u64) -> PointStruct {
    PointStruct::new(i, vector_of(i), payload_of(i))
}

fn normalized(v: &[f32]) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter().map(|x| x / norm).collect()
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    normalized(a)
        .iter()
        .zip(normalized(b))
        .map(|(x, y)| x * y)
        .sum()
}

/// Ids and cosine scores of the points `ids` against `query`, best first.
fn brute_force(query: &[f32], ids: impl IntoIterator<Item = u64>) -> Vec<(u64, f32)> {
    let mut scored: Vec<(u64, f32)> = ids
        .into_iter()
        .map(|i| (i, cosine(query, &vector_of(i))))
        .collect();
    scored.sort_by(|a, b| b.1.total_cmp(&a.1));
    scored
}

fn num(id: &Option<PointId>) -> u64 {
    match id.as_ref().and_then(|id| id.point_id_options.as_ref()) {
        Some(PointIdOptions::Num(n)) => *n,
        other => panic!("expected a numeric id, got {other:?}"),
    }
}

fn json_of(value: &Value) -> Json {
    match &value.kind {
        None | Some(Kind::NullValue(_)) => Json::Null,
        Some(Kind::BoolValue(b)) => json!(b),
        Some(Kind::IntegerValue(i)) => json!(i),
        Some(Kind::DoubleValue(d)) => json!(d),
        Some(Kind::StringValue(s)) => json!(s),
        Some(Kind::ListValue(list)) => Json::Array(list.values.iter().map(json_of).collect()),
        Some(Kind::StructValue(s)) => payload_json(&s.fields),
    }
}

fn payload_json(payload: &HashMap<String, Value>) -> Json {
    Json::Object(
        payload
            .iter()
            .map(|(k, v)| (k.clone(), json_of(v)))
            .collect(),
    )
}

fn assert_matches_reference(hits: &[ScoredPoint], expected: &[(u64, f32)]) {
    let got: Vec<u64> = hits.iter().map(|p| num(&p.id)).collect();
    let want: Vec<u64> = expected.iter().map(|(id, _)| *id).collect();
    assert_eq!(got, want, "result ids (best first)");
    for (hit, (_, score)) in hits.iter().zip(expected) {
        assert!(
            (hit.score - score).abs() < 1e-4,
            "score {} != {score}",
            hit.score
        );
    }
}

fn status_of<T: std::fmt::Debug>(result: Result<T, QdrantError>) -> tonic::Status {
    match result {
        Err(QdrantError::ResponseError { status }) => status,
        other => panic!("expected an error status, got {other:?}"),
    }
}

async fn create_cosine(client: &Qdrant, name: &str) {
    client
        .create_collection(
            CreateCollectionBuilder::new(name)
                .vectors_config(VectorParamsBuilder::new(DIM as u64, Distance::Cosine)),
        )
        .await
        .expect("create collection");
}

/// A cosine collection holding points `0..n`.
async fn seeded(client: &Qdrant, name: &str, n: u64) {
    create_cosine(client, name).await;
    let points: Vec<PointStruct> = (0..n).map(point).collect();
    let response = client
        .upsert_points(UpsertPointsBuilder::new(name, points).wait(true))
        .await
        .expect("upsert");
    let result = response.result.expect("update result");
    assert_eq!(result.status, UpdateStatus::Completed as i32);
}

async fn get_one(client: &Qdrant, collection: &str, id: u64) -> Option<RetrievedPoint> {
    let response = client
        .get_points(
            GetPointsBuilder::new(collection, vec![PointId::from(id)])
                .with_payload(true)
                .with_vectors(true),
        )
        .await
        .expect("get");
    response.result.into_iter().next()
}

async fn count(client: &Qdrant, collection: &str, filter: Option<Filter>) -> u64 {
    let mut request = CountPointsBuilder::new(collection).exact(true);
    if let Some(filter) = filter {
        request = request.filter(filter);
    }
    client
        .count(request)
        .await
        .expect("count")
        .result
        .expect("count result")
        .count
}

fn dense(output: &qdrant_client::qdrant::VectorsOutput) -> Vec<f32> {
    match output.vectors_options.as_ref() {
        Some(VectorsOptions::Vector(v)) => match v.clone().into_vector() {
            qdrant_client::qdrant::vector_output::Vector::Dense(d) => d.data,
            other => panic!("expected a dense vector, got {other:?}"),
        },
        other => panic!("expected an unnamed vector, got {other:?}"),
    }
}

fn named(output: &qdrant_client::qdrant::VectorsOutput) -> HashMap<String, Vec<f32>> {
    match output.vectors_options.as_ref() {
        Some(VectorsOptions::Vectors(named)) => named
            .vectors
            .iter()
            .map(|(name, v)| match v.clone().into_vector() {
                qdrant_client::qdrant::vector_output::Vector::Dense(d) => (name.clone(), d.data),
                other => panic!("expected a dense vector, got {other:?}"),
            })
            .collect(),
        other => panic!("expected named vectors, got {other:?}"),
    }
}

fn red() -> Filter {
    Filter::must([Condition::matches("color", "red".to_string())])
}

// ---- tests --------------------------------------------------------------------------------

#[tokio::test]
async fn health_check_reports_the_qdrant_api_version() {
    let node = Node::start().await;
    let reply = node.client().health_check().await.expect("health");
    assert_eq!(reply.version, "1.18.3");
    assert_eq!(reply.title, "grape");
}

#[tokio::test]
async fn requests_larger_than_four_mebibytes_are_accepted() {
    let node = Node::start().await;
    let client = node.client();
    client
        .create_collection(
            CreateCollectionBuilder::new("big")
                .vectors_config(VectorParamsBuilder::new(1024, Distance::Dot)),
        )
        .await
        .expect("create");
    // 1,200 × 1,024 floats ≈ 4.9 MB, past tonic's default 4 MiB limit.
    let points: Vec<PointStruct> = (0..1200u64)
        .map(|i| PointStruct::new(i, vec![i as f32 / 1200.0; 1024], Payload::new()))
        .collect();
    client
        .upsert_points(UpsertPointsBuilder::new("big", points).wait(true))
        .await
        .expect("large upsert");
    assert_eq!(count(&client, "big", None).await, 1200);
}

#[tokio::test]
async fn standard_grpc_health_reports_serving_without_a_key() {
    use tonic_health::pb::{
        health_check_response::ServingStatus, health_client::HealthClient, HealthCheckRequest,
    };
    let node = Node::start_with(&["--api-key", "secret"]).await;
    let channel = tonic::transport::Channel::from_shared(node.url.clone())
        .expect("url")
        .connect()
        .await
        .expect("connect");
    let mut health = HealthClient::new(channel);
    for service in ["", "qdrant.Points", "qdrant.Collections"] {
        let reply = health
            .check(HealthCheckRequest {
                service: service.to_string(),
            })
            .await
            .expect("grpc.health.v1 check")
            .into_inner();
        assert_eq!(reply.status, ServingStatus::Serving as i32, "{service:?}");
    }
}

#[tokio::test]
async fn gzip_compressed_requests_and_answers_work() {
    let node = Node::start().await;
    let client = Qdrant::from_url(&node.url)
        .compression(Some(qdrant_client::config::CompressionEncoding::Gzip))
        .skip_compatibility_check()
        .build()
        .expect("client");
    seeded(&client, "c", 20).await;
    let hits = client
        .search_points(SearchPointsBuilder::new("c", vector_of(4), 3).with_vectors(true))
        .await
        .expect("search")
        .result;
    assert_matches_reference(&hits, &brute_force(&vector_of(4), 0..20)[..3]);
}

#[tokio::test]
async fn collections_are_created_inspected_updated_and_deleted() {
    let node = Node::start().await;
    let client = node.client();
    client
        .create_collection(
            CreateCollectionBuilder::new("docs")
                .vectors_config(VectorParamsBuilder::new(4, Distance::Dot))
                .hnsw_config(HnswConfigDiffBuilder::default().m(8)),
        )
        .await
        .expect("create");
    assert!(client.collection_exists("docs").await.expect("exists"));
    assert!(!client.collection_exists("nope").await.expect("exists"));
    let names: Vec<String> = client
        .list_collections()
        .await
        .expect("list")
        .collections
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, vec!["docs"]);

    let info = client
        .collection_info("docs")
        .await
        .expect("info")
        .result
        .expect("info");
    assert_eq!(
        info.status,
        qdrant_client::qdrant::CollectionStatus::Green as i32
    );
    assert_eq!(info.points_count, Some(0));
    let config = info.config.expect("config");
    assert_eq!(config.hnsw_config.expect("hnsw").m, Some(8));
    let params = config.params.expect("params");
    let Some(qdrant_client::qdrant::vectors_config::Config::Params(vectors)) =
        params.vectors_config.and_then(|v| v.config)
    else {
        panic!("expected a single unnamed vector config");
    };
    assert_eq!(vectors.size, 4);
    assert_eq!(vectors.distance, Distance::Dot as i32);

    client
        .update_collection(
            UpdateCollectionBuilder::new("docs")
                .hnsw_config(HnswConfigDiffBuilder::default().ef_construct(64)),
        )
        .await
        .expect("update");
    let info = client.collection_info("docs").await.expect("info").result;
    let hnsw = info.and_then(|i| i.config).and_then(|c| c.hnsw_config);
    assert_eq!(hnsw.and_then(|h| h.ef_construct), Some(64));

    assert!(
        client
            .delete_collection("docs")
            .await
            .expect("delete")
            .result
    );
    assert!(
        !client
            .delete_collection("docs")
            .await
            .expect("delete")
            .result
    );
    assert!(!client.collection_exists("docs").await.expect("exists"));
    let missing = status_of(client.collection_info("docs").await);
    assert_eq!(missing.code(), Code::NotFound, "{missing:?}");
    assert!(missing.message().contains("docs"), "{missing:?}");
}

#[tokio::test]
async fn points_are_upserted_retrieved_scrolled_and_counted() {
    let node = Node::start().await;
    let client = node.client();
    seeded(&client, "c", 25).await;

    let seven = get_one(&client, "c", 7).await.expect("point 7");
    assert_eq!(
        payload_json(&seven.payload),
        json!({"color": "green", "n": 7})
    );
    let stored = dense(seven.vectors.as_ref().expect("vectors"));
    for (got, want) in stored.iter().zip(normalized(&vector_of(7))) {
        assert!(
            (got - want).abs() < 1e-6,
            "cosine vectors are stored normalized"
        );
    }
    let missing = client
        .get_points(GetPointsBuilder::new("c", vec![PointId::from(1000)]))
        .await
        .expect("get");
    assert!(missing.result.is_empty());

    let mut seen = Vec::new();
    let mut offset: Option<PointId> = None;
    loop {
        let mut request = ScrollPointsBuilder::new("c").limit(10);
        if let Some(offset) = offset.take() {
            request = request.offset(offset);
        }
        let page = client.scroll(request).await.expect("scroll");
        assert!(page.result.len() <= 10);
        assert!(
            page.result.iter().all(|p| !p.payload.is_empty()),
            "scroll returns payload by default"
        );
        seen.extend(page.result.iter().map(|p| num(&p.id)));
        match page.next_page_offset {
            Some(next) => offset = Some(next),
            None => break,
        }
    }
    assert_eq!(
        seen,
        (0..25).collect::<Vec<_>>(),
        "scroll visits every id in order"
    );
    assert_eq!(count(&client, "c", None).await, 25);
}

#[tokio::test]
async fn uuid_ids_and_named_vectors_work() {
    let node = Node::start().await;
    let client = node.client();
    let mut config = VectorsConfigBuilder::default();
    config.add_named_vector_params("img", VectorParamsBuilder::new(2, Distance::Euclid));
    config.add_named_vector_params("txt", VectorParamsBuilder::new(3, Distance::Dot));
    client
        .create_collection(CreateCollectionBuilder::new("multi").vectors_config(config))
        .await
        .expect("create");
    let uuid = "6f1c5a8e-8a43-4c1f-9d3a-0e8f6a1b2c3d";
    let vectors = |img: Vec<f32>, txt: Vec<f32>| {
        HashMap::from([("img".to_string(), img), ("txt".to_string(), txt)])
    };
    let points = vec![
        PointStruct::new(
            uuid,
            vectors(vec![0.0, 0.0], vec![1.0, 0.0, 0.0]),
            Payload::new(),
        ),
        PointStruct::new(
            2,
            vectors(vec![3.0, 4.0], vec![0.0, 1.0, 0.0]),
            Payload::new(),
        ),
    ];
    client
        .upsert_points(UpsertPointsBuilder::new("multi", points).wait(true))
        .await
        .expect("upsert");

    let hits = client
        .search_points(
            SearchPointsBuilder::new("multi", vec![3.0, 4.0], 2)
                .vector_name("img")
                .with_vectors(true),
        )
        .await
        .expect("search")
        .result;
    assert_eq!(num(&hits[0].id), 2);
    assert!(hits[0].score.abs() < 1e-6, "Euclid distance to itself is 0");
    assert_eq!(
        hits[1]
            .id
            .as_ref()
            .and_then(|id| id.point_id_options.clone()),
        Some(PointIdOptions::Uuid(uuid.to_string()))
    );
    assert!(
        (hits[1].score - 5.0).abs() < 1e-5,
        "Euclid returns the distance"
    );
    let vectors = named(hits[0].vectors.as_ref().expect("vectors"));
    assert_eq!(vectors["img"], vec![3.0, 4.0]);
    assert_eq!(vectors["txt"], vec![0.0, 1.0, 0.0]);
}

#[tokio::test]
async fn search_matches_brute_force() {
    let node = Node::start().await;
    let client = node.client();
    seeded(&client, "c", 30).await;
    let query = vec![0.3, -0.2, 0.5, 0.1];
    let reference = brute_force(&query, 0..30);

    let hits = client
        .search_points(SearchPointsBuilder::new("c", query.clone(), 5))
        .await
        .expect("search")
        .result;
    assert_matches_reference(&hits, &reference[..5]);
    assert!(hits
        .iter()
        .all(|h| h.payload.is_empty() && h.vectors.is_none()));

    let exact = client
        .search_points(
            SearchPointsBuilder::new("c", query.clone(), 5)
                .offset(3)
                .params(SearchParamsBuilder::default().exact(true)),
        )
        .await
        .expect("search with offset")
        .result;
    assert_matches_reference(&exact, &reference[3..8]);

    let threshold = reference[6].1;
    let above = client
        .search_points(SearchPointsBuilder::new("c", query.clone(), 20).score_threshold(threshold))
        .await
        .expect("search with threshold")
        .result;
    let expected: Vec<(u64, f32)> = reference
        .iter()
        .copied()
        .filter(|(_, s)| *s >= threshold)
        .collect();
    assert_matches_reference(&above, &expected);

    let batch = client
        .search_batch_points(SearchBatchPointsBuilder::new(
            "c",
            vec![
                SearchPointsBuilder::new("c", query.clone(), 2).build(),
                SearchPointsBuilder::new("c", vector_of(4), 1).build(),
            ],
        ))
        .await
        .expect("search batch")
        .result;
    assert_eq!(batch.len(), 2);
    assert_matches_reference(&batch[0].result, &reference[..2]);
    assert_eq!(num(&batch[1].result[0].id), 4);
}

#[tokio::test]
async fn search_selects_payload_keys() {
    let node = Node::start().await;
    let client = node.client();
    seeded(&client, "c", 10).await;
    let hits = client
        .search_points(
            SearchPointsBuilder::new("c", vector_of(1), 3)
                .with_payload(PayloadIncludeSelector::new(vec!["n".to_string()])),
        )
        .await
        .expect("search")
        .result;
    assert_eq!(num(&hits[0].id), 1);
    assert_eq!(payload_json(&hits[0].payload), json!({"n": 1}));
}

#[tokio::test]
async fn filtered_search_scroll_and_count_follow_qdrant_semantics() {
    let node = Node::start().await;
    let client = node.client();
    seeded(&client, "c", 30).await;
    let reds = (0..30).filter(|i| i % 3 == 0);
    let query = vec![0.1, 0.9, -0.3, 0.2];
    let hits = client
        .search_points(
            SearchPointsBuilder::new("c", query.clone(), 4)
                .filter(red())
                .with_payload(true),
        )
        .await
        .expect("filtered search")
        .result;
    assert_matches_reference(&hits, &brute_force(&query, reds.clone())[..4]);
    assert!(hits
        .iter()
        .all(|h| h.payload["color"].as_str().map(String::as_str) == Some("red")));

    assert_eq!(count(&client, "c", Some(red())).await, 10);
    let range = Filter::must([Condition::range(
        "n",
        Range {
            gte: Some(10.0),
            lt: Some(15.0),
            ..Default::default()
        },
    )]);
    let page = client
        .scroll(ScrollPointsBuilder::new("c").filter(range).limit(100))
        .await
        .expect("scroll");
    let ids: Vec<u64> = page.result.iter().map(|p| num(&p.id)).collect();
    assert_eq!(ids, vec![10, 11, 12, 13, 14]);
}

#[tokio::test]
async fn payload_is_set_overwritten_deleted_and_cleared() {
    let node = Node::start().await;
    let client = node.client();
    seeded(&client, "c", 3).await;
    let ids = |ids: &[u64]| PointsIdsList {
        ids: ids.iter().map(|&i| PointId::from(i)).collect(),
    };

    let mut extra = Payload::new();
    extra.insert("size", 42i64);
    client
        .set_payload(
            SetPayloadPointsBuilder::new("c", extra)
                .points_selector(ids(&[0, 1]))
                .wait(true),
        )
        .await
        .expect("set payload");
    let zero = get_one(&client, "c", 0).await.expect("point 0");
    assert_eq!(
        payload_json(&zero.payload),
        json!({"color": "red", "n": 0, "size": 42})
    );

    let mut replacement = Payload::new();
    replacement.insert("only", true);
    client
        .overwrite_payload(
            SetPayloadPointsBuilder::new("c", replacement)
                .points_selector(ids(&[1]))
                .wait(true),
        )
        .await
        .expect("overwrite payload");
    let one = get_one(&client, "c", 1).await.expect("point 1");
    assert_eq!(payload_json(&one.payload), json!({"only": true}));

    client
        .delete_payload(
            DeletePayloadPointsBuilder::new("c", vec!["color".to_string()])
                .points_selector(ids(&[0]))
                .wait(true),
        )
        .await
        .expect("delete payload");
    let zero = get_one(&client, "c", 0).await.expect("point 0");
    assert_eq!(payload_json(&zero.payload), json!({"n": 0, "size": 42}));

    client
        .clear_payload(
            qdrant_client::qdrant::ClearPayloadPointsBuilder::new("c")
                .points(ids(&[2]))
                .wait(true),
        )
        .await
        .expect("clear payload");
    let two = get_one(&client, "c", 2).await.expect("point 2");
    assert!(two.payload.is_empty());

    let missing = status_of(
        client
            .set_payload(
                SetPayloadPointsBuilder::new("c", Payload::new())
                    .points_selector(ids(&[99]))
                    .wait(true),
            )
            .await,
    );
    assert_eq!(missing.code(), Code::NotFound, "{missing:?}");
}

#[tokio::test]
async fn named_vectors_are_updated_and_deleted() {
    let node = Node::start().await;
    let client = node.client();
    let mut config = VectorsConfigBuilder::default();
    config.add_named_vector_params("a", VectorParamsBuilder::new(2, Distance::Dot));
    config.add_named_vector_params("b", VectorParamsBuilder::new(2, Distance::Dot));
    client
        .create_collection(CreateCollectionBuilder::new("v").vectors_config(config))
        .await
        .expect("create");
    let both = HashMap::from([
        ("a".to_string(), vec![1.0, 0.0]),
        ("b".to_string(), vec![0.0, 1.0]),
    ]);
    client
        .upsert_points(
            UpsertPointsBuilder::new("v", vec![PointStruct::new(1, both, Payload::new())])
                .wait(true),
        )
        .await
        .expect("upsert");

    let update = PointVectors {
        id: Some(1.into()),
        vectors: Some(HashMap::from([("a".to_string(), vec![0.5, 0.5])]).into()),
    };
    client
        .update_vectors(UpdatePointVectorsBuilder::new("v", vec![update]).wait(true))
        .await
        .expect("update vectors");
    let point = get_one(&client, "v", 1).await.expect("point");
    let vectors = named(point.vectors.as_ref().expect("vectors"));
    assert_eq!(vectors["a"], vec![0.5, 0.5]);
    assert_eq!(vectors["b"], vec![0.0, 1.0]);

    client
        .delete_vectors(
            DeletePointVectorsBuilder::new("v")
                .points_selector(PointsIdsList {
                    ids: vec![1.into()],
                })
                .vectors(VectorsSelector::new(vec!["b".to_string()]))
                .wait(true),
        )
        .await
        .expect("delete vectors");
    let point = get_one(&client, "v", 1).await.expect("point");
    let vectors = named(point.vectors.as_ref().expect("vectors"));
    assert_eq!(vectors.keys().collect::<Vec<_>>(), vec!["a"]);
}

#[tokio::test]
async fn points_are_deleted_by_ids_and_by_filter() {
    let node = Node::start().await;
    let client = node.client();
    seeded(&client, "c", 12).await;
    client
        .delete_points(
            DeletePointsBuilder::new("c")
                .points(PointsIdsList {
                    ids: vec![1.into(), 2.into()],
                })
                .wait(true),
        )
        .await
        .expect("delete ids");
    assert_eq!(count(&client, "c", None).await, 10);
    assert!(get_one(&client, "c", 1).await.is_none());

    client
        .delete_points(DeletePointsBuilder::new("c").points(red()).wait(true))
        .await
        .expect("delete by filter");
    let left: BTreeSet<u64> = client
        .scroll(ScrollPointsBuilder::new("c").limit(100))
        .await
        .expect("scroll")
        .result
        .iter()
        .map(|p| num(&p.id))
        .collect();
    let expected: BTreeSet<u64> = (0..12)
        .filter(|i| i % 3 != 0 && *i != 1 && *i != 2)
        .collect();
    assert_eq!(left, expected);
}

#[tokio::test]
async fn field_indexes_show_in_the_payload_schema() {
    let node = Node::start().await;
    let client = node.client();
    seeded(&client, "c", 6).await;
    client
        .create_field_index(
            CreateFieldIndexCollectionBuilder::new("c", "color", FieldType::Keyword).wait(true),
        )
        .await
        .expect("create index");
    let schema = client
        .collection_info("c")
        .await
        .expect("info")
        .result
        .expect("info")
        .payload_schema;
    let color = schema.get("color").expect("color in payload schema");
    assert_eq!(color.data_type, PayloadSchemaType::Keyword as i32);
    assert_eq!(color.points, Some(6));

    client
        .delete_field_index(DeleteFieldIndexCollectionBuilder::new("c", "color").wait(true))
        .await
        .expect("delete index");
    let info = client.collection_info("c").await.expect("info").result;
    assert!(info.expect("info").payload_schema.is_empty());
}

#[tokio::test]
async fn aliases_are_created_used_renamed_and_deleted() {
    let node = Node::start().await;
    let client = node.client();
    seeded(&client, "c", 5).await;
    client
        .create_alias(CreateAliasBuilder::new("c", "prod"))
        .await
        .expect("create alias");
    let aliases = client.list_aliases().await.expect("aliases").aliases;
    assert_eq!(aliases.len(), 1);
    assert_eq!(
        (
            aliases[0].alias_name.as_str(),
            aliases[0].collection_name.as_str()
        ),
        ("prod", "c")
    );
    assert_eq!(
        count(&client, "prod", None).await,
        5,
        "reads through the alias"
    );
    let hits = client
        .search_points(SearchPointsBuilder::new("prod", vector_of(3), 1))
        .await
        .expect("search through alias")
        .result;
    assert_eq!(num(&hits[0].id), 3);

    client
        .rename_alias(RenameAliasBuilder::new("prod", "live"))
        .await
        .expect("rename alias");
    let of_c = client
        .list_collection_aliases("c")
        .await
        .expect("collection aliases")
        .aliases;
    assert_eq!(of_c.len(), 1);
    assert_eq!(of_c[0].alias_name, "live");

    client.delete_alias("live").await.expect("delete alias");
    assert!(client
        .list_aliases()
        .await
        .expect("aliases")
        .aliases
        .is_empty());
    let gone = status_of(client.delete_alias("live").await);
    assert_eq!(gone.code(), Code::NotFound, "{gone:?}");
}

#[tokio::test]
async fn a_batch_of_operations_applies_in_order() {
    let node = Node::start().await;
    let client = node.client();
    seeded(&client, "c", 3).await;
    let mut tag = Payload::new();
    tag.insert("tag", "new");
    let operations = vec![
        PointsUpdateOperation {
            operation: Some(Operation::Upsert(
                points_update_operation::PointStructList {
                    points: vec![point(10)],
                    ..Default::default()
                },
            )),
        },
        PointsUpdateOperation {
            operation: Some(Operation::SetPayload(points_update_operation::SetPayload {
                payload: tag.into(),
                points_selector: Some(vec![PointId::from(10)].into()),
                ..Default::default()
            })),
        },
        PointsUpdateOperation {
            operation: Some(Operation::DeletePoints(
                points_update_operation::DeletePoints {
                    points: Some(vec![PointId::from(0)].into()),
                    ..Default::default()
                },
            )),
        },
    ];
    let results = client
        .update_points_batch(UpdateBatchPointsBuilder::new("c", operations).wait(true))
        .await
        .expect("batch")
        .result;
    assert_eq!(results.len(), 3);
    assert!(results
        .iter()
        .all(|r| r.status == UpdateStatus::Completed as i32));
    let ten = get_one(&client, "c", 10).await.expect("point 10");
    assert_eq!(
        payload_json(&ten.payload),
        json!({"color": "green", "n": 10, "tag": "new"})
    );
    assert!(get_one(&client, "c", 0).await.is_none());
    assert_eq!(count(&client, "c", None).await, 3);
}

#[tokio::test]
async fn snapshots_are_created_listed_and_deleted() {
    let node = Node::start().await;
    let client = node.client();
    seeded(&client, "c", 5).await;
    let created = client
        .create_snapshot("c")
        .await
        .expect("create snapshot")
        .snapshot_description
        .expect("description");
    assert!(created.size > 0);
    assert_eq!(created.checksum.as_ref().map(String::len), Some(64));
    assert!(created.creation_time.is_some());
    let listed = client
        .list_snapshots("c")
        .await
        .expect("list")
        .snapshot_descriptions;
    assert_eq!(
        listed.iter().map(|s| s.name.clone()).collect::<Vec<_>>(),
        vec![created.name.clone()]
    );
    client
        .delete_snapshot(DeleteSnapshotRequestBuilder::new("c", created.name.clone()))
        .await
        .expect("delete snapshot");
    assert!(client
        .list_snapshots("c")
        .await
        .expect("list")
        .snapshot_descriptions
        .is_empty());
    let gone = status_of(
        client
            .delete_snapshot(DeleteSnapshotRequestBuilder::new("c", created.name))
            .await,
    );
    assert_eq!(gone.code(), Code::NotFound, "{gone:?}");
}

#[tokio::test]
async fn the_cluster_view_is_a_single_node() {
    let node = Node::start().await;
    let client = node.client();
    seeded(&client, "c", 7).await;
    let info = client
        .collection_cluster_info("c")
        .await
        .expect("cluster info");
    assert_eq!(info.shard_count, 1);
    assert_eq!(info.local_shards.len(), 1);
    assert_eq!(info.local_shards[0].points_count, 7);
    assert!(info.remote_shards.is_empty());
}

#[tokio::test]
async fn bad_requests_are_refused_with_qdrant_codes_and_write_nothing() {
    let node = Node::start().await;
    let client = node.client();
    create_cosine(&client, "c").await;

    let wrong_dim = vec![
        point(1),
        PointStruct::new(2, vec![1.0, 2.0, 3.0], Payload::new()),
    ];
    let status = status_of(
        client
            .upsert_points(UpsertPointsBuilder::new("c", wrong_dim).wait(true))
            .await,
    );
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(status.message().contains("dim"), "{status:?}");
    assert_eq!(count(&client, "c", None).await, 0, "nothing was written");

    let status = status_of(
        client
            .search_points(SearchPointsBuilder::new("c", vec![1.0, 2.0], 3))
            .await,
    );
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");

    let no_vector = PointStruct {
        id: Some(5.into()),
        payload: HashMap::new(),
        vectors: None,
    };
    let status = status_of(
        client
            .upsert_points(UpsertPointsBuilder::new("c", vec![no_vector]).wait(true))
            .await,
    );
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");

    let bad_id = PointStruct::new("not-a-uuid", vector_of(1), Payload::new());
    let status = status_of(
        client
            .upsert_points(UpsertPointsBuilder::new("c", vec![bad_id]).wait(true))
            .await,
    );
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(status.message().contains("not-a-uuid"), "{status:?}");

    let status = status_of(
        client
            .upsert_points(UpsertPointsBuilder::new("missing", vec![point(1)]).wait(true))
            .await,
    );
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    assert!(status.message().contains("missing"), "{status:?}");
    let status = status_of(
        client
            .search_points(SearchPointsBuilder::new("missing", vector_of(1), 1))
            .await,
    );
    assert_eq!(status.code(), Code::NotFound, "{status:?}");

    let status = status_of(
        client
            .create_collection(
                CreateCollectionBuilder::new("c")
                    .vectors_config(VectorParamsBuilder::new(4, Distance::Cosine)),
            )
            .await,
    );
    assert_eq!(status.code(), Code::AlreadyExists, "{status:?}");

    let status = status_of(client.create_full_snapshot().await);
    assert_eq!(status.code(), Code::Unimplemented, "{status:?}");
    assert!(status.message().contains("full"), "{status:?}");
}

// ---- Query API, recommend, groups, facet ------------------------------------------------

/// The ids of points `0..n` that share the color of `i`.
fn same_color(n: u64, color: &str) -> impl Iterator<Item = u64> + Clone + '_ {
    (0..n).filter(move |i| COLORS[*i as usize % 3] == color)
}

async fn index(client: &Qdrant, collection: &str, field: &str, field_type: FieldType) {
    client
        .create_field_index(
            CreateFieldIndexCollectionBuilder::new(collection, field, field_type).wait(true),
        )
        .await
        .expect("create index");
}

#[tokio::test]
async fn query_nearest_and_batch_match_brute_force() {
    let node = Node::start().await;
    let client = node.client();
    seeded(&client, "c", 30).await;
    let query = vec![-0.4, 0.3, 0.2, 0.9];
    let reference = brute_force(&query, 0..30);
    let hits = client
        .query(
            QueryPointsBuilder::new("c")
                .query(Query::new_nearest(query.clone()))
                .limit(6)
                .offset(2)
                .with_payload(true),
        )
        .await
        .expect("query")
        .result;
    assert_matches_reference(&hits, &reference[2..8]);
    assert!(hits.iter().all(|h| h.payload.contains_key("color")));

    let batch = client
        .query_batch(QueryBatchPointsBuilder::new(
            "c",
            vec![
                QueryPointsBuilder::new("c")
                    .query(Query::new_nearest(query.clone()))
                    .limit(3)
                    .build(),
                QueryPointsBuilder::new("c")
                    .query(Query::new_nearest(vector_of(11)))
                    .limit(1)
                    .build(),
            ],
        ))
        .await
        .expect("query batch")
        .result;
    assert_eq!(batch.len(), 2);
    assert_matches_reference(&batch[0].result, &reference[..3]);
    assert_eq!(num(&batch[1].result[0].id), 11);
}

#[tokio::test]
async fn reciprocal_rank_fusion_of_prefetches_follows_qdrant() {
    let node = Node::start().await;
    let client = node.client();
    seeded(&client, "c", 30).await;
    let (a, b) = (vec![0.9, 0.1, 0.0, 0.2], vec![-0.2, 0.8, 0.4, 0.1]);
    let hits = client
        .query(
            QueryPointsBuilder::new("c")
                .add_prefetch(
                    PrefetchQueryBuilder::default()
                        .query(Query::new_nearest(a.clone()))
                        .limit(5u64),
                )
                .add_prefetch(
                    PrefetchQueryBuilder::default()
                        .query(Query::new_nearest(b.clone()))
                        .limit(5u64),
                )
                .query(Query::new_fusion(Fusion::Rrf))
                .limit(10),
        )
        .await
        .expect("fusion query")
        .result;
    // RRF as Qdrant computes it (k = 2, weight 1): the point at 0-based position p of a
    // prefetch scores 1 / (p + 1 + k - 1), summed over prefetches.
    let mut expected: HashMap<u64, f32> = HashMap::new();
    for reference in [brute_force(&a, 0..30), brute_force(&b, 0..30)] {
        for (position, (id, _)) in reference.iter().take(5).enumerate() {
            *expected.entry(*id).or_default() += 1.0 / (position as f32 + 1.0 + 2.0 - 1.0);
        }
    }
    assert_eq!(hits.len(), expected.len());
    for hit in &hits {
        let want = expected[&num(&hit.id)];
        assert!((hit.score - want).abs() < 1e-5, "{} != {want}", hit.score);
    }
    assert!(hits.windows(2).all(|w| w[0].score >= w[1].score));
}

#[tokio::test]
async fn order_by_query_reports_order_values() {
    let node = Node::start().await;
    let client = node.client();
    seeded(&client, "c", 12).await;
    index(&client, "c", "n", FieldType::Integer).await;
    let hits = client
        .query(
            QueryPointsBuilder::new("c")
                .query(Query::new_order_by(
                    OrderByBuilder::new("n").direction(Direction::Desc as i32),
                ))
                .limit(3),
        )
        .await
        .expect("order_by query")
        .result;
    let ids: Vec<u64> = hits.iter().map(|h| num(&h.id)).collect();
    assert_eq!(ids, vec![11, 10, 9]);
    let values: Vec<Option<order_value::Variant>> = hits
        .iter()
        .map(|h| h.order_value.as_ref().and_then(|v| v.variant))
        .collect();
    assert_eq!(
        values,
        vec![
            Some(order_value::Variant::Int(11)),
            Some(order_value::Variant::Int(10)),
            Some(order_value::Variant::Int(9)),
        ]
    );

    let page = client
        .scroll(
            ScrollPointsBuilder::new("c")
                .order_by(OrderByBuilder::new("n").direction(Direction::Desc as i32))
                .limit(4),
        )
        .await
        .expect("scroll ordered by n")
        .result;
    let ids: Vec<u64> = page.iter().map(|p| num(&p.id)).collect();
    assert_eq!(ids, vec![11, 10, 9, 8]);
}

#[tokio::test]
async fn recommend_uses_examples_and_excludes_them() {
    let node = Node::start().await;
    let client = node.client();
    seeded(&client, "c", 30).await;
    let hits = client
        .recommend(RecommendPointsBuilder::new("c", 4).add_positive(5u64))
        .await
        .expect("recommend")
        .result;
    // One positive example and no negative: the nearest neighbours of point 5, without it.
    assert_matches_reference(
        &hits,
        &brute_force(&vector_of(5), (0..30).filter(|i| *i != 5))[..4],
    );
}

#[tokio::test]
async fn groups_hold_the_best_hits_of_each_payload_value() {
    let node = Node::start().await;
    let client = node.client();
    seeded(&client, "c", 30).await;
    let query = vec![0.2, 0.2, -0.5, 0.7];
    let groups = client
        .query_groups(
            QueryPointGroupsBuilder::new("c", "color")
                .query(Query::new_nearest(query.clone()))
                .group_size(2u64)
                .limit(3u64),
        )
        .await
        .expect("query groups")
        .result
        .expect("groups")
        .groups;
    assert_eq!(groups.len(), 3);
    for group in &groups {
        let Some(group_id::Kind::StringValue(color)) =
            group.id.as_ref().and_then(|id| id.kind.clone())
        else {
            panic!("expected a keyword group id, got {:?}", group.id);
        };
        let best = brute_force(&query, same_color(30, &color));
        assert_matches_reference(&group.hits, &best[..2]);
    }

    let groups = client
        .search_groups(SearchPointGroupsBuilder::new(
            "c",
            query.clone(),
            2,
            "color",
            1,
        ))
        .await
        .expect("search groups")
        .result
        .expect("groups")
        .groups;
    assert_eq!(groups.len(), 2);
    let reference = brute_force(&query, 0..30);
    assert_eq!(
        num(&groups[0].hits[0].id),
        reference[0].0,
        "the best group holds the best point"
    );
}

#[tokio::test]
async fn facet_counts_payload_values() {
    let node = Node::start().await;
    let client = node.client();
    seeded(&client, "c", 30).await;
    index(&client, "c", "color", FieldType::Keyword).await;
    let hits = client
        .facet(FacetCountsBuilder::new("c", "color").limit(10))
        .await
        .expect("facet")
        .hits;
    let mut counts: Vec<(String, u64)> = hits
        .iter()
        .map(
            |hit| match hit.value.as_ref().and_then(|v| v.variant.clone()) {
                Some(facet_value::Variant::StringValue(s)) => (s, hit.count),
                other => panic!("expected a keyword facet value, got {other:?}"),
            },
        )
        .collect();
    counts.sort();
    assert_eq!(
        counts,
        vec![
            ("blue".to_string(), 10),
            ("green".to_string(), 10),
            ("red".to_string(), 10)
        ]
    );
}

// ---- API keys ---------------------------------------------------------------------------

#[tokio::test]
async fn api_keys_guard_every_rpc_but_the_health_check() {
    let node = Node::start_with(&["--api-key", "secret", "--read-only-api-key", "reader"]).await;
    let with_key = |key: &str| {
        Qdrant::from_url(&node.url)
            .api_key(key)
            .skip_compatibility_check()
            .build()
            .expect("client")
    };
    let admin = with_key("secret");
    seeded(&admin, "c", 3).await;

    let anonymous = node.client();
    anonymous.health_check().await.expect("health needs no key");
    let status = status_of(anonymous.list_collections().await);
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    let status = status_of(with_key("wrong").collection_exists("c").await);
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");

    let reader = with_key("reader");
    assert_eq!(
        count(&reader, "c", None).await,
        3,
        "the read-only key reads"
    );
    let status = status_of(
        reader
            .upsert_points(UpsertPointsBuilder::new("c", vec![point(9)]).wait(true))
            .await,
    );
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    let status = status_of(reader.delete_collection("c").await);
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    assert_eq!(count(&admin, "c", None).await, 3, "nothing was written");
}

// ---- concurrency ------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_clients_lose_no_acknowledged_write() {
    let node = Node::start().await;
    let client = node.client();
    create_cosine(&client, "c").await;
    // The API issue asks for 8 clients writing and searching for 30 s.
    let deadline = Instant::now() + Duration::from_secs(30);
    let workers: Vec<_> = (0..8u64)
        .map(|worker| {
            let client = node.client();
            tokio::spawn(async move {
                let mut written = Vec::new();
                for batch in 0u64.. {
                    if Instant::now() >= deadline {
                        break;
                    }
                    let ids: Vec<u64> = (0..10)
                        .map(|k| worker * 1_000_000 + batch * 10 + k)
                        .collect();
                    let points: Vec<PointStruct> = ids.iter().map(|&id| point(id)).collect();
                    client
                        .upsert_points(UpsertPointsBuilder::new("c", points).wait(true))
                        .await
                        .expect("concurrent upsert");
                    written.extend(ids);
                    let hits = client
                        .search_points(SearchPointsBuilder::new("c", vector_of(batch), 3))
                        .await
                        .expect("concurrent search")
                        .result;
                    assert!(!hits.is_empty());
                }
                written
            })
        })
        .collect();
    let mut acknowledged = Vec::new();
    for worker in workers {
        acknowledged.extend(worker.await.expect("worker"));
    }
    assert_eq!(count(&client, "c", None).await, acknowledged.len() as u64);
    for chunk in acknowledged.chunks(1_000) {
        let ids: Vec<PointId> = chunk.iter().map(|&id| id.into()).collect();
        let found = client
            .get_points(GetPointsBuilder::new("c", ids))
            .await
            .expect("get")
            .result;
        assert_eq!(
            found.len(),
            chunk.len(),
            "every acknowledged point is there"
        );
    }
}

// ---- every filter condition, converted to Qdrant's REST filter and evaluated --------------

fn value_of(json: Json) -> Value {
    let kind = match json {
        Json::Null => Kind::NullValue(0),
        Json::Bool(b) => Kind::BoolValue(b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Kind::IntegerValue(i),
            None => Kind::DoubleValue(n.as_f64().expect("number")),
        },
        Json::String(s) => Kind::StringValue(s),
        Json::Array(values) => Kind::ListValue(ListValue {
            values: values.into_iter().map(value_of).collect(),
        }),
        Json::Object(map) => Kind::StructValue(Struct {
            fields: map.into_iter().map(|(k, v)| (k, value_of(v))).collect(),
        }),
    };
    Value { kind: Some(kind) }
}

fn payload_from(json: Json) -> Payload {
    let Json::Object(map) = json else {
        panic!("payload must be an object")
    };
    let fields: HashMap<String, Value> = map.into_iter().map(|(k, v)| (k, value_of(v))).collect();
    Payload::from(fields)
}

async fn matching(client: &Qdrant, filter: Filter) -> BTreeSet<u64> {
    let page = client
        .scroll(
            ScrollPointsBuilder::new("f")
                .filter(filter.clone())
                .limit(100),
        )
        .await
        .expect("filtered scroll");
    let ids: BTreeSet<u64> = page.result.iter().map(|p| num(&p.id)).collect();
    assert_eq!(count(client, "f", Some(filter)).await, ids.len() as u64);
    ids
}

fn ids(ids: &[u64]) -> BTreeSet<u64> {
    ids.iter().copied().collect()
}

fn ts(rfc3339: &str) -> prost_types::Timestamp {
    let t = chrono::DateTime::parse_from_rfc3339(rfc3339).expect("timestamp");
    prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: 0,
    }
}

fn geo(lon: f64, lat: f64) -> GeoPoint {
    GeoPoint { lon, lat }
}

#[tokio::test]
async fn every_filter_condition_follows_qdrant_semantics() {
    let node = Node::start().await;
    let client = node.client();
    create_cosine(&client, "f").await;
    let payloads = [
        json!({"city": "Paris", "tags": ["a", "b"], "n": 1, "loc": {"lon": 2.35, "lat": 48.85},
               "at": "2024-01-01T00:00:00Z", "items": [{"k": "x", "v": 1}, {"k": "y", "v": 2}],
               "text": "the quick brown fox"}),
        json!({"city": "Berlin", "tags": [], "n": 5, "loc": {"lon": 13.40, "lat": 52.52},
               "at": "2024-06-01T00:00:00Z", "items": [{"k": "x", "v": 3}], "text": "lazy dog",
               "maybe": null}),
        json!({"city": "London", "tags": ["c"], "n": 10, "loc": {"lon": -0.12, "lat": 51.50},
               "at": "2025-01-01T00:00:00Z", "items": [], "text": "quick dog"}),
        json!({"n": 7, "flag": true}),
    ];
    let points: Vec<PointStruct> = payloads
        .into_iter()
        .enumerate()
        .map(|(i, p)| PointStruct::new(i as u64, vector_of(i as u64), payload_from(p)))
        .collect();
    client
        .upsert_points(UpsertPointsBuilder::new("f", points).wait(true))
        .await
        .expect("upsert");

    let city = |c: &str| Condition::matches("city", c.to_string());
    let cases: Vec<(&str, Filter, BTreeSet<u64>)> = vec![
        ("match value", Filter::must([city("Paris")]), ids(&[0])),
        (
            "match any",
            Filter::must([Condition::matches(
                "city",
                vec!["Paris".to_string(), "London".to_string()],
            )]),
            ids(&[0, 2]),
        ),
        (
            "match except",
            Filter {
                must: vec![Condition::matches(
                    "city",
                    !MatchValue::Keyword("Paris".into()),
                )],
                must_not: vec![Condition::is_empty("city")],
                ..Default::default()
            },
            ids(&[1, 2]),
        ),
        (
            "match integer",
            Filter::must([Condition::matches("n", 7i64)]),
            ids(&[3]),
        ),
        (
            "match bool",
            Filter::must([Condition::matches("flag", true)]),
            ids(&[3]),
        ),
        (
            "match text",
            Filter::must([Condition::matches_text("text", "quick")]),
            ids(&[0, 2]),
        ),
        (
            "range",
            Filter::must([Condition::range(
                "n",
                Range {
                    gte: Some(5.0),
                    lt: Some(10.0),
                    ..Default::default()
                },
            )]),
            ids(&[1, 3]),
        ),
        (
            "datetime range",
            Filter::must([Condition::datetime_range(
                "at",
                DatetimeRange {
                    gte: Some(ts("2024-03-01T00:00:00Z")),
                    ..Default::default()
                },
            )]),
            ids(&[1, 2]),
        ),
        (
            "values count",
            Filter::must([Condition::values_count(
                "tags",
                ValuesCount {
                    gte: Some(1),
                    ..Default::default()
                },
            )]),
            ids(&[0, 2]),
        ),
        (
            "is empty",
            Filter::must([Condition::is_empty("tags")]),
            ids(&[1, 3]),
        ),
        (
            "is null",
            Filter::must([Condition::is_null("maybe")]),
            ids(&[1]),
        ),
        (
            "has id",
            Filter::must([Condition::has_id([0u64, 3])]),
            ids(&[0, 3]),
        ),
        (
            "has vector",
            Filter::must([Condition::has_vector("")]),
            ids(&[0, 1, 2, 3]),
        ),
        (
            "geo radius",
            Filter::must([Condition::geo_radius(
                "loc",
                GeoRadius {
                    center: Some(geo(2.3, 48.8)),
                    radius: 100_000.0,
                },
            )]),
            ids(&[0]),
        ),
        (
            "geo bounding box",
            Filter::must([Condition::geo_bounding_box(
                "loc",
                GeoBoundingBox {
                    top_left: Some(geo(0.0, 55.0)),
                    bottom_right: Some(geo(15.0, 45.0)),
                },
            )]),
            ids(&[0, 1]),
        ),
        (
            "geo polygon",
            Filter::must([Condition::geo_polygon(
                "loc",
                GeoPolygon {
                    exterior: Some(GeoLineString {
                        points: vec![
                            geo(-1.0, 51.0),
                            geo(1.0, 51.0),
                            geo(1.0, 52.0),
                            geo(-1.0, 52.0),
                            geo(-1.0, 51.0),
                        ],
                    }),
                    interiors: Vec::new(),
                },
            )]),
            ids(&[2]),
        ),
        (
            "nested: both conditions on one array element",
            Filter::must([Condition::nested(
                "items",
                Filter::must([
                    Condition::matches("k", "x".to_string()),
                    Condition::range(
                        "v",
                        Range {
                            gte: Some(2.0),
                            ..Default::default()
                        },
                    ),
                ]),
            )]),
            ids(&[1]),
        ),
        (
            "should",
            Filter::should([city("Paris"), Condition::matches("n", 10i64)]),
            ids(&[0, 2]),
        ),
        (
            "must not",
            Filter::must_not([city("Paris")]),
            ids(&[1, 2, 3]),
        ),
        (
            "min should",
            Filter::min_should(
                2,
                [
                    city("Paris"),
                    Condition::range(
                        "n",
                        Range {
                            gte: Some(5.0),
                            ..Default::default()
                        },
                    ),
                    Condition::values_count(
                        "tags",
                        ValuesCount {
                            gte: Some(1),
                            ..Default::default()
                        },
                    ),
                ],
            ),
            ids(&[0, 2]),
        ),
        (
            "a filter as a condition",
            Filter::must([
                Filter::should([city("Berlin"), Condition::matches("flag", true)]).into(),
            ]),
            ids(&[1, 3]),
        ),
    ];
    for (name, filter, expected) in cases {
        assert_eq!(matching(&client, filter).await, expected, "{name}");
    }

    let status = status_of(
        client
            .scroll(
                ScrollPointsBuilder::new("f")
                    .filter(Filter::must([Condition::matches_prefix("city", "Par")])),
            )
            .await,
    );
    assert_eq!(status.code(), Code::Unimplemented, "{status:?}");
}
