//! A shard packed into one file and unpacked elsewhere: how a replica's state travels as a
//! Raft snapshot to a peer that is behind or new, and how collection snapshots hold shards.
//!
//! A packed shard is a tar archive of `CURRENT` and the live checkpoint directory it names,
//! i.e. exactly what a shard directory needs to open.

use std::fs::{self, File};
use std::path::Path;

use super::{checkpoint, Shard};
use crate::error::{GrapeError, Result};
use crate::storage::files::{sync_dir, write_atomic};

/// Appends `CURRENT` and the checkpoint directory under `base` in the archive.
pub fn append_checkpoint(
    archive: &mut tar::Builder<File>,
    base: &Path,
    checkpoint: &Path,
) -> std::io::Result<()> {
    let name = checkpoint
        .file_name()
        .expect("checkpoint dir name")
        .to_string_lossy()
        .to_string();
    let mut header = tar::Header::new_gnu();
    header.set_size(name.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    archive.append_data(&mut header, base.join("CURRENT"), name.as_bytes())?;
    archive.append_dir_all(base.join(&name), checkpoint)
}

/// Checkpoints the shard and packs it into `dest`; returns the packed checkpoint's sequence
/// number and replication position. Writes are held back while the checkpoint is read.
pub fn pack(shard: &Shard, dest: &Path) -> Result<(u64, Option<serde_json::Value>)> {
    let io = |what: &'static str| GrapeError::io(format!("pack shard: {what}"));
    shard.with_checkpoint(|checkpoint| {
        let file = File::create(dest).map_err(io("create archive"))?;
        let mut archive = tar::Builder::new(file);
        append_checkpoint(&mut archive, Path::new(""), checkpoint).map_err(io("write"))?;
        archive
            .into_inner()
            .and_then(|f| f.sync_all())
            .map_err(io("sync"))?;
        checkpoint::position(checkpoint)
    })
}

/// Replaces the shard's state with a packed one: unpacks it beside the live checkpoint,
/// switches `CURRENT` to it atomically, and reloads.
pub fn install(shard: &Shard, archive: &Path) -> Result<()> {
    let staging = shard
        .dir()
        .join(format!("incoming-{}", uuid::Uuid::new_v4()));
    let result = unpack_into(shard.dir(), archive, &staging);
    let _ = fs::remove_dir_all(&staging);
    result?;
    shard.reload()
}

fn unpack_into(shard_dir: &Path, archive: &Path, staging: &Path) -> Result<()> {
    let bad = |e: String| GrapeError::Internal(format!("invalid packed shard: {e}"));
    let file = File::open(archive).map_err(GrapeError::io("open packed shard"))?;
    fs::create_dir_all(staging).map_err(GrapeError::io("create staging dir"))?;
    tar::Archive::new(file)
        .unpack(staging)
        .map_err(|e| bad(e.to_string()))?;
    let name = fs::read_to_string(staging.join("CURRENT")).map_err(|e| bad(e.to_string()))?;
    let name = name.trim();
    if !name.starts_with("checkpoint-") || name.contains('/') {
        return Err(bad(format!("unexpected checkpoint name `{name}`")));
    }
    let target = shard_dir.join(format!("{name}.installed"));
    let _ = fs::remove_dir_all(&target);
    fs::rename(staging.join(name), &target).map_err(GrapeError::io("place packed checkpoint"))?;
    sync_dir(shard_dir)?;
    let installed = target.file_name().expect("dir name").to_string_lossy();
    write_atomic(&shard_dir.join("CURRENT"), installed.as_bytes())?;
    Ok(())
}
