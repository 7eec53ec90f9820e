//! Payload indexes over gRPC with the official Rust client: text and geo indexes answering
//! filters, integer index options, scroll `order_by` and facets read from indexes, the
//! distance matrix, and InvalidArgument for bad index requests. Answers are checked against
//! references computed here.

mod support;

use std::collections::BTreeMap;

use qdrant_client::qdrant::payload_index_params::IndexParams;
use qdrant_client::qdrant::{
    facet_value, order_value, point_id::PointIdOptions, r#match::MatchValue, Condition,
    CreateCollectionBuilder, CreateFieldIndexCollectionBuilder, Direction, Distance,
    FacetCountsBuilder, FieldType, Filter, GeoPoint, GeoRadius, IntegerIndexParamsBuilder,
    OrderByBuilder, PointId, PointStruct, ScrollPointsBuilder, SearchMatrixPointsBuilder,
    TextIndexParamsBuilder, TokenizerType, UpsertPointsBuilder, VectorParamsBuilder,
};
use qdrant_client::qdrant::{value::Kind, Struct, Value};
use qdrant_client::{Payload, Qdrant, QdrantError};
use tonic::Code;

use support::node::Node;

const N: u64 = 90;
const WORDS: [&str; 6] = ["grape", "grapefruit", "juice", "red", "wine", "tea"];

fn text_of(i: u64) -> String {
    (0..1 + i % 3)
        .map(|k| WORDS[((i * 5 + k) % 6) as usize])
        .collect::<Vec<_>>()
        .join(" ")
}

fn place_of(i: u64) -> (f64, f64) {
    (
        -10.0 + (i * 37 % 200) as f64 / 10.0,
        40.0 + (i * 53 % 150) as f64 / 10.0,
    )
}

fn vector_of(i: u64) -> Vec<f32> {
    let x = i as f32;
    vec![(x * 0.9).sin(), (x * 0.7).cos(), (x * 0.3).sin(), 1.0]
}

fn payload_of(i: u64) -> Payload {
    let (lon, lat) = place_of(i);
    let place = Struct {
        fields: [("lon", lon), ("lat", lat)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), Value::from(v)))
            .collect(),
    };
    let mut payload = Payload::new();
    payload.insert("n", (i % 7) as i64);
    payload.insert("price", i as f64 * 0.5);
    payload.insert("kind", ["a", "b", "c"][i as usize % 3]);
    payload.insert("text", text_of(i));
    payload.insert(
        "place",
        Value {
            kind: Some(Kind::StructValue(place)),
        },
    );
    payload
}

async fn seeded(client: &Qdrant, name: &str) {
    client
        .create_collection(
            CreateCollectionBuilder::new(name)
                .vectors_config(VectorParamsBuilder::new(4, Distance::Dot)),
        )
        .await
        .expect("create collection");
    let points: Vec<PointStruct> = (0..N)
        .map(|i| PointStruct::new(i, vector_of(i), payload_of(i)))
        .collect();
    client
        .upsert_points(UpsertPointsBuilder::new(name, points).wait(true))
        .await
        .expect("upsert");
}

async fn index(client: &Qdrant, name: &str, field: &str, field_type: FieldType) {
    client
        .create_field_index(CreateFieldIndexCollectionBuilder::new(
            name, field, field_type,
        ))
        .await
        .expect("create index");
}

fn num(id: &Option<PointId>) -> u64 {
    match id.as_ref().and_then(|id| id.point_id_options.as_ref()) {
        Some(PointIdOptions::Num(n)) => *n,
        other => panic!("expected a numeric id, got {other:?}"),
    }
}

async fn matching(client: &Qdrant, name: &str, filter: Filter) -> Vec<u64> {
    let page = client
        .scroll(ScrollPointsBuilder::new(name).filter(filter).limit(1000))
        .await
        .expect("scroll");
    page.result.iter().map(|p| num(&p.id)).collect()
}

fn invalid_argument<T: std::fmt::Debug>(result: Result<T, QdrantError>) -> String {
    match result {
        Err(QdrantError::ResponseError { status }) => {
            assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
            status.message().to_string()
        }
        other => panic!("expected InvalidArgument, got {other:?}"),
    }
}

#[tokio::test]
async fn text_and_geo_indexes_answer_filters_like_the_reference() {
    let node = Node::start().await;
    let client = node.client();
    seeded(&client, "c").await;
    let params = TextIndexParamsBuilder::new(TokenizerType::Prefix)
        .lowercase(true)
        .build();
    client
        .create_field_index(
            CreateFieldIndexCollectionBuilder::new("c", "text", FieldType::Text)
                .field_index_params(params),
        )
        .await
        .expect("text index");
    index(&client, "c", "place", FieldType::Geo).await;
    let words = |i: u64| text_of(i).split(' ').map(String::from).collect::<Vec<_>>();

    let prefix = matching(
        &client,
        "c",
        Filter::must([Condition::matches_text("text", "gra ju")]),
    )
    .await;
    let expected: Vec<u64> = (0..N)
        .filter(|&i| {
            let w = words(i);
            ["gra", "ju"]
                .iter()
                .all(|p| w.iter().any(|x| x.starts_with(p)))
        })
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(prefix, expected, "prefix tokens");

    let phrase = matching(
        &client,
        "c",
        Filter::must([Condition::matches_phrase("text", "juice red")]),
    )
    .await;
    let expected: Vec<u64> = (0..N)
        .filter(|&i| {
            words(i)
                .windows(2)
                .any(|w| w[0] == "juice" && w[1] == "red")
        })
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(phrase, expected, "phrase: consecutive tokens");

    let any = matching(
        &client,
        "c",
        Filter::must([Condition::matches_text_any("text", "tea wine")]),
    )
    .await;
    let expected: Vec<u64> = (0..N)
        .filter(|&i| words(i).iter().any(|w| w == "tea" || w == "wine"))
        .collect();
    assert_eq!(any, expected, "text_any");

    let radius = GeoRadius {
        center: Some(GeoPoint {
            lon: 0.0,
            lat: 45.0,
        }),
        radius: 300_000.0,
    };
    let near = matching(
        &client,
        "c",
        Filter::must([Condition::geo_radius("place", radius)]),
    )
    .await;
    let haversine = |(lon, lat): (f64, f64)| {
        let (p1, p2) = (45f64.to_radians(), lat.to_radians());
        let h = ((p2 - p1) / 2.0).sin().powi(2)
            + p1.cos() * p2.cos() * (lon.to_radians() / 2.0).sin().powi(2);
        2.0 * 6_371_008.8 * h.sqrt().asin()
    };
    let expected: Vec<u64> = (0..N)
        .filter(|&i| haversine(place_of(i)) <= 300_000.0)
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(near, expected, "geo radius");

    let info = client
        .collection_info("c")
        .await
        .expect("info")
        .result
        .expect("info");
    assert_eq!(info.payload_schema["text"].points, Some(N));
    assert_eq!(info.payload_schema["place"].points, Some(N));
}

#[tokio::test]
async fn integer_index_options_and_order_by_from_the_index() {
    let node = Node::start().await;
    let client = node.client();
    seeded(&client, "c").await;
    client
        .create_field_index(
            CreateFieldIndexCollectionBuilder::new("c", "n", FieldType::Integer)
                .field_index_params(IntegerIndexParamsBuilder::new(false, true).build()),
        )
        .await
        .expect("integer index");
    let info = client
        .collection_info("c")
        .await
        .expect("info")
        .result
        .expect("info");
    let params = info.payload_schema["n"]
        .params
        .clone()
        .and_then(|p| p.index_params);
    assert!(
        matches!(params, Some(IndexParams::IntegerIndexParams(p)) if p.lookup == Some(false) && p.range == Some(true))
    );
    let threes = matching(
        &client,
        "c",
        Filter::must([Condition::matches("n", MatchValue::Integer(3))]),
    )
    .await;
    assert_eq!(threes, (0..N).filter(|i| i % 7 == 3).collect::<Vec<_>>());

    let page = client
        .scroll(
            ScrollPointsBuilder::new("c")
                .order_by(
                    OrderByBuilder::new("n")
                        .direction(Direction::Desc as i32)
                        .start_from(qdrant_client::qdrant::start_from::Value::Integer(4)),
                )
                .filter(Filter::must([Condition::matches("kind", "b".to_string())]))
                .limit(12),
        )
        .await
        .expect("ordered scroll");
    let mut expected: Vec<(u64, u64)> = (0..N)
        .filter(|i| i % 3 == 1 && i % 7 <= 4)
        .map(|i| (i % 7, i))
        .collect();
    expected.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let got: Vec<u64> = page.result.iter().map(|p| num(&p.id)).collect();
    assert_eq!(
        got,
        expected
            .iter()
            .take(12)
            .map(|(_, i)| *i)
            .collect::<Vec<_>>()
    );
    let values: Vec<i64> = page
        .result
        .iter()
        .map(|p| match p.order_value.as_ref().and_then(|v| v.variant) {
            Some(order_value::Variant::Int(i)) => i,
            other => panic!("expected an integer order value, got {other:?}"),
        })
        .collect();
    assert_eq!(
        values,
        expected
            .iter()
            .take(12)
            .map(|(v, _)| *v as i64)
            .collect::<Vec<_>>()
    );

    let unindexed = client
        .scroll(ScrollPointsBuilder::new("c").order_by(OrderByBuilder::new("price")))
        .await;
    assert!(invalid_argument(unindexed).contains("No range index"));
}

#[tokio::test]
async fn facets_count_index_values_with_filters() {
    let node = Node::start().await;
    let client = node.client();
    seeded(&client, "c").await;
    index(&client, "c", "kind", FieldType::Keyword).await;
    index(&client, "c", "n", FieldType::Integer).await;
    let counts = |hits: Vec<qdrant_client::qdrant::FacetHit>| -> Vec<(String, u64)> {
        hits.into_iter()
            .map(|h| {
                let value = match h.value.and_then(|v| v.variant) {
                    Some(facet_value::Variant::StringValue(s)) => s,
                    Some(facet_value::Variant::IntegerValue(i)) => i.to_string(),
                    other => panic!("unexpected facet value {other:?}"),
                };
                (value, h.count)
            })
            .collect()
    };
    let reference = |keep: &dyn Fn(u64) -> bool, key: &dyn Fn(u64) -> String| {
        let mut map: BTreeMap<String, u64> = BTreeMap::new();
        (0..N)
            .filter(|&i| keep(i))
            .for_each(|i| *map.entry(key(i)).or_default() += 1);
        let mut list: Vec<(String, u64)> = map.into_iter().collect();
        list.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        list
    };
    let cheap = Filter::must([Condition::range(
        "price",
        qdrant_client::qdrant::Range {
            lt: Some(20.0),
            ..Default::default()
        },
    )]);
    let hits = client
        .facet(
            FacetCountsBuilder::new("c", "kind")
                .filter(cheap)
                .exact(true),
        )
        .await
        .expect("facet")
        .hits;
    let kind = |i: u64| ["a", "b", "c"][i as usize % 3].to_string();
    assert_eq!(counts(hits), reference(&|i| (i as f64) * 0.5 < 20.0, &kind));
    let hits = client
        .facet(FacetCountsBuilder::new("c", "n").limit(3))
        .await
        .expect("facet")
        .hits;
    let mut expected = reference(&|_| true, &|i| (i % 7).to_string());
    expected.truncate(3);
    assert_eq!(counts(hits), expected);
    index(&client, "c", "text", FieldType::Text).await;
    let text = client.facet(FacetCountsBuilder::new("c", "text")).await;
    assert!(invalid_argument(text).contains("Index required"));
}

#[tokio::test]
async fn search_matrix_pairs_and_offsets_match_brute_force() {
    let node = Node::start().await;
    let client = node.client();
    seeded(&client, "c").await;
    let dot = |a: u64, b: u64| -> f32 {
        vector_of(a)
            .iter()
            .zip(vector_of(b))
            .map(|(x, y)| x * y)
            .sum()
    };
    let kind_a = Filter::must([Condition::matches("kind", "a".to_string())]);
    let sampled: Vec<u64> = (0..N).filter(|i| i % 3 == 0).collect();
    let pairs = client
        .search_matrix_pairs(
            SearchMatrixPointsBuilder::new("c")
                .filter(kind_a)
                .sample(sampled.len() as u64)
                .limit(2),
        )
        .await
        .expect("pairs")
        .result
        .expect("pairs result")
        .pairs;
    assert_eq!(pairs.len(), sampled.len() * 2);
    for pair in &pairs {
        let (a, b) = (num(&pair.a), num(&pair.b));
        let mut others: Vec<u64> = sampled.iter().copied().filter(|&o| o != a).collect();
        others.sort_by(|x, y| dot(a, *y).total_cmp(&dot(a, *x)).then(x.cmp(y)));
        assert!(
            others[..2].contains(&b),
            "{b} is among the 2 nearest of {a}"
        );
        assert!((pair.score - dot(a, b)).abs() < 1e-4);
    }
    let offsets = client
        .search_matrix_offsets(SearchMatrixPointsBuilder::new("c").sample(6).limit(3))
        .await
        .expect("offsets")
        .result
        .expect("offsets result");
    assert_eq!(offsets.ids.len(), 6);
    assert_eq!(offsets.scores.len(), 18);
    for ((row, col), score) in offsets
        .offsets_row
        .iter()
        .zip(&offsets.offsets_col)
        .zip(&offsets.scores)
    {
        let (a, b) = (
            num(&Some(offsets.ids[*row as usize].clone())),
            num(&Some(offsets.ids[*col as usize].clone())),
        );
        assert_ne!(a, b);
        assert!((score - dot(a, b)).abs() < 1e-4);
    }
}

#[tokio::test]
async fn bad_index_requests_are_invalid_arguments() {
    let node = Node::start().await;
    let client = node.client();
    seeded(&client, "c").await;
    let code_tokenizer = TextIndexParamsBuilder::new(TokenizerType::Code).build();
    let refused = client
        .create_field_index(
            CreateFieldIndexCollectionBuilder::new("c", "text", FieldType::Text)
                .field_index_params(code_tokenizer),
        )
        .await;
    assert!(invalid_argument(refused).contains("code"));
    let neither = client
        .create_field_index(
            CreateFieldIndexCollectionBuilder::new("c", "n", FieldType::Integer)
                .field_index_params(IntegerIndexParamsBuilder::new(false, false).build()),
        )
        .await;
    assert!(invalid_argument(neither).contains("lookup"));
    let info = client
        .collection_info("c")
        .await
        .expect("info")
        .result
        .expect("info");
    assert!(
        info.payload_schema.is_empty(),
        "refused indexes are not created"
    );
}
