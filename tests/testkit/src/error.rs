//! The kit's error type. Its `Debug` is its `Display`, so `.unwrap()` in a test prints a
//! readable message (with the node's log tail where there is one) instead of a struct dump.

use std::fmt;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(thiserror::Error)]
pub enum KitError {
    #[error("no free loopback address in 127.0.0.2-254 (all leased or ports busy)")]
    NoFreeAddress,
    #[error("address lease {path}: {source}")]
    Lease {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error("signal {signal} to grape-node {ip} (pid {pid}): {source}")]
    Signal {
        signal: &'static str,
        ip: Ipv4Addr,
        pid: u32,
        source: nix::Error,
    },
    #[error("cluster admin service: {0}")]
    Admin(String),
    #[error("grape-node {ip} is not running")]
    NotRunning { ip: Ipv4Addr },
    #[error("grape-node {ip} exited with {status}; log tail:\n{log_tail}")]
    Exited {
        ip: Ipv4Addr,
        status: std::process::ExitStatus,
        log_tail: String,
    },
    #[error("grape-node {ip} not ready: {source}; log tail:\n{log_tail}")]
    NotReady {
        ip: Ipv4Addr,
        source: Box<KitError>,
        log_tail: String,
    },
    #[error("timed out after {waited:?} ({attempts} attempts) waiting for {what}; last: {last}")]
    Timeout {
        what: String,
        waited: Duration,
        attempts: u32,
        last: String,
    },
    #[error("`{command}` failed: {stderr}")]
    Iptables { command: String, stderr: String },
    #[error("qdrant client against {url}: {source}")]
    Client {
        url: String,
        source: Box<qdrant_client::QdrantError>,
    },
}

impl fmt::Debug for KitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

pub type Result<T, E = KitError> = std::result::Result<T, E>;
