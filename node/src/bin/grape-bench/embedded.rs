//! The embedded target: the engine in this process, searched from threads.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use grape::collection::Collection;
use grape::engine::Engine;
use grape::filter::Filter;
use grape::types::{
    CreateCollection, NamedVector, PointId, PointOperation, PointStruct, SearchParams,
    SearchRequest, UpsertPoints, VectorStruct,
};

use super::dataset::{self, id_of, Dataset};
use super::{filtered, quantized};
use super::{print_load, print_row, Args, Loaded, Run, Timed, TOP};

pub fn bench(args: &Args, data: Dataset) -> anyhow::Result<()> {
    let temp = tempfile::tempdir()?;
    let dir = args
        .data_dir
        .clone()
        .unwrap_or_else(|| temp.path().to_path_buf());
    let engine = Engine::open(&dir)?;
    let create: CreateCollection = serde_json::from_value(serde_json::json!({
        "vectors": {"size": args.dim, "distance": "Cosine"},
        "hnsw_config": {"m": args.m, "ef_construct": args.ef_construct},
    }))?;
    engine.create_collection("bench", create)?;
    let collection = engine.collection("bench")?;

    let started = Instant::now();
    load(&collection, data.points, &data.clusters, args.batch)?;
    let loaded = Loaded {
        elapsed: started.elapsed(),
        memory_mib: dataset::rss_mib("self"),
    };
    let exact = SearchParams {
        exact: true,
        ..Default::default()
    };
    let truth = data
        .queries
        .iter()
        .map(|q| search(&collection, q, &exact))
        .collect::<anyhow::Result<Vec<_>>>()?;
    if !args.quantization.is_empty() {
        let settings = &args.quantization;
        let (queries, efs) = (&data.queries, &args.ef);
        return quantized::bench(
            &engine,
            &collection,
            queries,
            &truth,
            settings,
            efs,
            args.oversampling,
        );
    }
    print_load(
        args,
        &loaded,
        "RSS of the benchmark process (dataset included)",
    );
    for &ef in &args.ef {
        let single = run(&collection, &data.queries, ef, 1)?;
        let concurrent = run(&collection, &data.queries, ef, args.concurrency)?;
        print_row(ef, &truth, &single, &concurrent);
    }
    if args.filtered {
        filtered::bench(&engine, &collection, &data.queries, args.ef_filtered)?;
    }
    Ok(())
}

fn load(
    collection: &Collection,
    points: Vec<Vec<f32>>,
    clusters: &[usize],
    batch: usize,
) -> anyhow::Result<()> {
    let mut points = points.into_iter().enumerate().peekable();
    while points.peek().is_some() {
        let chunk: Vec<PointStruct> = points
            .by_ref()
            .take(batch)
            .map(|(i, v)| PointStruct {
                id: PointId::Num(id_of(i)),
                vector: VectorStruct::Single(v),
                payload: Some(filtered::payload(i, clusters[i])),
            })
            .collect();
        let op = PointOperation::Upsert(UpsertPoints::Points { points: chunk });
        collection.update(vec![op], true)?;
    }
    Ok(())
}

fn search(
    collection: &Collection,
    query: &[f32],
    params: &SearchParams,
) -> anyhow::Result<Vec<u64>> {
    search_filtered(collection, query, params, None)
}

/// Every query's result ids, in order.
pub fn search_all(
    collection: &Collection,
    queries: &[Vec<f32>],
    params: &SearchParams,
    filter: Option<&Filter>,
) -> anyhow::Result<Vec<Vec<u64>>> {
    queries
        .iter()
        .map(|q| search_filtered(collection, q, params, filter))
        .collect()
}

pub fn search_filtered(
    collection: &Collection,
    query: &[f32],
    params: &SearchParams,
    filter: Option<&Filter>,
) -> anyhow::Result<Vec<u64>> {
    let request = SearchRequest {
        vector: NamedVector::Default(query.to_vec()),
        filter: filter.cloned(),
        params: Some(params.clone()),
        limit: TOP,
        offset: None,
        with_payload: None,
        with_vector: None,
        score_threshold: None,
    };
    let found = collection.search(&request, Default::default())?;
    Ok(found
        .into_iter()
        .filter_map(|p| match p.id {
            PointId::Num(n) => Some(n),
            PointId::Uuid(_) => None,
        })
        .collect())
}

/// Runs every query once on `threads` threads pulling from a shared counter.
fn run(
    collection: &Collection,
    queries: &[Vec<f32>],
    ef: usize,
    threads: usize,
) -> anyhow::Result<Run> {
    let params = SearchParams {
        hnsw_ef: Some(ef),
        ..Default::default()
    };
    let next = AtomicUsize::new(0);
    let started = Instant::now();
    let outcomes: Vec<anyhow::Result<Vec<Timed>>> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads.max(1))
            .map(|_| {
                s.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(q) = queries.get(i) else { break };
                        let t = Instant::now();
                        let ids = search(collection, q, &params)?;
                        done.push((i, ids, t.elapsed()));
                    }
                    Ok(done)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("search thread panicked"))
            .collect()
    });
    let mut timed = Vec::with_capacity(queries.len());
    for outcome in outcomes {
        timed.extend(outcome?);
    }
    Ok(Run::from_timed(queries.len(), timed, started.elapsed()))
}
