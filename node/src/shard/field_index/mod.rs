//! Payload field indexes of a shard: for an indexed key, which offsets hold which value.
//!
//! They are derived state (rebuilt from the payloads when a shard opens or an index is
//! created, never logged), maintained on every write. An index answers the conditions on its
//! key it can with a set of offsets that is either exact or a superset of the matching
//! points ([`Answer`]); the filter itself stays the reference and is checked on the points of
//! a superset.
//!
//! Each index type keeps the posting lists its schema asks for: exact values (keyword, uuid,
//! bool, integer `lookup`), numbers in order (integer `range`, float, datetime), tokens
//! (text) or geo cells (geo).

mod filter;
mod geo;
mod indexes;
mod postings;
mod schema;

use roaring::RoaringBitmap;
use serde_json::Value;

use crate::filter::{
    parse_datetime, AnyVariants, FieldCondition, GeoPoint, Match, MatchValue, Range, RangeBound,
    Tokenizer,
};
use crate::payload::JsonPath;
use crate::types::Payload;

pub use filter::answer as filter_answer;
pub use indexes::FieldIndexes;
pub use postings::union;
pub use schema::{FieldSchema, SchemaError};

use postings::Postings;

/// A value as an exact-match index keys it.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum Key {
    Text(String),
    Integer(i64),
    Bool(bool),
}

/// A number with a total order (and `-0 = 0`), for range lookups.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Number(pub f64);

impl Number {
    fn new(x: f64) -> Number {
        Number(x + 0.0)
    }
}

impl Eq for Number {}

impl PartialOrd for Number {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Number {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// What an index knows about a condition: the offsets that may match (`None`: any point),
/// and whether exactly those match.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub set: Option<RoaringBitmap>,
    pub exact: bool,
}

impl Answer {
    pub fn everything(exact: bool) -> Answer {
        Answer { set: None, exact }
    }

    pub fn exact(set: RoaringBitmap) -> Answer {
        Answer {
            set: Some(set),
            exact: true,
        }
    }

    pub fn superset(set: RoaringBitmap) -> Answer {
        Answer {
            set: Some(set),
            exact: false,
        }
    }

    /// Both conditions hold.
    pub fn and(self, other: Answer) -> Answer {
        let set = match (self.set, other.set) {
            (Some(a), Some(b)) => Some(a & b),
            (a, b) => a.or(b),
        };
        Answer {
            set,
            exact: self.exact && other.exact,
        }
    }
}

/// The values of one payload, as an index keys them.
#[derive(Default)]
struct Entries {
    keys: Vec<Key>,
    numbers: Vec<Number>,
    tokens: Vec<String>,
    cells: Vec<u64>,
    non_empty: bool,
}

impl Entries {
    fn indexed(&self) -> bool {
        !(self.keys.is_empty()
            && self.numbers.is_empty()
            && self.tokens.is_empty()
            && self.cells.is_empty())
    }
}

pub struct FieldIndex {
    pub path: JsonPath,
    pub schema: FieldSchema,
    keys: Postings<Key>,
    numbers: Postings<Number>,
    tokens: Postings<String>,
    cells: Postings<u64>,
    /// Points holding at least one value of the indexed type (`payload_schema.points`).
    points: RoaringBitmap,
    /// Points with a non-null value of any type at the path (answers `is_empty`).
    non_empty: RoaringBitmap,
}

impl FieldIndex {
    pub fn new(path: JsonPath, schema: FieldSchema) -> FieldIndex {
        FieldIndex {
            path,
            schema,
            keys: Postings::default(),
            numbers: Postings::default(),
            tokens: Postings::default(),
            cells: Postings::default(),
            points: RoaringBitmap::new(),
            non_empty: RoaringBitmap::new(),
        }
    }

    /// Number of points holding a value of the indexed type.
    pub fn points(&self) -> u64 {
        self.points.len()
    }

    /// The tokenizer of a text index.
    pub fn tokenizer(&self) -> Option<&Tokenizer> {
        match &self.schema {
            FieldSchema::Text(t) => Some(t),
            _ => None,
        }
    }

    pub fn add(&mut self, offset: u32, payload: &Payload) {
        let entries = self.entries(payload);
        if entries.non_empty {
            self.non_empty.insert(offset);
        }
        if entries.indexed() {
            self.points.insert(offset);
        }
        entries
            .keys
            .into_iter()
            .for_each(|k| self.keys.insert(k, offset));
        entries
            .numbers
            .into_iter()
            .for_each(|n| self.numbers.insert(n, offset));
        entries
            .tokens
            .into_iter()
            .for_each(|t| self.tokens.insert(t, offset));
        entries
            .cells
            .into_iter()
            .for_each(|c| self.cells.insert(c, offset));
    }

    pub fn remove(&mut self, offset: u32, payload: &Payload) {
        let entries = self.entries(payload);
        entries
            .keys
            .iter()
            .for_each(|k| self.keys.remove(k, offset));
        entries
            .numbers
            .iter()
            .for_each(|n| self.numbers.remove(n, offset));
        entries
            .tokens
            .iter()
            .for_each(|t| self.tokens.remove(t, offset));
        entries
            .cells
            .iter()
            .for_each(|c| self.cells.remove(c, offset));
        self.points.remove(offset);
        self.non_empty.remove(offset);
    }

    /// The exact-match keys of a payload (for the value graphs).
    pub fn keys_of(&self, payload: &Payload) -> Vec<Key> {
        self.entries(payload).keys
    }

    /// The points holding an exact-match key.
    pub fn key_points(&self, key: &Key) -> Option<&RoaringBitmap> {
        self.keys.get(key)
    }

    /// Exact-match keys and their points, in key order.
    pub fn key_postings(&self) -> impl Iterator<Item = (&Key, &RoaringBitmap)> {
        self.keys.iter()
    }

    /// Numbers and their points from `start` (inclusive) on, ascending or descending.
    pub fn numbers_from(
        &self,
        start: Option<f64>,
        descending: bool,
    ) -> Box<dyn Iterator<Item = (f64, &RoaringBitmap)> + '_> {
        use std::ops::Bound::{Included, Unbounded};
        let from = start.map_or(Unbounded, |s| Included(Number::new(s)));
        let pairs = |(n, set): (&Number, _)| (n.0, set);
        if descending {
            Box::new(self.numbers.range((Unbounded, from)).rev().map(pairs))
        } else {
            Box::new(self.numbers.range((from, Unbounded)).map(pairs))
        }
    }

    fn entries(&self, payload: &Payload) -> Entries {
        let mut out = Entries::default();
        for value in self.path.values(payload) {
            if value.is_null() {
                continue;
            }
            out.non_empty = true;
            match (&self.schema, value) {
                (FieldSchema::Keyword { .. } | FieldSchema::Uuid, Value::String(s)) => {
                    out.keys.push(Key::Text(s.clone()))
                }
                (FieldSchema::Integer { lookup, range, .. }, Value::Number(n)) => {
                    if let (true, Some(i)) = (lookup, n.as_i64()) {
                        out.keys.push(Key::Integer(i));
                    }
                    // Floats too: a range condition on the key accepts them.
                    if let (true, Some(x)) = (range, n.as_f64()) {
                        out.numbers.push(Number::new(x));
                    }
                }
                (FieldSchema::Float, Value::Number(n)) => {
                    out.numbers.extend(n.as_f64().map(Number::new))
                }
                (FieldSchema::Bool, Value::Bool(b)) => out.keys.push(Key::Bool(*b)),
                (FieldSchema::Datetime, Value::String(s)) => out
                    .numbers
                    .extend(parse_datetime(s).map(|d| Number::new(d.0 as f64))),
                (FieldSchema::Text(tokenizer), Value::String(s)) => {
                    out.tokens.extend(tokenizer.document_tokens(s))
                }
                (FieldSchema::Geo, value) => out
                    .cells
                    .extend(GeoPoint::from_payload(value).map(|p| geo::cell_of(&p))),
                _ => {}
            }
        }
        out
    }

    /// What this index knows about a field condition on its key (`None`: another key). Each
    /// predicate the index can answer narrows the set; one it cannot makes it a superset.
    pub fn answer(&self, field: &FieldCondition, live: &RoaringBitmap) -> Option<Answer> {
        if field.key != self.path {
            return None;
        }
        let mut answer = Answer::everything(true);
        let mut narrow = |part: Option<Answer>| {
            let part = part.unwrap_or(Answer::everything(false));
            answer = std::mem::replace(&mut answer, Answer::everything(true)).and(part);
        };
        if let Some(m) = &field.r#match {
            narrow(self.match_answer(m, live));
        }
        if let Some(range) = &field.range {
            narrow(self.range_answer(range));
        }
        let geo_boxes = [
            field
                .geo_bounding_box
                .as_ref()
                .map(geo::boxes_of_bounding_box),
            field.geo_radius.as_ref().map(geo::boxes_of_radius),
            field.geo_polygon.as_ref().map(geo::boxes_of_polygon),
        ];
        for boxes in geo_boxes.into_iter().flatten() {
            narrow(self.geo_answer(&boxes));
        }
        if let Some(empty) = field.is_empty {
            narrow(Some(self.emptiness(empty, live)));
        }
        if field.values_count.is_some() || field.is_null.is_some() {
            narrow(None);
        }
        Some(answer)
    }

    /// `is_empty`: the points without (true) or with (false) a value at the key.
    pub fn emptiness(&self, empty: bool, live: &RoaringBitmap) -> Answer {
        if empty {
            Answer::exact(live - &self.non_empty)
        } else {
            Answer::exact(self.non_empty.clone())
        }
    }

    fn match_answer(&self, m: &Match, live: &RoaringBitmap) -> Option<Answer> {
        if let Some(tokenizer) = self.tokenizer() {
            return self.text_answer(tokenizer, m);
        }
        let keys = |list: &AnyVariants| self.any_keys(list);
        match m {
            Match::Value(value) => {
                let key = self.value_key(value)?;
                Some(Answer::exact(
                    self.keys.get(&key).cloned().unwrap_or_default(),
                ))
            }
            Match::Any(list) => Some(Answer::exact(self.union_of(&keys(list)?))),
            Match::Except(list) => Some(Answer::exact(live - self.union_of(&keys(list)?))),
            Match::Text(_) | Match::TextAny(_) | Match::Phrase(_) => None,
        }
    }

    /// The key a `match: value` looks up, when this index holds values of its type.
    fn value_key(&self, value: &MatchValue) -> Option<Key> {
        match (value, &self.schema) {
            (MatchValue::Keyword(s), FieldSchema::Keyword { .. } | FieldSchema::Uuid) => {
                Some(Key::Text(s.clone()))
            }
            (MatchValue::Integer(i), FieldSchema::Integer { lookup: true, .. }) => {
                Some(Key::Integer(*i))
            }
            (MatchValue::Bool(b), FieldSchema::Bool) => Some(Key::Bool(*b)),
            _ => None,
        }
    }

    fn any_keys(&self, list: &AnyVariants) -> Option<Vec<Key>> {
        match (list, &self.schema) {
            (AnyVariants::Keywords(l), FieldSchema::Keyword { .. } | FieldSchema::Uuid) => {
                Some(l.iter().cloned().map(Key::Text).collect())
            }
            (AnyVariants::Integers(l), FieldSchema::Integer { lookup: true, .. }) => {
                Some(l.iter().copied().map(Key::Integer).collect())
            }
            _ => None,
        }
    }

    fn union_of(&self, keys: &[Key]) -> RoaringBitmap {
        union(keys.iter().filter_map(|k| self.keys.get(k)))
    }

    /// Token postings: all query tokens (`text`), any of them (`text_any`), or all of them
    /// as a superset of the points holding the phrase.
    fn text_answer(&self, tokenizer: &Tokenizer, m: &Match) -> Option<Answer> {
        let empty = RoaringBitmap::new();
        let posting = |t: &String| self.tokens.get(t).unwrap_or(&empty);
        let all = |query: &str| {
            let tokens = tokenizer.query_tokens(query);
            let mut sets = tokens.iter().map(posting);
            match sets.next() {
                Some(first) => sets.fold(first.clone(), |acc, s| acc & s),
                None => RoaringBitmap::new(),
            }
        };
        match m {
            Match::Text(query) => Some(Answer::exact(all(query))),
            Match::TextAny(query) => Some(Answer::exact(union(
                tokenizer.query_tokens(query).iter().map(posting),
            ))),
            Match::Phrase(query) => Some(Answer::superset(all(query))),
            _ => None,
        }
    }

    fn range_answer(&self, range: &Range) -> Option<Answer> {
        use std::ops::Bound::{Excluded, Included, Unbounded};
        if !self.schema.has_range() {
            return None;
        }
        let datetime = self.schema == FieldSchema::Datetime;
        let bound = |b: Option<RangeBound>| -> Option<Option<f64>> {
            match b {
                None => Some(None),
                Some(RangeBound::Number(x)) if !datetime => Some(Some(x)),
                Some(RangeBound::Datetime(d)) if datetime => Some(Some(d.0 as f64)),
                Some(_) => None,
            }
        };
        // The tighter of each side's bounds; at equal values the strict one.
        let side = |strict: Option<f64>, loose: Option<f64>, lower: bool| match (strict, loose) {
            (Some(s), Some(l)) if (lower && l > s) || (!lower && l < s) => Included(Number::new(l)),
            (Some(s), _) => Excluded(Number::new(s)),
            (None, Some(l)) => Included(Number::new(l)),
            (None, None) => Unbounded,
        };
        let low = side(bound(range.gt)?, bound(range.gte)?, true);
        let high = side(bound(range.lt)?, bound(range.lte)?, false);
        if is_empty_range(&low, &high) {
            return Some(Answer::exact(RoaringBitmap::new()));
        }
        let sets = self.numbers.range((low, high)).map(|(_, s)| s);
        Some(Answer::exact(union(sets)))
    }

    fn geo_answer(&self, boxes: &[geo::LatLonBox]) -> Option<Answer> {
        if self.schema != FieldSchema::Geo {
            return None;
        }
        let cells = geo::cover(boxes);
        let sets = cells
            .into_iter()
            .flat_map(|range| self.cells.range(range).map(|(_, s)| s));
        Some(Answer::superset(union(sets)))
    }
}

/// Would `(low, high)` make `BTreeMap::range` panic (start above end, or equal and not both
/// included)? Then no value lies within.
fn is_empty_range(low: &std::ops::Bound<Number>, high: &std::ops::Bound<Number>) -> bool {
    use std::ops::Bound::{Excluded, Included};
    match (low, high) {
        (Included(l), Included(h)) => l > h,
        (Included(l) | Excluded(l), Included(h) | Excluded(h)) => l >= h,
        _ => false,
    }
}

#[cfg(test)]
mod tests;
