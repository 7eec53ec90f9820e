//! Durable storage building blocks: the write-ahead log and atomic file writes.

pub mod files;
pub mod wal;
