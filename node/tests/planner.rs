//! The search planner against brute force: for random payloads and random filters
//! (must/should/must_not over keyword, integer, text and geo indexes and unindexed keys), the
//! exact plan returns exactly the brute-force top-k, counts are exact, and the plans the cost
//! model picks for large shards (graph walks, value graphs) keep recall@10 ≥ 0.95.
//!
//! The reference evaluates each filter with `Filter::check` on the stored payloads (with the
//! text index's tokenizer, as full-text matches on an indexed key compare tokens).

use std::collections::HashSet;

use grape::engine::Engine;
use grape::filter::{Filter, PointView, Tokenizer};
use grape::metrics::search as search_metrics;
use grape::payload::JsonPath;
use grape::shard::{Plan, ShardQuery, Strategy as SearchStrategy};
use grape::types::*;
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

const POINTS: u64 = 5_000;
const DIM: usize = 8;
const TOP: usize = 10;
const WORDS: [&str; 6] = ["alpha", "beta", "gamma", "delta", "omega", "pi"];

struct Data {
    vectors: Vec<Vec<f32>>,
    payloads: Vec<Payload>,
}

fn data(seed: u64) -> Data {
    let mut rng = StdRng::seed_from_u64(seed);
    let vectors = (0..POINTS)
        .map(|_| (0..DIM).map(|_| rng.gen_range(-1.0f32..1.0)).collect())
        .collect();
    let payloads = (0..POINTS)
        .map(|_| {
            // Two frequent tags (value graphs) and a rare one.
            let tag = match rng.gen_range(0..20) {
                0..=8 => "t0",
                9..=17 => "t1",
                _ => "t2",
            };
            let words: Vec<&str> = (0..rng.gen_range(1..4))
                .map(|_| WORDS[rng.gen_range(0..WORDS.len())])
                .collect();
            let mut p = json!({
                "tag": tag,
                "n": rng.gen_range(0..100),
                "text": words.join(" "),
                "place": {"lon": rng.gen_range(-20.0..20.0), "lat": rng.gen_range(30.0..60.0)},
                "free": rng.gen_range(0..4),
            });
            if rng.gen_bool(0.1) {
                p.as_object_mut().expect("object").remove("n");
            }
            p.as_object().cloned().expect("object")
        })
        .collect();
    Data { vectors, payloads }
}

fn engine_with(data: &Data) -> (tempfile::TempDir, Engine) {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = Engine::open(dir.path()).expect("engine");
    let create: CreateCollection = serde_json::from_value(json!({
        "vectors": {"size": data.vectors[0].len(), "distance": "Euclid"},
        "hnsw_config": {"full_scan_threshold": 10, "m": 16, "ef_construct": 64},
    }))
    .expect("create");
    engine
        .create_collection("c", create)
        .expect("create collection");
    let points: Vec<PointStruct> = (0..data.vectors.len() as u64)
        .map(|i| PointStruct {
            id: PointId::Num(i),
            vector: VectorStruct::Single(data.vectors[i as usize].clone()),
            payload: Some(data.payloads[i as usize].clone()),
        })
        .collect();
    let collection = engine.collection("c").expect("collection");
    collection
        .update(
            vec![PointOperation::Upsert(UpsertPoints::Points { points })],
            true,
        )
        .expect("upsert");
    for (field, schema) in [
        ("tag", json!("keyword")),
        ("n", json!("integer")),
        ("text", json!({"type": "text", "tokenizer": "word"})),
        ("place", json!("geo")),
    ] {
        engine
            .create_field_index("c", field, schema)
            .expect("index");
    }
    (dir, engine)
}

struct View<'a> {
    id: u64,
    payload: &'a Payload,
    tokenizer: &'a Tokenizer,
}

impl PointView for View<'_> {
    fn id(&self) -> PointId {
        PointId::Num(self.id)
    }
    fn payload(&self) -> &Payload {
        self.payload
    }
    fn has_vector(&self, _: &str) -> bool {
        true
    }
    fn text_index(&self, key: &JsonPath) -> Option<&Tokenizer> {
        (key.as_str() == "text").then_some(self.tokenizer)
    }
}

/// Ids passing the filter, by `Filter::check`.
fn reference_matches(data: &Data, filter: &Filter) -> Vec<u64> {
    let tokenizer = Tokenizer::default();
    (0..data.payloads.len() as u64)
        .filter(|&id| {
            filter.check(&View {
                id,
                payload: &data.payloads[id as usize],
                tokenizer: &tokenizer,
            })
        })
        .collect()
}

fn distance(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y) * (x - y))
        .sum::<f32>()
        .sqrt()
}

fn brute_force(data: &Data, query: &[f32], allowed: &[u64]) -> Vec<u64> {
    let mut scored: Vec<(f32, u64)> = allowed
        .iter()
        .map(|&id| (distance(query, &data.vectors[id as usize]), id))
        .collect();
    scored.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    scored.into_iter().take(TOP).map(|(_, id)| id).collect()
}

fn search(engine: &Engine, query: &[f32], filter: &Filter, params: SearchParams) -> Vec<u64> {
    let request = SearchRequest {
        vector: NamedVector::Default(query.to_vec()),
        filter: Some(filter.clone()),
        params: Some(params),
        limit: TOP,
        offset: None,
        with_payload: None,
        with_vector: None,
        score_threshold: None,
    };
    let found = engine
        .collection("c")
        .expect("collection")
        .search(&request, Default::default())
        .expect("search");
    found
        .into_iter()
        .map(|p| match p.id {
            PointId::Num(n) => n,
            PointId::Uuid(_) => unreachable!("numeric ids"),
        })
        .collect()
}

fn plan(engine: &Engine, query: &[f32], filter: &Filter, params: &SearchParams) -> Plan {
    let shard_query = ShardQuery {
        vector_name: "",
        vector: query,
        filter: Some(filter),
        params: Some(params),
        top: TOP,
        score_threshold: None,
    };
    engine.collection("c").expect("collection").shards()[0]
        .local()
        .expect("a local shard")
        .plan(&shard_query)
        .expect("a vector space")
}

fn queries(seed: u64, n: usize) -> Vec<Vec<f32>> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n)
        .map(|_| (0..DIM).map(|_| rng.gen_range(-1.0f32..1.0)).collect())
        .collect()
}

/// Checks every query: exact plans equal brute force; the default plan keeps `recall`
/// against it. Returns the recall and the plans used.
fn check(
    engine: &Engine,
    data: &Data,
    filter: &Filter,
    queries: &[Vec<f32>],
) -> (f64, HashSet<String>) {
    check_at(engine, data, filter, queries, 64)
}

/// [`check`] with the walks' `hnsw_ef`.
fn check_at(
    engine: &Engine,
    data: &Data,
    filter: &Filter,
    queries: &[Vec<f32>],
    ef: usize,
) -> (f64, HashSet<String>) {
    let allowed = reference_matches(data, filter);
    let count: CountRequest = serde_json::from_value(json!({"exact": true})).expect("count");
    let count = CountRequest {
        filter: Some(filter.clone()),
        ..count
    };
    let counted = engine
        .collection("c")
        .expect("collection")
        .count(&count, Default::default())
        .expect("count");
    assert_eq!(counted, allowed.len(), "count of {filter:?}");
    let exact = SearchParams {
        exact: true,
        ..Default::default()
    };
    let approximate = SearchParams {
        hnsw_ef: Some(ef),
        ..Default::default()
    };
    let (mut hits, mut wanted, mut plans) = (0, 0, HashSet::new());
    for query in queries {
        let expected = brute_force(data, query, &allowed);
        assert_eq!(
            search(engine, query, filter, exact.clone()),
            expected,
            "exact plan for {filter:?}"
        );
        let found = search(engine, query, filter, approximate.clone());
        hits += found.iter().filter(|id| expected.contains(id)).count();
        wanted += expected.len();
        plans.insert(
            format!("{:?}", plan(engine, query, filter, &approximate))
                .split(' ')
                .next()
                .unwrap_or("")
                .to_string(),
        );
    }
    let recall = if wanted == 0 {
        1.0
    } else {
        hits as f64 / wanted as f64
    };
    (recall, plans)
}

fn condition() -> impl Strategy<Value = Value> {
    let word = prop::sample::select(WORDS.to_vec());
    prop_oneof![
        prop::sample::select(vec!["t0", "t1", "t2"])
            .prop_map(|t| json!({"key": "tag", "match": {"value": t}})),
        (0i64..100, 1i64..60)
            .prop_map(|(a, w)| json!({"key": "n", "range": {"gte": a, "lt": a + w}})),
        prop::collection::vec(0i64..100, 1..10)
            .prop_map(|l| json!({"key": "n", "match": {"any": l}})),
        word.clone()
            .prop_map(|w| json!({"key": "text", "match": {"text": w}})),
        (word.clone(), word)
            .prop_map(|(a, b)| json!({"key": "text", "match": {"phrase": format!("{a} {b}")}})),
        (-20.0f64..20.0, 30.0f64..60.0, 1e5f64..2e6).prop_map(|(lon, lat, r)| json!(
            {"key": "place", "geo_radius": {"center": {"lon": lon, "lat": lat}, "radius": r}})),
        (0i64..4).prop_map(|v| json!({"key": "free", "match": {"value": v}})),
        Just(json!({"is_empty": {"key": "n"}})),
    ]
}

fn filter() -> impl Strategy<Value = Filter> {
    let clause = || prop::collection::vec(condition(), 0..3);
    (clause(), clause(), clause()).prop_map(|(must, should, must_not)| {
        serde_json::from_value(json!({"must": must, "should": should, "must_not": must_not}))
            .expect("filter")
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

    #[test]
    fn planned_searches_match_brute_force(seed in 0u64..1000, filters in prop::collection::vec(filter(), 6)) {
        let data = data(seed);
        let (_dir, engine) = engine_with(&data);
        let queries = queries(seed + 1, 8);
        let mut recalls = Vec::new();
        for filter in &filters {
            recalls.push(check(&engine, &data, filter, &queries).0);
        }
        let mean = recalls.iter().sum::<f64>() / recalls.len() as f64;
        prop_assert!(mean >= 0.95, "mean recall {mean}, per filter {recalls:?}");
    }
}

#[test]
fn each_plan_is_chosen_where_it_is_cheapest_and_keeps_recall() {
    let data = data(7);
    let (_dir, engine) = engine_with(&data);
    let queries = queries(8, 20);
    let cases = [
        (
            json!({"must": [{"key": "n", "match": {"value": 5}}]}),
            "Exact",
        ),
        (
            json!({"must": [{"key": "tag", "match": {"value": "t1"}}]}),
            "ValueGraphs",
        ),
        (
            json!({"must_not": [{"key": "n", "range": {"lt": 10}}]}),
            "Graph",
        ),
        (
            json!({"should": [{"key": "tag", "match": {"value": "t0"}}, {"key": "tag", "match": {"value": "t1"}}]}),
            "Graph",
        ),
        // Unindexed: an exact scan checks all 5,000 payloads, still cheaper than the walk.
        (
            json!({"must": [{"key": "free", "match": {"value": 2}}]}),
            "Exact",
        ),
    ];
    for (filter, expected_plan) in cases {
        let filter: Filter = serde_json::from_value(filter).expect("filter");
        let (recall, plans) = check(&engine, &data, &filter, &queries);
        assert!(plans.contains(expected_plan), "{filter:?}: plans {plans:?}");
        assert!(recall >= 0.95, "{filter:?}: recall {recall}");
    }
}

/// `CLUSTERS` tight clusters of points; `n` is a point's cluster and the rest of the payload
/// is the same everywhere.
fn clustered(seed: u64, points: usize) -> (Data, Vec<Vec<f32>>) {
    const CLUSTERS: usize = 20;
    const CLUSTER_DIM: usize = 32;
    let mut rng = StdRng::seed_from_u64(seed);
    let centres: Vec<Vec<f32>> = (0..CLUSTERS)
        .map(|_| {
            (0..CLUSTER_DIM)
                .map(|_| rng.gen_range(-1.7f32..1.7))
                .collect()
        })
        .collect();
    let mut near = |c: usize| -> Vec<f32> {
        centres[c]
            .iter()
            .map(|x| x + rng.gen_range(-0.6f32..0.6))
            .collect()
    };
    let vectors = (0..points).map(|i| near(i % CLUSTERS)).collect();
    let queries = (0..40).map(|q| near(q % CLUSTERS)).collect();
    let payloads = (0..points)
        .map(|i| {
            let p = json!({"tag": "t0", "n": i % CLUSTERS, "text": "alpha", "free": 0,
                "place": {"lon": 0.0, "lat": 45.0}});
            p.as_object().cloned().expect("object")
        })
        .collect();
    (Data { vectors, payloads }, queries)
}

#[test]
fn a_filter_keeping_other_clusters_than_the_querys_keeps_recall() {
    // Half the queries sit in clusters the filter rejects: a walk of the main graph stays
    // among rejected points there, so the shard must notice and score exactly.
    let (data, queries) = clustered(11, 10_000);
    let (_dir, engine) = engine_with(&data);
    let filter: Filter =
        serde_json::from_value(json!({"must": [{"key": "n", "range": {"lt": 10}}]}))
            .expect("filter");
    let replaced_before = search_metrics::count(SearchStrategy::ExactAfterWalk);
    let (recall, plans) = check_at(&engine, &data, &filter, &queries, 32);
    assert!(plans.contains("Graph"), "plans {plans:?}");
    assert!(recall >= 0.95, "recall {recall}");
    // The metrics say what ran: for some queries, exact scoring instead of the walk.
    let replaced = search_metrics::count(SearchStrategy::ExactAfterWalk) - replaced_before;
    assert!(replaced > 0, "no walk replaced by exact scoring");
}
