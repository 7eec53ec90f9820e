//! Value graphs: Grape's equivalent of the extra HNSW links Qdrant builds inside payload
//! blocks. For each value of an indexed keyword or integer field (`enable_hnsw`, the default)
//! held by enough points, each vector space keeps a small HNSW graph over just those points,
//! so a filter `key = value` is searched like an unfiltered query on a smaller collection
//! instead of walking the main graph through the points it rejects.
//!
//! A value graph has its own compact offsets and a copy of its points' vectors, which keeps
//! the main graph untouched. It only grows: a point that leaves the value (payload edit,
//! deletion) stays in it and is rejected by the filter, as retired offsets are in the main
//! graph. Graphs are derived state, rebuilt when the field indexes are.
//!
//! A value gets a graph once it holds `MIN_POINTS` points, unless it then holds more than
//! half the shard: a filtered walk of the main graph accepts every other node there.

use std::collections::{BTreeMap, HashMap};

use crate::index::{DenseVectors, HnswIndex, ScoredOffset};
use crate::payload::JsonPath;
use crate::types::Payload;

use super::field_index::{FieldIndexes, Key};
use super::space::VectorSpace;

/// Fewest points of a value for a graph: below, scoring them exactly is as fast.
pub const MIN_POINTS: u64 = 2_000;
/// Seed of the value graphs' level generator.
const SEED: u64 = 0x0076_616c_7565;

struct ValueGraph {
    /// Shard offsets by local offset.
    offsets: Vec<u32>,
    local: HashMap<u32, u32>,
    vectors: DenseVectors,
    index: HnswIndex,
}

impl ValueGraph {
    fn new(space: &VectorSpace) -> ValueGraph {
        let m = space.hnsw.payload_m.unwrap_or(space.hnsw.m);
        ValueGraph {
            offsets: Vec::new(),
            local: HashMap::new(),
            vectors: DenseVectors::new(space.params.size, space.params.distance),
            index: HnswIndex::new(
                m,
                space.hnsw.ef_construct,
                SEED,
                space.hnsw.max_indexing_threads,
            ),
        }
    }

    /// Adds the offsets (holding a vector in `space`) that the graph lacks.
    fn extend(&mut self, space: &VectorSpace, offsets: impl Iterator<Item = u32>) {
        let mut added = Vec::new();
        for offset in offsets {
            let Some(vector) = space.get(offset) else {
                continue;
            };
            if self.local.contains_key(&offset) {
                continue;
            }
            let local = self.vectors.push(vector);
            self.offsets.push(offset);
            self.local.insert(offset, local);
            added.push(local);
        }
        self.index.insert_batch(&self.vectors, &added);
    }

    fn search(
        &self,
        query: &[f32],
        top: usize,
        ef: usize,
        accept: &dyn Fn(u32) -> bool,
    ) -> Vec<ScoredOffset> {
        let accept_local = |local: u32| accept(self.offsets[local as usize]);
        let mut found = self
            .index
            .search(&self.vectors, query, top, ef, &accept_local);
        for hit in &mut found {
            hit.offset = self.offsets[hit.offset as usize];
        }
        found
    }
}

/// The values whose graphs a search walks, in one vector space.
pub struct ValueTarget<'a> {
    pub path: &'a JsonPath,
    pub keys: &'a [Key],
    pub space: &'a str,
}

/// The value graphs of a shard, by field, value and vector space.
#[derive(Default)]
pub struct ValueGraphs {
    graphs: HashMap<(JsonPath, Key), BTreeMap<String, ValueGraph>>,
}

impl ValueGraphs {
    /// Graphs for every value that qualifies, over the current points; those of the
    /// `unchanged` fields are kept.
    pub fn rebuild(
        mut self,
        unchanged: &[JsonPath],
        indexes: &FieldIndexes,
        spaces: &BTreeMap<String, VectorSpace>,
    ) -> ValueGraphs {
        self.graphs.retain(|(path, _), _| unchanged.contains(path));
        let mut graphs = self;
        for field in indexes.fields() {
            if !field.schema.wants_value_graphs() || unchanged.contains(&field.path) {
                continue;
            }
            for (key, points) in field.key_postings() {
                if qualifies(points.len(), indexes.live().len()) {
                    graphs.create(&field.path, key, spaces, points.iter());
                }
            }
        }
        graphs
    }

    /// Brings the graphs up to date after the points at `offsets` were added or had their
    /// payload changed: their values' graphs get them, and values that now qualify get one.
    pub fn update<'a>(
        &mut self,
        indexes: &FieldIndexes,
        spaces: &BTreeMap<String, VectorSpace>,
        changed: impl Iterator<Item = (u32, &'a Payload)>,
    ) {
        let mut additions: HashMap<(JsonPath, Key), Vec<u32>> = HashMap::new();
        for (offset, payload) in changed {
            for field in indexes.fields() {
                if !field.schema.wants_value_graphs() {
                    continue;
                }
                for key in field.keys_of(payload) {
                    additions
                        .entry((field.path.clone(), key))
                        .or_default()
                        .push(offset);
                }
            }
        }
        for ((path, key), offsets) in additions {
            match self.graphs.get_mut(&(path.clone(), key.clone())) {
                Some(by_space) => {
                    for (name, graph) in by_space.iter_mut() {
                        graph.extend(&spaces[name], offsets.iter().copied());
                    }
                }
                None => {
                    let points = indexes.field(&path).and_then(|f| f.key_points(&key));
                    if let Some(points) =
                        points.filter(|p| qualifies(p.len(), indexes.live().len()))
                    {
                        self.create(&path, &key, spaces, points.iter());
                    }
                }
            }
        }
    }

    fn create(
        &mut self,
        path: &JsonPath,
        key: &Key,
        spaces: &BTreeMap<String, VectorSpace>,
        points: impl Iterator<Item = u32> + Clone,
    ) {
        let by_space = spaces
            .iter()
            .filter(|(_, space)| space.hnsw.payload_m != Some(0))
            .map(|(name, space)| {
                let mut graph = ValueGraph::new(space);
                graph.extend(space, points.clone());
                (name.clone(), graph)
            })
            .collect();
        self.graphs.insert((path.clone(), key.clone()), by_space);
    }

    /// Does every one of the values have a graph in the space?
    pub fn covers(&self, path: &JsonPath, keys: &[Key], space: &str) -> bool {
        keys.iter().all(|key| {
            self.graphs
                .get(&(path.clone(), key.clone()))
                .is_some_and(|by_space| by_space.contains_key(space))
        })
    }

    /// The `top` best accepted points of each value's graph, best first. `None` when a
    /// value has no graph.
    pub fn search(
        &self,
        target: &ValueTarget,
        query: &[f32],
        top: usize,
        ef: usize,
        accept: &dyn Fn(u32) -> bool,
    ) -> Option<Vec<Vec<ScoredOffset>>> {
        target
            .keys
            .iter()
            .map(|key| {
                let by_space = self.graphs.get(&(target.path.clone(), key.clone()))?;
                Some(by_space.get(target.space)?.search(query, top, ef, accept))
            })
            .collect()
    }
}

fn qualifies(points: u64, live: u64) -> bool {
    points >= MIN_POINTS && points * 2 <= live
}
