//! The engine's data model, in Qdrant's JSON shapes so the REST layer can pass it through.

pub mod collection;
pub mod point;

pub use collection::*;
pub use point::*;
