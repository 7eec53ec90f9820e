//! Grape: a distributed vector database that speaks Qdrant's API.
//!
//! This crate is the vector engine, usable in-process without any server, plus the
//! `grape-node` server binary built on it.

pub mod error;
pub mod types;

pub use error::{GrapeError, Result};
