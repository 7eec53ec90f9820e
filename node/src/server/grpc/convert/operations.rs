//! Write requests → the engine's [`PointOperation`]s.

use qdrant_client::qdrant as grpc;
use qdrant_client::qdrant::points_update_operation::Operation;
use qdrant_client::qdrant::{points_selector::PointsSelectorOneOf, ShardKeySelector};

use super::filter::filter_from_grpc;
use super::point::{point_id_from_grpc, point_ids_from_grpc, vectors_from_grpc};
use super::value::payload_from_grpc;
use crate::server::grpc::error::ConvertError;
use crate::types::{
    DeletePayload, DeleteVectors, PointOperation, PointStruct, PointVectors, PointsSelector,
    SetPayload, UpdateVectors, UpsertPoints,
};

/// Custom sharding is not supported: a request naming shard keys is refused.
pub fn refuse_shard_keys(selector: Option<&ShardKeySelector>) -> Result<(), ConvertError> {
    match selector {
        Some(s) if !s.shard_keys.is_empty() || s.fallback.is_some() => Err(
            ConvertError::unsupported("custom sharding (shard_key_selector)"),
        ),
        _ => Ok(()),
    }
}

fn refuse_update_filter(filter: Option<&grpc::Filter>) -> Result<(), ConvertError> {
    match filter {
        Some(_) => Err(ConvertError::unsupported(
            "conditional update (update_filter)",
        )),
        None => Ok(()),
    }
}

fn refuse_update_mode(mode: Option<i32>) -> Result<(), ConvertError> {
    match mode.map(grpc::UpdateMode::try_from) {
        None | Some(Ok(grpc::UpdateMode::Upsert)) => Ok(()),
        Some(_) => Err(ConvertError::unsupported(
            "update_mode other than upsert (insert_only, update_only)",
        )),
    }
}

pub fn upsert_from_grpc(
    points: Vec<grpc::PointStruct>,
    update_filter: Option<&grpc::Filter>,
    update_mode: Option<i32>,
) -> Result<PointOperation, ConvertError> {
    refuse_update_filter(update_filter)?;
    refuse_update_mode(update_mode)?;
    let points = points
        .into_iter()
        .map(point_from_grpc)
        .collect::<Result<_, _>>()?;
    Ok(PointOperation::Upsert(UpsertPoints::Points { points }))
}

fn point_from_grpc(point: grpc::PointStruct) -> Result<PointStruct, ConvertError> {
    Ok(PointStruct {
        id: point_id_from_grpc(point.id)?,
        vector: vectors_from_grpc(point.vectors)?,
        payload: Some(payload_from_grpc(point.payload)),
    })
}

pub fn selector_from_grpc(
    selector: Option<grpc::PointsSelector>,
) -> Result<PointsSelector, ConvertError> {
    match selector.and_then(|s| s.points_selector_one_of) {
        Some(PointsSelectorOneOf::Points(list)) => Ok(PointsSelector::Ids {
            points: point_ids_from_grpc(list.ids)?,
        }),
        Some(PointsSelectorOneOf::Filter(filter)) => Ok(PointsSelector::Filter {
            filter: filter_from_grpc(filter)?,
        }),
        None => Err(ConvertError::invalid(
            "points selector is missing: give a list of ids or a filter",
        )),
    }
}

pub fn set_payload_from_grpc(
    payload: std::collections::HashMap<String, grpc::Value>,
    selector: Option<grpc::PointsSelector>,
    key: Option<String>,
) -> Result<SetPayload, ConvertError> {
    Ok(SetPayload {
        payload: payload_from_grpc(payload),
        selector: selector_from_grpc(selector)?,
        key,
    })
}

pub fn delete_payload_from_grpc(
    keys: Vec<String>,
    selector: Option<grpc::PointsSelector>,
) -> Result<DeletePayload, ConvertError> {
    Ok(DeletePayload {
        keys,
        selector: selector_from_grpc(selector)?,
    })
}

pub fn update_vectors_from_grpc(
    points: Vec<grpc::PointVectors>,
    update_filter: Option<&grpc::Filter>,
) -> Result<PointOperation, ConvertError> {
    refuse_update_filter(update_filter)?;
    let points = points
        .into_iter()
        .map(|p| {
            Ok(PointVectors {
                id: point_id_from_grpc(p.id)?,
                vector: vectors_from_grpc(p.vectors)?,
            })
        })
        .collect::<Result<_, ConvertError>>()?;
    Ok(PointOperation::UpdateVectors(UpdateVectors { points }))
}

pub fn delete_vectors_from_grpc(
    selector: Option<grpc::PointsSelector>,
    vectors: Option<grpc::VectorsSelector>,
) -> Result<PointOperation, ConvertError> {
    let names = vectors
        .map(|v| v.names)
        .filter(|names| !names.is_empty())
        .ok_or_else(|| ConvertError::invalid("no vector names to delete"))?;
    Ok(PointOperation::DeleteVectors(DeleteVectors {
        selector: selector_from_grpc(selector)?,
        vector: names,
    }))
}

/// One operation of `UpdateBatch`.
pub fn batch_operation_from_grpc(
    operation: grpc::PointsUpdateOperation,
) -> Result<PointOperation, ConvertError> {
    #[allow(deprecated)]
    let operation = match operation.operation {
        Some(op) => op,
        None => return Err(ConvertError::invalid("batch operation is empty")),
    };
    #[allow(deprecated)]
    match operation {
        Operation::Upsert(list) => {
            refuse_shard_keys(list.shard_key_selector.as_ref())?;
            upsert_from_grpc(list.points, list.update_filter.as_ref(), list.update_mode)
        }
        Operation::DeleteDeprecated(selector) => {
            Ok(PointOperation::Delete(selector_from_grpc(Some(selector))?))
        }
        Operation::DeletePoints(delete) => {
            refuse_shard_keys(delete.shard_key_selector.as_ref())?;
            Ok(PointOperation::Delete(selector_from_grpc(delete.points)?))
        }
        Operation::SetPayload(set) => {
            refuse_shard_keys(set.shard_key_selector.as_ref())?;
            let set = set_payload_from_grpc(set.payload, set.points_selector, set.key)?;
            Ok(PointOperation::SetPayload(set))
        }
        Operation::OverwritePayload(set) => {
            refuse_shard_keys(set.shard_key_selector.as_ref())?;
            let set = set_payload_from_grpc(set.payload, set.points_selector, set.key)?;
            Ok(PointOperation::OverwritePayload(set))
        }
        Operation::DeletePayload(delete) => {
            refuse_shard_keys(delete.shard_key_selector.as_ref())?;
            let delete = delete_payload_from_grpc(delete.keys, delete.points_selector)?;
            Ok(PointOperation::DeletePayload(delete))
        }
        Operation::ClearPayloadDeprecated(selector) => Ok(PointOperation::ClearPayload(
            selector_from_grpc(Some(selector))?,
        )),
        Operation::ClearPayload(clear) => {
            refuse_shard_keys(clear.shard_key_selector.as_ref())?;
            Ok(PointOperation::ClearPayload(selector_from_grpc(
                clear.points,
            )?))
        }
        Operation::UpdateVectors(update) => {
            refuse_shard_keys(update.shard_key_selector.as_ref())?;
            update_vectors_from_grpc(update.points, update.update_filter.as_ref())
        }
        Operation::DeleteVectors(delete) => {
            refuse_shard_keys(delete.shard_key_selector.as_ref())?;
            delete_vectors_from_grpc(delete.points_selector, delete.vectors)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::PointId;

    fn ids(ids: &[u64]) -> Option<grpc::PointsSelector> {
        Some(grpc::PointsSelector {
            points_selector_one_of: Some(PointsSelectorOneOf::Points(grpc::PointsIdsList {
                ids: ids.iter().map(|&n| n.into()).collect(),
            })),
        })
    }

    #[test]
    fn selectors_convert_and_a_missing_one_is_invalid() {
        assert_eq!(
            selector_from_grpc(ids(&[1, 2])).unwrap(),
            PointsSelector::Ids {
                points: vec![PointId::Num(1), PointId::Num(2)]
            }
        );
        assert!(matches!(
            selector_from_grpc(None),
            Err(ConvertError::Invalid(_))
        ));
    }

    #[test]
    fn batch_operations_convert_and_conditional_upserts_are_unsupported() {
        let op = grpc::PointsUpdateOperation {
            operation: Some(Operation::DeletePayload(
                grpc::points_update_operation::DeletePayload {
                    keys: vec!["a".into()],
                    points_selector: ids(&[3]),
                    shard_key_selector: None,
                },
            )),
        };
        assert_eq!(
            batch_operation_from_grpc(op).unwrap(),
            PointOperation::DeletePayload(DeletePayload {
                keys: vec!["a".into()],
                selector: PointsSelector::Ids {
                    points: vec![PointId::Num(3)]
                },
            })
        );
        let conditional = upsert_from_grpc(Vec::new(), Some(&grpc::Filter::default()), None);
        assert!(matches!(conditional, Err(ConvertError::Unsupported(_))));
        let insert_only = upsert_from_grpc(Vec::new(), None, Some(1));
        assert!(matches!(insert_only, Err(ConvertError::Unsupported(_))));
    }
}
