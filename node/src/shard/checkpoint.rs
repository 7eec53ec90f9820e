//! Checkpoints: the whole shard state written to a fresh directory, so restart loads vectors
//! and HNSW graphs instead of rebuilding them, and the WAL can be emptied.
//!
//! Layout: `CURRENT` names the live checkpoint directory `checkpoint-<seq>`, which holds
//! `meta.json`, `slots.jsonl` (one line per offset) and, per vector space `i` (in name
//! order), `vectors-i.bin`, `present-i.bin`, `hnsw-i.bin` (and `quantized-i.bin`, its codes,
//! when it is quantized), and per sparse vector space `i`
//! `sparse-i.bin` (its posting lists are rebuilt on load) and per multivector space `i`
//! `multi-i.bin`. `CURRENT` is replaced atomically
//! after the directory is complete and synced, so a crash leaves the previous checkpoint live.

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{GrapeError, Result};
use crate::index::{DenseVectors, HnswIndex, MultiVectors, Quantizer, SparseIndex};
use crate::storage::files::{sync_dir, write_atomic};
use crate::types::{Payload, PointId};

use super::space::{MultiSpace, SparseSpace, VectorSpace};
use super::state::{ShardState, Slot};
use super::{DenseConfig, SpaceConfigs};

const CURRENT: &str = "CURRENT";

#[derive(Serialize, Deserialize)]
struct Meta {
    applied_seq: u64,
    slots: usize,
    spaces: Vec<String>,
    #[serde(default)]
    sparse: Vec<String>,
    #[serde(default)]
    multi: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    replication: Option<serde_json::Value>,
}

#[derive(Serialize, Deserialize)]
struct SlotRecord {
    id: PointId,
    payload: Payload,
    version: u64,
}

/// Writes the state as a new checkpoint and makes it the live one; returns its directory.
pub fn save(shard_dir: &Path, state: &ShardState) -> Result<PathBuf> {
    let name = format!("checkpoint-{:020}", state.applied_seq);
    let dir = shard_dir.join(&name);
    if dir.exists() {
        fs::remove_dir_all(&dir).map_err(GrapeError::io("remove stale checkpoint"))?;
    }
    fs::create_dir_all(&dir).map_err(GrapeError::io("create checkpoint dir"))?;
    write_slots(&dir.join("slots.jsonl"), &state.slots)?;
    for (i, space) in state.spaces.values().enumerate() {
        let io = |what: &str| GrapeError::io(format!("write {what} of checkpoint {name}"));
        space
            .vectors
            .save(&dir.join(format!("vectors-{i}.bin")))
            .map_err(io("vectors"))?;
        space
            .index
            .save(&dir.join(format!("hnsw-{i}.bin")))
            .map_err(io("graph"))?;
        let present: Vec<u8> = space.present.iter().map(|&p| p as u8).collect();
        write_synced(&dir.join(format!("present-{i}.bin")), &present)?;
        if let Some(quantizer) = &space.quantizer {
            quantizer
                .save(&dir.join(format!("quantized-{i}.bin")))
                .map_err(io("quantized codes"))?;
        }
    }
    for (i, space) in state.sparse.values().enumerate() {
        space
            .index
            .save(&dir.join(format!("sparse-{i}.bin")))
            .map_err(GrapeError::io(format!(
                "write sparse vectors of checkpoint {name}"
            )))?;
    }
    for (i, space) in state.multi.values().enumerate() {
        space
            .vectors
            .save(&dir.join(format!("multi-{i}.bin")))
            .map_err(GrapeError::io(format!(
                "write multivectors of checkpoint {name}"
            )))?;
    }
    let meta = Meta {
        applied_seq: state.applied_seq,
        slots: state.slots.len(),
        spaces: state.spaces.keys().cloned().collect(),
        sparse: state.sparse.keys().cloned().collect(),
        multi: state.multi.keys().cloned().collect(),
        replication: state.replication.clone(),
    };
    write_synced(
        &dir.join("meta.json"),
        &serde_json::to_vec(&meta).expect("meta serializes"),
    )?;
    sync_dir(&dir)?;
    write_atomic(&shard_dir.join(CURRENT), name.as_bytes())?;
    remove_other_checkpoints(shard_dir, &name);
    Ok(dir)
}

/// Loads the live checkpoint, or `None` when the shard has never checkpointed.
pub fn load(shard_dir: &Path, configs: &SpaceConfigs) -> Result<Option<ShardState>> {
    let spaces = &configs.dense;
    let Some(dir) = live_checkpoint(shard_dir)? else {
        return Ok(None);
    };
    let corrupt =
        |what: String| GrapeError::Internal(format!("checkpoint {}: {what}", dir.display()));
    let meta_bytes =
        fs::read(dir.join("meta.json")).map_err(GrapeError::io("read checkpoint meta"))?;
    let meta: Meta = serde_json::from_slice(&meta_bytes).map_err(|e| corrupt(e.to_string()))?;
    if meta.spaces != spaces.keys().cloned().collect::<Vec<_>>() {
        return Err(corrupt(format!(
            "vector spaces {:?} differ from the collection's",
            meta.spaces
        )));
    }
    if meta.sparse != configs.sparse.keys().cloned().collect::<Vec<_>>() {
        return Err(corrupt(format!(
            "sparse vector spaces {:?} differ from the collection's",
            meta.sparse
        )));
    }
    if meta.multi != configs.multi.keys().cloned().collect::<Vec<_>>() {
        return Err(corrupt(format!(
            "multivector spaces {:?} differ from the collection's",
            meta.multi
        )));
    }
    let slots = read_slots(&dir.join("slots.jsonl"))?;
    if slots.len() != meta.slots {
        return Err(corrupt(format!(
            "{} slots, meta says {}",
            slots.len(),
            meta.slots
        )));
    }
    let mut loaded = BTreeMap::new();
    for (i, (name, config)) in spaces.iter().enumerate() {
        let io = |what: &str| GrapeError::io(format!("read {what} of {}", dir.display()));
        let vectors =
            DenseVectors::load(&dir.join(format!("vectors-{i}.bin"))).map_err(io("vectors"))?;
        let index = HnswIndex::load(&dir.join(format!("hnsw-{i}.bin"))).map_err(io("graph"))?;
        // Checkpoints written before deletes cleared presence may mark retired offsets.
        let present: Vec<bool> = fs::read(dir.join(format!("present-{i}.bin")))
            .map_err(io("presence"))?
            .into_iter()
            .zip(&slots)
            .map(|(b, slot)| b != 0 && slot.is_some())
            .collect();
        if vectors.len() != slots.len() || present.len() != slots.len() {
            return Err(corrupt(format!(
                "vector space `{name}` is not aligned with the slots"
            )));
        }
        let quantizer = load_codes(&dir.join(format!("quantized-{i}.bin")), config, &vectors);
        let mut space = VectorSpace {
            params: config.params.clone(),
            hnsw: config.hnsw,
            vectors,
            present,
            index,
            quantization: config.quantization,
            quantizer,
        };
        // Codes that were missing, damaged or made under another setting are rebuilt.
        space.set_quantization(config.quantization);
        loaded.insert(name.clone(), space);
    }
    let mut sparse = BTreeMap::new();
    for (i, name) in configs.sparse.keys().enumerate() {
        let index = SparseIndex::load(&dir.join(format!("sparse-{i}.bin"))).map_err(
            GrapeError::io(format!("read sparse vectors of {}", dir.display())),
        )?;
        if index.offsets() != slots.len() {
            return Err(corrupt(format!(
                "sparse vector space `{name}` is not aligned with the slots"
            )));
        }
        let space = SparseSpace { index };
        sparse.insert(name.clone(), space);
    }
    let mut multi = BTreeMap::new();
    for (i, (name, params)) in configs.multi.iter().enumerate() {
        let vectors =
            MultiVectors::load(&dir.join(format!("multi-{i}.bin")), params.distance).map_err(
                GrapeError::io(format!("read multivectors of {}", dir.display())),
            )?;
        if vectors.offsets() != slots.len() {
            return Err(corrupt(format!(
                "multivector space `{name}` is not aligned with the slots"
            )));
        }
        let space = MultiSpace {
            params: params.clone(),
            vectors,
        };
        multi.insert(name.clone(), space);
    }
    let mut state = ShardState::new(loaded, sparse, multi);
    state.applied_seq = meta.applied_seq;
    state.replication = meta.replication;
    for (offset, slot) in slots.iter().enumerate() {
        if let Some(slot) = slot {
            state.ids.insert(slot.id, offset as u32);
        }
    }
    state.slots = slots;
    Ok(Some(state))
}

/// The saved codes of a vector space, when they match its quantization setting. Codes
/// derive from the vectors, so a damaged file is only worth a warning.
fn load_codes(path: &Path, config: &DenseConfig, vectors: &DenseVectors) -> Option<Quantizer> {
    let wanted = config.quantization?;
    if !path.exists() {
        return None;
    }
    match Quantizer::load(path, vectors) {
        Ok(q) if *q.config() == wanted => Some(q),
        Ok(_) => None,
        Err(e) => {
            tracing::warn!(file = %path.display(), error = %e, "rebuilding quantized codes");
            None
        }
    }
}

/// The sequence number and replication position a checkpoint directory holds.
pub fn position(checkpoint_dir: &Path) -> Result<(u64, Option<serde_json::Value>)> {
    let bytes = fs::read(checkpoint_dir.join("meta.json"))
        .map_err(GrapeError::io("read checkpoint meta"))?;
    let meta: Meta = serde_json::from_slice(&bytes).map_err(|e| {
        GrapeError::Internal(format!("checkpoint {}: {e}", checkpoint_dir.display()))
    })?;
    Ok((meta.applied_seq, meta.replication))
}

fn live_checkpoint(shard_dir: &Path) -> Result<Option<PathBuf>> {
    match fs::read_to_string(shard_dir.join(CURRENT)) {
        Ok(name) => Ok(Some(shard_dir.join(name.trim()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(GrapeError::io("read CURRENT")(e)),
    }
}

/// Best effort: a leftover old checkpoint wastes space but is never read.
fn remove_other_checkpoints(shard_dir: &Path, keep: &str) {
    let Ok(entries) = fs::read_dir(shard_dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        if name.starts_with("checkpoint-") && name != keep {
            if let Err(e) = fs::remove_dir_all(entry.path()) {
                tracing::warn!(checkpoint = %name, error = %e, "could not remove old checkpoint");
            }
        }
    }
}

fn write_slots(path: &Path, slots: &[Option<Slot>]) -> Result<()> {
    let io = || GrapeError::io(format!("write {}", path.display()));
    let file = fs::File::create(path).map_err(|e| io()(e))?;
    let mut out = BufWriter::new(file);
    for slot in slots {
        let record = slot.as_ref().map(|s| SlotRecord {
            id: s.id,
            payload: s.payload.clone(),
            version: s.version,
        });
        serde_json::to_writer(&mut out, &record).map_err(|e| io()(e.into()))?;
        out.write_all(b"\n").map_err(|e| io()(e))?;
    }
    let file = out.into_inner().map_err(|e| io()(e.into_error()))?;
    file.sync_all().map_err(|e| io()(e))
}

fn read_slots(path: &Path) -> Result<Vec<Option<Slot>>> {
    let file = fs::File::open(path).map_err(GrapeError::io(format!("open {}", path.display())))?;
    let mut slots = Vec::new();
    for line in BufReader::new(file).lines() {
        let line = line.map_err(GrapeError::io("read slots"))?;
        let record: Option<SlotRecord> = serde_json::from_str(&line)
            .map_err(|e| GrapeError::Internal(format!("corrupt slot record: {e}")))?;
        slots.push(record.map(|r| Slot {
            id: r.id,
            payload: r.payload,
            version: r.version,
        }));
    }
    Ok(slots)
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let io = || GrapeError::io(format!("write {}", path.display()));
    let mut file = fs::File::create(path).map_err(|e| io()(e))?;
    file.write_all(bytes).map_err(|e| io()(e))?;
    file.sync_all().map_err(|e| io()(e))
}
