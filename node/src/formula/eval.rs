//! Evaluation of a formula for one point, in f64 as Qdrant does, with Qdrant's rules: a
//! variable missing from the payload takes its value from the defaults; a score missing from
//! a prefetch is 0; an operation that would give a non-finite number is an error.

use serde_json::{Map, Value};

use super::{DecayParams, Expression, Operation, Variable, DEFAULT_DECAY_TARGET};
use crate::filter::{parse_datetime, Condition, GeoPoint};
use crate::payload::JsonPath;

/// The score of a point absent from a prefetch, as in Qdrant.
const DEFAULT_SCORE: f64 = 0.0;

/// What a formula can see of the point it scores.
pub trait Scope {
    /// The point's score in prefetch `prefetch`, if that prefetch found it.
    fn score(&self, prefetch: usize) -> Option<f32>;
    /// The payload values at `path`, arrays flattened.
    fn values(&self, path: &JsonPath) -> Vec<&Value>;
    /// Does the point match `condition` (one of the formula's own conditions)?
    fn matches(&self, condition: &Condition) -> bool;
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FormulaError {
    #[error("No value found for `{0}` in the payload nor in the formula defaults")]
    Missing(String),
    #[error("Expected a number for `{key}` in the payload or the formula defaults, got {value}")]
    NotNumber { key: String, value: Value },
    #[error("Expected a geo point for `{0}` in the payload or the formula defaults")]
    NotGeoPoint(String),
    #[error("Expected a date-time for `{0}` in the payload or the formula defaults")]
    NotDatetime(String),
    #[error("The expression {0} produced a non-finite number")]
    NonFinite(String),
}

type Result<T> = std::result::Result<T, FormulaError>;

/// The point's score: the expression's value as f32, which must be finite.
pub fn evaluate(
    expression: &Expression,
    defaults: &Map<String, Value>,
    scope: &dyn Scope,
) -> Result<f32> {
    let value = Evaluator { defaults, scope }.eval(expression)?;
    let score = value as f32;
    if score.is_finite() {
        Ok(score)
    } else {
        Err(FormulaError::NonFinite(format!("{value} as f32")))
    }
}

struct Evaluator<'a> {
    defaults: &'a Map<String, Value>,
    scope: &'a dyn Scope,
}

impl Evaluator<'_> {
    fn eval(&self, expression: &Expression) -> Result<f64> {
        match expression {
            Expression::Constant(c) => Ok(*c),
            Expression::Variable(Variable::Score(i)) => Ok(self.score(*i)),
            Expression::Variable(Variable::Payload(path)) => self.number(path),
            Expression::Condition(c) => Ok(if self.scope.matches(c) { 1.0 } else { 0.0 }),
            Expression::Operation(op) => self.operation(op),
        }
    }

    fn operation(&self, op: &Operation) -> Result<f64> {
        match op {
            Operation::GeoDistance(g) => Ok(g.origin.distance_m(&self.geo_point(&g.to)?)),
            Operation::Datetime(t) => Ok(seconds(t.0)),
            Operation::DatetimeKey(path) => self.datetime(path),
            Operation::Mult(factors) => self.product(factors),
            Operation::Sum(terms) => terms.iter().map(|t| self.eval(t)).sum(),
            Operation::Neg(e) => Ok(-self.eval(e)?),
            Operation::Abs(e) => Ok(self.eval(e)?.abs()),
            Operation::Div(d) => self.divide(&d.left, &d.right, d.by_zero_default),
            Operation::Sqrt(e) => {
                let x = self.eval(e)?;
                finite(x.sqrt(), || format!("sqrt({x})"))
            }
            Operation::Pow(p) => {
                let (base, exponent) = (self.eval(&p.base)?, self.eval(&p.exponent)?);
                finite(base.powf(exponent), || format!("{base}^{exponent}"))
            }
            Operation::Exp(e) => {
                let x = self.eval(e)?;
                finite(x.exp(), || format!("exp({x})"))
            }
            Operation::Log10(e) => {
                let x = self.eval(e)?;
                finite(x.log10(), || format!("log10({x})"))
            }
            Operation::Ln(e) => {
                let x = self.eval(e)?;
                finite(x.ln(), || format!("ln({x})"))
            }
            Operation::LinDecay(p) => {
                let (distance, scale, midpoint) = self.decay(p)?;
                Ok((1.0 - (1.0 - midpoint) / scale * distance.abs()).max(0.0))
            }
            Operation::ExpDecay(p) => {
                let (distance, scale, midpoint) = self.decay(p)?;
                Ok((midpoint.ln() / scale * distance.abs()).exp())
            }
            Operation::GaussDecay(p) => {
                let (distance, scale, midpoint) = self.decay(p)?;
                Ok((midpoint.ln() / (scale * scale) * distance * distance).exp())
            }
        }
    }

    /// Stops at the first zero factor, so `0 * anything` is 0 even where `anything` fails.
    fn product(&self, factors: &[Expression]) -> Result<f64> {
        let mut product = 1.0;
        for factor in factors {
            let x = self.eval(factor)?;
            if x == 0.0 {
                return Ok(0.0);
            }
            product *= x;
        }
        Ok(product)
    }

    /// `0 / anything` is 0 without evaluating `anything`; `x / 0` is `by_zero_default`.
    fn divide(&self, left: &Expression, right: &Expression, by_zero: Option<f64>) -> Result<f64> {
        let l = self.eval(left)?;
        if l == 0.0 {
            return Ok(0.0);
        }
        let r = self.eval(right)?;
        match by_zero {
            Some(default) if r == 0.0 => Ok(default),
            _ => finite(l / r, || format!("{l}/{r}")),
        }
    }

    /// `x - target`, scale and midpoint of a decay.
    fn decay(&self, p: &DecayParams) -> Result<(f64, f64, f64)> {
        let x = self.eval(&p.x)?;
        let target = match &p.target {
            Some(t) => self.eval(t)?,
            None => DEFAULT_DECAY_TARGET,
        };
        Ok((x - target, p.scale(), p.midpoint()))
    }

    fn score(&self, prefetch: usize) -> f64 {
        if let Some(score) = self.scope.score(prefetch) {
            return f64::from(score);
        }
        // The default may be named `$score[0]` or `$score` for the first prefetch.
        let names = [
            format!("$score[{prefetch}]"),
            Variable::Score(prefetch).to_string(),
        ];
        names
            .iter()
            .find_map(|name| self.defaults.get(name).and_then(Value::as_f64))
            .unwrap_or(DEFAULT_SCORE)
    }

    /// The point's values at `path` (nulls left out), else the default's.
    fn values(&self, path: &JsonPath) -> Vec<&Value> {
        let found: Vec<&Value> = self
            .scope
            .values(path)
            .into_iter()
            .filter(|v| !v.is_null())
            .collect();
        if !found.is_empty() {
            return found;
        }
        match self.defaults.get(path.as_str()) {
            Some(Value::Array(items)) => items.iter().collect(),
            Some(value) => vec![value],
            None => Vec::new(),
        }
    }

    /// The first number among the values.
    fn number(&self, path: &JsonPath) -> Result<f64> {
        let values = self.values(path);
        if let Some(n) = values.iter().find_map(|v| v.as_f64()) {
            return Ok(n);
        }
        match values.first() {
            Some(value) => Err(FormulaError::NotNumber {
                key: path.to_string(),
                value: (*value).clone(),
            }),
            None => Err(FormulaError::Missing(path.to_string())),
        }
    }

    fn geo_point(&self, path: &JsonPath) -> Result<GeoPoint> {
        let values = self.values(path);
        if values.is_empty() {
            return Err(FormulaError::Missing(path.to_string()));
        }
        values
            .into_iter()
            .find_map(GeoPoint::from_payload)
            .ok_or_else(|| FormulaError::NotGeoPoint(path.to_string()))
    }

    fn datetime(&self, path: &JsonPath) -> Result<f64> {
        let values = self.values(path);
        if values.is_empty() {
            return Err(FormulaError::Missing(path.to_string()));
        }
        values
            .into_iter()
            .find_map(|v| parse_datetime(v.as_str()?))
            .map(|t| seconds(t.0))
            .ok_or_else(|| FormulaError::NotDatetime(path.to_string()))
    }
}

fn seconds(micros: i64) -> f64 {
    micros as f64 / 1e6
}

/// `value`, or an error naming the operation when it is infinite or NaN.
fn finite(value: f64, operation: impl FnOnce() -> String) -> Result<f64> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(FormulaError::NonFinite(operation()))
    }
}
