//! This node's peer id: a random u64 chosen on first start and kept in the data directory, so
//! a restarted node rejoins as itself. A node whose data directory was wiped is a new peer.

use std::path::Path;

use crate::error::{GrapeError, Result};
use crate::storage::files::write_atomic;

const PEER_ID_FILE: &str = "peer_id";

/// Reads the peer id stored in `data_dir`, creating one if there is none.
pub fn load_or_create(data_dir: &Path) -> Result<u64> {
    let path = data_dir.join(PEER_ID_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => text.trim().parse().map_err(|e| {
            GrapeError::Internal(format!("corrupt peer id in {}: {e}", path.display()))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(data_dir).map_err(GrapeError::io("create data dir"))?;
            // Positive and within i64 (Kubernetes integers are signed); never 0, which the
            // APIs use for "no peer".
            let id = (rand::random::<u64>() >> 1).max(1);
            write_atomic(&path, id.to_string().as_bytes())?;
            Ok(id)
        }
        Err(e) => Err(GrapeError::io(format!("read {}", path.display()))(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_id_is_created_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let first = load_or_create(dir.path()).unwrap();
        assert!(first > 0);
        assert_eq!(load_or_create(dir.path()).unwrap(), first);
    }
}
