//! Payload edits (set at a path, delete keys) and projection of what a read returns.

use serde_json::{Map, Value};

use crate::types::{Payload, PayloadSelector, WithPayload};

use super::path::{JsonPath, Segment};

/// Merges `new` into the payload, or into the object(s) at `key` when given (creating
/// missing objects on the way, as Qdrant's `set_payload` with `key` does).
pub fn set_payload(target: &mut Payload, new: &Payload, key: Option<&JsonPath>) {
    match key {
        None => merge(target, new),
        Some(path) => {
            let (Segment::Key(first), rest) = (&path.segments()[0], &path.segments()[1..]) else {
                return;
            };
            let slot = target
                .entry(first.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            set_at(slot, rest, new);
        }
    }
}

fn set_at(value: &mut Value, segments: &[Segment], new: &Payload) {
    let Some((segment, rest)) = segments.split_first() else {
        if !value.is_object() {
            *value = Value::Object(Map::new());
        }
        if let Value::Object(map) = value {
            merge(map, new);
        }
        return;
    };
    match (segment, value) {
        (Segment::Key(k), value) => {
            if !value.is_object() {
                *value = Value::Object(Map::new());
            }
            if let Value::Object(map) = value {
                let child = map
                    .entry(k.clone())
                    .or_insert_with(|| Value::Object(Map::new()));
                set_at(child, rest, new);
            }
        }
        (Segment::Index(i), Value::Array(items)) => {
            if let Some(item) = items.get_mut(*i) {
                set_at(item, rest, new);
            }
        }
        (Segment::All, Value::Array(items)) => {
            items.iter_mut().for_each(|item| set_at(item, rest, new));
        }
        _ => {}
    }
}

fn merge(target: &mut Payload, new: &Payload) {
    for (k, v) in new {
        target.insert(k.clone(), v.clone());
    }
}

/// Removes the value at each path (keys inside arrays of objects are removed from every
/// element; `a[2]` removes that element).
pub fn delete_keys(target: &mut Payload, keys: &[JsonPath]) {
    for path in keys {
        let segments = path.segments();
        match segments {
            [Segment::Key(k)] => {
                target.remove(k);
            }
            [Segment::Key(k), rest @ ..] => {
                if let Some(v) = target.get_mut(k) {
                    delete_at(v, rest);
                }
            }
            _ => {}
        }
    }
}

fn delete_at(value: &mut Value, segments: &[Segment]) {
    let Some((segment, rest)) = segments.split_first() else {
        return;
    };
    let last = rest.is_empty();
    match (segment, value) {
        (Segment::Key(k), Value::Object(map)) => {
            if last {
                map.remove(k);
            } else if let Some(child) = map.get_mut(k) {
                delete_at(child, rest);
            }
        }
        (Segment::Key(_), Value::Array(items)) => {
            items.iter_mut().for_each(|item| delete_at(item, segments));
        }
        (Segment::Index(i), Value::Array(items)) => {
            if last {
                if *i < items.len() {
                    items.remove(*i);
                }
            } else if let Some(item) = items.get_mut(*i) {
                delete_at(item, rest);
            }
        }
        (Segment::All, Value::Array(items)) => {
            if last {
                items.clear();
            } else {
                items.iter_mut().for_each(|item| delete_at(item, rest));
            }
        }
        _ => {}
    }
}

/// The part of a payload a read returns, or `None` when no payload is requested.
pub fn select(payload: &Payload, with: &WithPayload) -> Option<Payload> {
    match with {
        WithPayload::Bool(false) => None,
        WithPayload::Bool(true) => Some(payload.clone()),
        WithPayload::Include(keys) | WithPayload::Selector(PayloadSelector::Include(keys)) => {
            Some(include(payload, keys))
        }
        WithPayload::Selector(PayloadSelector::Exclude(keys)) => {
            let mut out = payload.clone();
            let paths: Vec<JsonPath> = keys
                .iter()
                .filter_map(|k| JsonPath::parse(k).ok())
                .collect();
            delete_keys(&mut out, &paths);
            Some(out)
        }
    }
}

/// Keeps only the listed keys; a nested key keeps its branch (`a.b` keeps `{"a": {"b": ..}}`).
fn include(payload: &Payload, keys: &[String]) -> Payload {
    let mut out = Payload::new();
    for key in keys {
        let Ok(path) = JsonPath::parse(key) else {
            continue;
        };
        let keys: Option<Vec<&str>> = path
            .segments()
            .iter()
            .map(|s| match s {
                Segment::Key(k) => Some(k.as_str()),
                _ => None,
            })
            .collect();
        match keys {
            Some(keys) => copy_branch(payload, &mut out, &keys),
            // Array segments: return the values found, under the path text.
            None => {
                let values: Vec<Value> = path.raw_values(payload).into_iter().cloned().collect();
                if !values.is_empty() {
                    out.insert(path.as_str().to_string(), Value::Array(values));
                }
            }
        }
    }
    out
}

fn copy_branch(from: &Payload, to: &mut Payload, keys: &[&str]) {
    let Some((first, rest)) = keys.split_first() else {
        return;
    };
    let Some(value) = from.get(*first) else {
        return;
    };
    match (rest.is_empty(), value) {
        (true, v) => {
            to.insert(first.to_string(), v.clone());
        }
        (false, Value::Object(inner)) => {
            let slot = to
                .entry(first.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(slot) = slot {
                copy_branch(inner, slot, rest);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn payload(v: Value) -> Payload {
        v.as_object().unwrap().clone()
    }

    fn path(s: &str) -> JsonPath {
        JsonPath::parse(s).unwrap()
    }

    #[test]
    fn set_merges_at_top_level_or_at_a_nested_key() {
        let mut p = payload(json!({"a": 1, "b": {"c": 2}}));
        set_payload(&mut p, &payload(json!({"a": 5, "x": true})), None);
        assert_eq!(p, payload(json!({"a": 5, "b": {"c": 2}, "x": true})));
        set_payload(&mut p, &payload(json!({"d": 3})), Some(&path("b")));
        assert_eq!(p["b"], json!({"c": 2, "d": 3}));
        set_payload(&mut p, &payload(json!({"z": 0})), Some(&path("new.deep")));
        assert_eq!(p["new"], json!({"deep": {"z": 0}}));
    }

    #[test]
    fn delete_removes_nested_keys_and_array_elements() {
        let mut p = payload(
            json!({"a": {"b": 1, "c": 2}, "l": [{"k": 1, "j": 2}, {"k": 3}], "arr": [1, 2, 3]}),
        );
        delete_keys(&mut p, &[path("a.b"), path("l[].k"), path("arr[1]")]);
        assert_eq!(
            p,
            payload(json!({"a": {"c": 2}, "l": [{"j": 2}, {}], "arr": [1, 3]}))
        );
        delete_keys(&mut p, &[path("a")]);
        assert!(!p.contains_key("a"));
    }

    #[test]
    fn select_includes_and_excludes() {
        let p = payload(json!({"a": 1, "b": {"c": 2, "d": 3}, "e": 4}));
        assert_eq!(select(&p, &WithPayload::Bool(false)), None);
        assert_eq!(select(&p, &WithPayload::Bool(true)), Some(p.clone()));
        let inc = WithPayload::Include(vec!["a".into(), "b.c".into()]);
        assert_eq!(
            select(&p, &inc),
            Some(payload(json!({"a": 1, "b": {"c": 2}})))
        );
        let exc = WithPayload::Selector(PayloadSelector::Exclude(vec!["b.d".into(), "e".into()]));
        assert_eq!(
            select(&p, &exc),
            Some(payload(json!({"a": 1, "b": {"c": 2}})))
        );
    }
}
