//! The in-memory state of a shard and the deterministic application of write operations.
//!
//! Every point lives at an *offset*: a slot in each vector space and in `slots`. An upsert or a
//! vector update gives the point a fresh offset and retires the old one, so the HNSW graphs
//! only ever grow (retired offsets stay in the graph as stepping stones but are never returned).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::filter::{Filter, PointView};
use crate::payload::{self, JsonPath};
use crate::types::{
    DeletePayload, DeleteVectors, Payload, PointId, PointOperation, PointStruct, PointVectors,
    PointsSelector, SetPayload, UpsertPoints,
};

use super::field_index::{self, FieldIndex, IndexKind};
use super::space::VectorSpace;

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
    /// Indexes of the payload fields the collection declares (derived, never logged).
    pub field_indexes: Vec<FieldIndex>,
    /// For a replica: its Raft group's applied position, opaque to the shard, saved in
    /// checkpoints together with the state it describes.
    pub replication: Option<serde_json::Value>,
}

/// A point as the filter sees it.
pub struct PointRef<'a> {
    pub slot: &'a Slot,
    pub offset: u32,
    pub spaces: &'a BTreeMap<String, VectorSpace>,
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
    }
}

impl ShardState {
    pub fn new(spaces: BTreeMap<String, VectorSpace>) -> Self {
        ShardState {
            applied_seq: 0,
            ids: BTreeMap::new(),
            slots: Vec::new(),
            spaces,
            field_indexes: Vec::new(),
            replication: None,
        }
    }

    /// Replaces the payload field indexes, building each from the live points.
    pub fn set_field_indexes(&mut self, fields: &[(JsonPath, IndexKind)]) {
        self.field_indexes = fields
            .iter()
            .map(|(path, kind)| {
                let mut index = FieldIndex::new(path.clone(), *kind);
                for (offset, slot) in self.slots.iter().enumerate() {
                    if let Some(slot) = slot {
                        index.add(offset as u32, &slot.payload);
                    }
                }
                index
            })
            .collect();
    }

    /// Live offsets that may match the filter, as bounded by the field indexes; `None` when
    /// no indexed condition constrains it.
    pub fn index_candidates(&self, filter: &Filter) -> Option<BTreeSet<u32>> {
        field_index::filter_candidates(&self.field_indexes, filter)
    }

    /// An upper bound of the points matching the filter, from the field indexes.
    pub fn index_cardinality(&self, filter: &Filter) -> Option<usize> {
        field_index::filter_cardinality(&self.field_indexes, filter)
    }

    pub fn point(&self, offset: u32) -> Option<PointRef<'_>> {
        let slot = self.slots.get(offset as usize)?.as_ref()?;
        Some(PointRef {
            slot,
            offset,
            spaces: &self.spaces,
        })
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
                            space.present[offset as usize] = false;
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
        let kept: HashMap<String, Vec<f32>> = self
            .spaces
            .iter()
            .filter_map(|(name, space)| Some((name.clone(), space.get(old)?.to_vec())))
            .collect();
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
        vector: impl Fn(&str) -> Option<Vec<f32>>,
    ) -> u32 {
        self.remove(&id);
        let offset = self.slots.len() as u32;
        for index in &mut self.field_indexes {
            index.add(offset, &payload);
        }
        for (name, space) in self.spaces.iter_mut() {
            let placed = space.push(vector(name).as_deref());
            debug_assert_eq!(placed, offset, "vector spaces stay aligned with slots");
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
    }

    fn remove(&mut self, id: &PointId) {
        if let Some(offset) = self.ids.remove(id) {
            if let Some(slot) = self.slots[offset as usize].take() {
                for index in &mut self.field_indexes {
                    index.remove(offset, &slot.payload);
                }
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
        for id in self.select(selector) {
            let offset = self.ids[&id];
            let slot = self.slots[offset as usize]
                .as_mut()
                .expect("selected point");
            for index in &mut self.field_indexes {
                index.remove(offset, &slot.payload);
            }
            edit(&mut slot.payload);
            slot.version = seq;
            for index in &mut self.field_indexes {
                index.add(offset, &slot.payload);
            }
        }
    }

    /// Number of live points.
    pub fn len(&self) -> usize {
        self.ids.len()
    }
}
