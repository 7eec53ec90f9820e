//! Index answers against the filter's own evaluation: an answer always holds every matching
//! point, and exactly those when it says it is exact.

use proptest::prelude::*;
use serde_json::{json, Value};

use super::*;
use crate::filter::{Filter, PointView};
use crate::types::PointId;

fn path(p: &str) -> JsonPath {
    JsonPath::parse(p).expect("path")
}

fn schema(v: Value) -> FieldSchema {
    FieldSchema::parse(&v).expect("schema")
}

fn fields() -> Vec<(JsonPath, FieldSchema)> {
    vec![
        (path("color"), schema(json!("keyword"))),
        (path("n"), schema(json!("integer"))),
        (
            path("lookup_only"),
            schema(json!({"type": "integer", "range": false})),
        ),
        (path("price"), schema(json!("float"))),
        (path("when"), schema(json!("datetime"))),
        (path("ok"), schema(json!("bool"))),
        (
            path("text"),
            schema(json!({"type": "text", "tokenizer": "word"})),
        ),
        (path("place"), schema(json!("geo"))),
    ]
}

struct View<'a> {
    offset: u32,
    payload: &'a Payload,
    indexes: &'a FieldIndexes,
}

impl PointView for View<'_> {
    fn id(&self) -> PointId {
        PointId::Num(self.offset as u64)
    }
    fn payload(&self) -> &Payload {
        self.payload
    }
    fn has_vector(&self, _: &str) -> bool {
        true
    }
    fn text_index(&self, key: &JsonPath) -> Option<&Tokenizer> {
        self.indexes.text_index(key)
    }
}

/// The indexes over the payloads (offset = position), the matching offsets by the filter,
/// and the indexes' answer.
fn solve(payloads: &[Payload], filter: &Filter) -> (Vec<u32>, Answer) {
    let points = payloads.iter().enumerate().map(|(o, p)| (o as u32, p));
    let indexes = FieldIndexes::default().rebuild(&fields(), points);
    let matching = payloads
        .iter()
        .enumerate()
        .filter(|(o, p)| {
            filter.check(&View {
                offset: *o as u32,
                payload: p,
                indexes: &indexes,
            })
        })
        .map(|(o, _)| o as u32)
        .collect();
    let answer = filter_answer(&indexes, filter, &|id| match id {
        PointId::Num(n) => (*n < payloads.len() as u64).then_some(*n as u32),
        PointId::Uuid(_) => None,
    });
    (matching, answer)
}

fn assert_sound(payloads: &[Payload], filter: &Filter) -> Result<(), TestCaseError> {
    let (matching, answer) = solve(payloads, filter);
    let everything: Vec<u32> = (0..payloads.len() as u32).collect();
    let set: Vec<u32> = answer
        .set
        .as_ref()
        .map_or(everything, |s| s.iter().collect());
    for o in &matching {
        prop_assert!(set.contains(o), "matching offset {o} missing from {set:?}");
    }
    if answer.exact {
        prop_assert_eq!(&set, &matching, "an exact answer is the matching set");
    }
    Ok(())
}

fn payloads() -> Vec<Payload> {
    let colors = ["red", "green", "blue"];
    let words = [
        "the quick brown fox",
        "lazy dog",
        "quick dog jumps",
        "brown",
    ];
    (0..30)
        .map(|i: i64| {
            let mut p = json!({
                "color": colors[i as usize % 3],
                "n": i,
                "lookup_only": i % 4,
                "price": i as f64 / 2.0,
                "when": format!("2024-01-{:02}T00:00:00Z", i + 1),
                "ok": i % 2 == 0,
                "text": words[i as usize % 4],
                "place": {"lon": i as f64, "lat": i as f64 / 2.0},
            });
            if i % 7 == 0 {
                p["color"] = json!(["red", "blue"]);
                p["n"] = json!(2.5);
            }
            p.as_object().expect("object").clone()
        })
        .collect()
}

fn filter(v: Value) -> Filter {
    serde_json::from_value(v).expect("filter")
}

#[test]
fn indexed_conditions_are_answered_exactly() {
    let p = payloads();
    let exact = |f: Value| {
        let (matching, answer) = solve(&p, &filter(f.clone()));
        assert!(answer.exact, "{f} should be exact");
        let set: Vec<u32> = answer.set.expect("bounded").iter().collect();
        assert_eq!(set, matching, "{f}");
        set.len()
    };
    assert_eq!(
        exact(json!({"must": [{"key": "color", "match": {"value": "red"}}]})),
        13
    );
    assert_eq!(
        exact(json!({"must": [{"key": "n", "range": {"gt": 3, "lte": 5}}]})),
        2
    );
    assert_eq!(
        exact(json!({"must": [{"key": "n", "range": {"gte": 2.5, "lt": 3}}]})),
        5
    );
    assert_eq!(
        exact(json!({"must": [{"key": "when", "range": {"lt": "2024-01-05T00:00:00Z"}}]})),
        4
    );
    assert_eq!(
        exact(json!({"must": [{"key": "ok", "match": {"value": false}}]})),
        15
    );
    assert_eq!(
        exact(json!({"must": [{"key": "text", "match": {"text": "quick dog"}}]})),
        7
    );
    assert_eq!(
        exact(json!({"must": [{"key": "text", "match": {"text_any": "fox lazy"}}]})),
        16
    );
    assert_eq!(
        exact(json!({"must_not": [{"key": "color", "match": {"any": ["red", "green"]}}]})),
        9
    );
    assert_eq!(
        exact(json!({"must": [{"key": "n", "range": {"gte": 9, "lte": 2}}]})),
        0
    );
    assert_eq!(exact(json!({"must": [{"is_empty": {"key": "color"}}]})), 0);
    assert_eq!(exact(json!({"must": [{"has_id": [1, 2, 99]}]})), 2);
    assert_eq!(
        exact(json!({"should": [
            {"key": "price", "range": {"lt": 1}},
            {"key": "lookup_only", "match": {"value": 3}}
        ]})),
        9
    );
}

#[test]
fn what_an_index_cannot_tell_leaves_a_superset() {
    let p = payloads();
    let answer = |f: Value| solve(&p, &filter(f)).1;
    let phrase = answer(json!({"must": [{"key": "text", "match": {"phrase": "dog quick"}}]}));
    assert!(!phrase.exact);
    assert_eq!(
        phrase.set.expect("bounded").len(),
        7,
        "both tokens, in any order"
    );
    let unindexed = answer(json!({"must": [{"key": "other", "match": {"value": 1}}]}));
    assert_eq!(unindexed, Answer::everything(false));
    let wrong_type = answer(json!({"must": [{"key": "color", "match": {"value": 1}}]}));
    assert_eq!(
        wrong_type,
        Answer::everything(false),
        "a keyword index knows no integers"
    );
    let no_range = answer(json!({"must": [{"key": "lookup_only", "range": {"gt": 1}}]}));
    assert_eq!(
        no_range,
        Answer::everything(false),
        "`range: false` answers no range"
    );
    let not_superset = answer(json!({"must_not": [{"key": "place", "geo_radius": {
        "center": {"lon": 0.0, "lat": 0.0}, "radius": 100000.0}}]}));
    assert_eq!(not_superset, Answer::everything(false));
    let with_unknown = answer(json!({"must": [
        {"key": "color", "match": {"value": "green"}},
        {"key": "other", "match": {"value": 1}}
    ]}));
    assert!(!with_unknown.exact);
    assert_eq!(with_unknown.set.expect("bounded").len(), 8);
}

#[test]
fn updates_move_points_between_values() {
    let p = payloads();
    let points = p.iter().enumerate().map(|(o, p)| (o as u32, p));
    let mut indexes = FieldIndexes::default().rebuild(&fields(), points);
    let new = json!({"color": "green", "n": 100})
        .as_object()
        .cloned()
        .expect("object");
    indexes.unindex_payload(0, &p[0]);
    indexes.index_payload(0, &new);
    let color = indexes.field(&path("color")).expect("indexed");
    let red = color.key_points(&Key::Text("red".into())).expect("reds");
    assert!(!red.contains(0));
    assert!(color
        .key_points(&Key::Text("green".into()))
        .expect("greens")
        .contains(0));
    assert_eq!(indexes.field(&path("price")).expect("indexed").points(), 29);
    assert_eq!(color.points(), 30);
    indexes.remove_point(1, &p[1]);
    assert_eq!(indexes.field(&path("color")).expect("indexed").points(), 29);
    assert!(!indexes.live().contains(1));
}

fn condition() -> impl Strategy<Value = Value> {
    let color = prop::sample::select(vec!["red", "green", "blue", "pink"]);
    let word = prop::sample::select(vec!["quick", "dog", "brown", "cat", "the"]);
    prop_oneof![
        color
            .clone()
            .prop_map(|c| json!({"key": "color", "match": {"value": c}})),
        prop::collection::vec(color, 0..3)
            .prop_map(|l| json!({"key": "color", "match": {"except": l}})),
        (-2i64..32, 0i64..8)
            .prop_map(|(a, w)| json!({"key": "n", "range": {"gte": a, "lt": a + w}})),
        (0i64..5).prop_map(|v| json!({"key": "lookup_only", "match": {"any": [v, v + 1]}})),
        (0.0f64..16.0).prop_map(|x| json!({"key": "price", "range": {"gt": x}})),
        any::<bool>().prop_map(|b| json!({"key": "ok", "match": {"value": b}})),
        (word.clone(), word.clone())
            .prop_map(|(a, b)| json!({"key": "text", "match": {"text": format!("{a} {b}")}})),
        (word.clone(), word.clone())
            .prop_map(|(a, b)| json!({"key": "text", "match": {"phrase": format!("{a} {b}")}})),
        word.prop_map(|a| json!({"key": "text", "match": {"text_any": a}})),
        (0.0f64..30.0, 0.0f64..15.0, 1e4f64..2e6).prop_map(|(lon, lat, r)| json!(
            {"key": "place", "geo_radius": {"center": {"lon": lon, "lat": lat}, "radius": r}})),
        (0.0f64..25.0, 0.0f64..12.0).prop_map(|(lon, lat)| json!({"key": "place",
            "geo_bounding_box": {"top_left": {"lon": lon, "lat": lat + 3.0},
                                 "bottom_right": {"lon": lon + 5.0, "lat": lat}}})),
        (0u64..40).prop_map(|i| json!({"has_id": [i, i + 3]})),
        (0i64..4).prop_map(|v| json!({"key": "unindexed", "match": {"value": v}})),
        Just(json!({"is_empty": {"key": "color"}})),
    ]
}

fn filter_value() -> impl Strategy<Value = Value> {
    let clause = || prop::collection::vec(condition(), 0..3);
    let leaf = (clause(), clause(), clause()).prop_map(
        |(must, should, must_not)| json!({"must": must, "should": should, "must_not": must_not}),
    );
    leaf.prop_recursive(2, 8, 2, |inner| {
        (
            prop::collection::vec(inner.clone(), 0..2),
            prop::collection::vec(inner, 0..2),
        )
            .prop_map(|(must, must_not)| json!({"must": must, "must_not": must_not}))
    })
}

proptest! {
    #[test]
    fn answers_hold_every_match_and_exact_ones_only_those(f in filter_value()) {
        assert_sound(&payloads(), &filter(f))?;
    }
}
