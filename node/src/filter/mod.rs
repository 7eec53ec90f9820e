//! TEMPORARY stub until the filter branch lands.
use serde::{Deserialize, Serialize};

use crate::types::{Payload, PointId};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Filter(pub serde_json::Value);

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct FilterError(String);

pub trait PointView {
    fn id(&self) -> PointId;
    fn payload(&self) -> &Payload;
    fn has_vector(&self, name: &str) -> bool;
}

impl Filter {
    pub fn validate(&self) -> Result<(), FilterError> {
        Ok(())
    }
    pub fn check(&self, _point: &impl PointView) -> bool {
        true
    }
}
