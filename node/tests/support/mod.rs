//! Helpers shared by integration tests. Each test file uses only some of them.
#![allow(dead_code)]

pub mod cluster;
pub mod node;

/// Cluster scenarios run one at a time: three nodes each are enough for two shared cores.
/// (An async lock: each test has a runtime of its own and holds it across awaits.)
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

pub async fn serial() -> tokio::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().await
}
