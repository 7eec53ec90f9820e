//! Conversions between Qdrant's gRPC messages and Grape's types.
//!
//! Core data (ids, vectors, payloads, records, write operations, search/scroll/count) is
//! converted to the engine's types directly. Configuration-like requests (collections, field
//! indexes, filters) are rewritten into Qdrant's REST JSON and deserialized with the same
//! types the REST API uses, so both APIs accept exactly the same things.

pub mod collection;
pub mod filter;
pub mod formula;
pub mod index;
pub mod matrix;
pub mod operations;
pub mod point;
pub mod quantization;
pub mod query;
pub mod requests;
pub mod snapshot;
pub mod value;

use serde_json::{Map, Value as Json};

use super::error::ConvertError;

/// Inserts `key: value` into a JSON object when `value` is present.
fn put<T: Into<Json>>(obj: &mut Map<String, Json>, key: &str, value: Option<T>) {
    if let Some(value) = value {
        obj.insert(key.to_string(), value.into());
    }
}

/// A protobuf timestamp as an RFC 3339 string in UTC.
fn timestamp_to_rfc3339(ts: prost_types::Timestamp) -> Result<String, ConvertError> {
    let invalid = || ConvertError::invalid(format!("timestamp out of range: {ts}"));
    let nanos = u32::try_from(ts.nanos).map_err(|_| invalid())?;
    let datetime = chrono::DateTime::from_timestamp(ts.seconds, nanos).ok_or_else(invalid)?;
    Ok(datetime.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
}

/// Deserializes a REST-shaped JSON body into an engine type; `what` names it in errors.
fn from_rest_json<T: serde::de::DeserializeOwned>(
    body: Json,
    what: &str,
) -> Result<T, ConvertError> {
    serde_json::from_value(body)
        .map_err(|e| ConvertError::invalid(format!("Format error in {what}: {e}")))
}
