//! The HNSW graph (Malkov & Yashunin) over the offsets of one vector space.
//!
//! Every node's links on a layer are a fixed block of slots (a count, then the neighbours);
//! layer 0 is one flat array, so the hot loop of a search touches contiguous memory. Slots
//! are atomics: searches read them without locks (plain loads on x86), while a batch is
//! inserted by several threads that serialize writes to a node's block through striped
//! locks. Levels are drawn from a hash of `(seed, offset)`, so a single-threaded build of
//! the same offsets in the same order always yields the same graph.
//!
//! Search takes an `accept` predicate: rejected nodes are still walked through (they keep
//! the graph connected) but never enter the results; this is how filters are applied during
//! traversal.

use std::cell::RefCell;
use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::Path;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::sync::atomic::{AtomicU32, AtomicUsize};

use parking_lot::Mutex;

use super::codec::{self, invalid};
use super::distance::order_key;
use super::vectors::DenseVectors;
use super::{to_scores, KeyedOffset, ScoredOffset};

const MAGIC: &[u8; 8] = b"GRAPEHNS";
/// `levels[offset]` for an offset that is not in the graph.
const ABSENT: u8 = u8::MAX;
const MAX_LEVEL: u8 = 16;
/// `entry` when the graph is empty.
const NO_ENTRY: u32 = u32::MAX;
/// Number of striped locks guarding writes to link blocks.
const LOCK_STRIPES: usize = 4096;
/// Batches smaller than this are inserted on the calling thread.
const PARALLEL_MIN_BATCH: usize = 256;

pub struct HnswIndex {
    m: usize,
    /// Neighbours per node on layer 0 (twice `m`, as in the paper).
    m0: usize,
    ef_construct: usize,
    seed: u64,
    /// Threads used to insert a large batch (1: sequential and deterministic).
    threads: usize,
    levels: Vec<u8>,
    /// `m0 + 1` slots per offset: the neighbour count, then the neighbours.
    layer0: Vec<AtomicU32>,
    /// For nodes above layer 0: `m + 1` slots per layer `1..=level`.
    upper: Vec<Option<Box<[AtomicU32]>>>,
    entry: AtomicU32,
    /// Held while the entry point may change.
    entry_lock: Mutex<()>,
    locks: Box<[Mutex<()>]>,
    nodes: usize,
}

/// What a walk orders nodes by: a key per node (lower is closer), and a hint to fetch what
/// the key reads before it is asked for, so the cache misses of a node's neighbours overlap.
/// Walks are generic over it, so the key's kernel is inlined into the walk's loop.
pub trait WalkKey {
    fn key(&self, offset: u32) -> f32;

    #[inline]
    fn prefetch(&self, _offset: u32) {}
}

/// The exact order key over stored vectors, fetched ahead by the walk.
struct ExactKey<'a> {
    vectors: &'a DenseVectors,
    query: &'a [f32],
}

impl WalkKey for ExactKey<'_> {
    #[inline]
    fn key(&self, offset: u32) -> f32 {
        order_key(
            self.vectors.distance(),
            self.query,
            self.vectors.get(offset),
        )
    }

    #[inline]
    fn prefetch(&self, offset: u32) {
        self.vectors.prefetch(offset);
    }
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
    /// A graph with `m` links per node (twice that on layer 0), building with an
    /// `ef_construct`-wide search, inserting large batches on `threads` threads (0: one per
    /// core, as Qdrant's `max_indexing_threads`).
    pub fn new(m: usize, ef_construct: usize, seed: u64, threads: usize) -> Self {
        let m = m.max(2);
        let threads = match threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        HnswIndex {
            m,
            m0: 2 * m,
            ef_construct: ef_construct.max(1),
            seed,
            threads,
            levels: Vec::new(),
            layer0: Vec::new(),
            upper: Vec::new(),
            entry: AtomicU32::new(NO_ENTRY),
            entry_lock: Mutex::new(()),
            locks: (0..LOCK_STRIPES).map(|_| Mutex::new(())).collect(),
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
        let upper: usize = self.upper.iter().flatten().map(|b| b.len() * 4).sum();
        (self.layer0.capacity() + self.upper.capacity() * 2) * 4 + self.levels.capacity() + upper
    }

    /// Adds offsets (already stored in `vectors`) to the graph. Large batches are linked by
    /// several threads at once.
    pub fn insert_batch(&mut self, vectors: &DenseVectors, offsets: &[u32]) {
        let mut new: Vec<u32> = offsets
            .iter()
            .copied()
            .filter(|&o| !self.contains(o))
            .collect();
        new.dedup();
        let Some(&max) = new.iter().max() else {
            return;
        };
        self.make_room(max);
        for &offset in &new {
            let level = self.draw_level(offset);
            self.levels[offset as usize] = level;
            if level > 0 {
                let slots = level as usize * (self.m + 1);
                self.upper[offset as usize] = Some((0..slots).map(|_| AtomicU32::new(0)).collect());
            }
            self.nodes += 1;
        }
        let mut rest = new.as_slice();
        if self.entry.load(Relaxed) == NO_ENTRY {
            self.entry.store(new[0], Relaxed);
            rest = &new[1..];
        }
        let graph = &*self;
        if graph.threads <= 1 || rest.len() < PARALLEL_MIN_BATCH {
            rest.iter().for_each(|&o| graph.link(vectors, o));
            return;
        }
        let next = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..graph.threads {
                s.spawn(|| {
                    while let Some(&o) = rest.get(next.fetch_add(1, Relaxed)) {
                        graph.link(vectors, o);
                    }
                });
            }
        });
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
        let key = ExactKey { vectors, query };
        to_scores(vectors.distance(), self.search_by(&key, top, ef, accept))
    }

    /// The `top` accepted offsets of lowest `key`, closest first, exploring `ef` candidates
    /// on layer 0. The key may be an approximation (quantized codes) of the order key.
    pub fn search_by(
        &self,
        key: &impl WalkKey,
        top: usize,
        ef: usize,
        accept: &dyn Fn(u32) -> bool,
    ) -> Vec<KeyedOffset> {
        let entry = self.entry.load(Relaxed);
        if entry == NO_ENTRY {
            return Vec::new();
        }
        let mut nearest = Candidate {
            key: key.key(entry),
            offset: entry,
        };
        for level in (1..=self.levels[entry as usize]).rev() {
            nearest = self.greedy(level, nearest, key);
        }
        let found = self.search_layer(0, &[nearest], ef.max(top), key, accept);
        found
            .into_iter()
            .take(top)
            .map(|c| KeyedOffset {
                offset: c.offset,
                key: c.key,
            })
            .collect()
    }

    /// Connects a node whose level is already set to the rest of the graph.
    fn link(&self, vectors: &DenseVectors, offset: u32) {
        let level = self.levels[offset as usize];
        let query = vectors.get(offset);
        let key = ExactKey { vectors, query };
        let entry = self.entry.load(Acquire);
        let top_level = self.levels[entry as usize];
        let mut nearest = Candidate {
            key: key.key(entry),
            offset: entry,
        };
        for l in (level.saturating_add(1)..=top_level).rev() {
            nearest = self.greedy(l, nearest, &key);
        }
        let mut entries = vec![nearest];
        for l in (0..=level.min(top_level)).rev() {
            let mut found = self.search_layer(l, &entries, self.ef_construct, &key, |_| true);
            found.retain(|c| c.offset != offset);
            let chosen = self.select_neighbours(vectors, &found, self.max_links(l));
            {
                let _guard = self.lock(offset);
                self.set_links(offset, l, &chosen);
            }
            for &neighbour in &chosen {
                self.link_back(vectors, neighbour, offset, l);
            }
            entries = found;
        }
        if level > top_level {
            let _guard = self.entry_lock.lock();
            let current = self.entry.load(Relaxed);
            if level > self.levels[current as usize] {
                self.entry.store(offset, Release);
            }
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
            self.layer0
                .resize_with(needed * (self.m0 + 1), || AtomicU32::new(0));
            self.upper.resize_with(needed, || None);
        }
    }

    fn lock(&self, offset: u32) -> parking_lot::MutexGuard<'_, ()> {
        self.locks[offset as usize % LOCK_STRIPES].lock()
    }

    fn max_links(&self, level: u8) -> usize {
        if level == 0 {
            self.m0
        } else {
            self.m
        }
    }

    /// The block of slots holding a node's links on a layer: a count, then neighbours.
    fn block(&self, offset: u32, level: u8) -> &[AtomicU32] {
        if level == 0 {
            let start = offset as usize * (self.m0 + 1);
            &self.layer0[start..start + self.m0 + 1]
        } else {
            let start = (level as usize - 1) * (self.m + 1);
            match &self.upper[offset as usize] {
                Some(layers) => &layers[start..start + self.m + 1],
                None => &[],
            }
        }
    }

    /// Calls `f` with each neighbour of a node on a layer.
    #[inline]
    fn for_each_link(&self, offset: u32, level: u8, f: impl FnMut(u32)) {
        self.link_slots(offset, level)
            .iter()
            .map(|l| l.load(Relaxed))
            .for_each(f);
    }

    /// The filled link slots of a node on a layer.
    #[inline]
    fn link_slots(&self, offset: u32, level: u8) -> &[AtomicU32] {
        let block = self.block(offset, level);
        let Some((count, links)) = block.split_first() else {
            return &[];
        };
        let count = (count.load(Acquire) as usize).min(links.len());
        &links[..count]
    }

    fn links(&self, offset: u32, level: u8) -> Vec<u32> {
        let mut out = Vec::with_capacity(self.max_links(level));
        self.for_each_link(offset, level, |n| out.push(n));
        out
    }

    /// Replaces a node's links on a layer; the caller holds the node's lock.
    fn set_links(&self, offset: u32, level: u8, links: &[u32]) {
        let block = self.block(offset, level);
        if let Some((count, slots)) = block.split_first() {
            let n = links.len().min(slots.len());
            for (slot, &link) in slots.iter().zip(&links[..n]) {
                slot.store(link, Relaxed);
            }
            count.store(n as u32, Release);
        }
    }

    /// Adds `new` to `node`'s links, pruning with the heuristic when the list is full.
    fn link_back(&self, vectors: &DenseVectors, node: u32, new: u32, level: u8) {
        let limit = self.max_links(level);
        let _guard = self.lock(node);
        let mut links = self.links(node, level);
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
    fn greedy(&self, level: u8, start: Candidate, key: &impl WalkKey) -> Candidate {
        let mut best = start;
        loop {
            let before = best.offset;
            let from = best.offset;
            self.for_each_link(from, level, |n| {
                let k = key.key(n);
                if k < best.key {
                    best = Candidate { key: k, offset: n };
                }
            });
            if best.offset == before {
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
        key: &impl WalkKey,
        accepts: impl Fn(u32) -> bool,
    ) -> Vec<Candidate> {
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
                let links = self.link_slots(current.offset, level);
                for link in links {
                    let n = link.load(Relaxed);
                    if !visited.contains(n) {
                        key.prefetch(n);
                    }
                }
                links.iter().for_each(|link| {
                    let n = link.load(Relaxed);
                    if !visited.insert(n) {
                        return;
                    }
                    let candidate = Candidate {
                        key: key.key(n),
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
                });
            }
            results.into_sorted_vec()
        })
    }

    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let mut w = BufWriter::new(File::create(path)?);
        codec::write_magic(&mut w, MAGIC)?;
        for v in [self.m, self.ef_construct, self.threads] {
            codec::write_u64(&mut w, v as u64)?;
        }
        codec::write_u64(&mut w, self.seed)?;
        codec::write_u64(&mut w, u64::from(self.entry.load(Relaxed)))?;
        codec::write_u8s(&mut w, &self.levels)?;
        codec::write_u32s(&mut w, &plain(&self.layer0))?;
        let upper: Vec<(usize, &Box<[AtomicU32]>)> = self
            .upper
            .iter()
            .enumerate()
            .filter_map(|(o, b)| Some((o, b.as_ref()?)))
            .collect();
        codec::write_u64(&mut w, upper.len() as u64)?;
        for (offset, block) in upper {
            codec::write_u64(&mut w, offset as u64)?;
            codec::write_u32s(&mut w, &plain(block))?;
        }
        w.into_inner().map_err(|e| e.into_error())?.sync_all()
    }

    pub fn load(path: &Path) -> std::io::Result<Self> {
        let mut r = BufReader::new(File::open(path)?);
        codec::read_magic(&mut r, MAGIC)?;
        let m = codec::read_usize(&mut r)?;
        let ef_construct = codec::read_usize(&mut r)?;
        let threads = codec::read_usize(&mut r)?;
        let seed = codec::read_u64(&mut r)?;
        let entry = u32::try_from(codec::read_u64(&mut r)?)
            .map_err(|_| invalid("entry point out of range"))?;
        let mut index = HnswIndex::new(m, ef_construct, seed, threads);
        index.entry = AtomicU32::new(entry);
        index.levels = codec::read_u8s(&mut r)?;
        index.layer0 = atomic(codec::read_u32s(&mut r)?);
        index.upper.resize_with(index.levels.len(), || None);
        let upper_nodes = codec::read_usize(&mut r)?;
        for _ in 0..upper_nodes {
            let offset = codec::read_usize(&mut r)?;
            let block = atomic(codec::read_u32s(&mut r)?).into_boxed_slice();
            let slot = index
                .upper
                .get_mut(offset)
                .ok_or_else(|| invalid("upper-layer offset out of range"))?;
            *slot = Some(block);
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
        let entry = self.entry.load(Relaxed);
        if (entry == NO_ENTRY) != (self.nodes == 0) || (entry != NO_ENTRY && !self.contains(entry))
        {
            return Err(invalid("entry point is not in the graph"));
        }
        for offset in 0..n as u32 {
            let level = self.levels[offset as usize];
            if level == ABSENT {
                continue;
            }
            let expected = level as usize * (self.m + 1);
            let upper_len = self.upper[offset as usize].as_ref().map_or(0, |b| b.len());
            if upper_len != expected {
                return Err(invalid(format!("bad upper links at offset {offset}")));
            }
            for l in 0..=level {
                let block = self.block(offset, l);
                let count = block[0].load(Relaxed) as usize;
                let links_ok = count < block.len()
                    && block[1..=count]
                        .iter()
                        .all(|s| self.contains(s.load(Relaxed)));
                if !links_ok {
                    return Err(invalid(format!("bad links at offset {offset}, layer {l}")));
                }
            }
        }
        Ok(())
    }
}

fn plain(slots: &[AtomicU32]) -> Vec<u32> {
    slots.iter().map(|s| s.load(Relaxed)).collect()
}

fn atomic(values: Vec<u32>) -> Vec<AtomicU32> {
    values.into_iter().map(AtomicU32::new).collect()
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

    fn contains(&self, offset: u32) -> bool {
        self.marks[offset as usize] == self.generation
    }

    /// Marks `offset`; false when it was already marked in this generation.
    fn insert(&mut self, offset: u32) -> bool {
        let mark = &mut self.marks[offset as usize];
        let fresh = *mark != self.generation;
        *mark = self.generation;
        fresh
    }
}
