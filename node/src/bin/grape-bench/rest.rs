//! The REST target: a grape-node server driven over HTTP/JSON (as the Python client's
//! default transport does), one keep-alive connection per concurrent client thread.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::dataset::{self, id_of, Dataset};
use super::local_node::LocalNode;
use super::{print_load, print_row, Args, Loaded, Run, TOP};

const COLLECTION: &str = "bench";

pub fn bench(args: &Args, data: Dataset) -> anyhow::Result<()> {
    let temp = tempfile::tempdir()?;
    let (url, node) = LocalNode::unless_given(args, temp.path(), |n| n.http_url.clone())?;
    let agent = ureq::AgentBuilder::new().build();
    wait_until_ready(&agent, &url)?;
    let started = Instant::now();
    load(&agent, &url, args, &data.points)?;
    let loaded = Loaded {
        elapsed: started.elapsed(),
        memory_mib: node.as_ref().map_or(0, |n| dataset::rss_mib(&n.pid())),
    };
    let truth = run(&url, &data.queries, None, 8)?.results;
    print_load(args, &loaded, "server RSS");
    for &ef in &args.ef {
        let single = run(&url, &data.queries, Some(ef), 1)?;
        let concurrent = run(&url, &data.queries, Some(ef), args.concurrency)?;
        print_row(ef, &truth, &single, &concurrent);
    }
    Ok(())
}

fn wait_until_ready(agent: &ureq::Agent, url: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while agent.get(&format!("{url}/readyz")).call().is_err() {
        anyhow::ensure!(Instant::now() < deadline, "no REST server answers at {url}");
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

fn load(agent: &ureq::Agent, url: &str, args: &Args, points: &[Vec<f32>]) -> anyhow::Result<()> {
    let collection = format!("{url}/collections/{COLLECTION}");
    let _ = agent.delete(&collection).call();
    agent.put(&collection).send_json(json!({
        "vectors": {"size": args.dim, "distance": "Cosine"},
        "hnsw_config": {"m": args.m, "ef_construct": args.ef_construct},
    }))?;
    for (chunk_index, chunk) in points.chunks(args.batch).enumerate() {
        let first = chunk_index * args.batch;
        let batch: Vec<Value> = chunk
            .iter()
            .enumerate()
            .map(|(i, v)| json!({"id": id_of(first + i), "vector": v}))
            .collect();
        agent
            .put(&format!("{collection}/points?wait=true"))
            .send_json(json!({ "points": batch }))?;
    }
    Ok(())
}

/// Runs every query once from `clients` threads; `ef: None` asks for exact search.
fn run(url: &str, queries: &[Vec<f32>], ef: Option<usize>, clients: usize) -> anyhow::Result<Run> {
    let search_url = format!("{url}/collections/{COLLECTION}/points/search");
    let params = match ef {
        Some(ef) => json!({"hnsw_ef": ef}),
        None => json!({"exact": true}),
    };
    let next = AtomicUsize::new(0);
    let started = Instant::now();
    let outcomes: Vec<anyhow::Result<Vec<super::Timed>>> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..clients.max(1))
            .map(|_| {
                s.spawn(|| {
                    let agent = ureq::AgentBuilder::new().build();
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(q) = queries.get(i) else { break };
                        let t = Instant::now();
                        let body = json!({"vector": q, "limit": TOP, "params": params});
                        let answer: Value = agent.post(&search_url).send_json(body)?.into_json()?;
                        done.push((i, ids(&answer), t.elapsed()));
                    }
                    Ok(done)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("client thread panicked"))
            .collect()
    });
    let mut timed = Vec::with_capacity(queries.len());
    for outcome in outcomes {
        timed.extend(outcome?);
    }
    Ok(Run::from_timed(queries.len(), timed, started.elapsed()))
}

fn ids(answer: &Value) -> Vec<u64> {
    answer["result"]
        .as_array()
        .map(|hits| hits.iter().filter_map(|h| h["id"].as_u64()).collect())
        .unwrap_or_default()
}
