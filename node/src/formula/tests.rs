//! Each operation on hand-computed values, and the parsing errors.

use serde_json::{json, Map, Value};

use super::*;
use crate::types::{Payload, PointId};

/// A point with a payload, scores in two prefetches, and matching conditions on `color`.
struct Point {
    payload: Payload,
    scores: Vec<Option<f32>>,
}

impl Scope for Point {
    fn score(&self, prefetch: usize) -> Option<f32> {
        self.scores.get(prefetch).copied().flatten()
    }

    fn values(&self, path: &JsonPath) -> Vec<&Value> {
        path.values(&self.payload)
    }

    fn matches(&self, condition: &Condition) -> bool {
        crate::filter::Filter {
            must: Some(vec![condition.clone()]),
            ..Default::default()
        }
        .check(&View(&self.payload))
    }
}

struct View<'a>(&'a Payload);

impl crate::filter::PointView for View<'_> {
    fn id(&self) -> PointId {
        PointId::Num(1)
    }

    fn payload(&self) -> &Payload {
        self.0
    }

    fn has_vector(&self, _: &str) -> bool {
        true
    }
}

fn point() -> Point {
    let payload = json!({
        "price": 12.5,
        "sizes": [3, 4],
        "name": "tea",
        "color": "red",
        "at": "2024-01-02T00:00:00Z",
        "where": {"lat": 52.52, "lon": 13.405},
        "nested": {"n": 2},
    });
    Point {
        payload: payload.as_object().unwrap().clone(),
        scores: vec![Some(0.75), None],
    }
}

fn parse(v: Value) -> Expression {
    serde_json::from_value(v).unwrap()
}

fn eval_with(v: Value, defaults: Value) -> Result<f32, FormulaError> {
    let defaults: Map<String, Value> = defaults.as_object().unwrap().clone();
    evaluate(&parse(v), &defaults, &point())
}

fn eval(v: Value) -> f32 {
    eval_with(v, json!({})).unwrap()
}

fn close(a: f32, b: f64) -> bool {
    (f64::from(a) - b).abs() <= 1e-5 * b.abs().max(1.0)
}

#[test]
fn constants_scores_and_payload_variables() {
    assert_eq!(eval(json!(2.5)), 2.5);
    assert_eq!(eval(json!("$score")), 0.75);
    assert_eq!(eval(json!("$score[0]")), 0.75);
    // Absent from prefetch 1: 0, unless a default is given.
    assert_eq!(eval(json!("$score[1]")), 0.0);
    assert_eq!(
        eval_with(json!("$score[1]"), json!({"$score[1]": 0.2})).unwrap(),
        0.2
    );
    assert_eq!(eval(json!("price")), 12.5);
    assert_eq!(eval(json!("sizes")), 3.0);
    assert_eq!(eval(json!("nested.n")), 2.0);
}

#[test]
fn missing_variables_take_defaults_or_fail() {
    assert_eq!(eval_with(json!("stock"), json!({"stock": 7})).unwrap(), 7.0);
    assert_eq!(
        eval_with(json!("stock"), json!({})),
        Err(FormulaError::Missing("stock".into()))
    );
    assert!(matches!(
        eval_with(json!("name"), json!({})),
        Err(FormulaError::NotNumber { key, .. }) if key == "name"
    ));
    // A payload value wins over the default.
    assert_eq!(
        eval_with(json!("price"), json!({"price": 1})).unwrap(),
        12.5
    );
}

#[test]
fn conditions_are_one_or_zero() {
    assert_eq!(
        eval(json!({"key": "color", "match": {"value": "red"}})),
        1.0
    );
    assert_eq!(
        eval(json!({"key": "color", "match": {"value": "blue"}})),
        0.0
    );
    assert_eq!(
        eval(json!({"must_not": [{"key": "color", "match": {"value": "red"}}]})),
        0.0
    );
}

#[test]
fn arithmetic() {
    assert_eq!(eval(json!({"sum": ["$score", "price", 1]})), 14.25);
    assert_eq!(eval(json!({"mult": [2, "price"]})), 25.0);
    assert_eq!(eval(json!({"mult": []})), 1.0);
    assert_eq!(eval(json!({"sum": []})), 0.0);
    assert_eq!(eval(json!({"neg": "price"})), -12.5);
    assert_eq!(eval(json!({"abs": {"neg": 3}})), 3.0);
    assert_eq!(eval(json!({"div": {"left": "price", "right": 5}})), 2.5);
    assert_eq!(eval(json!({"sqrt": 16})), 4.0);
    assert_eq!(eval(json!({"pow": {"base": 2, "exponent": 10}})), 1024.0);
    assert_eq!(eval(json!({"pow": {"base": -2, "exponent": 3}})), -8.0);
    assert!(close(eval(json!({"exp": 1})), std::f64::consts::E));
    assert_eq!(eval(json!({"log10": 1000})), 3.0);
    assert!(close(eval(json!({"ln": {"exp": 2}})), 2.0));
}

#[test]
fn division_by_zero_takes_the_default_or_fails() {
    assert_eq!(
        eval(json!({"div": {"left": 1, "right": 0, "by_zero_default": 9}})),
        9.0
    );
    assert_eq!(
        eval_with(json!({"div": {"left": 1, "right": 0}}), json!({})),
        Err(FormulaError::NonFinite("1/0".into()))
    );
    // 0 / x is 0 without looking at x (as Qdrant).
    assert_eq!(eval(json!({"div": {"left": 0, "right": "missing"}})), 0.0);
}

#[test]
fn non_finite_results_name_the_operation() {
    let error = |v| eval_with(v, json!({})).unwrap_err().to_string();
    assert!(error(json!({"sqrt": -4})).contains("sqrt(-4)"));
    assert!(error(json!({"ln": 0})).contains("ln(0)"));
    assert!(error(json!({"log10": -1})).contains("log10(-1)"));
    assert!(error(json!({"pow": {"base": -8, "exponent": 0.5}})).contains("-8^0.5"));
    assert!(error(json!({"exp": 1000})).contains("exp(1000)"));
    // Finite in f64, infinite as the f32 score.
    assert!(error(json!({"pow": {"base": 10, "exponent": 100}})).contains("as f32"));
    // A zero factor stops the product before the failing one.
    assert_eq!(eval(json!({"mult": [0, {"ln": -1}]})), 0.0);
}

#[test]
fn decays_follow_qdrant_definitions() {
    // At |x - target| = scale each decay gives the midpoint.
    for kind in ["lin_decay", "exp_decay", "gauss_decay"] {
        let v = eval(json!({kind: {"x": "price", "target": 10.5, "scale": 2, "midpoint": 0.3}}));
        assert!(close(v, 0.3), "{kind}: {v}");
        assert_eq!(eval(json!({kind: {"x": 4, "target": 4}})), 1.0, "{kind}");
    }
    // Defaults: target 0, scale 1, midpoint 0.5; x = 3.
    assert_eq!(eval(json!({"lin_decay": {"x": 3}})), 0.0);
    assert_eq!(eval(json!({"lin_decay": {"x": 0.5}})), 0.75);
    assert!(close(eval(json!({"exp_decay": {"x": 3}})), 0.125));
    assert!(close(
        eval(json!({"gauss_decay": {"x": 2}})),
        0.5f64.powi(4)
    ));
}

#[test]
fn bad_decay_parameters_are_refused() {
    for params in [
        json!({"x": 1, "scale": 0}),
        json!({"x": 1, "scale": -2}),
        json!({"x": 1, "midpoint": 1}),
        json!({"x": 1, "midpoint": 0}),
    ] {
        let error = serde_json::from_value::<Expression>(json!({"exp_decay": params.clone()}));
        assert!(error.is_err(), "{params}");
    }
}

#[test]
fn datetimes_are_epoch_seconds() {
    assert_eq!(eval(json!({"datetime": "1970-01-01T00:01:00Z"})), 60.0);
    assert_eq!(eval(json!({"datetime_key": "at"})), 1_704_153_600.0);
    let age = eval(
        json!({"sum": [{"datetime": "2024-01-03T00:00:00Z"}, {"neg": {"datetime_key": "at"}}]}),
    );
    assert_eq!(age, 86_400.0);
    assert!(matches!(
        eval_with(json!({"datetime_key": "name"}), json!({})),
        Err(FormulaError::NotDatetime(_))
    ));
    assert!(serde_json::from_value::<Expression>(json!({"datetime": "soon"})).is_err());
}

#[test]
fn geo_distance_is_haversine_meters() {
    // Berlin to Paris, about 878 km.
    let d =
        eval(json!({"geo_distance": {"origin": {"lat": 48.8566, "lon": 2.3522}, "to": "where"}}));
    assert!((877_000.0..879_000.0).contains(&d), "{d}");
    let zero =
        eval(json!({"geo_distance": {"origin": {"lat": 52.52, "lon": 13.405}, "to": "where"}}));
    assert_eq!(zero, 0.0);
    let from_default = eval_with(
        json!({"geo_distance": {"origin": {"lat": 0.0, "lon": 0.0}, "to": "home"}}),
        json!({"home": {"lat": 0.0, "lon": 1.0}}),
    )
    .unwrap();
    assert!(
        (111_000.0..111_400.0).contains(&from_default),
        "{from_default}"
    );
    assert!(matches!(
        eval_with(
            json!({"geo_distance": {"origin": {"lat": 0.0, "lon": 0.0}, "to": "price"}}),
            json!({})
        ),
        Err(FormulaError::NotGeoPoint(_))
    ));
}

#[test]
fn unknown_and_malformed_expressions_are_refused() {
    let error = |v: Value| {
        serde_json::from_value::<Expression>(v)
            .unwrap_err()
            .to_string()
    };
    assert!(error(json!({"lognormal": 1})).contains("unknown expression"));
    assert!(error(json!({"sum": [1], "mult": [2]})).contains("single key"));
    assert!(error(json!("$score[x]")).contains("invalid score variable"));
    assert!(error(json!(true)).contains("not an expression"));
    assert!(error(json!({"div": {"left": 1}})).contains("right"));
    assert!(error(json!({"key": "a"})).contains("at least one of"));
}

#[test]
fn every_operation_key_parses() {
    let operand = |key: &str| match key {
        "geo_distance" => json!({"origin": {"lat": 0.0, "lon": 0.0}, "to": "where"}),
        "datetime" => json!("2024-01-01T00:00:00Z"),
        "datetime_key" => json!("at"),
        "mult" | "sum" => json!([1]),
        "div" => json!({"left": 1, "right": 2}),
        "pow" => json!({"base": 1, "exponent": 2}),
        k if k.ends_with("_decay") => json!({"x": 1}),
        _ => json!(1),
    };
    for key in OPERATION_KEYS {
        let v = json!({*key: operand(key)});
        let parsed = parse(v.clone());
        assert!(matches!(parsed, Expression::Operation(_)), "{key}");
        // And it serializes back to the same shape.
        assert_eq!(
            parse(serde_json::to_value(&parsed).unwrap()),
            parsed,
            "{key}"
        );
    }
}

#[test]
fn walks_find_conditions_and_payload_keys() {
    let e = parse(json!({"sum": [
        "price",
        {"mult": [{"key": "color", "match": {"value": "red"}}, "$score"]},
        {"geo_distance": {"origin": {"lat": 0.0, "lon": 0.0}, "to": "where"}},
        {"gauss_decay": {"x": {"datetime_key": "at"}, "target": "nested.n"}},
    ]}));
    assert_eq!(e.conditions().len(), 1);
    let keys: Vec<&str> = e.payload_keys().iter().map(|p| p.as_str()).collect();
    assert_eq!(keys, ["price", "where", "at", "nested.n"]);
}
