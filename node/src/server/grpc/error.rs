//! How failures become gRPC statuses, with Qdrant's codes: bad input is `InvalidArgument`,
//! missing things `NotFound`, name clashes `AlreadyExists`, the rest `Internal`. The message
//! always travels with the code.

use tonic::{Code, Status};

use crate::error::GrapeError;

/// A gRPC request that cannot be turned into an engine request.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    /// Malformed or contradictory input.
    #[error("{0}")]
    Invalid(String),
    /// Valid Qdrant input asking for something Grape does not implement.
    #[error("{0}")]
    Unsupported(String),
}

impl ConvertError {
    pub fn invalid(message: impl Into<String>) -> Self {
        ConvertError::Invalid(message.into())
    }

    /// `what` is not supported; the message says so in a uniform way.
    pub fn unsupported(what: impl std::fmt::Display) -> Self {
        ConvertError::Unsupported(format!("{what}: not supported by Grape"))
    }
}

impl From<ConvertError> for Status {
    fn from(err: ConvertError) -> Status {
        match err {
            ConvertError::Invalid(message) => Status::invalid_argument(message),
            ConvertError::Unsupported(message) => Status::unimplemented(message),
        }
    }
}

impl From<GrapeError> for Status {
    fn from(err: GrapeError) -> Status {
        let code = match &err {
            GrapeError::BadInput(_) => Code::InvalidArgument,
            GrapeError::CollectionNotFound(_)
            | GrapeError::PointNotFound(_)
            | GrapeError::NotFound(_) => Code::NotFound,
            GrapeError::CollectionExists(_) => Code::AlreadyExists,
            GrapeError::Unavailable(_) => Code::Unavailable,
            GrapeError::Io { .. } | GrapeError::Internal(_) => Code::Internal,
        };
        Status::new(code, err.to_string())
    }
}

/// The answer of an RPC that Grape does not implement.
pub fn unimplemented(what: &str) -> Status {
    Status::unimplemented(format!("{what} is not implemented by Grape yet"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_errors_map_to_qdrant_codes() {
        let cases = [
            (GrapeError::bad_input("dims"), Code::InvalidArgument),
            (GrapeError::CollectionNotFound("c".into()), Code::NotFound),
            (GrapeError::PointNotFound(7.into()), Code::NotFound),
            (
                GrapeError::CollectionExists("c".into()),
                Code::AlreadyExists,
            ),
            (GrapeError::Internal("disk".into()), Code::Internal),
        ];
        for (err, code) in cases {
            let message = err.to_string();
            let status = Status::from(err);
            assert_eq!(status.code(), code);
            assert_eq!(status.message(), message);
        }
    }

    #[test]
    fn conversion_errors_keep_their_message() {
        let status = Status::from(ConvertError::invalid("bad id"));
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(status.message(), "bad id");
        let status = Status::from(ConvertError::unsupported("sparse vectors"));
        assert_eq!(status.code(), Code::Unimplemented);
        assert_eq!(status.message(), "sparse vectors: not supported by Grape");
    }
}
