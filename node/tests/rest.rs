//! The REST API of a real `grape-node` process: Qdrant's paths, envelope, status codes and
//! error shape, answers checked against brute force, bad input refused without side effects.

use std::time::{Duration, Instant};

use grape_testkit::{NodeBuilder, NodeProcess};
use serde_json::{json, Value};

fn builder() -> NodeBuilder {
    NodeProcess::builder(env!("CARGO_BIN_EXE_grape-node")).expect("node builder")
}

/// A running node; killed when dropped.
struct Node {
    _process: NodeProcess,
    base: String,
}

impl Node {
    fn start() -> Node {
        Node::start_with(&[], &[])
    }

    /// Starts a node in a fresh data directory with extra flags and env vars.
    fn start_with(args: &[&str], env: &[(&str, &str)]) -> Node {
        let builder = env
            .iter()
            .fold(builder().args(args), |builder, (k, v)| builder.env(k, v));
        Node::launch(builder)
    }

    fn launch(builder: NodeBuilder) -> Node {
        let process = builder.start().expect("start grape-node");
        Node {
            base: process.rest_url(),
            _process: process,
        }
    }

    /// Sends a request; returns the status and the JSON body (`Value::Null` if not JSON).
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.call_with(method, path, body, &[])
    }

    fn call_with(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> (u16, Value) {
        let mut request = ureq::request(method, &format!("{}{path}", self.base));
        for (k, v) in headers {
            request = request.set(k, v);
        }
        let result = match body {
            Some(body) => request.send_json(body),
            None => request.call(),
        };
        let response = match result {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{method} {path}: {e}"),
        };
        let status = response.status();
        let text = response.into_string().unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    fn raw(&self, method: &str, path: &str, body: &str) -> (u16, Value) {
        let request = ureq::request(method, &format!("{}{path}", self.base))
            .set("content-type", "application/json");
        let response = match request.send_string(body) {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{method} {path}: {e}"),
        };
        let status = response.status();
        (status, response.into_json().unwrap_or(Value::Null))
    }

    /// A request that must succeed; returns `result`.
    fn ok(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let (status, body) = self.call(method, path, body);
        assert_eq!(status, 200, "{method} {path}: {body}");
        assert_eq!(body["status"], "ok", "{body}");
        assert!(body["time"].is_number(), "{body}");
        body["result"].clone()
    }
}

/// Asserts Qdrant's error shape and status, and returns the message.
fn assert_error(status: u16, body: &Value, expected: u16) -> String {
    assert_eq!(status, expected, "{body}");
    assert!(body["time"].is_number(), "{body}");
    body["status"]["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no error message in {body}"))
        .to_string()
}

fn vector(i: u64) -> Vec<f32> {
    let t = i as f32 * 0.7;
    vec![t.sin(), t.cos(), (t * 0.3).sin(), 1.0 + i as f32 * 0.01]
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Creates `name` (4-d Dot) with points 0..n: payload `{"i", "group": i % 3, "tag"}`.
fn seed(node: &Node, name: &str, n: u64) {
    node.ok(
        "PUT",
        &format!("/collections/{name}"),
        Some(json!({"vectors": {"size": 4, "distance": "Dot"}})),
    );
    let points: Vec<Value> = (0..n)
        .map(|i| {
            json!({"id": i, "vector": vector(i), "payload": {"i": i, "group": i % 3, "tag": format!("t{}", i % 2)}})
        })
        .collect();
    let result = node.ok(
        "PUT",
        &format!("/collections/{name}/points?wait=true"),
        Some(json!({ "points": points })),
    );
    assert_eq!(result["status"], "completed");
}

fn ids(points: &Value) -> Vec<u64> {
    points
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_u64().unwrap())
        .collect()
}

#[test]
fn service_endpoints() {
    let node = Node::start();
    let (status, root) = node.call("GET", "/", None);
    assert_eq!(status, 200);
    assert_eq!(root["title"], "grape");
    assert_eq!(root["version"], "1.18.3");
    assert_eq!(root["grape_version"], env!("CARGO_PKG_VERSION"));
    for path in ["/healthz", "/livez", "/readyz"] {
        let response = ureq::get(&format!("{}{path}", node.base)).call().unwrap();
        assert_eq!(response.status(), 200);
        assert!(response.content_type().starts_with("text/plain"));
    }
    seed(&node, "m", 5);
    let metrics = ureq::get(&format!("{}/metrics", node.base))
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    assert!(metrics.contains("app_info{name=\"grape\""), "{metrics}");
    assert!(metrics.contains("collections_total 1"), "{metrics}");
    assert!(
        metrics.contains("collection_points{id=\"m\"} 5"),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            "rest_responses_total{endpoint=\"/collections/{collection_name}/points\",method=\"PUT\",status=\"200\"} 1"
        ),
        "{metrics}"
    );
    assert!(metrics.contains("rest_responses_duration_seconds_bucket"));
    let telemetry = node.ok("GET", "/telemetry", None);
    assert_eq!(telemetry["collections"]["number_of_collections"], 1);
    assert_eq!(node.ok("GET", "/cluster", None)["status"], "disabled");
    let (status, body) = node.call("GET", "/no/such/route", None);
    assert_error(status, &body, 404);
}

#[test]
fn collection_lifecycle() {
    let node = Node::start();
    let create = json!({"vectors": {"size": 4, "distance": "Cosine"}, "hnsw_config": {"m": 8}});
    assert_eq!(
        node.ok("PUT", "/collections/c1", Some(create.clone())),
        true
    );
    let (status, body) = node.call("PUT", "/collections/c1", Some(create));
    let message = assert_error(status, &body, 409);
    assert!(message.contains("already exists"), "{message}");
    let info = node.ok("GET", "/collections/c1", None);
    assert_eq!(info["status"], "green");
    assert_eq!(info["points_count"], 0);
    assert_eq!(info["config"]["params"]["vectors"]["size"], 4);
    assert_eq!(info["config"]["hnsw_config"]["m"], 8);
    assert_eq!(
        node.ok("GET", "/collections", None)["collections"],
        json!([{"name": "c1"}])
    );
    assert_eq!(
        node.ok("GET", "/collections/c1/exists", None)["exists"],
        true
    );
    assert_eq!(
        node.ok("GET", "/collections/nope/exists", None)["exists"],
        false
    );
    assert_eq!(
        node.ok(
            "PATCH",
            "/collections/c1",
            Some(json!({"hnsw_config": {"ef_construct": 50}}))
        ),
        true
    );
    let info = node.ok("GET", "/collections/c1", None);
    assert_eq!(info["config"]["hnsw_config"]["ef_construct"], 50);
    let cluster = node.ok("GET", "/collections/c1/cluster", None);
    assert_eq!(cluster["shard_count"], 1);

    assert_eq!(node.ok("DELETE", "/collections/c1", None), true);
    assert_eq!(node.ok("DELETE", "/collections/c1", None), false);
    let (status, body) = node.call("GET", "/collections/c1", None);
    let message = assert_error(status, &body, 404);
    assert!(message.contains("doesn't exist"), "{message}");
    let (status, body) = node.call("GET", "/collections/nope/points/1", None);
    assert_error(status, &body, 404);
}

#[test]
fn aliases_and_payload_indexes() {
    let node = Node::start();
    seed(&node, "real", 3);
    assert_eq!(
        node.ok(
            "POST",
            "/collections/aliases",
            Some(json!({"actions": [{"create_alias": {"collection_name": "real", "alias_name": "nick"}}]}))
        ),
        true
    );
    assert_eq!(
        node.ok("GET", "/aliases", None)["aliases"],
        json!([{"alias_name": "nick", "collection_name": "real"}])
    );
    assert_eq!(
        node.ok("GET", "/collections/real/aliases", None)["aliases"],
        json!([{"alias_name": "nick", "collection_name": "real"}])
    );
    // The alias reads the collection.
    assert_eq!(
        node.ok("POST", "/collections/nick/points/count", Some(json!({})))["count"],
        3
    );
    node.ok(
        "POST",
        "/collections/aliases",
        Some(json!({"actions": [{"rename_alias": {"old_alias_name": "nick", "new_alias_name": "nick2"}}]})),
    );
    node.ok(
        "POST",
        "/collections/aliases",
        Some(json!({"actions": [{"delete_alias": {"alias_name": "nick2"}}]})),
    );
    assert_eq!(node.ok("GET", "/aliases", None)["aliases"], json!([]));
    let (status, body) = node.call(
        "POST",
        "/collections/aliases",
        Some(json!({"actions": [{"delete_alias": {"alias_name": "ghost"}}]})),
    );
    assert_error(status, &body, 404);

    let result = node.ok(
        "PUT",
        "/collections/real/index?wait=true",
        Some(json!({"field_name": "tag", "field_schema": "keyword"})),
    );
    assert_eq!(result["status"], "completed");
    let info = node.ok("GET", "/collections/real", None);
    assert_eq!(info["payload_schema"]["tag"]["data_type"], "keyword");
    assert_eq!(info["payload_schema"]["tag"]["points"], 3);
    node.ok("DELETE", "/collections/real/index/tag?wait=true", None);
    let info = node.ok("GET", "/collections/real", None);
    assert_eq!(info["payload_schema"], json!({}));
}

#[test]
fn point_writes_and_reads() {
    let node = Node::start();
    seed(&node, "p", 25);
    // Columnar batch upsert with a UUID id.
    let uuid = "5c56c793-69f3-4fbf-87e6-c4bf54c28c26";
    node.ok(
        "PUT",
        "/collections/p/points?wait=true",
        Some(json!({"batch": {"ids": [100, uuid], "vectors": [[1, 0, 0, 0], [0, 1, 0, 0]], "payloads": [{"b": 1}, null]}})),
    );
    assert_eq!(
        node.ok(
            "POST",
            "/collections/p/points/count",
            Some(json!({"exact": true}))
        )["count"],
        27
    );
    let records = node.ok(
        "POST",
        "/collections/p/points",
        Some(json!({"ids": [100, 3, 999, uuid], "with_vector": true})),
    );
    assert_eq!(records.as_array().unwrap().len(), 3);
    assert_eq!(records[0]["id"], 100);
    assert_eq!(records[0]["payload"], json!({"b": 1}));
    assert_eq!(records[0]["vector"], json!([1.0, 0.0, 0.0, 0.0]));
    assert_eq!(records[2]["id"], uuid);
    let point = node.ok("GET", "/collections/p/points/3", None);
    assert_eq!(point["payload"]["i"], 3);
    assert_eq!(point["vector"].as_array().unwrap().len(), 4);
    let point = node.ok("GET", &format!("/collections/p/points/{uuid}"), None);
    assert_eq!(point["id"], uuid);
    let (status, body) = node.call("GET", "/collections/p/points/999", None);
    assert_error(status, &body, 404);
    let (status, body) = node.call("GET", "/collections/p/points/not-an-id", None);
    assert_error(status, &body, 400);

    // Scroll pages through every point in id order (numbers before UUIDs).
    let mut seen = Vec::new();
    let mut offset = Value::Null;
    loop {
        let page = node.ok(
            "POST",
            "/collections/p/points/scroll",
            Some(json!({"limit": 10, "offset": offset, "with_payload": false})),
        );
        for p in page["points"].as_array().unwrap() {
            assert!(p["payload"].is_null());
            seen.push(p["id"].clone());
        }
        offset = page["next_page_offset"].clone();
        if offset.is_null() {
            break;
        }
    }
    let mut expected: Vec<Value> = (0..25).map(|i| json!(i)).collect();
    expected.push(json!(100));
    expected.push(json!(uuid));
    assert_eq!(seen, expected);

    // Payload edits.
    node.ok(
        "POST",
        "/collections/p/points/payload?wait=true",
        Some(json!({"payload": {"x": 1, "i": 42}, "points": [1, 2]})),
    );
    let got = node.ok("GET", "/collections/p/points/1", None);
    assert_eq!(
        got["payload"],
        json!({"i": 42, "group": 1, "tag": "t1", "x": 1})
    );
    node.ok(
        "PUT",
        "/collections/p/points/payload?wait=true",
        Some(json!({"payload": {"only": true}, "points": [1]})),
    );
    assert_eq!(
        node.ok("GET", "/collections/p/points/1", None)["payload"],
        json!({"only": true})
    );
    node.ok(
        "POST",
        "/collections/p/points/payload/delete?wait=true",
        Some(json!({"keys": ["x", "tag"], "points": [2]})),
    );
    assert_eq!(
        node.ok("GET", "/collections/p/points/2", None)["payload"],
        json!({"i": 42, "group": 2})
    );
    node.ok(
        "POST",
        "/collections/p/points/payload/clear?wait=true",
        Some(json!({"points": [2]})),
    );
    assert_eq!(
        node.ok("GET", "/collections/p/points/2", None)["payload"],
        json!({})
    );

    // Delete, then a batch of mixed operations applied in order.
    node.ok(
        "POST",
        "/collections/p/points/delete?wait=true",
        Some(json!({"points": [0, 100]})),
    );
    let results = node.ok(
        "POST",
        "/collections/p/points/batch?wait=true",
        Some(json!({"operations": [
            {"upsert": {"points": [{"id": 500, "vector": [0, 0, 1, 0], "payload": {"n": 1}}]}},
            {"set_payload": {"payload": {"n": 2}, "points": [500]}},
            {"delete": {"points": [3]}},
        ]})),
    );
    assert_eq!(results.as_array().unwrap().len(), 3);
    assert_eq!(
        node.ok("GET", "/collections/p/points/500", None)["payload"],
        json!({"n": 2})
    );
    assert_eq!(
        node.ok("POST", "/collections/p/points/count", Some(json!({})))["count"],
        25
    );
}

#[test]
fn named_vectors_update_and_delete() {
    let node = Node::start();
    node.ok(
        "PUT",
        "/collections/nv",
        Some(json!({"vectors": {"a": {"size": 2, "distance": "Euclid"}, "b": {"size": 3, "distance": "Dot"}}})),
    );
    node.ok(
        "PUT",
        "/collections/nv/points?wait=true",
        Some(json!({"points": [{"id": 1, "vector": {"a": [1, 2], "b": [1, 0, 0]}}, {"id": 2, "vector": {"a": [0, 0]}}]})),
    );
    node.ok(
        "PUT",
        "/collections/nv/points/vectors?wait=true",
        Some(json!({"points": [{"id": 2, "vector": {"b": [0, 1, 0]}}]})),
    );
    let got = node.ok("GET", "/collections/nv/points/2", None);
    assert_eq!(
        got["vector"],
        json!({"a": [0.0, 0.0], "b": [0.0, 1.0, 0.0]})
    );
    node.ok(
        "POST",
        "/collections/nv/points/vectors/delete?wait=true",
        Some(json!({"points": [1], "vector": ["b"]})),
    );
    let got = node.ok("GET", "/collections/nv/points/1", None);
    assert_eq!(got["vector"], json!({"a": [1.0, 2.0]}));
    // Search by a named vector: Euclid distances, smallest first.
    let hits = node.ok(
        "POST",
        "/collections/nv/points/search",
        Some(json!({"vector": {"name": "a", "vector": [1, 1]}, "limit": 2})),
    );
    assert_eq!(ids(&hits), vec![1, 2]);
    assert!((hits[0]["score"].as_f64().unwrap() - 1.0).abs() < 1e-5);
    // The query API with `using`.
    let hits = node.ok(
        "POST",
        "/collections/nv/points/query",
        Some(json!({"query": [0, 1, 0], "using": "b", "limit": 5})),
    );
    assert_eq!(ids(&hits["points"]), vec![2]);
    // An unknown vector name is a 400.
    let (status, body) = node.call(
        "POST",
        "/collections/nv/points/search",
        Some(json!({"vector": {"name": "zzz", "vector": [1, 1]}, "limit": 2})),
    );
    assert_error(status, &body, 400);
}

#[test]
fn search_query_recommend_groups_and_facets() {
    let node = Node::start();
    let n = 40;
    seed(&node, "s", n);
    let q = [0.2f32, -0.4, 0.9, 0.1];
    let ranked = {
        let mut all: Vec<u64> = (0..n).collect();
        all.sort_by(|&a, &b| dot(&q, &vector(b)).total_cmp(&dot(&q, &vector(a))));
        all
    };
    let hits = node.ok(
        "POST",
        "/collections/s/points/search",
        Some(json!({"vector": q, "limit": 5, "offset": 1, "with_payload": ["i"]})),
    );
    assert_eq!(ids(&hits), ranked[1..6]);
    for hit in hits.as_array().unwrap() {
        let i = hit["id"].as_u64().unwrap();
        assert!((hit["score"].as_f64().unwrap() - dot(&q, &vector(i)) as f64).abs() < 1e-4);
        assert!(hit["version"].is_u64());
    }
    let batch = node.ok(
        "POST",
        "/collections/s/points/search/batch",
        Some(json!({"searches": [{"vector": q, "limit": 3}, {"vector": q, "limit": 1}]})),
    );
    assert_eq!(ids(&batch[0]), ranked[..3]);
    assert_eq!(ids(&batch[1]), ranked[..1]);

    let result = node.ok(
        "POST",
        "/collections/s/points/query",
        Some(json!({"query": q, "limit": 4, "with_payload": true, "with_vector": true})),
    );
    assert_eq!(ids(&result["points"]), ranked[..4]);
    assert_eq!(result["points"][0]["payload"]["i"], ranked[0]);
    assert_eq!(result["points"][0]["vector"].as_array().unwrap().len(), 4);
    let batch = node.ok(
        "POST",
        "/collections/s/points/query/batch",
        Some(
            json!({"searches": [{"query": q, "limit": 2}, {"query": {"nearest": q}, "limit": 3}]}),
        ),
    );
    assert_eq!(ids(&batch[0]["points"]), ranked[..2]);
    assert_eq!(ids(&batch[1]["points"]), ranked[..3]);

    // Recommend from point 7: the average of one positive is its vector; 7 itself excluded.
    let target = vector(7);
    let mut expected: Vec<u64> = (0..n).filter(|&i| i != 7).collect();
    expected.sort_by(|&a, &b| dot(&target, &vector(b)).total_cmp(&dot(&target, &vector(a))));
    let hits = node.ok(
        "POST",
        "/collections/s/points/recommend",
        Some(json!({"positive": [7], "limit": 3})),
    );
    assert_eq!(ids(&hits), expected[..3]);
    let batch = node.ok(
        "POST",
        "/collections/s/points/recommend/batch",
        Some(json!({"searches": [{"positive": [7], "limit": 2}]})),
    );
    assert_eq!(ids(&batch[0]), expected[..2]);

    // Groups by an integer payload key.
    let groups = node.ok(
        "POST",
        "/collections/s/points/query/groups",
        Some(json!({"query": q, "group_by": "group", "group_size": 2, "limit": 3})),
    );
    let groups = groups["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 3);
    let mut expected_groups: Vec<(u64, Vec<u64>)> = Vec::new();
    for &i in &ranked {
        let g = i % 3;
        match expected_groups.iter().position(|(id, _)| *id == g) {
            Some(k) if expected_groups[k].1.len() < 2 => expected_groups[k].1.push(i),
            Some(_) => {}
            None => expected_groups.push((g, vec![i])),
        }
    }
    for (group, (id, hits)) in groups.iter().zip(&expected_groups) {
        assert_eq!(group["id"], *id);
        assert_eq!(ids(&group["hits"]), *hits);
    }
    let groups = node.ok(
        "POST",
        "/collections/s/points/search/groups",
        Some(json!({"vector": q, "group_by": "tag", "group_size": 1, "limit": 5})),
    );
    assert_eq!(groups["groups"].as_array().unwrap().len(), 2);

    // Facets need a keyword/integer index, as in Qdrant.
    let (status, body) = node.call("POST", "/collections/s/facet", Some(json!({"key": "tag"})));
    assert_error(status, &body, 400);
    node.ok(
        "PUT",
        "/collections/s/index?wait=true",
        Some(json!({"field_name": "tag", "field_schema": "keyword"})),
    );
    let facets = node.ok("POST", "/collections/s/facet", Some(json!({"key": "tag"})));
    assert_eq!(
        facets["hits"],
        json!([{"value": "t0", "count": 20}, {"value": "t1", "count": 20}])
    );

    // Order by an indexed integer key, through query and scroll.
    node.ok(
        "PUT",
        "/collections/s/index?wait=true",
        Some(json!({"field_name": "i", "field_schema": "integer"})),
    );
    let result = node.ok(
        "POST",
        "/collections/s/points/query",
        Some(json!({"query": {"order_by": {"key": "i", "direction": "desc"}}, "limit": 3})),
    );
    assert_eq!(ids(&result["points"]), vec![39, 38, 37]);
    assert_eq!(result["points"][0]["order_value"], 39);
    let page = node.ok(
        "POST",
        "/collections/s/points/scroll",
        Some(json!({"order_by": {"key": "i", "direction": "desc", "start_from": 10}, "limit": 2})),
    );
    assert_eq!(ids(&page["points"]), vec![10, 9]);

    // Fusion of two prefetches.
    let result = node.ok(
        "POST",
        "/collections/s/points/query",
        Some(json!({"prefetch": [{"query": q, "limit": 5}, {"query": [1, 0, 0, 0], "limit": 5}], "query": {"fusion": "rrf"}, "limit": 3})),
    );
    assert_eq!(result["points"].as_array().unwrap().len(), 3);
    // The best point of the first prefetch ranks at least second after fusion.
    assert!(ids(&result["points"])[..2].contains(&ranked[0]));
}

#[test]
fn filters_restrict_search_scroll_and_count() {
    // Depends on the filter engine (grape::filter); the stub in place before it lands
    // matches every point, so these assertions fail until then.
    let node = Node::start();
    seed(&node, "f", 30);
    let filter = json!({"must": [{"key": "tag", "match": {"value": "t1"}}]});
    assert_eq!(
        node.ok(
            "POST",
            "/collections/f/points/count",
            Some(json!({"filter": filter}))
        )["count"],
        15
    );
    let hits = node.ok(
        "POST",
        "/collections/f/points/search",
        Some(json!({"vector": [1, 0, 0, 0], "filter": filter, "limit": 30})),
    );
    assert_eq!(hits.as_array().unwrap().len(), 15);
    assert!(ids(&hits).iter().all(|i| i % 2 == 1));
    let page = node.ok(
        "POST",
        "/collections/f/points/scroll",
        Some(json!({"filter": {"must_not": [{"key": "group", "match": {"value": 0}}]}, "limit": 100})),
    );
    assert_eq!(page["points"].as_array().unwrap().len(), 20);
}

#[test]
fn bad_input_is_refused_in_qdrant_shape_without_side_effects() {
    let node = Node::start();
    seed(&node, "b", 5);
    // Malformed JSON.
    let (status, body) = node.raw("PUT", "/collections/b/points", "{\"points\": [");
    let message = assert_error(status, &body, 400);
    assert!(
        message.starts_with("Format error in JSON body"),
        "{message}"
    );
    // Wrong JSON type and unknown fields.
    let (status, body) = node.call(
        "POST",
        "/collections/b/points/search",
        Some(json!({"vector": "not a vector", "limit": 3})),
    );
    assert_error(status, &body, 400);
    let (status, body) = node.call(
        "POST",
        "/collections/b/points/query",
        Some(json!({"query": [1, 0, 0, 0], "limti": 3})),
    );
    let message = assert_error(status, &body, 400);
    assert!(message.contains("limti"), "{message}");
    let (status, body) = node.call(
        "PUT",
        "/collections/new",
        Some(json!({"vectors": {"size": 4, "distance": "Cosine"}, "bogus": 1})),
    );
    assert_error(status, &body, 400);
    assert_eq!(
        node.ok("GET", "/collections/new/exists", None)["exists"],
        false
    );
    // Wrong dimension: nothing of the request is written.
    let (status, body) = node.call(
        "PUT",
        "/collections/b/points?wait=true",
        Some(json!({"points": [{"id": 50, "vector": [1, 2, 3, 4]}, {"id": 51, "vector": [1, 2, 3]}]})),
    );
    let message = assert_error(status, &body, 400);
    assert!(message.contains("dimension"), "{message}");
    assert_eq!(
        node.ok("POST", "/collections/b/points/count", Some(json!({})))["count"],
        5
    );
    let (status, body) = node.call(
        "POST",
        "/collections/b/points/search",
        Some(json!({"vector": [1, 2], "limit": 3})),
    );
    assert_error(status, &body, 400);
    // Unknown collection.
    for (method, path, body) in [
        ("PUT", "/collections/ghost/points", json!({"points": []})),
        (
            "POST",
            "/collections/ghost/points/search",
            json!({"vector": [1, 0, 0, 0], "limit": 1}),
        ),
        ("POST", "/collections/ghost/points/query", json!({})),
        ("POST", "/collections/ghost/points/scroll", json!({})),
    ] {
        let (status, reply) = node.call(method, path, Some(body));
        let message = assert_error(status, &reply, 404);
        assert!(message.contains("ghost"), "{message}");
    }
    // Unknown point as a query.
    let (status, body) = node.call(
        "POST",
        "/collections/b/points/query",
        Some(json!({"query": 12345})),
    );
    assert_error(status, &body, 404);
    // Invalid ids and names.
    let (status, body) = node.call(
        "PUT",
        "/collections/b/points",
        Some(json!({"points": [{"id": "not-a-uuid", "vector": [1, 2, 3, 4]}]})),
    );
    assert_error(status, &body, 400);
    let (status, body) = node.call(
        "PUT",
        "/collections/b/points?timeout=0",
        Some(json!({"points": []})),
    );
    assert_error(status, &body, 422);
    let (status, body) = node.call("DELETE", "/collections/b/points", None);
    assert_error(status, &body, 405);
    // The node is still healthy after all that.
    assert_eq!(
        node.ok("POST", "/collections/b/points/count", Some(json!({})))["count"],
        5
    );
}

#[test]
fn snapshots_create_list_download_delete_and_recover() {
    // Recovery loads the HNSW graph from the snapshot's checkpoint; the index stub in place
    // before the HNSW module lands cannot load, so this fails (HTTP 500) until then.
    let node = Node::start();
    seed(&node, "snap", 12);
    let description = node.ok("POST", "/collections/snap/snapshots?wait=true", None);
    let name = description["name"].as_str().unwrap().to_string();
    assert!(description["size"].as_u64().unwrap() > 0);
    let checksum = description["checksum"].as_str().unwrap().to_string();
    let listed = node.ok("GET", "/collections/snap/snapshots", None);
    assert_eq!(listed[0]["name"], name);

    let mut bytes = Vec::new();
    use std::io::Read;
    ureq::get(&format!("{}/collections/snap/snapshots/{name}", node.base))
        .call()
        .unwrap()
        .into_reader()
        .read_to_end(&mut bytes)
        .unwrap();
    assert_eq!(bytes.len() as u64, description["size"].as_u64().unwrap());
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &bytes).unwrap();

    // Recover into a new collection from a file:// location, checking the checksum.
    let location = format!("file://{}", file.path().display());
    node.ok(
        "PUT",
        "/collections/copy/snapshots/recover",
        Some(json!({"location": location, "checksum": checksum})),
    );
    assert_eq!(
        node.ok("POST", "/collections/copy/points/count", Some(json!({})))["count"],
        12
    );
    let (status, body) = node.call(
        "PUT",
        "/collections/copy2/snapshots/recover",
        Some(json!({"location": location, "checksum": "00"})),
    );
    assert_error(status, &body, 400);
    // Recover from this node's own download URL, replacing changed data.
    node.ok(
        "POST",
        "/collections/snap/points/delete?wait=true",
        Some(json!({"points": [0, 1, 2]})),
    );
    node.ok(
        "PUT",
        "/collections/snap/snapshots/recover",
        Some(json!({"location": format!("{}/collections/snap/snapshots/{name}", node.base)})),
    );
    assert_eq!(
        node.ok("POST", "/collections/snap/points/count", Some(json!({})))["count"],
        12
    );

    // Upload (multipart) into another collection.
    let boundary = "grape-test-boundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"snapshot\"; filename=\"s.snapshot\"\r\nContent-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(&bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let response = ureq::post(&format!(
        "{}/collections/uploaded/snapshots/upload?wait=true",
        node.base
    ))
    .set(
        "content-type",
        &format!("multipart/form-data; boundary={boundary}"),
    )
    .send_bytes(&body)
    .unwrap();
    assert_eq!(response.status(), 200);
    let record = node.ok("GET", "/collections/uploaded/points/4", None);
    assert_eq!(record["payload"]["i"], 4);

    // Delete; then it is gone.
    node.ok(
        "DELETE",
        &format!("/collections/snap/snapshots/{name}"),
        None,
    );
    let (status, body) = node.call("GET", &format!("/collections/snap/snapshots/{name}"), None);
    assert_error(status, &body, 404);
    let (status, body) = node.call(
        "PUT",
        "/collections/x/snapshots/recover",
        Some(json!({"location": "https://example.com/s.snapshot"})),
    );
    assert_error(status, &body, 400);
}

#[test]
fn api_keys_guard_everything_but_health() {
    let node = Node::start_with(
        &["--api-key", "secret"],
        &[("GRAPE_READ_ONLY_API_KEY", "reader")],
    );
    let (status, body) = node.call("GET", "/collections", None);
    assert_error(status, &body, 401);
    let (status, body) = node.call_with("GET", "/collections", None, &[("api-key", "wrong")]);
    assert_error(status, &body, 401);
    let (status, _) = node.call_with("GET", "/collections", None, &[("api-key", "secret")]);
    assert_eq!(status, 200);
    let (status, _) = node.call_with(
        "PUT",
        "/collections/k",
        Some(json!({"vectors": {"size": 2, "distance": "Dot"}})),
        &[("authorization", "Bearer secret")],
    );
    assert_eq!(status, 200);
    // The read-only key reads but cannot write.
    let (status, _) = node.call_with(
        "POST",
        "/collections/k/points/scroll",
        Some(json!({})),
        &[("api-key", "reader")],
    );
    assert_eq!(status, 200);
    let (status, body) = node.call_with(
        "PUT",
        "/collections/k/points",
        Some(json!({"points": []})),
        &[("api-key", "reader")],
    );
    assert_error(status, &body, 403);
    let (status, _) = node.call("GET", "/healthz", None);
    assert_eq!(status, 200);
    let (status, root) = node.call("GET", "/", None);
    assert_eq!((status, root["title"].clone()), (200, json!("grape")));
}

#[test]
fn settings_come_from_a_config_file_and_the_environment() {
    let builder = builder();
    let (ip, ports) = (builder.ip(), builder.ports());
    let config = builder.dir().join("grape.yaml");
    std::fs::write(
        &config,
        format!(
            "host: {ip}\nhttp_port: {}\napi_key: from-file\n",
            ports.http
        ),
    )
    .unwrap();
    let data = builder.dir().join("data");
    let node = Node::launch(
        builder
            .without_listen_flags()
            .args(["--grpc-port", &ports.grpc.to_string()])
            .args(["--p2p-port", &ports.p2p.to_string()])
            .args(["--config", config.to_str().unwrap()])
            .env("GRAPE_API_KEY", "from-env"),
    );
    // The port came from the file; the environment's key beats the file's.
    let (status, _) = node.call_with("GET", "/collections", None, &[("api-key", "from-file")]);
    assert_eq!(status, 401);
    let (status, _) = node.call_with("GET", "/collections", None, &[("api-key", "from-env")]);
    assert_eq!(status, 200);
    assert!(data.join("meta").exists());
}

#[test]
fn snapshot_listing_deletion_and_refusals() {
    let node = Node::start();
    seed(&node, "sn", 4);
    // Without waiting: 202 accepted, and the snapshot shows up shortly.
    let (status, body) = node.call("POST", "/collections/sn/snapshots?wait=false", None);
    assert_eq!((status, body["status"].clone()), (202, json!("accepted")));
    let deadline = Instant::now() + Duration::from_secs(30);
    let name = loop {
        let listed = node.ok("GET", "/collections/sn/snapshots", None);
        if let Some(first) = listed.as_array().unwrap().first() {
            break first["name"].as_str().unwrap().to_string();
        }
        assert!(Instant::now() < deadline, "snapshot never appeared");
        std::thread::sleep(Duration::from_millis(50));
    };
    let path = format!("/collections/sn/snapshots/{name}");
    let response = ureq::get(&format!("{}{path}", node.base)).call().unwrap();
    assert_eq!(response.content_type(), "application/octet-stream");
    // A checksum mismatch is refused before anything is recovered.
    let (status, body) = node.call(
        "PUT",
        "/collections/other/snapshots/recover",
        Some(json!({"location": format!("{}{path}", node.base), "checksum": "abc"})),
    );
    assert!(assert_error(status, &body, 400).contains("checksum"));
    assert_eq!(
        node.ok("GET", "/collections/other/exists", None)["exists"],
        false
    );
    // Remote locations and missing files are refused.
    let (status, body) = node.call(
        "PUT",
        "/collections/other/snapshots/recover",
        Some(json!({"location": "http://192.0.2.1:6333/collections/sn/snapshots/x.snapshot"})),
    );
    assert_error(status, &body, 400);
    let (status, body) = node.call(
        "PUT",
        "/collections/other/snapshots/recover",
        Some(json!({"location": "file:///no/such/file.snapshot"})),
    );
    assert_error(status, &body, 404);
    // A multipart body without the `snapshot` field.
    let boundary = "b0undary";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\nx\r\n--{boundary}--\r\n"
    );
    let response = ureq::post(&format!("{}/collections/other/snapshots/upload", node.base))
        .set(
            "content-type",
            &format!("multipart/form-data; boundary={boundary}"),
        )
        .send_string(&body);
    match response {
        Err(ureq::Error::Status(400, r)) => {
            let body: Value = r.into_json().unwrap();
            assert!(body["status"]["error"]
                .as_str()
                .unwrap()
                .contains("snapshot"));
        }
        other => panic!("expected 400, got {other:?}"),
    }
    // Missing collection, bad snapshot names, deletion.
    let (status, body) = node.call("POST", "/collections/ghost/snapshots", None);
    assert_error(status, &body, 404);
    let (status, body) = node.call("GET", "/collections/sn/snapshots/.hidden", None);
    assert_error(status, &body, 400);
    assert_eq!(node.ok("DELETE", &path, None), true);
    let (status, body) = node.call("GET", &path, None);
    assert_error(status, &body, 404);
    assert_eq!(node.ok("GET", "/collections/sn/snapshots", None), json!([]));
}
