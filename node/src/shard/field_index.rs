//! Payload field indexes of a shard: for an indexed key, which offsets hold which value.
//!
//! They are derived state (rebuilt from the payloads when a shard opens or an index is
//! created, never logged) used by the search planner to bound how many points a filter can
//! match, and to enumerate those points instead of scanning the shard.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;

use serde_json::Value;

use crate::filter::{
    parse_datetime, AnyVariants, Condition, Filter, Match, MatchValue, RangeBound,
};
use crate::payload::JsonPath;
use crate::types::Payload;

/// Qdrant's payload index types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexKind {
    Keyword,
    Integer,
    Float,
    Bool,
    Datetime,
    Uuid,
    /// Accepted and counted; not used to bound filters (geo, full-text).
    Other,
}

impl IndexKind {
    /// From Qdrant's `field_schema`: `"keyword"` or `{"type": "keyword", ...}`.
    pub fn from_schema(schema: &Value) -> IndexKind {
        let name = schema
            .as_str()
            .or_else(|| schema.get("type").and_then(Value::as_str))
            .unwrap_or_default();
        match name {
            "keyword" => IndexKind::Keyword,
            "integer" => IndexKind::Integer,
            "float" => IndexKind::Float,
            "bool" => IndexKind::Bool,
            "datetime" => IndexKind::Datetime,
            "uuid" => IndexKind::Uuid,
            _ => IndexKind::Other,
        }
    }
}

/// A value as an exact-match index keys it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    Text(String),
    Integer(i64),
    Bool(bool),
}

/// A number with a total order, for range lookups.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Number(f64);

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

pub struct FieldIndex {
    path: JsonPath,
    kind: IndexKind,
    by_key: BTreeMap<Key, BTreeSet<u32>>,
    by_number: BTreeMap<Number, BTreeSet<u32>>,
    /// Offsets holding at least one value at the path.
    points: BTreeSet<u32>,
}

impl FieldIndex {
    pub fn new(path: JsonPath, kind: IndexKind) -> FieldIndex {
        FieldIndex {
            path,
            kind,
            by_key: BTreeMap::new(),
            by_number: BTreeMap::new(),
            points: BTreeSet::new(),
        }
    }

    /// Number of points with a value at `path` if this index covers it, else 0.
    pub fn points_at(&self, path: &JsonPath) -> usize {
        if &self.path == path {
            self.points.len()
        } else {
            0
        }
    }

    pub fn add(&mut self, offset: u32, payload: &Payload) {
        for value in self.path.values(payload) {
            if value.is_null() {
                continue;
            }
            self.points.insert(offset);
            if let Some(key) = self.key_of(value) {
                self.by_key.entry(key).or_default().insert(offset);
            }
            if let Some(n) = self.number_of(value) {
                self.by_number.entry(Number(n)).or_default().insert(offset);
            }
        }
    }

    pub fn remove(&mut self, offset: u32, payload: &Payload) {
        for value in self.path.values(payload) {
            if let Some(key) = self.key_of(value) {
                remove_offset(&mut self.by_key, &key, offset);
            }
            if let Some(n) = self.number_of(value) {
                remove_offset(&mut self.by_number, &Number(n), offset);
            }
        }
        self.points.remove(&offset);
    }

    fn key_of(&self, value: &Value) -> Option<Key> {
        match (self.kind, value) {
            (IndexKind::Keyword | IndexKind::Uuid, Value::String(s)) => Some(Key::Text(s.clone())),
            (IndexKind::Integer, Value::Number(n)) => n.as_i64().map(Key::Integer),
            (IndexKind::Bool, Value::Bool(b)) => Some(Key::Bool(*b)),
            _ => None,
        }
    }

    fn number_of(&self, value: &Value) -> Option<f64> {
        match (self.kind, value) {
            (IndexKind::Integer | IndexKind::Float, Value::Number(n)) => n.as_f64(),
            (IndexKind::Datetime, Value::String(s)) => parse_datetime(s).map(|d| d.0 as f64),
            _ => None,
        }
    }

    /// The offset sets whose union holds every point that may satisfy a field condition on
    /// this index's key, or `None` when the index cannot tell.
    fn lookup(&self, condition: &Condition) -> Option<Vec<&BTreeSet<u32>>> {
        let Condition::Field(field) = condition else {
            return None;
        };
        if field.key != self.path {
            return None;
        }
        if let Some(m) = &field.r#match {
            return self.match_sets(m);
        }
        let range = field.range.as_ref()?;
        let bound = |b: Option<RangeBound>| -> Option<Option<f64>> {
            match (b, self.kind) {
                (None, _) => Some(None),
                (Some(RangeBound::Number(x)), IndexKind::Integer | IndexKind::Float) => {
                    Some(Some(x))
                }
                (Some(RangeBound::Datetime(d)), IndexKind::Datetime) => Some(Some(d.0 as f64)),
                _ => None,
            }
        };
        // Inclusive bounds on both sides are a superset of any strict range; the filter
        // itself is still checked on each candidate.
        let low = bound(range.gt)?
            .into_iter()
            .chain(bound(range.gte)?)
            .reduce(f64::max);
        let high = bound(range.lt)?
            .into_iter()
            .chain(bound(range.lte)?)
            .reduce(f64::min);
        if matches!((low, high), (Some(l), Some(h)) if l > h) {
            return Some(Vec::new());
        }
        let lower = low.map_or(Bound::Unbounded, |x| Bound::Included(Number(x)));
        let upper = high.map_or(Bound::Unbounded, |x| Bound::Included(Number(x)));
        Some(
            self.by_number
                .range((lower, upper))
                .map(|(_, s)| s)
                .collect(),
        )
    }

    /// Exact-match lookups; a value of another type than the index holds cannot be answered
    /// (a keyword index knows nothing of integer values at the same key).
    fn match_sets(&self, m: &Match) -> Option<Vec<&BTreeSet<u32>>> {
        let keys: Vec<Key> = match (m, self.kind) {
            (Match::Value(MatchValue::Keyword(s)), IndexKind::Keyword | IndexKind::Uuid) => {
                vec![Key::Text(s.clone())]
            }
            (Match::Value(MatchValue::Integer(i)), IndexKind::Integer) => vec![Key::Integer(*i)],
            (Match::Value(MatchValue::Bool(b)), IndexKind::Bool) => vec![Key::Bool(*b)],
            (Match::Any(AnyVariants::Keywords(list)), IndexKind::Keyword | IndexKind::Uuid) => {
                list.iter().cloned().map(Key::Text).collect()
            }
            (Match::Any(AnyVariants::Integers(list)), IndexKind::Integer) => {
                list.iter().copied().map(Key::Integer).collect()
            }
            _ => return None,
        };
        Some(keys.iter().filter_map(|k| self.by_key.get(k)).collect())
    }
}
/// Removes an offset from a value's set, dropping the set once it is empty.
fn remove_offset<K: Ord>(map: &mut BTreeMap<K, BTreeSet<u32>>, key: &K, offset: u32) {
    if let Some(set) = map.get_mut(key) {
        set.remove(&offset);
        if set.is_empty() {
            map.remove(key);
        }
    }
}

/// An upper bound of how many points a filter matches, from its indexed `must` conditions
/// (cheap: no offsets are collected). `None` when no `must` condition is indexed.
pub fn filter_cardinality(indexes: &[FieldIndex], filter: &Filter) -> Option<usize> {
    indexed_must_sets(indexes, filter)
        .map(|sets| sets.iter().map(|s| s.len()).sum())
        .min()
}

/// The offsets a filter can match according to the indexes: the intersection of what the
/// indexed `must` conditions allow. `None` when no `must` condition is indexed.
pub fn filter_candidates(indexes: &[FieldIndex], filter: &Filter) -> Option<BTreeSet<u32>> {
    indexed_must_sets(indexes, filter)
        .map(|sets| {
            sets.into_iter()
                .flatten()
                .copied()
                .collect::<BTreeSet<u32>>()
        })
        .reduce(|a, b| a.intersection(&b).copied().collect())
}

fn indexed_must_sets<'a>(
    indexes: &'a [FieldIndex],
    filter: &'a Filter,
) -> impl Iterator<Item = Vec<&'a BTreeSet<u32>>> + 'a {
    filter
        .must
        .iter()
        .flatten()
        .filter_map(|condition| indexes.iter().find_map(|index| index.lookup(condition)))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn payload(v: Value) -> Payload {
        v.as_object().expect("object").clone()
    }

    fn filter(v: Value) -> Filter {
        serde_json::from_value(v).expect("filter")
    }

    fn indexes() -> Vec<FieldIndex> {
        let path = |p: &str| JsonPath::parse(p).expect("path");
        let mut all = vec![
            FieldIndex::new(path("color"), IndexKind::Keyword),
            FieldIndex::new(path("n"), IndexKind::Integer),
            FieldIndex::new(path("when"), IndexKind::Datetime),
        ];
        let colors = ["red", "green", "blue"];
        for offset in 0..30u32 {
            let p = payload(json!({
                "color": colors[offset as usize % 3],
                "n": offset,
                "when": format!("2024-01-{:02}T00:00:00Z", offset + 1),
            }));
            all.iter_mut().for_each(|i| i.add(offset, &p));
        }
        all
    }

    fn candidates(indexes: &[FieldIndex], f: Value) -> Option<Vec<u32>> {
        filter_candidates(indexes, &filter(f)).map(|s| s.into_iter().collect())
    }

    #[test]
    fn indexed_conditions_bound_the_candidates() {
        let all = indexes();
        let reds: Vec<u32> = (0..30).step_by(3).collect();
        assert_eq!(
            candidates(
                &all,
                json!({"must": [{"key": "color", "match": {"value": "red"}}]})
            ),
            Some(reds)
        );
        assert_eq!(
            candidates(
                &all,
                json!({"must": [{"key": "n", "range": {"gt": 3, "lte": 5}}]})
            ),
            Some(vec![3, 4, 5]),
            "strict bounds give a superset; the filter is checked afterwards"
        );
        assert_eq!(
            candidates(
                &all,
                json!({"must": [
                    {"key": "color", "match": {"any": ["green", "blue"]}},
                    {"key": "when", "range": {"lt": "2024-01-05T00:00:00Z"}},
                    {"key": "unindexed", "match": {"value": 1}}
                ]})
            ),
            Some(vec![1, 2, 4]),
            "indexed must conditions intersect; unindexed ones do not constrain"
        );
        assert_eq!(
            candidates(
                &all,
                json!({"should": [{"key": "n", "match": {"value": 1}}]})
            ),
            None
        );
        assert_eq!(
            candidates(
                &all,
                json!({"must": [{"key": "n", "match": {"text": "x"}}]})
            ),
            None
        );
        assert_eq!(
            candidates(
                &all,
                json!({"must": [{"key": "n", "range": {"gte": 9, "lte": 2}}]})
            ),
            Some(vec![])
        );
    }

    #[test]
    fn updates_move_points_between_values() {
        let mut all = indexes();
        let old = payload(json!({"color": "red", "n": 0}));
        let new = payload(json!({"color": "green", "n": 100}));
        all.iter_mut().for_each(|i| i.remove(0, &old));
        all.iter_mut().for_each(|i| i.add(0, &new));
        let reds = candidates(
            &all,
            json!({"must": [{"key": "color", "match": {"value": "red"}}]}),
        );
        assert!(!reds.expect("indexed").contains(&0));
        assert_eq!(
            candidates(
                &all,
                json!({"must": [{"key": "n", "match": {"value": 100}}]})
            ),
            Some(vec![0])
        );
        assert_eq!(
            all[0].points_at(&JsonPath::parse("color").expect("path")),
            30
        );
    }
}
