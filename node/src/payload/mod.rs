//! Payloads: key paths and the edits and projections applied to payload JSON.

mod edit;
mod path;

pub use edit::{delete_keys, select, set_payload};
pub use path::{JsonPath, PathError, Segment};
