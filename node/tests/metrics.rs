//! `/metrics` of a real three-node cluster after a typical workload (a replicated
//! collection written over REST, searched over gRPC, one read refused for want of replicas):
//! over a hundred series, and the values agree with what happened.

mod support;

use grape_testkit::NodeProcess;
use qdrant_client::qdrant::QueryPointsBuilder;
use qdrant_client::Qdrant;
use serde_json::json;
use support::cluster::*;
use support::serial;

/// One sample of the text exposition: name, labels as written, value.
struct Sample {
    name: String,
    labels: String,
    value: f64,
}

fn scrape(node: &NodeProcess) -> (String, Vec<Sample>) {
    let text = ureq::get(&format!("{}/metrics", node.rest_url()))
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    let samples = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').unwrap();
            let (name, labels) = series.split_once('{').unwrap_or((series, ""));
            Sample {
                name: name.to_string(),
                labels: labels.trim_end_matches('}').to_string(),
                value: value.parse().unwrap(),
            }
        })
        .collect();
    (text, samples)
}

/// The sum of the samples of `name` carrying every label of `labels`.
fn total(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|s| s.name == name)
        .filter(|s| {
            labels
                .iter()
                .all(|(k, v)| s.labels.split(',').any(|l| l == format!("{k}=\"{v}\"")))
        })
        .map(|s| s.value)
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_typical_workload_yields_over_a_hundred_consistent_series() {
    let _serial = serial().await;
    let cluster = start_cluster(3);
    create_collection(&cluster, "m", 3, 2, 1);
    wait_all_active(&cluster, "m");
    let points: Vec<_> = (0..100u64)
        .map(|p| json!({"id": p, "vector": vector(p), "payload": {"n": p}}))
        .collect();
    rest(
        cluster.node(0),
        "PUT",
        "/collections/m/points?wait=true",
        json!({"points": points}),
    );
    let client = Qdrant::from_url(&cluster.node(1).grpc_url())
        .skip_compatibility_check()
        .build()
        .unwrap();
    let found = client
        .query(QueryPointsBuilder::new("m").query(vector(7)).limit(3))
        .await
        .unwrap();
    assert_eq!(found.result.len(), 3);
    // Two replicas per shard: a read asking for three is refused.
    let (status, _) = rest_status(
        cluster.node(2),
        "POST",
        "/collections/m/points/count?consistency=3",
        json!({"exact": true}),
    );
    assert_eq!(status, 503);

    let scraped: Vec<(String, Vec<Sample>)> = cluster.nodes().iter().map(scrape).collect();
    let (text, first) = &scraped[0];
    let families = text.lines().filter(|l| l.starts_with("# TYPE ")).count();
    assert!(first.len() >= 100, "{} series:\n{text}", first.len());
    assert!(families >= 40, "{families} metric families:\n{text}");

    let sum = |name: &str, labels: &[(&str, &str)]| -> f64 {
        scraped.iter().map(|(_, s)| total(s, name, labels)).sum()
    };
    // Every point on two replicas; 3 shards × 2 replicas spread over the nodes.
    assert_eq!(sum("collection_points", &[("id", "m")]), 200.0);
    assert_eq!(
        sum("grape_collection_local_shards", &[("collection", "m")]),
        6.0
    );
    assert!(sum("grape_collection_memory_bytes", &[("collection", "m")]) > 0.0);
    assert!(sum("grape_hnsw_indexed_points_total", &[]) >= 200.0);
    // The query searched each of the 3 shards once, exactly (100 points are far below the
    // full-scan threshold); every strategy has a series from the start.
    let searches = "grape_search_strategy_total";
    assert_eq!(sum(searches, &[("strategy", "exact")]), 3.0);
    assert_eq!(sum(searches, &[]), 3.0);
    assert!(first
        .iter()
        .any(|s| s.name == searches && s.labels.contains("exact_after_walk")));
    // One metadata leader, one leader per shard group.
    assert_eq!(sum("grape_raft_is_leader", &[("kind", "meta")]), 1.0);
    assert_eq!(sum("grape_raft_is_leader", &[("kind", "shard")]), 3.0);
    assert_eq!(sum("grape_raft_groups", &[("kind", "shard")]), 6.0);
    for (text, samples) in &scraped {
        assert!(
            total(samples, "grape_raft_term", &[("group", "meta")]) >= 1.0,
            "{text}"
        );
        assert!(total(samples, "grape_raft_applied_index", &[("group", "meta")]) >= 1.0);
        assert!(total(samples, "process_resident_memory_bytes", &[]) > 0.0);
    }
    // The shard writes went through the Raft logs and AppendEntries to the followers.
    let appends = "grape_raft_log_append_duration_seconds_count";
    assert!(sum(appends, &[("kind", "shard")]) >= 3.0);
    let replicated = "grape_raft_append_entries_duration_seconds_count";
    assert!(sum(replicated, &[("kind", "shard")]) >= 3.0);
    assert!(sum("grape_raft_commit_index", &[("kind", "shard")]) >= 3.0);
    // The requests, by API, endpoint or method, and status.
    let upsert = [
        ("method", "PUT"),
        ("endpoint", "/collections/{collection_name}/points"),
        ("status", "200"),
    ];
    assert_eq!(total(&scraped[0].1, "rest_responses_total", &upsert), 1.0);
    let query = [
        ("service", "qdrant.Points"),
        ("method", "Query"),
        ("code", "OK"),
    ];
    assert_eq!(
        total(&scraped[1].1, "grape_grpc_responses_total", &query),
        1.0
    );
    let refused = [("operation", "read"), ("reason", "replicas")];
    assert!(total(&scraped[2].1, "grape_consistency_failures_total", &refused) >= 1.0);
}
