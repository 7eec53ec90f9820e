//! The gRPC target: a grape-node server driven through the official `qdrant-client` crate,
//! with a fixed number of requests in flight, as the reference figures were measured.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use qdrant_client::qdrant::{
    point_id::PointIdOptions, CreateCollectionBuilder, Distance, HnswConfigDiffBuilder,
    PointStruct, SearchParamsBuilder, SearchPointsBuilder, UpsertPointsBuilder,
    VectorParamsBuilder,
};
use qdrant_client::Qdrant;

use super::dataset::{self, id_of, Dataset};
use super::local_node::LocalNode;
use super::{print_load, print_row, Args, Loaded, Run, TOP};

const COLLECTION: &str = "bench";

pub fn bench(args: &Args, data: Dataset) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    let temp = tempfile::tempdir()?;
    let (url, node) = LocalNode::unless_given(args, temp.path(), |n| n.grpc_url.clone())?;
    runtime.block_on(async {
        let client = Arc::new(connect(&url).await?);
        let started = Instant::now();
        load(&client, args, data.points).await?;
        let memory_mib = node.as_ref().map_or(0, |n| dataset::rss_mib(&n.pid()));
        let loaded = Loaded {
            elapsed: started.elapsed(),
            memory_mib,
        };
        let queries = Arc::new(data.queries);
        let truth = run(&client, &queries, None, 8).await?.results;
        print_load(args, &loaded, "server RSS");
        for &ef in &args.ef {
            let single = run(&client, &queries, Some(ef), 1).await?;
            let concurrent = run(&client, &queries, Some(ef), args.concurrency).await?;
            print_row(ef, &truth, &single, &concurrent);
        }
        if let Some(node) = &node {
            println!(
                "\nserver RSS after queries {} MiB",
                dataset::rss_mib(&node.pid())
            );
        }
        anyhow::Ok(())
    })
}

async fn connect(url: &str) -> anyhow::Result<Qdrant> {
    let client = Qdrant::from_url(url).skip_compatibility_check().build()?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while client.health_check().await.is_err() {
        anyhow::ensure!(Instant::now() < deadline, "no gRPC server answers at {url}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(client)
}

async fn load(client: &Qdrant, args: &Args, points: Vec<Vec<f32>>) -> anyhow::Result<()> {
    if client.collection_exists(COLLECTION).await? {
        client.delete_collection(COLLECTION).await?;
    }
    let vectors = VectorParamsBuilder::new(args.dim as u64, Distance::Cosine);
    let hnsw = HnswConfigDiffBuilder::default()
        .m(args.m as u64)
        .ef_construct(args.ef_construct as u64);
    client
        .create_collection(
            CreateCollectionBuilder::new(COLLECTION)
                .vectors_config(vectors)
                .hnsw_config(hnsw),
        )
        .await?;
    let points: Vec<PointStruct> = points
        .into_iter()
        .enumerate()
        .map(|(i, v)| PointStruct::new(id_of(i), v, qdrant_client::Payload::new()))
        .collect();
    for chunk in points.chunks(args.batch) {
        client
            .upsert_points(UpsertPointsBuilder::new(COLLECTION, chunk.to_vec()).wait(true))
            .await?;
    }
    Ok(())
}

/// Runs every query once with `in_flight` requests outstanding; `ef: None` asks for exact
/// search (the ground truth).
async fn run(
    client: &Arc<Qdrant>,
    queries: &Arc<Vec<Vec<f32>>>,
    ef: Option<usize>,
    in_flight: usize,
) -> anyhow::Result<Run> {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..in_flight.max(1))
        .map(|_| {
            let (client, queries, next) = (client.clone(), queries.clone(), next.clone());
            tokio::spawn(async move {
                let mut done = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(q) = queries.get(i) else { break };
                    let t = Instant::now();
                    let ids = search(&client, q, ef).await?;
                    done.push((i, ids, t.elapsed()));
                }
                anyhow::Ok(done)
            })
        })
        .collect();
    let mut timed = Vec::with_capacity(queries.len());
    for worker in workers {
        timed.extend(worker.await??);
    }
    Ok(Run::from_timed(queries.len(), timed, started.elapsed()))
}

async fn search(client: &Qdrant, query: &[f32], ef: Option<usize>) -> anyhow::Result<Vec<u64>> {
    let params = match ef {
        Some(ef) => SearchParamsBuilder::default().hnsw_ef(ef as u64),
        None => SearchParamsBuilder::default().exact(true),
    };
    let request = SearchPointsBuilder::new(COLLECTION, query.to_vec(), TOP as u64).params(params);
    let found = client.search_points(request).await?.result;
    Ok(found
        .into_iter()
        .filter_map(|p| match p.id?.point_id_options? {
            PointIdOptions::Num(n) => Some(n),
            PointIdOptions::Uuid(_) => None,
        })
        .collect())
}
