//! The in-memory state of a shard and the deterministic application of write operations.
//!
//! Every point lives at an *offset*: a slot in each vector space and in `slots`. An upsert or a
//! vector update gives the point a fresh offset and retires the old one, so the HNSW graphs
//! only ever grow (retired offsets stay in the graph as stepping stones but are never returned).

use std::collections::{BTreeMap, HashMap};

use crate::filter::{Filter, PointView, Tokenizer};
use crate::payload::{self, JsonPath};
use crate::types::{
    DeletePayload, DeleteVectors, Payload, PointId, PointOperation, PointStruct, PointVectors,
    PointsSelector, SetPayload, UpsertPoints, Vector,
};

use super::field_index::{self, Answer, FieldIndexes, FieldSchema};
use super::space::{MultiSpace, SparseSpace, VectorSpace};
use super::value_graph::ValueGraphs;

/// A live point's non-vector data.
#[derive(Debug, Clone, PartialEq)]
pub struct Slot {
    pub id: PointId,
    pub payload: Payload,
    /// Sequence number of the last operation that changed the point.
    pub version: u64,
}

pub struct ShardState {
    /// Sequence number of the last applied operation.
    pub applied_seq: u64,
    /// Live points by id, ordered for scroll.
    pub ids: BTreeMap<PointId, u32>,
    /// `slots[offset]` is the point living there, or `None` for a retired offset.
    pub slots: Vec<Option<Slot>>,
    pub spaces: BTreeMap<String, VectorSpace>,
    /// The sparse vector spaces, aligned with `slots` like the dense ones.
    pub sparse: BTreeMap<String, SparseSpace>,
    /// The multivector spaces, aligned with `slots` too.
    pub multi: BTreeMap<String, MultiSpace>,
    /// Indexes of the payload fields the collection declares (derived, never logged).
    pub field_indexes: FieldIndexes,
    /// Graphs of the points of frequent indexed values (derived, never logged).
    pub value_graphs: ValueGraphs,
    /// For a replica: its Raft group's applied position, opaque to the shard, saved in
    /// checkpoints together with the state it describes.
    pub replication: Option<serde_json::Value>,
}

/// A point as the filter sees it.
pub struct PointRef<'a> {
    pub slot: &'a Slot,
    pub offset: u32,
    pub spaces: &'a BTreeMap<String, VectorSpace>,
    pub sparse: &'a BTreeMap<String, SparseSpace>,
    pub multi: &'a BTreeMap<String, MultiSpace>,
    pub indexes: &'a FieldIndexes,
}

impl PointView for PointRef<'_> {
    fn id(&self) -> PointId {
        self.slot.id
    }

    fn payload(&self) -> &Payload {
        &self.slot.payload
    }

    fn has_vector(&self, name: &str) -> bool {
        self.spaces.get(name).is_some_and(|s| s.has(self.offset))
            || self
                .sparse
                .get(name)
                .is_some_and(|s| s.index.has(self.offset))
            || self
                .multi
                .get(name)
                .is_some_and(|s| s.vectors.has(self.offset))
    }

    fn text_index(&self, key: &JsonPath) -> Option<&Tokenizer> {
        self.indexes.text_index(key)
    }
}

impl ShardState {
    pub fn new(
        spaces: BTreeMap<String, VectorSpace>,
        sparse: BTreeMap<String, SparseSpace>,
        multi: BTreeMap<String, MultiSpace>,
    ) -> Self {
        ShardState {
            applied_seq: 0,
            ids: BTreeMap::new(),
            slots: Vec::new(),
            spaces,
            sparse,
            multi,
            field_indexes: FieldIndexes::default(),
            value_graphs: ValueGraphs::default(),
            replication: None,
        }
    }

    /// Declares the payload field indexes: unchanged ones (and their value graphs) are
    /// kept, new ones built from the live points.
    pub fn set_field_indexes(&mut self, fields: &[(JsonPath, FieldSchema)]) {
        let live = self
            .slots
            .iter()
            .enumerate()
            .filter_map(|(offset, slot)| Some((offset as u32, &slot.as_ref()?.payload)));
        let previous = std::mem::take(&mut self.field_indexes);
        let unchanged: Vec<JsonPath> = fields
            .iter()
            .filter(|(path, schema)| previous.field(path).is_some_and(|f| &f.schema == schema))
            .map(|(path, _)| path.clone())
            .collect();
        self.field_indexes = previous.rebuild(fields, live);
        let graphs = std::mem::take(&mut self.value_graphs);
        self.value_graphs = graphs.rebuild(&unchanged, &self.field_indexes, &self.spaces);
    }

    /// What the field indexes know of the points matching the filter.
    pub fn index_answer(&self, filter: &Filter) -> Answer {
        field_index::filter_answer(&self.field_indexes, filter, &|id| self.ids.get(id).copied())
    }

    pub fn point(&self, offset: u32) -> Option<PointRef<'_>> {
        let slot = self.slots.get(offset as usize)?.as_ref()?;
        Some(PointRef {
            slot,
            offset,
            spaces: &self.spaces,
            sparse: &self.sparse,
            multi: &self.multi,
            indexes: &self.field_indexes,
        })
    }

    pub fn is_live(&self, offset: u32) -> bool {
        self.slots.get(offset as usize).is_some_and(Option::is_some)
    }

    /// Does the live point at `offset` pass the filter (no filter: every live point)?
    pub fn matches(&self, offset: u32, filter: Option<&Filter>) -> bool {
        match self.point(offset) {
            Some(point) => filter.is_none_or(|f| f.check(&point)),
            None => false,
        }
    }

    /// Offsets of the live points matching the filter, in id order.
    pub fn matching_offsets<'a>(
        &'a self,
        filter: Option<&'a Filter>,
    ) -> impl Iterator<Item = u32> + 'a {
        self.ids
            .values()
            .copied()
            .filter(move |&o| self.matches(o, filter))
    }

    /// Ids selected by a selector; listed ids that do not exist are skipped.
    pub fn select(&self, selector: &PointsSelector) -> Vec<PointId> {
        match selector {
            PointsSelector::Ids { points } => points
                .iter()
                .filter(|id| self.ids.contains_key(id))
                .copied()
                .collect(),
            PointsSelector::Filter { filter } => self
                .matching_offsets(Some(filter))
                .map(|o| self.slot(o).id)
                .collect(),
        }
    }

    /// The id of the live point at `offset`.
    pub fn slot_id(&self, offset: u32) -> PointId {
        self.slot(offset).id
    }

    fn slot(&self, offset: u32) -> &Slot {
        self.slots[offset as usize]
            .as_ref()
            .expect("offset of a live point")
    }

    fn slot_mut(&mut self, id: &PointId) -> Option<&mut Slot> {
        let offset = *self.ids.get(id)?;
        self.slots[offset as usize].as_mut()
    }

    /// Applies validated operations in order under sequence number `seq`. Operations were
    /// checked before they were logged, so application cannot fail.
    pub fn apply(&mut self, seq: u64, ops: &[PointOperation]) {
        for op in ops {
            self.apply_one(seq, op);
        }
        self.applied_seq = seq;
    }

    fn apply_one(&mut self, seq: u64, op: &PointOperation) {
        match op {
            PointOperation::Upsert(UpsertPoints::Points { points }) => self.upsert(seq, points),
            PointOperation::Upsert(UpsertPoints::Batch { batch }) => {
                let points = batch
                    .clone()
                    .into_points()
                    .expect("batch validated before logging");
                self.upsert(seq, &points)
            }
            PointOperation::Delete(selector) => {
                for id in self.select(selector) {
                    self.remove(&id);
                }
            }
            PointOperation::SetPayload(set) => self.set_payload(seq, set, false),
            PointOperation::OverwritePayload(set) => self.set_payload(seq, set, true),
            PointOperation::DeletePayload(DeletePayload { keys, selector }) => {
                let paths: Vec<JsonPath> = keys
                    .iter()
                    .filter_map(|k| JsonPath::parse(k).ok())
                    .collect();
                self.edit_payloads(seq, selector, |p| payload::delete_keys(p, &paths));
            }
            PointOperation::ClearPayload(selector) => {
                self.edit_payloads(seq, selector, |p| p.clear())
            }
            PointOperation::UpdateVectors(update) => {
                for point in &update.points {
                    self.update_vectors(seq, point);
                }
            }
            PointOperation::DeleteVectors(DeleteVectors { selector, vector }) => {
                for id in self.select(selector) {
                    let offset = self.ids[&id];
                    for name in vector {
                        if let Some(space) = self.spaces.get_mut(name) {
                            space.retire(offset);
                        }
                        if let Some(space) = self.sparse.get_mut(name) {
                            space.index.retire(offset);
                        }
                        if let Some(space) = self.multi.get_mut(name) {
                            space.vectors.retire(offset);
                        }
                    }
                    self.slot_mut(&id).expect("selected point").version = seq;
                }
            }
        }
    }

    fn upsert(&mut self, seq: u64, points: &[PointStruct]) {
        let mut new_offsets = Vec::with_capacity(points.len());
        for point in points {
            let vectors = point.vector.clone().into_named();
            let payload = point.payload.clone().unwrap_or_default();
            new_offsets.push(self.place(seq, point.id, payload, |name| vectors.get(name).cloned()));
        }
        self.index(&new_offsets);
    }

    fn update_vectors(&mut self, seq: u64, point: &PointVectors) {
        let Some(&old) = self.ids.get(&point.id) else {
            return;
        };
        let payload = self.slot(old).payload.clone();
        let updates = point.vector.clone().into_named();
        let dense = self.spaces.iter().filter_map(|(name, space)| {
            Some((name.clone(), Vector::Dense(space.get(old)?.to_vec())))
        });
        let sparse = self.sparse.iter().filter_map(|(name, space)| {
            Some((name.clone(), Vector::Sparse(space.index.get(old)?.clone())))
        });
        let multi = self.multi.iter().filter_map(|(name, space)| {
            Some((name.clone(), Vector::Multi(space.vectors.get(old)?)))
        });
        let kept: HashMap<String, Vector> = dense.chain(sparse).chain(multi).collect();
        let offset = self.place(seq, point.id, payload, |name| {
            updates.get(name).or(kept.get(name)).cloned()
        });
        self.index(&[offset]);
    }

    /// Puts a point at a fresh offset (retiring its old one) without indexing it yet.
    fn place(
        &mut self,
        seq: u64,
        id: PointId,
        payload: Payload,
        vector: impl Fn(&str) -> Option<Vector>,
    ) -> u32 {
        self.remove(&id);
        let offset = self.slots.len() as u32;
        self.field_indexes.insert_point(offset, &payload);
        for (name, space) in self.spaces.iter_mut() {
            let v = vector(name);
            let placed = space.push(v.as_ref().and_then(Vector::as_dense));
            debug_assert_eq!(placed, offset, "vector spaces stay aligned with slots");
        }
        for (name, space) in self.sparse.iter_mut() {
            let v = vector(name);
            let placed = space.index.push(v.as_ref().and_then(Vector::as_sparse));
            debug_assert_eq!(placed, offset, "sparse spaces stay aligned with slots");
        }
        for (name, space) in self.multi.iter_mut() {
            let v = vector(name);
            let placed = space.vectors.push(v.as_ref().and_then(Vector::as_multi));
            debug_assert_eq!(placed, offset, "multivector spaces stay aligned with slots");
        }
        self.slots.push(Some(Slot {
            id,
            payload,
            version: seq,
        }));
        self.ids.insert(id, offset);
        offset
    }

    fn index(&mut self, offsets: &[u32]) {
        let live: Vec<u32> = offsets
            .iter()
            .copied()
            .filter(|&o| self.slots[o as usize].is_some())
            .collect();
        for space in self.spaces.values_mut() {
            space.index_offsets(&live);
        }
        self.update_value_graphs(&live);
    }

    fn update_value_graphs(&mut self, offsets: &[u32]) {
        let slots = &self.slots;
        let changed = offsets
            .iter()
            .filter_map(|&o| Some((o, &slots[o as usize].as_ref()?.payload)));
        self.value_graphs
            .update(&self.field_indexes, &self.spaces, changed);
    }

    fn remove(&mut self, id: &PointId) {
        if let Some(offset) = self.ids.remove(id) {
            if let Some(slot) = self.slots[offset as usize].take() {
                self.field_indexes.remove_point(offset, &slot.payload);
            }
            for space in self.spaces.values_mut() {
                space.retire(offset);
            }
            for space in self.sparse.values_mut() {
                space.index.retire(offset);
            }
            for space in self.multi.values_mut() {
                space.vectors.retire(offset);
            }
        }
    }

    fn set_payload(&mut self, seq: u64, set: &SetPayload, overwrite: bool) {
        let key = set.key.as_deref().and_then(|k| JsonPath::parse(k).ok());
        self.edit_payloads(seq, &set.selector, |p| {
            if overwrite {
                p.clear();
            }
            payload::set_payload(p, &set.payload, key.as_ref());
        });
    }

    fn edit_payloads(&mut self, seq: u64, selector: &PointsSelector, edit: impl Fn(&mut Payload)) {
        let mut edited = Vec::new();
        for id in self.select(selector) {
            let offset = self.ids[&id];
            let slot = self.slots[offset as usize]
                .as_mut()
                .expect("selected point");
            self.field_indexes.unindex_payload(offset, &slot.payload);
            edit(&mut slot.payload);
            slot.version = seq;
            self.field_indexes.index_payload(offset, &slot.payload);
            edited.push(offset);
        }
        self.update_value_graphs(&edited);
    }

    /// Number of live points.
    pub fn len(&self) -> usize {
        self.ids.len()
    }
}
