//! Where the repository a test runs from is.
//!
//! Not `env!("CARGO_MANIFEST_DIR")`: checkouts that share one target directory (a CI clone
//! beside a working copy) also share test binaries that cargo finds fresh, and a path baked
//! in at compile time would then point into the other checkout. Cargo sets
//! `CARGO_MANIFEST_DIR` again when it runs a test, to the running checkout's package.

use std::path::{Path, PathBuf};

/// The root of the checkout whose `cargo test` runs this process: the nearest ancestor of
/// the running package's directory that holds `e2e/harness`.
pub fn checkout() -> PathBuf {
    let package = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    package
        .ancestors()
        .find(|dir| dir.join("e2e/harness").is_file())
        .map(Path::to_path_buf)
        .unwrap_or(package)
}
