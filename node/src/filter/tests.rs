//! Filter semantics, decoding errors and algebraic properties.

use proptest::prelude::*;
use serde_json::{json, Value};

use super::*;

#[derive(Debug)]
struct TestPoint {
    id: PointId,
    payload: Payload,
    vectors: Vec<&'static str>,
}

impl PointView for TestPoint {
    fn id(&self) -> PointId {
        self.id
    }
    fn payload(&self) -> &Payload {
        &self.payload
    }
    fn has_vector(&self, name: &str) -> bool {
        self.vectors.contains(&name)
    }
}

fn point(id: u64, payload: Value) -> TestPoint {
    TestPoint {
        id: PointId::Num(id),
        payload: payload.as_object().unwrap().clone(),
        vectors: vec!["image"],
    }
}

fn filter(v: Value) -> Filter {
    let f: Filter = serde_json::from_value(v).unwrap();
    f.validate().unwrap();
    f
}

fn city() -> TestPoint {
    point(
        7,
        json!({
            "city": "Berlin",
            "tags": ["a", "b"],
            "price": 11.5,
            "count": 3,
            "ok": true,
            "nothing": null,
            "empty": [],
            "when": "2024-05-01T12:00:00Z",
            "location": {"lon": 13.405, "lat": 52.52},
            "country": {"name": "DE", "cities": [
                {"name": "Berlin", "population": 3.7, "sights": ["Reichstag"]},
                {"name": "Munich", "population": 1.5}
            ]},
            "text": "the quick brown fox"
        }),
    )
}

#[test]
fn field_matches_follow_qdrant() {
    let p = city();
    let yes = [
        json!({"must": [{"key": "city", "match": {"value": "Berlin"}}]}),
        json!({"must": {"key": "tags", "match": {"value": "b"}}}),
        json!({"must": [{"key": "count", "match": {"value": 3}}]}),
        json!({"must": [{"key": "ok", "match": {"value": true}}]}),
        json!({"must": [{"key": "city", "match": {"any": ["Paris", "Berlin"]}}]}),
        json!({"must": [{"key": "count", "match": {"any": [1, 3]}}]}),
        json!({"must": [{"key": "city", "match": {"except": ["Paris"]}}]}),
        json!({"must": [{"key": "missing", "match": {"except": ["Paris"]}}]}),
        json!({"must": [{"key": "text", "match": {"text": "quick brown"}}]}),
        json!({"must": [{"key": "text", "match": {"text_any": "slow fox"}}]}),
        json!({"must": [{"key": "text", "match": {"phrase": "brown fox"}}]}),
        json!({"must": [{"key": "country.cities[].name", "match": {"value": "Munich"}}]}),
        json!({"must": [{"key": "country.cities.sights", "match": {"value": "Reichstag"}}]}),
    ];
    for f in yes {
        assert!(filter(f.clone()).check(&p), "should match: {f}");
    }
    let no = [
        json!({"must": [{"key": "city", "match": {"value": "berlin"}}]}),
        json!({"must": [{"key": "count", "match": {"value": "3"}}]}),
        json!({"must": [{"key": "price", "match": {"value": 11}}]}),
        json!({"must": [{"key": "tags", "match": {"except": ["a"]}}]}),
        json!({"must": [{"key": "city", "match": {"any": []}}]}),
        json!({"must": [{"key": "text", "match": {"phrase": "quick fox"}}]}),
        json!({"must": [{"key": "missing", "match": {"value": "x"}}]}),
    ];
    for f in no {
        assert!(!filter(f.clone()).check(&p), "should not match: {f}");
    }
}

#[test]
fn ranges_counts_emptiness_and_geo() {
    let p = city();
    let yes = [
        json!({"must": [{"key": "price", "range": {"gt": 10, "lte": 11.5}}]}),
        json!({"must": [{"key": "count", "range": {"gte": 3, "lt": 4}}]}),
        json!({"must": [{"key": "when", "range": {"gte": "2024-05-01", "lt": "2024-05-02T00:00:00+00:00"}}]}),
        json!({"must": [{"key": "country.cities[].population", "range": {"lt": 2}}]}),
        json!({"must": [{"key": "tags", "values_count": {"gte": 2, "lt": 3}}]}),
        json!({"must": [{"is_empty": {"key": "empty"}}, {"is_empty": {"key": "missing"}}, {"is_empty": {"key": "nothing"}}]}),
        json!({"must": [{"is_null": {"key": "nothing"}}]}),
        json!({"must": [{"key": "location", "geo_radius": {"center": {"lon": 13.4, "lat": 52.5}, "radius": 5000.0}}]}),
        json!({"must": [{"key": "location", "geo_bounding_box": {"top_left": {"lon": 13.0, "lat": 53.0}, "bottom_right": {"lon": 14.0, "lat": 52.0}}}]}),
        json!({"must": [{"key": "location", "geo_polygon": {"exterior": {"points": [
            {"lon": 13.0, "lat": 52.0}, {"lon": 14.0, "lat": 52.0}, {"lon": 14.0, "lat": 53.0},
            {"lon": 13.0, "lat": 53.0}, {"lon": 13.0, "lat": 52.0}]}}}]}),
    ];
    for f in yes {
        assert!(filter(f.clone()).check(&p), "should match: {f}");
    }
    let no = [
        json!({"must": [{"key": "price", "range": {"gt": 11.5}}]}),
        json!({"must": [{"key": "city", "range": {"gt": 0}}]}),
        json!({"must": [{"key": "when", "range": {"gt": "2024-05-01T12:00:00Z"}}]}),
        json!({"must": [{"is_empty": {"key": "tags"}}]}),
        json!({"must": [{"is_null": {"key": "empty"}}]}),
        json!({"must": [{"is_null": {"key": "missing"}}]}),
        json!({"must": [{"key": "location", "geo_radius": {"center": {"lon": 2.35, "lat": 48.85}, "radius": 100000.0}}]}),
    ];
    for f in no {
        assert!(!filter(f.clone()).check(&p), "should not match: {f}");
    }
}

#[test]
fn ids_vectors_nested_and_clauses() {
    let p = city();
    let yes = [
        json!({"must": [{"has_id": [1, 7]}]}),
        json!({"must": [{"has_vector": "image"}]}),
        json!({"must_not": [{"has_vector": "text"}]}),
        json!({"should": [{"has_id": [1]}, {"key": "city", "match": {"value": "Berlin"}}]}),
        json!({"min_should": {"conditions": [{"has_id": [7]}, {"has_id": [8]}, {"has_vector": "image"}], "min_count": 2}}),
        json!({"must": [{"nested": {"key": "country.cities", "filter": {"must": [
            {"key": "name", "match": {"value": "Munich"}}, {"key": "population", "range": {"lt": 2}}]}}}]}),
        json!({"must": [{"should": [{"has_id": [9]}, {"has_id": [7]}]}]}),
        json!({}),
    ];
    for f in yes {
        assert!(filter(f.clone()).check(&p), "should match: {f}");
    }
    let no = [
        json!({"must": [{"has_id": ["3f2c1a52-1111-4a4a-9999-000000000000"]}]}),
        json!({"should": [{"has_id": [1]}, {"has_id": [2]}]}),
        json!({"min_should": {"conditions": [{"has_id": [7]}, {"has_id": [8]}], "min_count": 2}}),
        // Nested requires both conditions on the same element; flat keys do not.
        json!({"must": [{"nested": {"key": "country.cities", "filter": {"must": [
            {"key": "name", "match": {"value": "Berlin"}}, {"key": "population", "range": {"lt": 2}}]}}}]}),
    ];
    for f in no {
        assert!(!filter(f.clone()).check(&p), "should not match: {f}");
    }
}

#[test]
fn bad_filters_are_refused_with_a_reason() {
    let decode_errors = [
        (
            json!({"must": [{"key": "a", "match": {"valu": 1}}]}),
            "unknown variant",
        ),
        (json!({"must": [{"foo": 1}]}), "unknown condition"),
        (
            json!({"must": [{"key": "a[", "match": {"value": 1}}]}),
            "invalid payload key",
        ),
        (
            json!({"must": [{"key": "a", "range": {"gt": "not a date"}}]}),
            "invalid field condition",
        ),
        (json!({"mus": []}), "unknown field"),
        (json!({"must": [{"has_id": [-1]}]}), "invalid has_id"),
    ];
    for (f, expected) in decode_errors {
        let err = serde_json::from_value::<Filter>(f.clone())
            .unwrap_err()
            .to_string();
        assert!(err.contains(expected), "{f}: {err}");
    }
    let invalid = [
        json!({"must": [{"key": "a"}]}),
        json!({"must": [{"key": "l", "geo_radius": {"center": {"lon": 200.0, "lat": 0.0}, "radius": 1.0}}]}),
        json!({"must": [{"key": "l", "geo_polygon": {"exterior": {"points": [{"lon": 0.0, "lat": 0.0}]}}}]}),
    ];
    for f in invalid {
        let f: Filter = serde_json::from_value(f).unwrap();
        assert!(f.validate().is_err(), "{f:?} should not validate");
    }
}

fn arb_condition() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        (0i64..5).prop_map(|v| json!({"key": "n", "match": {"value": v}})),
        prop::sample::subsequence(vec!["x", "y", "z"], 0..3)
            .prop_map(|s| json!({"key": "tags", "match": {"any": s}})),
        (0i64..5, 0i64..5).prop_map(|(a, b)| json!({"key": "n", "range": {"gte": a, "lt": b}})),
        prop::collection::vec(0u64..6, 0..3).prop_map(|ids| json!({"has_id": ids})),
        Just(json!({"is_empty": {"key": "tags"}})),
    ];
    leaf.prop_recursive(3, 16, 3, |inner| {
        (
            prop::collection::vec(inner.clone(), 0..3),
            prop::collection::vec(inner.clone(), 0..3),
            prop::collection::vec(inner, 0..3),
        )
            .prop_map(|(must, should, must_not)| {
                json!({"must": must, "should": should, "must_not": must_not})
            })
    })
}

fn arb_point() -> impl Strategy<Value = TestPoint> {
    (
        0u64..6,
        prop::option::of(0i64..5),
        prop::sample::subsequence(vec!["x", "y", "z"], 0..3),
    )
        .prop_map(|(id, n, tags)| {
            let mut payload = json!({"tags": tags});
            if let Some(n) = n {
                payload["n"] = json!(n);
            }
            point(id, payload)
        })
}

proptest! {
    #[test]
    fn must_not_is_the_negation_of_must(c in arb_condition(), p in arb_point()) {
        let must = filter(json!({"must": [c.clone()]}));
        let must_not = filter(json!({"must_not": [c]}));
        prop_assert_eq!(must.check(&p), !must_not.check(&p));
    }

    #[test]
    fn should_is_the_disjunction(a in arb_condition(), b in arb_condition(), p in arb_point()) {
        let either = filter(json!({"should": [a.clone(), b.clone()]})).check(&p);
        let one = filter(json!({"must": [a]})).check(&p);
        let other = filter(json!({"must": [b]})).check(&p);
        prop_assert_eq!(either, one || other);
    }

    #[test]
    fn serialization_round_trips_and_keeps_meaning(c in arb_condition(), p in arb_point()) {
        let f = filter(json!({"must": [c]}));
        let again: Filter = serde_json::from_value(serde_json::to_value(&f).unwrap()).unwrap();
        prop_assert_eq!(&again, &f);
        prop_assert_eq!(again.check(&p), f.check(&p));
    }
}
