//! Score formulas of the Query API (`{"formula": <Expression>, "defaults": {..}}`): their
//! JSON model (this module) and their evaluation for one point ([`eval`]).
//!
//! An expression is a number, a variable (`$score`, `$score[i]` or a payload key), a filter
//! condition (1 when the point matches, else 0), or an object naming an operation
//! (`{"sum": [..]}`, `{"gauss_decay": {..}}`, ...), as in Qdrant.

mod eval;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::filter::{Condition, DateTimeValue, GeoPoint};
use crate::payload::JsonPath;

pub use eval::{evaluate, FormulaError, Scope};

/// Default decay target, scale and midpoint, as in Qdrant.
const DEFAULT_DECAY_TARGET: f64 = 0.0;
const DEFAULT_DECAY_SCALE: f64 = 1.0;
const DEFAULT_DECAY_MIDPOINT: f64 = 0.5;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Expression {
    Constant(f64),
    Variable(Variable),
    Operation(Box<Operation>),
    /// 1 when the point matches the condition, else 0.
    Condition(Box<Condition>),
}

/// A named value of the point being scored.
#[derive(Debug, Clone, PartialEq)]
pub enum Variable {
    /// `$score` (prefetch 0) or `$score[i]`: the point's score in prefetch `i`.
    Score(usize),
    /// The (first numeric) value at a payload key.
    Payload(JsonPath),
}

/// The operations, each written as an object with its name as the only key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Operation {
    /// Meters from `origin` to the geo point at payload key `to`.
    GeoDistance(GeoDistance),
    /// Seconds since the epoch of a date-time constant.
    Datetime(DateTimeValue),
    /// Seconds since the epoch of the date-time at a payload key.
    DatetimeKey(JsonPath),
    Mult(Vec<Expression>),
    Sum(Vec<Expression>),
    Neg(Expression),
    Abs(Expression),
    Div(DivParams),
    Sqrt(Expression),
    Pow(PowParams),
    Exp(Expression),
    Log10(Expression),
    Ln(Expression),
    LinDecay(DecayParams),
    ExpDecay(DecayParams),
    GaussDecay(DecayParams),
}

/// The keys naming an [`Operation`], as serde spells its variants.
const OPERATION_KEYS: &[&str] = &[
    "geo_distance",
    "datetime",
    "datetime_key",
    "mult",
    "sum",
    "neg",
    "abs",
    "div",
    "sqrt",
    "pow",
    "exp",
    "log10",
    "ln",
    "lin_decay",
    "exp_decay",
    "gauss_decay",
];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeoDistance {
    pub origin: GeoPoint,
    pub to: JsonPath,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DivParams {
    pub left: Expression,
    pub right: Expression,
    /// The result when `right` is 0 (else dividing by 0 is an error).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by_zero_default: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PowParams {
    pub base: Expression,
    pub exponent: Expression,
}

/// Decay of `|x - target|`: 1 at the target, `midpoint` at distance `scale`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecayParams {
    pub x: Expression,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<Expression>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub midpoint: Option<f64>,
}

impl DecayParams {
    fn scale(&self) -> f64 {
        self.scale.unwrap_or(DEFAULT_DECAY_SCALE)
    }

    fn midpoint(&self) -> f64 {
        self.midpoint.unwrap_or(DEFAULT_DECAY_MIDPOINT)
    }

    fn validate(&self) -> Result<(), String> {
        if self.scale() <= 0.0 {
            return Err(format!(
                "decay scale must be a positive number, got {}",
                self.scale()
            ));
        }
        let midpoint = self.midpoint();
        if midpoint <= 0.0 || midpoint >= 1.0 {
            return Err(format!(
                "decay midpoint must be between 0 and 1 (exclusive), got {midpoint}"
            ));
        }
        Ok(())
    }
}

impl Operation {
    /// What the JSON shape cannot check: decay parameters and the geo origin.
    fn validate(&self) -> Result<(), String> {
        match self {
            Operation::LinDecay(p) | Operation::ExpDecay(p) | Operation::GaussDecay(p) => {
                p.validate()
            }
            Operation::GeoDistance(g) => g.origin.validate().map_err(|e| e.to_string()),
            _ => Ok(()),
        }
    }

    /// The sub-expressions, in evaluation order.
    fn children(&self) -> Vec<&Expression> {
        match self {
            Operation::GeoDistance(_) | Operation::Datetime(_) | Operation::DatetimeKey(_) => {
                Vec::new()
            }
            Operation::Mult(items) | Operation::Sum(items) => items.iter().collect(),
            Operation::Neg(e)
            | Operation::Abs(e)
            | Operation::Sqrt(e)
            | Operation::Exp(e)
            | Operation::Log10(e)
            | Operation::Ln(e) => vec![e],
            Operation::Div(d) => vec![&d.left, &d.right],
            Operation::Pow(p) => vec![&p.base, &p.exponent],
            Operation::LinDecay(d) | Operation::ExpDecay(d) | Operation::GaussDecay(d) => {
                std::iter::once(&d.x).chain(d.target.as_ref()).collect()
            }
        }
    }
}

impl Expression {
    /// Decodes an expression, telling its kind by its JSON type and, for objects, its key.
    pub fn from_value(value: Value) -> Result<Expression, String> {
        match value {
            Value::Number(n) => n
                .as_f64()
                .map(Expression::Constant)
                .ok_or_else(|| format!("{n} is not a valid number")),
            Value::String(s) => Variable::parse(&s).map(Expression::Variable),
            Value::Object(ref object) if is_operation(object) => {
                let operation: Operation =
                    serde_json::from_value(value).map_err(|e| e.to_string())?;
                operation.validate()?;
                Ok(Expression::Operation(Box::new(operation)))
            }
            Value::Object(ref object) if Condition::is_condition(object) => {
                let condition = Condition::from_value(value).map_err(|e| e.to_string())?;
                condition.validate().map_err(|e| e.to_string())?;
                Ok(Expression::Condition(Box::new(condition)))
            }
            Value::Object(object) => {
                let keys: Vec<&String> = object.keys().collect();
                Err(format!(
                    "unknown expression with keys {keys:?}: expected a number, a variable \
                     ($score, $score[i] or a payload key), a condition or one of \
                     {OPERATION_KEYS:?}"
                ))
            }
            other => Err(format!("{other} is not an expression")),
        }
    }

    /// Every condition in the expression, depth first.
    pub fn conditions(&self) -> Vec<&Condition> {
        let mut out = Vec::new();
        self.walk(&mut |e| {
            if let Expression::Condition(c) = e {
                out.push(&**c);
            }
        });
        out
    }

    /// Every payload key the expression reads: variables, `geo_distance.to`, `datetime_key`.
    pub fn payload_keys(&self) -> Vec<&JsonPath> {
        let mut out = Vec::new();
        self.walk(&mut |e| match e {
            Expression::Variable(Variable::Payload(path)) => out.push(path),
            Expression::Operation(op) => match &**op {
                Operation::GeoDistance(g) => out.push(&g.to),
                Operation::DatetimeKey(path) => out.push(path),
                _ => {}
            },
            _ => {}
        });
        out
    }

    fn walk<'a>(&'a self, f: &mut impl FnMut(&'a Expression)) {
        f(self);
        if let Expression::Operation(op) = self {
            op.children().into_iter().for_each(|child| child.walk(f));
        }
    }
}

/// Objects with an operation's key (a second key is refused when the operation is decoded).
fn is_operation(object: &serde_json::Map<String, Value>) -> bool {
    object.keys().any(|k| OPERATION_KEYS.contains(&k.as_str()))
}

impl<'de> Deserialize<'de> for Expression {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Expression::from_value(Value::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

impl Variable {
    /// `$score`, `$score[i]`; any other string is a payload key.
    fn parse(text: &str) -> Result<Variable, String> {
        let Some(rest) = text.strip_prefix("$score") else {
            return JsonPath::parse(text)
                .map(Variable::Payload)
                .map_err(|e| e.to_string());
        };
        if rest.is_empty() {
            return Ok(Variable::Score(0));
        }
        rest.strip_prefix('[')
            .and_then(|r| r.strip_suffix(']'))
            .and_then(|index| index.parse().ok())
            .map(Variable::Score)
            .ok_or_else(|| {
                format!("invalid score variable `{text}`: expected $score or $score[index]")
            })
    }
}

impl std::fmt::Display for Variable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Variable::Score(0) => write!(f, "$score"),
            Variable::Score(i) => write!(f, "$score[{i}]"),
            Variable::Payload(path) => write!(f, "{path}"),
        }
    }
}

impl Serialize for Variable {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests;
