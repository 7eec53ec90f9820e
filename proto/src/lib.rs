//! Grape's internal gRPC protocols, served on every node's peer-to-peer port (6335).
//!
//! - [`raft`]: the transport of every Raft group of a node (metadata and shards).
//! - [`internal`]: requests a node forwards to the peer able to serve them.
//! - [`cluster`]: the cluster admin service used by operators and tools.

pub mod raft {
    tonic::include_proto!("grape.raft.v1");
}

pub mod internal {
    tonic::include_proto!("grape.internal.v1");
}

pub mod cluster {
    tonic::include_proto!("grape.cluster.v1");
}
