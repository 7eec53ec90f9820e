//! Checks a list of write operations against a shard before anything is logged, so a bad
//! request is refused whole and nothing is partially applied.

use std::collections::HashSet;

use crate::error::{GrapeError, Result};
use crate::payload::JsonPath;
use crate::types::{
    PointId, PointOperation, PointStruct, PointVectors, PointsSelector, SparseVector, UpsertPoints,
    Vector, VectorStruct, DEFAULT_VECTOR_NAME,
};

use super::space::{MultiSpace, SparseSpace};
use super::state::ShardState;

/// Tracks which points exist as the operations of one request are checked in order.
struct Existence<'a> {
    state: &'a ShardState,
    created: HashSet<PointId>,
    deleted: HashSet<PointId>,
}

impl Existence<'_> {
    fn exists(&self, id: &PointId) -> bool {
        self.created.contains(id) || (!self.deleted.contains(id) && self.state.ids.contains_key(id))
    }

    fn create(&mut self, id: PointId) {
        self.deleted.remove(&id);
        self.created.insert(id);
    }

    fn delete(&mut self, id: PointId) {
        self.created.remove(&id);
        self.deleted.insert(id);
    }
}

/// Refuses the whole list if any operation is invalid.
pub fn check_operations(state: &ShardState, ops: &[PointOperation]) -> Result<()> {
    let mut existence = Existence {
        state,
        created: HashSet::new(),
        deleted: HashSet::new(),
    };
    for op in ops {
        check_operation(&mut existence, op)?;
    }
    Ok(())
}

fn check_operation(existence: &mut Existence, op: &PointOperation) -> Result<()> {
    let state = existence.state;
    match op {
        PointOperation::Upsert(upsert) => {
            let points = match upsert {
                UpsertPoints::Points { points } => points.clone(),
                UpsertPoints::Batch { batch } => {
                    batch.clone().into_points().map_err(GrapeError::BadInput)?
                }
            };
            for point in &points {
                check_point_vectors(state, point)?;
                existence.create(point.id);
            }
        }
        PointOperation::Delete(selector) => {
            check_selector(selector)?;
            if let PointsSelector::Ids { points } = selector {
                points.iter().for_each(|id| existence.delete(*id));
            }
        }
        PointOperation::SetPayload(set) | PointOperation::OverwritePayload(set) => {
            if let Some(key) = &set.key {
                JsonPath::parse(key).map_err(|e| {
                    GrapeError::bad_input(format!("invalid payload key `{key}`: {e}"))
                })?;
            }
            check_existing(existence, &set.selector)?;
        }
        PointOperation::DeletePayload(delete) => {
            for key in &delete.keys {
                JsonPath::parse(key).map_err(|e| {
                    GrapeError::bad_input(format!("invalid payload key `{key}`: {e}"))
                })?;
            }
            check_existing(existence, &delete.selector)?;
        }
        PointOperation::ClearPayload(selector) => check_existing(existence, selector)?,
        PointOperation::UpdateVectors(update) => {
            for point in &update.points {
                check_update_vectors(existence, point)?;
            }
        }
        PointOperation::DeleteVectors(delete) => {
            for name in &delete.vector {
                if !state.sparse.contains_key(name) && !state.multi.contains_key(name) {
                    space_named(state, name)?;
                }
            }
            check_existing(existence, &delete.selector)?;
        }
    }
    Ok(())
}

fn check_selector(selector: &PointsSelector) -> Result<()> {
    if let PointsSelector::Filter { filter } = selector {
        filter
            .validate()
            .map_err(|e| GrapeError::bad_input(format!("invalid filter: {e}")))?;
    }
    Ok(())
}

/// Operations on listed ids require the points to exist, as in Qdrant.
fn check_existing(existence: &Existence, selector: &PointsSelector) -> Result<()> {
    check_selector(selector)?;
    if let PointsSelector::Ids { points } = selector {
        if let Some(missing) = points.iter().find(|id| !existence.exists(id)) {
            return Err(GrapeError::PointNotFound(*missing));
        }
    }
    Ok(())
}

fn check_point_vectors(state: &ShardState, point: &PointStruct) -> Result<()> {
    if let VectorStruct::Single(_) = point.vector {
        space_named(state, DEFAULT_VECTOR_NAME)?;
    }
    let named = point.vector.clone().into_named();
    for (name, vector) in &named {
        check_named_vector(state, name, vector)?;
    }
    if state.spaces.len() == 1 && state.spaces.contains_key(DEFAULT_VECTOR_NAME) && named.is_empty()
    {
        return Err(GrapeError::bad_input(format!(
            "point {} has no vector",
            point.id
        )));
    }
    Ok(())
}

fn check_update_vectors(existence: &Existence, point: &PointVectors) -> Result<()> {
    if !existence.exists(&point.id) {
        return Err(GrapeError::PointNotFound(point.id));
    }
    let named = point.vector.clone().into_named();
    if named.is_empty() {
        return Err(GrapeError::bad_input(format!(
            "no vectors to update for point {}",
            point.id
        )));
    }
    for (name, vector) in &named {
        check_named_vector(existence.state, name, vector)?;
    }
    Ok(())
}

/// A dense vector must go to a dense space, a sparse one to a sparse space.
fn check_named_vector(state: &ShardState, name: &str, vector: &Vector) -> Result<()> {
    match vector {
        Vector::Dense(v) => check_vector(state, name, v),
        Vector::Sparse(v) => check_sparse_vector(state, name, v).map(|_| ()),
        Vector::Multi(v) => check_multi_vector(state, name, v).map(|_| ()),
    }
}

/// A multivector must go to a multivector space, hold at least one vector, and each of its
/// vectors have the space's dimension and finite values.
pub fn check_multi_vector<'a>(
    state: &'a ShardState,
    name: &str,
    vectors: &[Vec<f32>],
) -> Result<&'a MultiSpace> {
    let space = state.multi.get(name).ok_or_else(|| {
        let kind = if state.spaces.contains_key(name) || state.sparse.contains_key(name) {
            "Wrong vector type: a multivector was given for"
        } else {
            "Not existing vector name error:"
        };
        GrapeError::bad_input(format!("{kind} {}", shown(name)))
    })?;
    if vectors.is_empty() {
        return Err(GrapeError::bad_input(format!(
            "Validation error: multivector `{name}` must hold at least one vector"
        )));
    }
    for v in vectors {
        if v.len() != space.params.size {
            return Err(GrapeError::bad_input(format!(
                "Vector dimension error: expected dim: {}, got {}",
                space.params.size,
                v.len()
            )));
        }
        if v.iter().any(|x| !x.is_finite()) {
            return Err(GrapeError::bad_input(
                "vector contains NaN or infinite values",
            ));
        }
    }
    Ok(space)
}

fn shown(name: &str) -> &str {
    if name.is_empty() {
        "(default vector)"
    } else {
        name
    }
}

/// A sparse vector must go to an existing sparse space and be well formed.
pub fn check_sparse_vector<'a>(
    state: &'a ShardState,
    name: &str,
    vector: &SparseVector,
) -> Result<&'a SparseSpace> {
    let space = sparse_space_named(state, name)?;
    vector
        .validate()
        .map_err(|e| GrapeError::bad_input(format!("Validation error: vector `{name}`: {e}")))?;
    Ok(space)
}

pub fn sparse_space_named<'a>(state: &'a ShardState, name: &str) -> Result<&'a SparseSpace> {
    if state.spaces.contains_key(name) || state.multi.contains_key(name) {
        return Err(GrapeError::bad_input(format!(
            "Wrong vector type: `{name}` is a dense vector, a sparse one was given"
        )));
    }
    state
        .sparse
        .get(name)
        .ok_or_else(|| GrapeError::bad_input(format!("Not existing vector name error: {name}")))
}

/// A vector must go to an existing space, have its dimension and finite values.
pub fn check_vector(state: &ShardState, name: &str, vector: &[f32]) -> Result<()> {
    let space = space_named(state, name)?;
    if vector.len() != space.params.size {
        return Err(GrapeError::bad_input(format!(
            "Vector dimension error: expected dim: {}, got {}",
            space.params.size,
            vector.len()
        )));
    }
    if vector.iter().any(|x| !x.is_finite()) {
        return Err(GrapeError::bad_input(
            "vector contains NaN or infinite values",
        ));
    }
    Ok(())
}

fn space_named<'a>(state: &'a ShardState, name: &str) -> Result<&'a super::space::VectorSpace> {
    if state.sparse.contains_key(name) {
        return Err(GrapeError::bad_input(format!(
            "Wrong vector type: `{name}` is a sparse vector, a dense one was given"
        )));
    }
    if state.multi.contains_key(name) {
        return Err(GrapeError::bad_input(format!(
            "Wrong vector type: {} is a multivector, a single vector was given",
            shown(name)
        )));
    }
    state.spaces.get(name).ok_or_else(|| {
        let shown = if name.is_empty() {
            "(default vector)"
        } else {
            name
        };
        GrapeError::bad_input(format!("Not existing vector name error: {shown}"))
    })
}
