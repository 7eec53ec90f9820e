//! All payload field indexes of a shard, plus the set of live offsets they answer within.

use roaring::RoaringBitmap;

use crate::filter::Tokenizer;
use crate::payload::JsonPath;
use crate::types::Payload;

use super::{FieldIndex, FieldSchema};

#[derive(Default)]
pub struct FieldIndexes {
    fields: Vec<FieldIndex>,
    /// Offsets of live points (complements are taken within it).
    live: RoaringBitmap,
}

impl FieldIndexes {
    /// Indexes of the given fields, keeping those of `self` whose key and schema are
    /// unchanged and building the others from the live points.
    pub fn rebuild<'a>(
        self,
        fields: &[(JsonPath, FieldSchema)],
        points: impl Iterator<Item = (u32, &'a Payload)>,
    ) -> FieldIndexes {
        let mut previous = self.fields;
        let mut kept = Vec::new();
        let mut fresh = Vec::new();
        for (path, schema) in fields {
            match previous
                .iter()
                .position(|f| &f.path == path && &f.schema == schema)
            {
                Some(i) => kept.push(previous.swap_remove(i)),
                None => fresh.push(FieldIndex::new(path.clone(), schema.clone())),
            }
        }
        let mut live = RoaringBitmap::new();
        for (offset, payload) in points {
            live.insert(offset);
            fresh.iter_mut().for_each(|f| f.add(offset, payload));
        }
        kept.extend(fresh);
        FieldIndexes { fields: kept, live }
    }

    pub fn insert_point(&mut self, offset: u32, payload: &Payload) {
        self.live.insert(offset);
        self.index_payload(offset, payload);
    }

    pub fn remove_point(&mut self, offset: u32, payload: &Payload) {
        self.live.remove(offset);
        self.unindex_payload(offset, payload);
    }

    /// Indexes the payload of a live point (after an edit).
    pub fn index_payload(&mut self, offset: u32, payload: &Payload) {
        self.fields.iter_mut().for_each(|f| f.add(offset, payload));
    }

    /// Forgets the payload of a live point (before an edit).
    pub fn unindex_payload(&mut self, offset: u32, payload: &Payload) {
        self.fields
            .iter_mut()
            .for_each(|f| f.remove(offset, payload));
    }

    pub fn fields(&self) -> &[FieldIndex] {
        &self.fields
    }

    pub fn field(&self, path: &JsonPath) -> Option<&FieldIndex> {
        self.fields.iter().find(|f| &f.path == path)
    }

    pub fn live(&self) -> &RoaringBitmap {
        &self.live
    }

    /// The tokenizer of a text index on `path`.
    pub fn text_index(&self, path: &JsonPath) -> Option<&Tokenizer> {
        self.field(path).and_then(FieldIndex::tokenizer)
    }
}
