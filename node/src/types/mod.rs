//! The engine's data model, in Qdrant's JSON shapes so the REST layer can pass it through.

pub mod collection;
pub mod consistency;
pub mod matrix;
pub mod operations;
pub mod point;
pub mod quantization;
pub mod query;
pub mod requests;
pub mod sparse;

pub use collection::*;
pub use consistency::*;
pub use matrix::*;
pub use operations::*;
pub use point::*;
pub use quantization::*;
pub use query::*;
pub use requests::*;
pub use sparse::*;
