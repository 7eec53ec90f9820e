//! How values cross the wire between peers.
//!
//! - Raft messages are openraft's own types, MessagePack-encoded (with field names, so
//!   optional fields and enums round-trip).
//! - The engine's types (operations, requests, results) are defined for Qdrant's JSON
//!   (untagged enums, optional fields) and travel as JSON, also inside Raft log entries
//!   ([`Json`]).
//! - Engine errors travel as gRPC statuses whose details carry the typed error, so the
//!   client of the forwarding node gets the same error as if it had asked the right peer.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tonic::{Code, Status};

use crate::error::GrapeError;
use crate::types::PointId;

/// A value carried as JSON bytes inside a binary message (e.g. a Raft log entry).
#[derive(Debug, Clone, PartialEq)]
pub struct Json<T>(pub T);

impl<T: Serialize> Serialize for Json<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let bytes = serde_json::to_vec(&self.0).map_err(serde::ser::Error::custom)?;
        serializer.serialize_bytes(&bytes)
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Json<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let bytes = serde_bytes::ByteBuf::deserialize(deserializer)?;
        serde_json::from_slice(&bytes)
            .map(Json)
            .map_err(serde::de::Error::custom)
    }
}

/// MessagePack bytes of a Raft message.
pub fn encode_raft<T: Serialize>(value: &T) -> Vec<u8> {
    rmp_serde::to_vec_named(value).expect("Raft messages serialize")
}

pub fn decode_raft<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Status> {
    rmp_serde::from_slice(bytes)
        .map_err(|e| Status::invalid_argument(format!("undecodable Raft message: {e}")))
}

/// JSON bytes of an engine value.
pub fn encode_json<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("engine values serialize")
}

pub fn decode_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, GrapeError> {
    serde_json::from_slice(bytes)
        .map_err(|e| GrapeError::Internal(format!("undecodable message from a peer: {e}")))
}

/// A [`GrapeError`] as it travels between peers (in statuses and in Raft responses).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum WireError {
    BadInput(String),
    CollectionNotFound(String),
    CollectionExists(String),
    PointNotFound(PointId),
    NotFound(String),
    Unavailable(String),
    Internal(String),
}

impl From<&GrapeError> for WireError {
    fn from(e: &GrapeError) -> Self {
        match e {
            GrapeError::BadInput(m) => WireError::BadInput(m.clone()),
            GrapeError::CollectionNotFound(c) => WireError::CollectionNotFound(c.clone()),
            GrapeError::CollectionExists(c) => WireError::CollectionExists(c.clone()),
            GrapeError::PointNotFound(id) => WireError::PointNotFound(*id),
            GrapeError::NotFound(m) => WireError::NotFound(m.clone()),
            GrapeError::Unavailable(m) => WireError::Unavailable(m.clone()),
            GrapeError::Io { .. } | GrapeError::Internal(_) => WireError::Internal(e.to_string()),
        }
    }
}

impl From<WireError> for GrapeError {
    fn from(e: WireError) -> Self {
        match e {
            WireError::BadInput(m) => GrapeError::BadInput(m),
            WireError::CollectionNotFound(c) => GrapeError::CollectionNotFound(c),
            WireError::CollectionExists(c) => GrapeError::CollectionExists(c),
            WireError::PointNotFound(id) => GrapeError::PointNotFound(id),
            WireError::NotFound(m) => GrapeError::NotFound(m),
            WireError::Unavailable(m) => GrapeError::Unavailable(m),
            WireError::Internal(m) => GrapeError::Internal(m),
        }
    }
}

/// The status a peer answers with when a request fails in the engine.
pub fn error_to_status(e: &GrapeError) -> Status {
    let details = encode_json(&WireError::from(e));
    Status::with_details(Code::Aborted, e.to_string(), details.into())
}

/// The engine error behind a peer's status; transport failures become `Unavailable`.
pub fn status_to_error(status: &Status) -> GrapeError {
    if status.code() == Code::Aborted {
        if let Ok(wire) = serde_json::from_slice::<WireError>(status.details()) {
            return wire.into();
        }
    }
    GrapeError::Unavailable(format!("peer request failed: {}", status.message()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_errors_survive_a_status() {
        for error in [
            GrapeError::bad_input("dimension 3 expected"),
            GrapeError::CollectionNotFound("c".to_string()),
            GrapeError::PointNotFound(PointId::Num(7)),
            GrapeError::unavailable("no leader"),
        ] {
            let text = error.to_string();
            let back = status_to_error(&error_to_status(&error));
            assert_eq!(back.to_string(), text);
        }
    }

    #[test]
    fn transport_failures_are_unavailable() {
        let e = status_to_error(&Status::unavailable("connection refused"));
        assert!(matches!(e, GrapeError::Unavailable(_)));
    }

    #[test]
    fn json_values_round_trip_inside_messagepack() {
        let value = Json(serde_json::json!({"a": [1, 2.5, null], "b": "x"}));
        let bytes = encode_raft(&value);
        let back: Json<serde_json::Value> = decode_raft(&bytes).unwrap();
        assert_eq!(back, value);
    }
}
