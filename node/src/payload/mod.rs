//! TEMPORARY stub until the filter branch lands.
use crate::types::{Payload, WithPayload};

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct PayloadError(String);

#[derive(Debug, Clone, PartialEq)]
pub struct JsonPath(String);

impl JsonPath {
    pub fn values<'a>(&self, payload: &'a Payload) -> Vec<&'a serde_json::Value> {
        payload.get(&self.0).into_iter().collect()
    }

    pub fn parse(s: &str) -> Result<JsonPath, PayloadError> {
        if s.is_empty() {
            return Err(PayloadError("empty path".into()));
        }
        Ok(JsonPath(s.to_string()))
    }
}

pub fn set_payload(target: &mut Payload, new: &Payload, _key: Option<&JsonPath>) {
    for (k, v) in new {
        target.insert(k.clone(), v.clone());
    }
}

pub fn delete_keys(target: &mut Payload, keys: &[JsonPath]) {
    for k in keys {
        target.remove(&k.0);
    }
}

pub fn select(payload: &Payload, with: &WithPayload) -> Option<Payload> {
    match with {
        WithPayload::Bool(false) => None,
        _ => Some(payload.clone()),
    }
}
