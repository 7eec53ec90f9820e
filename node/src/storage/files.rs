//! Crash-safe file writes: write a temporary file, fsync it, rename it over the target, fsync
//! the directory. A reader sees either the old or the new content, never a mix.

use std::fs::File;
use std::io::Write;
use std::path::Path;

use crate::error::{GrapeError, Result};

/// Atomically replaces `path` with `bytes`.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    let context = || format!("write {}", path.display());
    let mut file = File::create(&tmp).map_err(|e| GrapeError::io(context())(e))?;
    file.write_all(bytes)
        .map_err(|e| GrapeError::io(context())(e))?;
    file.sync_all().map_err(|e| GrapeError::io(context())(e))?;
    std::fs::rename(&tmp, path).map_err(|e| GrapeError::io(context())(e))?;
    sync_dir(path.parent().unwrap_or(Path::new(".")))
}

/// Fsyncs a directory so renames and creations inside it are durable.
pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(GrapeError::io(format!("sync directory {}", dir.display())))
}
