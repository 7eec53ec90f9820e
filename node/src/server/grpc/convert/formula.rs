//! Formula queries (`Query.formula`) rewritten into Qdrant's REST JSON, to be decoded by
//! [`crate::formula::Expression`] like a REST request.

use qdrant_client::qdrant as grpc;
use qdrant_client::qdrant::expression::Variant;
use serde_json::{json, Map, Value as Json};

use super::filter::{condition_json, geo_point_json};
use super::put;
use super::value::json_from_grpc;
use crate::server::grpc::error::ConvertError;

type Result<T> = std::result::Result<T, ConvertError>;

/// `{"formula": <expression>, "defaults": {..}}`.
pub fn formula_json(formula: grpc::Formula) -> Result<Json> {
    let expression = required(formula.expression, "formula expression")?;
    let defaults: Map<String, Json> = formula
        .defaults
        .into_iter()
        .map(|(key, value)| (key, json_from_grpc(value)))
        .collect();
    Ok(json!({"formula": expression_json(expression)?, "defaults": defaults}))
}

fn expression_json(expression: grpc::Expression) -> Result<Json> {
    let variant = expression
        .variant
        .ok_or_else(|| ConvertError::invalid("formula expression is empty"))?;
    Ok(match variant {
        Variant::Constant(c) => json!(c),
        Variant::Variable(name) => json!(name),
        Variant::Condition(condition) => condition_json(condition)?,
        Variant::GeoDistance(g) => json!({"geo_distance": {
            "origin": geo_point_json(g.origin, "geo_distance origin")?,
            "to": g.to,
        }}),
        Variant::Datetime(text) => json!({ "datetime": text }),
        Variant::DatetimeKey(key) => json!({ "datetime_key": key }),
        Variant::Mult(m) => json!({ "mult": expressions_json(m.mult)? }),
        Variant::Sum(s) => json!({ "sum": expressions_json(s.sum)? }),
        Variant::Div(d) => {
            let mut params = Map::new();
            params.insert("left".into(), boxed_json(d.left, "div left")?);
            params.insert("right".into(), boxed_json(d.right, "div right")?);
            put(&mut params, "by_zero_default", d.by_zero_default);
            json!({ "div": params })
        }
        Variant::Neg(e) => json!({ "neg": expression_json(*e)? }),
        Variant::Abs(e) => json!({ "abs": expression_json(*e)? }),
        Variant::Sqrt(e) => json!({ "sqrt": expression_json(*e)? }),
        Variant::Pow(p) => json!({"pow": {
            "base": boxed_json(p.base, "pow base")?,
            "exponent": boxed_json(p.exponent, "pow exponent")?,
        }}),
        Variant::Exp(e) => json!({ "exp": expression_json(*e)? }),
        Variant::Log10(e) => json!({ "log10": expression_json(*e)? }),
        Variant::Ln(e) => json!({ "ln": expression_json(*e)? }),
        Variant::ExpDecay(d) => json!({ "exp_decay": decay_json(*d)? }),
        Variant::GaussDecay(d) => json!({ "gauss_decay": decay_json(*d)? }),
        Variant::LinDecay(d) => json!({ "lin_decay": decay_json(*d)? }),
        // Newer than the Qdrant API Grape implements (1.18).
        Variant::Acosh(_) => return Err(ConvertError::unsupported("the acosh expression")),
        Variant::Max(_) => return Err(ConvertError::unsupported("the max expression")),
        Variant::Min(_) => return Err(ConvertError::unsupported("the min expression")),
    })
}

fn expressions_json(expressions: Vec<grpc::Expression>) -> Result<Json> {
    expressions
        .into_iter()
        .map(expression_json)
        .collect::<Result<Vec<_>>>()
        .map(Json::Array)
}

fn boxed_json(expression: Option<Box<grpc::Expression>>, what: &str) -> Result<Json> {
    expression_json(*required(expression, what)?)
}

fn decay_json(decay: grpc::DecayParamsExpression) -> Result<Json> {
    let mut params = Map::new();
    params.insert("x".into(), boxed_json(decay.x, "decay x")?);
    if let Some(target) = decay.target {
        params.insert("target".into(), expression_json(*target)?);
    }
    put(&mut params, "scale", decay.scale);
    put(&mut params, "midpoint", decay.midpoint);
    Ok(Json::Object(params))
}

fn required<T>(value: Option<T>, what: &str) -> Result<T> {
    value.ok_or_else(|| ConvertError::invalid(format!("{what} is missing")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use qdrant_client::qdrant::{Condition, Expression};

    fn expr(variant: Variant) -> Expression {
        Expression {
            variant: Some(variant),
        }
    }

    #[test]
    fn a_formula_becomes_rest_json() {
        let formula = grpc::Formula {
            expression: Some(expr(Variant::Sum(grpc::SumExpression {
                sum: vec![
                    expr(Variant::Variable("$score".into())),
                    expr(Variant::Mult(grpc::MultExpression {
                        mult: vec![
                            expr(Variant::Constant(0.5)),
                            expr(Variant::Condition(Condition::matches(
                                "tag",
                                "a".to_string(),
                            ))),
                        ],
                    })),
                    expr(Variant::Div(Box::new(grpc::DivExpression {
                        left: Some(Box::new(expr(Variant::Constant(1.0)))),
                        right: Some(Box::new(expr(Variant::Variable("price".into())))),
                        by_zero_default: Some(2.0),
                    }))),
                    expr(Variant::GaussDecay(Box::new(grpc::DecayParamsExpression {
                        x: Some(Box::new(expr(Variant::DatetimeKey("at".into())))),
                        target: Some(Box::new(expr(Variant::Datetime(
                            "2024-01-01T00:00:00Z".into(),
                        )))),
                        scale: Some(86400.0),
                        midpoint: None,
                    }))),
                ],
            }))),
            defaults: [("price".to_string(), grpc::Value::from(3i64))].into(),
        };
        assert_eq!(
            formula_json(formula).unwrap(),
            json!({
                "formula": {"sum": [
                    "$score",
                    {"mult": [0.5, {"key": "tag", "match": {"value": "a"}}]},
                    {"div": {"left": 1.0, "right": "price", "by_zero_default": 2.0}},
                    {"gauss_decay": {
                        "x": {"datetime_key": "at"},
                        "target": {"datetime": "2024-01-01T00:00:00Z"},
                        "scale": 86400.0,
                    }},
                ]},
                "defaults": {"price": 3},
            })
        );
    }

    #[test]
    fn incomplete_and_newer_expressions_are_refused() {
        let no_right = grpc::Formula {
            expression: Some(expr(Variant::Div(Box::new(grpc::DivExpression {
                left: Some(Box::new(expr(Variant::Constant(1.0)))),
                right: None,
                by_zero_default: None,
            })))),
            defaults: Default::default(),
        };
        assert!(
            matches!(formula_json(no_right), Err(ConvertError::Invalid(m)) if m.contains("div right"))
        );
        let max = grpc::Formula {
            expression: Some(expr(Variant::Max(grpc::MaxExpression { max: vec![] }))),
            defaults: Default::default(),
        };
        assert!(matches!(
            formula_json(max),
            Err(ConvertError::Unsupported(_))
        ));
    }
}
