//! Collection snapshots: a tar archive of the collection's metadata and of a fresh checkpoint
//! of every shard, taken while the shard holds back writes, so each shard is a consistent
//! point-in-time copy.
//!
//! Archive layout: `collection.json`, then per shard `shards/<id>/CURRENT` and
//! `shards/<id>/<checkpoint dir>/...`.

use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::collection::{Collection, CollectionMeta};
use crate::error::{GrapeError, Result};
use crate::shard::packing::append_checkpoint;
use crate::storage::files::sync_dir;

/// A snapshot file as listed by the API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotDescription {
    pub name: String,
    pub creation_time: Option<String>,
    pub size: u64,
    pub checksum: Option<String>,
}

/// Writes a snapshot of `collection` into `dir` and describes it.
pub fn create(collection: &Collection, dir: &Path) -> Result<SnapshotDescription> {
    fs::create_dir_all(dir).map_err(GrapeError::io("create snapshot dir"))?;
    let now = chrono::Utc::now();
    let name = format!(
        "{}-{}.snapshot",
        collection.name(),
        now.format("%Y-%m-%d-%H-%M-%S-%6f")
    );
    let path = dir.join(&name);
    let tmp = dir.join(format!(".{name}.partial"));
    write_archive(collection, &tmp)?;
    fs::rename(&tmp, &path).map_err(GrapeError::io("publish snapshot"))?;
    sync_dir(dir)?;
    describe(&path)
}

fn write_archive(collection: &Collection, path: &Path) -> Result<()> {
    let io = |what: &'static str| GrapeError::io(format!("write snapshot: {what}"));
    let file = File::create(path).map_err(io("create"))?;
    let mut archive = tar::Builder::new(file);
    let meta = serde_json::to_vec_pretty(&collection.meta()).expect("metadata serializes");
    append_bytes(&mut archive, "collection.json", &meta).map_err(io("metadata"))?;
    for (id, shard) in collection.shards().iter().enumerate() {
        let shard = shard.local().ok_or_else(|| {
            GrapeError::bad_input(format!(
                "shard {id} of `{}` has no replica on this peer: snapshot it on a peer holding it",
                collection.name()
            ))
        })?;
        shard.with_checkpoint(|checkpoint| {
            let base = PathBuf::from("shards").join(id.to_string());
            append_checkpoint(&mut archive, &base, checkpoint).map_err(io("shard files"))
        })?;
    }
    let file = archive.into_inner().map_err(io("finish"))?;
    file.sync_all().map_err(io("sync"))
}

fn append_bytes(archive: &mut tar::Builder<File>, path: &str, bytes: &[u8]) -> std::io::Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_size(bytes.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    archive.append_data(&mut header, path, bytes)
}

/// Size, time and SHA-256 of a snapshot file.
pub fn describe(path: &Path) -> Result<SnapshotDescription> {
    let io = GrapeError::io(format!("read snapshot {}", path.display()));
    let metadata = fs::metadata(path).map_err(io)?;
    let mut file = File::open(path).map_err(GrapeError::io("open snapshot"))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file
            .read(&mut buf)
            .map_err(GrapeError::io("hash snapshot"))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    let modified = metadata.modified().ok().map(|t| {
        chrono::DateTime::<chrono::Utc>::from(t)
            .format("%Y-%m-%dT%H:%M:%S")
            .to_string()
    });
    Ok(SnapshotDescription {
        name: path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string(),
        creation_time: modified,
        size: metadata.len(),
        checksum: Some(format!("{:x}", hasher.finalize())),
    })
}

/// Snapshots of a collection in `dir`, newest first.
pub fn list(dir: &Path) -> Result<Vec<SnapshotDescription>> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Ok(Vec::new());
    };
    let mut snapshots = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "snapshot"))
        .map(|p| describe(&p))
        .collect::<Result<Vec<_>>>()?;
    snapshots.sort_by(|a, b| b.name.cmp(&a.name));
    Ok(snapshots)
}

/// Unpacks a snapshot archive into `target` (which must not exist) and returns its metadata.
pub fn unpack(archive: &Path, target: &Path) -> Result<CollectionMeta> {
    let bad =
        |e: String| GrapeError::bad_input(format!("invalid snapshot {}: {e}", archive.display()));
    let file = File::open(archive).map_err(GrapeError::io(format!(
        "open snapshot {}",
        archive.display()
    )))?;
    fs::create_dir_all(target).map_err(GrapeError::io("create recovery dir"))?;
    tar::Archive::new(file)
        .unpack(target)
        .map_err(|e| bad(e.to_string()))?;
    let meta_bytes = fs::read(target.join("collection.json")).map_err(|e| bad(e.to_string()))?;
    let meta: CollectionMeta =
        serde_json::from_slice(&meta_bytes).map_err(|e| bad(e.to_string()))?;
    fs::remove_file(target.join("collection.json")).map_err(GrapeError::io("tidy recovery dir"))?;
    Ok(meta)
}

/// Stores an uploaded snapshot body as a file in `dir` and returns its path.
pub fn save_upload(dir: &Path, bytes: &[u8]) -> Result<PathBuf> {
    fs::create_dir_all(dir).map_err(GrapeError::io("create upload dir"))?;
    let path = dir.join(format!("upload-{}.snapshot", uuid::Uuid::new_v4()));
    let mut file = File::create(&path).map_err(GrapeError::io("store upload"))?;
    file.write_all(bytes)
        .map_err(GrapeError::io("store upload"))?;
    file.sync_all().map_err(GrapeError::io("store upload"))?;
    Ok(path)
}
