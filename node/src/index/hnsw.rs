//! The HNSW graph (Malkov & Yashunin) over the offsets of one vector space.
//!
//! Layer 0 is a flat array with a fixed number of slots per offset (`2·m` neighbours plus
//! a count), so the hot loop of a search touches contiguous memory. Upper layers hold few
//! nodes and live in a map. Levels are drawn from a hash of `(seed, offset)`, so inserting
//! the same offsets in the same order always builds the same graph.
//!
//! Search takes an `accept` predicate: rejected nodes are still walked through (they keep
//! the graph connected) but never enter the results; this is how filters are applied during
//! traversal.

use std::cell::RefCell;
use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashMap};
use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::Path;

use super::codec::{self, invalid};
use super::distance::{key_to_score, order_key};
use super::vectors::DenseVectors;
use super::ScoredOffset;

const MAGIC: &[u8; 8] = b"GRAPEHNS";
/// `levels[offset]` for an offset that is not in the graph.
const ABSENT: u8 = u8::MAX;
const MAX_LEVEL: u8 = 16;

pub struct HnswIndex {
    m: usize,
    /// Neighbours per node on layer 0 (twice `m`, as in the paper).
    m0: usize,
    ef_construct: usize,
    seed: u64,
    levels: Vec<u8>,
    /// `m0 + 1` slots per offset: the neighbour count, then the neighbours.
    layer0: Vec<u32>,
    /// Neighbours on layers `1..=level` of the nodes above layer 0.
    upper: HashMap<u32, Vec<Vec<u32>>>,
    entry: Option<u32>,
    nodes: usize,
}

/// A node and its order key (lower is closer).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Candidate {
    key: f32,
    offset: u32,
}

impl Eq for Candidate {}

impl Ord for Candidate {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key
            .total_cmp(&other.key)
            .then(self.offset.cmp(&other.offset))
    }
}

impl PartialOrd for Candidate {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl HnswIndex {
    pub fn new(m: usize, ef_construct: usize, seed: u64) -> Self {
        let m = m.max(2);
        HnswIndex {
            m,
            m0: 2 * m,
            ef_construct: ef_construct.max(1),
            seed,
            levels: Vec::new(),
            layer0: Vec::new(),
            upper: HashMap::new(),
            entry: None,
            nodes: 0,
        }
    }

    /// Number of offsets in the graph.
    pub fn len(&self) -> usize {
        self.nodes
    }

    pub fn is_empty(&self) -> bool {
        self.nodes == 0
    }

    pub fn contains(&self, offset: u32) -> bool {
        self.levels
            .get(offset as usize)
            .is_some_and(|&l| l != ABSENT)
    }

    /// Bytes held by the graph's adjacency lists.
    pub fn memory_bytes(&self) -> usize {
        let upper: usize = self
            .upper
            .values()
            .flatten()
            .map(|l| l.capacity() * 4 + 24)
            .sum();
        self.layer0.capacity() * 4 + self.levels.capacity() + upper
    }

    /// Adds offsets (already stored in `vectors`) to the graph, in order.
    pub fn insert_batch(&mut self, vectors: &DenseVectors, offsets: &[u32]) {
        for &offset in offsets {
            if !self.contains(offset) {
                self.insert(vectors, offset);
            }
        }
    }

    /// The `top` nearest accepted offsets to `query` (already preprocessed), best first,
    /// exploring `ef` candidates on layer 0.
    pub fn search(
        &self,
        vectors: &DenseVectors,
        query: &[f32],
        top: usize,
        ef: usize,
        accept: &dyn Fn(u32) -> bool,
    ) -> Vec<ScoredOffset> {
        let Some(entry) = self.entry else {
            return Vec::new();
        };
        let distance = vectors.distance();
        let key = |o: u32| order_key(distance, query, vectors.get(o));
        let mut nearest = Candidate {
            key: key(entry),
            offset: entry,
        };
        for level in (1..=self.levels[entry as usize]).rev() {
            nearest = self.greedy(level, nearest, &key);
        }
        let found = self.search_layer(0, &[nearest], ef.max(top), &key, Some(accept));
        found
            .into_iter()
            .take(top)
            .map(|c| ScoredOffset {
                offset: c.offset,
                score: key_to_score(distance, c.key),
            })
            .collect()
    }

    fn insert(&mut self, vectors: &DenseVectors, offset: u32) {
        let level = self.draw_level(offset);
        self.make_room(offset);
        self.levels[offset as usize] = level;
        if level > 0 {
            self.upper.insert(offset, vec![Vec::new(); level as usize]);
        }
        self.nodes += 1;
        let Some(entry) = self.entry else {
            self.entry = Some(offset);
            return;
        };

        let distance = vectors.distance();
        let query = vectors.get(offset);
        let key = |o: u32| order_key(distance, query, vectors.get(o));
        let top_level = self.levels[entry as usize];
        let mut nearest = Candidate {
            key: key(entry),
            offset: entry,
        };
        for l in (level.saturating_add(1)..=top_level).rev() {
            nearest = self.greedy(l, nearest, &key);
        }
        let mut entries = vec![nearest];
        for l in (0..=level.min(top_level)).rev() {
            let found = self.search_layer(l, &entries, self.ef_construct, &key, None);
            let chosen = self.select_neighbours(vectors, &found, self.max_links(l));
            self.set_links(offset, l, &chosen);
            for &neighbour in &chosen {
                self.link_back(vectors, neighbour, offset, l);
            }
            entries = found;
        }
        if level > top_level {
            self.entry = Some(offset);
        }
    }

    /// Level from a hash of the offset: P(level ≥ l) = m^-l.
    fn draw_level(&self, offset: u32) -> u8 {
        let bits = splitmix64(self.seed ^ u64::from(offset).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        // Uniform in (0, 1]: never zero, so the logarithm is finite.
        let uniform = ((bits >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
        let level = (-uniform.ln() / (self.m as f64).ln()).floor();
        (level as u8).min(MAX_LEVEL)
    }

    fn make_room(&mut self, offset: u32) {
        let needed = offset as usize + 1;
        if self.levels.len() < needed {
            self.levels.resize(needed, ABSENT);
            self.layer0.resize(needed * (self.m0 + 1), 0);
        }
    }

    fn max_links(&self, level: u8) -> usize {
        if level == 0 {
            self.m0
        } else {
            self.m
        }
    }

    fn links(&self, offset: u32, level: u8) -> &[u32] {
        if level == 0 {
            let start = offset as usize * (self.m0 + 1);
            let count = self.layer0[start] as usize;
            &self.layer0[start + 1..start + 1 + count]
        } else {
            &self.upper[&offset][level as usize - 1]
        }
    }

    fn set_links(&mut self, offset: u32, level: u8, links: &[u32]) {
        if level == 0 {
            let start = offset as usize * (self.m0 + 1);
            self.layer0[start] = links.len() as u32;
            self.layer0[start + 1..start + 1 + links.len()].copy_from_slice(links);
        } else if let Some(layers) = self.upper.get_mut(&offset) {
            layers[level as usize - 1] = links.to_vec();
        }
    }

    /// Adds `new` to `node`'s links, pruning with the heuristic when the list is full.
    fn link_back(&mut self, vectors: &DenseVectors, node: u32, new: u32, level: u8) {
        let limit = self.max_links(level);
        let mut links = self.links(node, level).to_vec();
        if links.contains(&new) {
            return;
        }
        if links.len() < limit {
            links.push(new);
        } else {
            let distance = vectors.distance();
            let base = vectors.get(node);
            let mut candidates: Vec<Candidate> = links
                .iter()
                .chain([&new])
                .map(|&o| Candidate {
                    key: order_key(distance, base, vectors.get(o)),
                    offset: o,
                })
                .collect();
            candidates.sort();
            links = self.select_neighbours(vectors, &candidates, limit);
        }
        self.set_links(node, level, &links);
    }

    /// The neighbour-selection heuristic: walking candidates from the closest, keep one only
    /// if it is closer to the base than to every neighbour kept so far. This keeps links
    /// pointing in diverse directions, which holds clustered data together.
    fn select_neighbours(
        &self,
        vectors: &DenseVectors,
        sorted: &[Candidate],
        limit: usize,
    ) -> Vec<u32> {
        let distance = vectors.distance();
        let mut chosen: Vec<u32> = Vec::with_capacity(limit);
        for candidate in sorted {
            if chosen.len() == limit {
                break;
            }
            let v = vectors.get(candidate.offset);
            let diverse = chosen
                .iter()
                .all(|&c| order_key(distance, v, vectors.get(c)) > candidate.key);
            if diverse {
                chosen.push(candidate.offset);
            }
        }
        chosen
    }

    /// Moves to ever closer neighbours on one layer until none is closer.
    fn greedy(&self, level: u8, start: Candidate, key: &dyn Fn(u32) -> f32) -> Candidate {
        let mut best = start;
        loop {
            let mut improved = false;
            for &n in self.links(best.offset, level) {
                let k = key(n);
                if k < best.key {
                    best = Candidate { key: k, offset: n };
                    improved = true;
                }
            }
            if !improved {
                return best;
            }
        }
    }

    /// Best-first search of one layer; returns up to `ef` accepted nodes, closest first.
    fn search_layer(
        &self,
        level: u8,
        entries: &[Candidate],
        ef: usize,
        key: &dyn Fn(u32) -> f32,
        accept: Option<&dyn Fn(u32) -> bool>,
    ) -> Vec<Candidate> {
        let accepts = |o: u32| accept.is_none_or(|f| f(o));
        VISITED.with(|visited| {
            let mut visited = visited.borrow_mut();
            visited.start(self.levels.len());
            let mut frontier: BinaryHeap<Reverse<Candidate>> = BinaryHeap::new();
            let mut results: BinaryHeap<Candidate> = BinaryHeap::new();
            for &e in entries {
                if visited.insert(e.offset) {
                    frontier.push(Reverse(e));
                    if accepts(e.offset) {
                        results.push(e);
                    }
                }
            }
            while results.len() > ef {
                results.pop();
            }
            while let Some(Reverse(current)) = frontier.pop() {
                let full = results.len() >= ef;
                if full && results.peek().is_some_and(|worst| current.key > worst.key) {
                    break;
                }
                for &n in self.links(current.offset, level) {
                    if !visited.insert(n) {
                        continue;
                    }
                    let candidate = Candidate {
                        key: key(n),
                        offset: n,
                    };
                    let worst = results.peek().map_or(f32::INFINITY, |w| w.key);
                    if results.len() < ef || candidate.key < worst {
                        frontier.push(Reverse(candidate));
                        if accepts(n) {
                            results.push(candidate);
                            if results.len() > ef {
                                results.pop();
                            }
                        }
                    }
                }
            }
            results.into_sorted_vec()
        })
    }

    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let mut w = BufWriter::new(File::create(path)?);
        codec::write_magic(&mut w, MAGIC)?;
        for v in [self.m, self.ef_construct] {
            codec::write_u64(&mut w, v as u64)?;
        }
        codec::write_u64(&mut w, self.seed)?;
        codec::write_u64(&mut w, self.entry.map_or(u64::MAX, u64::from))?;
        codec::write_u8s(&mut w, &self.levels)?;
        codec::write_u32s(&mut w, &self.layer0)?;
        let mut upper: Vec<_> = self.upper.iter().collect();
        upper.sort_by_key(|(offset, _)| **offset);
        codec::write_u64(&mut w, upper.len() as u64)?;
        for (offset, layers) in upper {
            codec::write_u64(&mut w, u64::from(*offset))?;
            codec::write_u64(&mut w, layers.len() as u64)?;
            for links in layers {
                codec::write_u32s(&mut w, links)?;
            }
        }
        w.into_inner().map_err(|e| e.into_error())?.sync_all()
    }

    pub fn load(path: &Path) -> std::io::Result<Self> {
        let mut r = BufReader::new(File::open(path)?);
        codec::read_magic(&mut r, MAGIC)?;
        let m = codec::read_usize(&mut r)?;
        let ef_construct = codec::read_usize(&mut r)?;
        let seed = codec::read_u64(&mut r)?;
        let entry = match codec::read_u64(&mut r)? {
            u64::MAX => None,
            e => Some(u32::try_from(e).map_err(|_| invalid("entry point out of range"))?),
        };
        let mut index = HnswIndex::new(m, ef_construct, seed);
        index.entry = entry;
        index.levels = codec::read_u8s(&mut r)?;
        index.layer0 = codec::read_u32s(&mut r)?;
        let upper_nodes = codec::read_usize(&mut r)?;
        for _ in 0..upper_nodes {
            let offset = u32::try_from(codec::read_u64(&mut r)?)
                .map_err(|_| invalid("offset out of range"))?;
            let count = codec::read_usize(&mut r)?.min(MAX_LEVEL as usize);
            let layers = (0..count)
                .map(|_| codec::read_u32s(&mut r))
                .collect::<std::io::Result<Vec<_>>>()?;
            index.upper.insert(offset, layers);
        }
        index.nodes = index.levels.iter().filter(|&&l| l != ABSENT).count();
        index.check_consistency()?;
        Ok(index)
    }

    /// Refuses a loaded graph whose arrays disagree (a damaged file must not panic later).
    fn check_consistency(&self) -> std::io::Result<()> {
        let n = self.levels.len();
        if self.layer0.len() != n * (self.m0 + 1) {
            return Err(invalid("layer 0 size does not match the node count"));
        }
        if self.entry.is_some_and(|e| !self.contains(e)) {
            return Err(invalid("entry point is not in the graph"));
        }
        let in_range = |links: &[u32]| links.iter().all(|&o| self.contains(o));
        for offset in 0..n as u32 {
            let level = self.levels[offset as usize];
            if level == ABSENT {
                continue;
            }
            let start = offset as usize * (self.m0 + 1);
            let count = self.layer0[start] as usize;
            if count > self.m0 || !in_range(&self.layer0[start + 1..start + 1 + count]) {
                return Err(invalid(format!("bad layer-0 links at offset {offset}")));
            }
            let upper_ok = match self.upper.get(&offset) {
                None => level == 0,
                Some(layers) => {
                    layers.len() == level as usize && layers.iter().all(|l| in_range(l))
                }
            };
            if !upper_ok {
                return Err(invalid(format!("bad upper links at offset {offset}")));
            }
        }
        Ok(())
    }
}

fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

thread_local! {
    static VISITED: RefCell<VisitedSet> = RefCell::new(VisitedSet::default());
}

/// Which offsets a search has seen, reset in O(1) by bumping a generation number.
#[derive(Default)]
struct VisitedSet {
    marks: Vec<u16>,
    generation: u16,
}

impl VisitedSet {
    fn start(&mut self, len: usize) {
        if self.marks.len() < len {
            self.marks.resize(len, 0);
        }
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            self.marks.iter_mut().for_each(|m| *m = 0);
            self.generation = 1;
        }
    }

    /// Marks `offset`; false when it was already marked in this generation.
    fn insert(&mut self, offset: u32) -> bool {
        let mark = &mut self.marks[offset as usize];
        let fresh = *mark != self.generation;
        *mark = self.generation;
        fresh
    }
}
