//! Grape's test kit: real `grape-node` processes on loopback, real faults, and a client
//! workload whose every acknowledged write is checked afterwards.
//!
//! - [`NodeProcess`]: one node on its own loopback address (127.0.0.2, 127.0.0.3, ...,
//!   leased so parallel tests and parallel test runs never share one) with the default
//!   ports, a kit-owned data directory and log; `kill9`, `pause` (SIGSTOP), `resume`,
//!   `terminate` (SIGTERM), `restart` on the same data and address. Killed on drop; a
//!   panicking test prints the tail of each node's log.
//! - [`Cluster`]: N nodes, the first without `--bootstrap`, the rest bootstrapping from it;
//!   [`Cluster::wait_formed`] polls `GET /cluster`.
//! - [`Network`]: iptables faults between node addresses (partition, one-way drop,
//!   isolation, heal), in a chain of its own, removed on drop. Rules match the source
//!   address, so a node must bind its outgoing peer connections to its own `--host`.
//! - [`Workload`]: writers and readers through the official `qdrant-client` crate,
//!   recording a [`History`] of acknowledged, failed and unknown outcomes;
//!   [`History::verify`] checks what [`read_back`] returns (see [`history`] for exactly
//!   what it allows) and reports counts, the longest gap between acknowledged writes and
//!   the error kinds.
//! - [`wait_until`]: polling with a timeout and a useful failure message.
//!
//! The kit does not link `grape-node`: integration tests in `node/tests` pass it the binary,
//! `env!("CARGO_BIN_EXE_grape-node")`. Process control is synchronous; a test that runs a
//! [`Workload`] while it injects faults uses `#[tokio::test(flavor = "multi_thread")]`, so
//! blocking calls like [`NodeProcess::restart`] do not stall the workload.
//!
//! ```no_run
//! use grape_testkit::{read_back, NodeProcess, Workload, WorkloadConfig};
//! # async fn scenario(grape_node_binary: &str) -> grape_testkit::Result<()> {
//! let mut node = NodeProcess::start(grape_node_binary)?;
//! grape_testkit::create_collection(&node.grpc_url(), "w").await?;
//! let workload = Workload::start(WorkloadConfig::new(vec![node.grpc_url()], "w"))?;
//! tokio::time::sleep(std::time::Duration::from_millis(500)).await;
//! node.kill9()?;
//! node.restart()?;
//! let history = workload.stop().await;
//! let report = history.verify(&read_back(&node.grpc_url(), "w").await?);
//! assert!(report.is_consistent(), "{report}");
//! # Ok(())
//! # }
//! ```

mod address;
mod admin;
mod cluster;
mod error;
pub mod history;
mod network;
mod node;
mod wait;
mod workload;

pub use address::{Lease, Ports, DEFAULT_PORTS};
pub use admin::{cluster_info, node_of_peer, shard_leaders};
pub use cluster::{Cluster, ClusterBuilder};
pub use error::{KitError, Result};
pub use history::{Anomaly, Counts, Event, Gap, History, ObservedPoint, Op, Outcome, Report};
pub use network::Network;
pub use node::{NodeBuilder, NodeProcess, READY_TIMEOUT};
pub use wait::wait_until;
pub use workload::{create_collection, read_back, Workload, WorkloadConfig, COUNTER_KEY, DIM};
