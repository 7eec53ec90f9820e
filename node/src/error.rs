//! The engine's typed errors. Messages follow Qdrant's wording so clients see familiar text.

use crate::types::PointId;

/// Everything the engine can refuse or fail at.
#[derive(Debug, thiserror::Error)]
pub enum GrapeError {
    /// The request is malformed or contradicts the collection's configuration.
    #[error("Wrong input: {0}")]
    BadInput(String),
    #[error("Not found: Collection `{0}` doesn't exist!")]
    CollectionNotFound(String),
    #[error("Wrong input: Collection `{0}` already exists!")]
    CollectionExists(String),
    #[error("Not found: No point with id {0} found")]
    PointNotFound(PointId),
    #[error("Not found: {0}")]
    NotFound(String),
    #[error("Service internal error: {context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// A shard or the cluster cannot serve the request now (no leader, peers unreachable);
    /// retrying later may succeed.
    #[error("Service unavailable: {0}")]
    Unavailable(String),
    #[error("Service internal error: {0}")]
    Internal(String),
}

impl GrapeError {
    pub fn bad_input(msg: impl Into<String>) -> Self {
        GrapeError::BadInput(msg.into())
    }

    pub fn unavailable(msg: impl Into<String>) -> Self {
        GrapeError::Unavailable(msg.into())
    }

    /// Wraps an I/O error with what was being done.
    pub fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> GrapeError {
        let context = context.into();
        move |source| GrapeError::Io { context, source }
    }
}

pub type Result<T, E = GrapeError> = std::result::Result<T, E>;
