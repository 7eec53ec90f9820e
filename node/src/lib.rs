//! Grape: a distributed vector database that speaks Qdrant's API.
//!
//! This crate is the vector engine, usable in-process without any server, plus the
//! `grape-node` server binary built on it. Top-down:
//!
//! - [`engine::Engine`]: every collection of a node, aliases, snapshots (metadata in sled).
//! - [`cluster::Cluster`]: when several nodes form a cluster, the Raft groups that replicate
//!   metadata and shards, and the routing of requests between peers.
//! - [`collection::Collection`]: configuration plus shards; routes writes, merges reads.
//! - [`shard::Shard`]: WAL + in-memory state + checkpoints; the unit of replication.
//! - [`index`]: vector storage, SIMD distances, the HNSW graph, sparse and multivector indexes.
//! - [`filter`] and [`payload`]: Qdrant's filter language and payload key paths.
//! - [`formula`]: score formulas of the Query API, evaluated on prefetched points.
//!
//! ```no_run
//! use grape::engine::Engine;
//! use grape::types::*;
//!
//! let engine = Engine::open(std::path::Path::new("./data")).unwrap();
//! let vectors = VectorsConfig::Single(VectorParams {
//!     size: 4, distance: Distance::Cosine, hnsw_config: None, on_disk: None,
//!     multivector_config: None, quantization_config: None,
//! });
//! let create: CreateCollection = serde_json::from_value(serde_json::json!({
//!     "vectors": {"size": 4, "distance": "Cosine"}
//! })).unwrap();
//! engine.create_collection("docs", create).unwrap();
//! ```

pub mod cluster;
pub mod collection;
pub mod engine;
pub mod error;
pub mod facet;
pub mod filter;
pub mod formula;
pub mod index;
pub mod matrix;
pub mod metrics;
pub mod order_by;
pub mod payload;
pub mod query;
pub mod routing;
pub mod shard;
pub mod snapshot;
pub mod storage;
pub mod types;

pub use error::{GrapeError, Result};
pub mod server;
