//! Evaluation of a filter against one point.

use serde_json::Value;

use crate::types::{Payload, PointId};

use super::datetime::parse_datetime;
use super::geo::GeoPoint;
use super::text::Tokenizer;
use super::{
    AnyVariants, Condition, FieldCondition, Filter, Match, MatchValue, NestedCondition, PointView,
    Range, RangeBound, ValuesCount,
};

pub fn filter(filter: &Filter, point: &dyn PointView) -> bool {
    let holds = |c: &Condition| condition(c, point);
    let must = filter.must.iter().flatten().all(holds);
    let should = match &filter.should {
        Some(list) if !list.is_empty() => list.iter().any(holds),
        _ => true,
    };
    let must_not = !filter.must_not.iter().flatten().any(holds);
    let min_should = filter
        .min_should
        .as_ref()
        .is_none_or(|m| m.conditions.iter().filter(|c| holds(c)).count() >= m.min_count);
    must && should && must_not && min_should
}

fn condition(condition: &Condition, point: &dyn PointView) -> bool {
    match condition {
        Condition::Field(field) => field_condition(field, point),
        Condition::IsEmpty { is_empty: k } => is_empty(k.key.values(point.payload())),
        Condition::IsNull { is_null: k } => is_null(k.key.raw_values(point.payload())),
        Condition::HasId { has_id } => has_id.contains(&point.id()),
        Condition::HasVector { has_vector } => point.has_vector(has_vector),
        Condition::Nested { nested: n } => nested(n, point),
        Condition::Filter(f) => filter(f, point),
    }
}

/// Missing, null and `[]` all count as empty.
fn is_empty(values: Vec<&Value>) -> bool {
    values.iter().all(|v| v.is_null())
}

fn is_null(raw: Vec<&Value>) -> bool {
    raw.iter().any(|v| v.is_null())
}

fn field_condition(field: &FieldCondition, point: &dyn PointView) -> bool {
    let payload = point.payload();
    let values = field.key.values(payload);
    let any = |test: &dyn Fn(&Value) -> bool| values.iter().any(|v| test(v));
    let geo = |test: &dyn Fn(&GeoPoint) -> bool| {
        values
            .iter()
            .any(|v| GeoPoint::from_payload(v).is_some_and(|p| test(&p)))
    };
    field
        .r#match
        .as_ref()
        .is_none_or(|m| match_values(m, &values, point.text_index(&field.key)))
        && field
            .range
            .as_ref()
            .is_none_or(|r| any(&|v| in_range(r, v)))
        && field
            .geo_bounding_box
            .as_ref()
            .is_none_or(|b| geo(&|p| b.contains(p)))
        && field
            .geo_radius
            .as_ref()
            .is_none_or(|r| geo(&|p| r.contains(p)))
        && field
            .geo_polygon
            .as_ref()
            .is_none_or(|poly| geo(&|p| poly.contains(p)))
        && field
            .values_count
            .as_ref()
            .is_none_or(|c| count_ok(c, values.len()))
        && field
            .is_empty
            .is_none_or(|want| is_empty(values.clone()) == want)
        && field
            .is_null
            .is_none_or(|want| is_null(field.key.raw_values(payload)) == want)
}

fn match_values(m: &Match, values: &[&Value], text_index: Option<&Tokenizer>) -> bool {
    let strings = || values.iter().filter_map(|v| v.as_str());
    if let Some(tokenizer) = text_index {
        let texts: Vec<&str> = strings().collect();
        match m {
            Match::Text(text) => return tokenizer.matches_all(text, &texts),
            Match::TextAny(text) => return tokenizer.matches_any(text, &texts),
            Match::Phrase(text) => return tokenizer.matches_phrase(text, &texts),
            _ => {}
        }
    }
    match m {
        Match::Value(want) => values.iter().any(|v| equals(want, v)),
        Match::Text(text) | Match::Phrase(text) => strings().any(|s| s.contains(text.as_str())),
        Match::TextAny(text) => {
            let mut words = text.split_whitespace();
            strings().any(|s| words.clone().any(|w| s.contains(w))) && words.next().is_some()
        }
        Match::Any(list) => values.iter().any(|v| in_list(list, v)),
        // A point without the key has no excluded value, so it matches (as in Qdrant).
        Match::Except(list) => !values.iter().any(|v| in_list(list, v)),
    }
}

fn equals(want: &MatchValue, value: &Value) -> bool {
    match (want, value) {
        (MatchValue::Keyword(k), Value::String(s)) => k == s,
        (MatchValue::Integer(i), Value::Number(n)) => n.as_i64() == Some(*i),
        (MatchValue::Bool(b), Value::Bool(v)) => b == v,
        _ => false,
    }
}

fn in_list(list: &AnyVariants, value: &Value) -> bool {
    match (list, value) {
        (AnyVariants::Keywords(keys), Value::String(s)) => keys.iter().any(|k| k == s),
        (AnyVariants::Integers(ints), Value::Number(n)) => {
            n.as_i64().is_some_and(|i| ints.contains(&i))
        }
        _ => false,
    }
}

/// Numeric bounds apply to numbers, datetime bounds to strings that parse as datetimes.
fn in_range(range: &Range, value: &Value) -> bool {
    let bounds = [
        (range.lt, Bound::Lt),
        (range.gt, Bound::Gt),
        (range.gte, Bound::Gte),
        (range.lte, Bound::Lte),
    ];
    bounds.iter().all(|(bound, kind)| match bound {
        None => true,
        Some(RangeBound::Number(limit)) => value.as_f64().is_some_and(|x| kind.holds(x, *limit)),
        Some(RangeBound::Datetime(limit)) => value
            .as_str()
            .and_then(parse_datetime)
            .is_some_and(|x| kind.holds(x.0, limit.0)),
    })
}

#[derive(Clone, Copy)]
enum Bound {
    Lt,
    Gt,
    Gte,
    Lte,
}

impl Bound {
    fn holds<T: PartialOrd>(self, x: T, limit: T) -> bool {
        match self {
            Bound::Lt => x < limit,
            Bound::Gt => x > limit,
            Bound::Gte => x >= limit,
            Bound::Lte => x <= limit,
        }
    }
}

fn count_ok(c: &ValuesCount, n: usize) -> bool {
    c.lt.is_none_or(|l| n < l)
        && c.gt.is_none_or(|g| n > g)
        && c.gte.is_none_or(|g| n >= g)
        && c.lte.is_none_or(|l| n <= l)
}

/// The nested filter must hold for one element of the array of objects at the key.
fn nested(n: &NestedCondition, point: &dyn PointView) -> bool {
    n.key
        .values(point.payload())
        .into_iter()
        .filter_map(Value::as_object)
        .any(|element| {
            let view = Element {
                payload: element,
                parent: point,
            };
            filter(&n.filter, &view)
        })
}

/// One object of a nested array, seen as a point (id and vectors are the parent's).
struct Element<'a> {
    payload: &'a Payload,
    parent: &'a dyn PointView,
}

impl PointView for Element<'_> {
    fn id(&self) -> PointId {
        self.parent.id()
    }

    fn payload(&self) -> &Payload {
        self.payload
    }

    fn has_vector(&self, name: &str) -> bool {
        self.parent.has_vector(name)
    }
}
