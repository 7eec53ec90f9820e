//! Payload values: protobuf `Value` (google.protobuf.Struct-like) ↔ JSON.

use std::collections::HashMap;

use qdrant_client::qdrant::{value::Kind, ListValue, Struct, Value};
use serde_json::Value as Json;

use crate::types::Payload;

pub fn json_from_grpc(value: Value) -> Json {
    match value.kind {
        None | Some(Kind::NullValue(_)) => Json::Null,
        // JSON has no NaN or infinity; Qdrant stores them as null too.
        Some(Kind::DoubleValue(d)) => {
            serde_json::Number::from_f64(d).map_or(Json::Null, Json::Number)
        }
        Some(Kind::IntegerValue(i)) => Json::from(i),
        Some(Kind::StringValue(s)) => Json::String(s),
        Some(Kind::BoolValue(b)) => Json::Bool(b),
        Some(Kind::StructValue(s)) => Json::Object(payload_from_grpc(s.fields)),
        Some(Kind::ListValue(list)) => {
            Json::Array(list.values.into_iter().map(json_from_grpc).collect())
        }
    }
}

pub fn json_to_grpc(value: Json) -> Value {
    let kind = match value {
        Json::Null => Kind::NullValue(0),
        Json::Bool(b) => Kind::BoolValue(b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Kind::IntegerValue(i),
            None => Kind::DoubleValue(n.as_f64().unwrap_or_default()),
        },
        Json::String(s) => Kind::StringValue(s),
        Json::Array(values) => Kind::ListValue(ListValue {
            values: values.into_iter().map(json_to_grpc).collect(),
        }),
        Json::Object(map) => Kind::StructValue(Struct {
            fields: payload_to_grpc(map),
        }),
    };
    Value { kind: Some(kind) }
}

pub fn payload_from_grpc(fields: HashMap<String, Value>) -> Payload {
    fields
        .into_iter()
        .map(|(k, v)| (k, json_from_grpc(v)))
        .collect()
}

pub fn payload_to_grpc(payload: Payload) -> HashMap<String, Value> {
    payload
        .into_iter()
        .map(|(k, v)| (k, json_to_grpc(v)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_survives_a_round_trip() {
        let original = json!({
            "s": "text", "i": -3, "f": 1.5, "b": true, "n": null,
            "list": [1, "two", {"three": 3.0}], "obj": {"nested": [true]}
        });
        let Json::Object(map) = original.clone() else {
            unreachable!()
        };
        let back = Json::Object(payload_from_grpc(payload_to_grpc(map)));
        assert_eq!(back, original);
    }

    #[test]
    fn integers_stay_integers_and_non_finite_doubles_become_null() {
        assert_eq!(json_to_grpc(json!(7)).kind, Some(Kind::IntegerValue(7)));
        assert_eq!(json_to_grpc(json!(7.0)).kind, Some(Kind::DoubleValue(7.0)));
        let nan = Value {
            kind: Some(Kind::DoubleValue(f64::NAN)),
        };
        assert_eq!(json_from_grpc(nan), Json::Null);
        assert_eq!(json_from_grpc(Value { kind: None }), Json::Null);
    }
}
