//! A continuous client, through the official `qdrant-client` crate (gRPC), that records
//! every outcome into a [`History`].
//!
//! Writer tasks own disjoint id spaces and issue, one at a time, upserts of new points,
//! overwrites and deletes of their earlier points (all with `wait=true`); reader tasks
//! search and count. Requests go round-robin over the target nodes. Each operation ends
//! acknowledged, failed (the server refused it) or unknown (timeout or lost connection:
//! it may still take effect). See [`crate::history`] for what the verifier allows.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use qdrant_client::qdrant::point_id::PointIdOptions;
use qdrant_client::qdrant::value::Kind;
use qdrant_client::qdrant::{
    CountPointsBuilder, CreateCollectionBuilder, DeletePointsBuilder, Distance, PointId,
    PointStruct, PointsIdsList, RetrievedPoint, ScrollPointsBuilder, SearchPointsBuilder,
    UpdateStatus, UpsertPointsBuilder, VectorParamsBuilder,
};
use qdrant_client::{Payload, Qdrant, QdrantError};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::task::JoinHandle;
use tonic::Code;

use crate::error::{KitError, Result};
use crate::history::{Event, History, ObservedPoint, Op, Outcome};

/// Dimension of the workload's vectors.
pub const DIM: u64 = 4;
/// Payload key holding the write counter.
pub const COUNTER_KEY: &str = "counter";

/// What a [`Workload`] does.
#[derive(Debug, Clone)]
pub struct WorkloadConfig {
    /// gRPC URLs of the nodes to send requests to, round-robin.
    pub targets: Vec<String>,
    pub collection: String,
    /// Writer tasks (each owns the ids `i, i + writers, i + 2 * writers, ...`).
    pub writers: usize,
    /// Reader tasks (searches and exact counts).
    pub readers: usize,
    /// A request with no answer after this long is recorded as unknown.
    pub timeout: Duration,
    /// Pause between two operations of one task (keeps a shared machine usable).
    pub pace: Duration,
    /// Seed of the tasks' random choices.
    pub seed: u64,
}

impl WorkloadConfig {
    /// Two writers, one reader, 2 s timeout, 2 ms pace.
    pub fn new(targets: Vec<String>, collection: impl Into<String>) -> WorkloadConfig {
        WorkloadConfig {
            targets,
            collection: collection.into(),
            writers: 2,
            readers: 1,
            timeout: Duration::from_secs(2),
            pace: Duration::from_millis(2),
            seed: 0,
        }
    }
}

/// Creates the workload's collection (cosine, [`DIM`] dimensions) through `grpc_url`.
pub async fn create_collection(grpc_url: &str, collection: &str) -> Result<()> {
    let client = connect(grpc_url, Duration::from_secs(30))?;
    client
        .create_collection(
            CreateCollectionBuilder::new(collection)
                .vectors_config(VectorParamsBuilder::new(DIM, Distance::Cosine)),
        )
        .await
        .map_err(|e| client_error(grpc_url, e))?;
    Ok(())
}

/// Reads every point of `collection` through `grpc_url` (scrolling), for
/// [`History::verify`].
pub async fn read_back(grpc_url: &str, collection: &str) -> Result<Vec<ObservedPoint>> {
    const PAGE: u32 = 512;
    let client = connect(grpc_url, Duration::from_secs(30))?;
    let mut points = Vec::new();
    let mut offset: Option<PointId> = None;
    loop {
        let mut request = ScrollPointsBuilder::new(collection)
            .limit(PAGE)
            .with_payload(true)
            .with_vectors(false);
        if let Some(offset) = offset.take() {
            request = request.offset(offset);
        }
        let page = client
            .scroll(request)
            .await
            .map_err(|e| client_error(grpc_url, e))?;
        points.extend(page.result.iter().map(observed));
        match page.next_page_offset {
            Some(next) => offset = Some(next),
            None => return Ok(points),
        }
    }
}

/// A running workload; [`stop`](Workload::stop) it to get the history.
#[derive(Debug)]
pub struct Workload {
    stop: Arc<AtomicBool>,
    recorder: Arc<Recorder>,
    tasks: Vec<JoinHandle<()>>,
}

impl Workload {
    /// Starts the tasks on the current Tokio runtime.
    pub fn start(config: WorkloadConfig) -> Result<Workload> {
        // The client's own timeout is longer, so the workload's decides (and the client's
        // internal retry of a broken channel stays within it).
        let client_timeout = config.timeout + Duration::from_secs(5);
        let clients = config
            .targets
            .iter()
            .map(|url| connect(url, client_timeout))
            .collect::<Result<Vec<_>>>()?;
        let shared = Arc::new(Shared {
            clients,
            config: config.clone(),
            stop: Arc::new(AtomicBool::new(false)),
            recorder: Arc::new(Recorder::new()),
        });
        let mut tasks = Vec::new();
        for writer in 0..config.writers {
            let plan = WritePlan::new(writer as u64, config.writers as u64, config.seed);
            tasks.push(tokio::spawn(write_loop(shared.clone(), plan)));
        }
        for reader in 0..config.readers {
            let rng = StdRng::seed_from_u64(config.seed ^ (0xfeed + reader as u64));
            tasks.push(tokio::spawn(read_loop(shared.clone(), reader, rng)));
        }
        Ok(Workload {
            stop: shared.stop.clone(),
            recorder: shared.recorder.clone(),
            tasks,
        })
    }

    /// Operations completed so far.
    pub fn completed(&self) -> usize {
        self.recorder.events.lock().expect("history lock").len()
    }

    /// Acknowledged writes so far.
    pub fn acked_writes(&self) -> usize {
        let events = self.recorder.events.lock().expect("history lock");
        events
            .iter()
            .filter(|e| e.op.is_write() && e.outcome == Outcome::Ok)
            .count()
    }

    /// Lets every task finish its current operation, then returns the history.
    pub async fn stop(self) -> History {
        self.stop.store(true, Ordering::Relaxed);
        for task in self.tasks {
            if let Err(error) = task.await {
                std::panic::resume_unwind(error.into_panic());
            }
        }
        let events = std::mem::take(&mut *self.recorder.events.lock().expect("history lock"));
        History::new(events)
    }
}

struct Shared {
    clients: Vec<Qdrant>,
    config: WorkloadConfig,
    stop: Arc<AtomicBool>,
    recorder: Arc<Recorder>,
}

impl Shared {
    /// Runs `op` against target `turn % targets` and records its outcome.
    async fn run(&self, turn: usize, op: Op, query: Vec<f32>) {
        let target = turn % self.clients.len();
        let seq = self.recorder.seq.fetch_add(1, Ordering::Relaxed);
        let started = self.recorder.started.elapsed();
        let request = execute(&self.clients[target], &self.config.collection, op, query);
        let outcome = match tokio::time::timeout(self.config.timeout, request).await {
            Ok(outcome) => outcome,
            Err(_) => Outcome::Unknown("timeout".into()),
        };
        let event = Event {
            seq,
            op,
            target,
            started,
            finished: self.recorder.started.elapsed(),
            outcome,
        };
        self.recorder
            .events
            .lock()
            .expect("history lock")
            .push(event);
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
}

#[derive(Debug)]
struct Recorder {
    started: Instant,
    seq: AtomicU64,
    counter: AtomicU64,
    events: Mutex<Vec<Event>>,
}

impl Recorder {
    fn new() -> Recorder {
        Recorder {
            started: Instant::now(),
            seq: AtomicU64::new(0),
            counter: AtomicU64::new(1),
            events: Mutex::new(Vec::new()),
        }
    }
}

async fn write_loop(shared: Arc<Shared>, mut plan: WritePlan) {
    let mut turn = plan.writer as usize;
    while !shared.stopped() {
        let op = plan.next(|| shared.recorder.counter.fetch_add(1, Ordering::Relaxed));
        let vector = match op {
            Op::Upsert { counter, .. } => vector_of(counter),
            _ => Vec::new(),
        };
        shared.run(turn, op, vector).await;
        turn += 1;
        tokio::time::sleep(shared.config.pace).await;
    }
}

async fn read_loop(shared: Arc<Shared>, reader: usize, mut rng: StdRng) {
    let mut turn = reader;
    while !shared.stopped() {
        let op = if rng.gen_bool(0.5) {
            Op::Search
        } else {
            Op::Count
        };
        shared.run(turn, op, vector_of(rng.gen())).await;
        turn += 1;
        tokio::time::sleep(shared.config.pace).await;
    }
}

/// The next write of one writer task: mostly new points, some overwrites and deletes of
/// its earlier ones.
#[derive(Debug)]
struct WritePlan {
    writer: u64,
    writers: u64,
    next_slot: u64,
    written: Vec<u64>,
    rng: StdRng,
}

impl WritePlan {
    fn new(writer: u64, writers: u64, seed: u64) -> WritePlan {
        WritePlan {
            writer,
            writers,
            next_slot: 0,
            written: Vec::new(),
            rng: StdRng::seed_from_u64(seed ^ writer),
        }
    }

    fn next(&mut self, counter: impl FnOnce() -> u64) -> Op {
        let roll = self.rng.gen_range(0..100);
        if self.written.is_empty() || roll < 70 {
            let id = self.writer + self.writers * self.next_slot;
            self.next_slot += 1;
            self.written.push(id);
            return Op::Upsert {
                id,
                counter: counter(),
            };
        }
        let id = self.written[self.rng.gen_range(0..self.written.len())];
        if roll < 85 {
            Op::Upsert {
                id,
                counter: counter(),
            }
        } else {
            Op::Delete { id }
        }
    }
}

async fn execute(client: &Qdrant, collection: &str, op: Op, query: Vec<f32>) -> Outcome {
    let status = match op {
        Op::Upsert { id, counter } => {
            let mut payload = Payload::new();
            payload.insert(COUNTER_KEY, counter as i64);
            let point = PointStruct::new(id, query, payload);
            let request = UpsertPointsBuilder::new(collection, vec![point]).wait(true);
            client
                .upsert_points(request)
                .await
                .map(|r| r.result.map(|u| u.status))
        }
        Op::Delete { id } => {
            let ids = PointsIdsList {
                ids: vec![id.into()],
            };
            let request = DeletePointsBuilder::new(collection).points(ids).wait(true);
            client
                .delete_points(request)
                .await
                .map(|r| r.result.map(|u| u.status))
        }
        Op::Search => {
            let request = SearchPointsBuilder::new(collection, query, 5);
            client.search_points(request).await.map(|_| None)
        }
        Op::Count => {
            let request = CountPointsBuilder::new(collection).exact(true);
            client.count(request).await.map(|_| None)
        }
    };
    match status {
        Ok(None) => Outcome::Ok,
        Ok(Some(status)) if status == UpdateStatus::Completed as i32 => Outcome::Ok,
        Ok(Some(status)) => Outcome::Unknown(format!("update status {status}")),
        Err(error) => classify(&error),
    }
}

/// Failed only when the server refused the request; anything that may have reached the
/// server and been applied is unknown. `Unavailable` is unknown too: the client retries a
/// broken channel once, so "connection refused" may follow a first attempt that applied.
fn classify(error: &QdrantError) -> Outcome {
    match error {
        QdrantError::ResponseError { status } => classify_code(status.code()),
        QdrantError::ResourceExhaustedError { .. } => classify_code(Code::ResourceExhausted),
        other => Outcome::Unknown(format!("client: {other}")),
    }
}

fn classify_code(code: Code) -> Outcome {
    let kind = format!("{code:?}");
    match code {
        Code::InvalidArgument
        | Code::NotFound
        | Code::AlreadyExists
        | Code::PermissionDenied
        | Code::Unauthenticated
        | Code::FailedPrecondition
        | Code::OutOfRange
        | Code::Unimplemented
        | Code::ResourceExhausted => Outcome::Failed(kind),
        _ => Outcome::Unknown(kind),
    }
}

/// A nonzero vector derived from `seed` (cosine needs a norm).
fn vector_of(seed: u64) -> Vec<f32> {
    let x = seed as f32;
    vec![x.sin(), x.cos(), (x * 0.37).sin(), 1.0]
}

fn observed(point: &RetrievedPoint) -> ObservedPoint {
    let id = match point
        .id
        .as_ref()
        .and_then(|id| id.point_id_options.as_ref())
    {
        Some(PointIdOptions::Num(n)) => *n,
        // The workload writes numeric ids only; anything else is foreign.
        _ => u64::MAX,
    };
    let counter = match point.payload.get(COUNTER_KEY).and_then(|v| v.kind.as_ref()) {
        Some(Kind::IntegerValue(n)) => u64::try_from(*n).ok(),
        _ => None,
    };
    ObservedPoint { id, counter }
}

fn connect(url: &str, timeout: Duration) -> Result<Qdrant> {
    Qdrant::from_url(url)
        .skip_compatibility_check()
        .timeout(timeout)
        .connect_timeout(Duration::from_secs(2))
        .build()
        .map_err(|e| client_error(url, e))
}

fn client_error(url: &str, source: QdrantError) -> KitError {
    KitError::Client {
        url: url.to_string(),
        source: Box::new(source),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writers_own_disjoint_ids_and_mix_new_points_overwrites_and_deletes() {
        let mut counters = Vec::new();
        for writer in 0..2 {
            let mut plan = WritePlan::new(writer, 2, 7);
            let mut written = std::collections::HashSet::new();
            let (mut new, mut overwrites, mut deletes) = (0, 0, 0);
            for _ in 0..300 {
                let op = plan.next(|| counters.len() as u64);
                match op {
                    Op::Upsert { id, counter } => {
                        counters.push(counter);
                        if written.insert(id) {
                            new += 1;
                        } else {
                            overwrites += 1;
                        }
                    }
                    Op::Delete { id } => {
                        assert!(written.contains(&id), "delete of unwritten {id}");
                        deletes += 1;
                    }
                    _ => unreachable!("writers only write"),
                }
                assert_eq!(op.id().unwrap() % 2, writer, "{op:?} from writer {writer}");
            }
            assert!(
                new > 150 && overwrites > 20 && deletes > 20,
                "writer {writer}: {new} new, {overwrites} overwrites, {deletes} deletes"
            );
        }
        let distinct: std::collections::HashSet<u64> = counters.iter().copied().collect();
        assert_eq!(
            distinct.len(),
            counters.len(),
            "every upsert has its own counter"
        );
    }

    #[test]
    fn only_refusals_count_as_failed() {
        assert_eq!(
            classify_code(Code::InvalidArgument),
            Outcome::Failed("InvalidArgument".into())
        );
        assert_eq!(
            classify_code(Code::NotFound),
            Outcome::Failed("NotFound".into())
        );
        for code in [
            Code::Unavailable,
            Code::DeadlineExceeded,
            Code::Cancelled,
            Code::Internal,
            Code::Unknown,
        ] {
            assert!(
                matches!(classify_code(code), Outcome::Unknown(_)),
                "{code:?}"
            );
        }
    }
}
