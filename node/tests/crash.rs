//! Durability under `kill -9`: a real grape-node process is written to continuously and killed
//! at random moments, several rounds; after each restart every acknowledged point must be
//! there with its payload.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use grape_testkit::NodeProcess;
use rand::Rng;
use serde_json::{json, Value};

const ROUNDS: usize = 5;
const BATCH: u64 = 10;

fn upsert(base: &str, first: u64) -> bool {
    let points: Vec<Value> = (first..first + BATCH)
        .map(|i| json!({"id": i, "vector": [i as f32, 1.0, 0.5, -1.0], "payload": {"i": i, "tag": format!("p{i}")}}))
        .collect();
    ureq::put(&format!("{base}/collections/crash/points?wait=true"))
        .send_json(json!({"points": points}))
        .is_ok_and(|r| r.status() == 200)
}

fn retrieve(base: &str, ids: &[u64]) -> Vec<Value> {
    let body: Value = ureq::post(&format!("{base}/collections/crash/points"))
        .send_json(json!({"ids": ids, "with_payload": true}))
        .expect("retrieve")
        .into_json()
        .unwrap();
    body["result"].as_array().unwrap().clone()
}

#[test]
fn acknowledged_writes_survive_kill_9() {
    let mut node = NodeProcess::start(env!("CARGO_BIN_EXE_grape-node")).unwrap();
    let base = node.rest_url();
    ureq::put(&format!("{base}/collections/crash"))
        .send_json(json!({"vectors": {"size": 4, "distance": "Dot"}}))
        .expect("create collection");
    let acked = Arc::new(Mutex::new(Vec::<u64>::new()));
    let next = Arc::new(AtomicU64::new(0));
    for round in 0..ROUNDS {
        let stop = Arc::new(AtomicBool::new(false));
        let writer = {
            let (acked, next, stop, base) =
                (acked.clone(), next.clone(), stop.clone(), base.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let first = next.fetch_add(BATCH, Ordering::SeqCst);
                    if upsert(&base, first) {
                        acked.lock().unwrap().extend(first..first + BATCH);
                    }
                }
            })
        };
        std::thread::sleep(Duration::from_millis(
            rand::thread_rng().gen_range(150..700),
        ));
        node.kill9().unwrap();
        stop.store(true, Ordering::Relaxed);
        writer.join().unwrap();

        node.restart().unwrap();
        let acked_now = acked.lock().unwrap().clone();
        assert!(
            !acked_now.is_empty(),
            "round {round}: no write was acknowledged"
        );
        for chunk in acked_now.chunks(500) {
            let found = retrieve(&base, chunk);
            assert_eq!(
                found.len(),
                chunk.len(),
                "round {round}: acknowledged points lost"
            );
            for point in found {
                let id = point["id"].as_u64().unwrap();
                assert_eq!(point["payload"], json!({"i": id, "tag": format!("p{id}")}));
            }
        }
        eprintln!(
            "round {round}: {} acknowledged points all present",
            acked_now.len()
        );
    }
    node.kill9().unwrap();
}
