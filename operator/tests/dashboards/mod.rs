//! The metric names the chart's Grafana dashboards query, to check them against what the
//! node and the operator really expose.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::{Context, Result};
use serde_json::Value;

/// Words of PromQL that are not metric names.
const PROMQL_WORDS: &[&str] = &[
    "sum",
    "max",
    "min",
    "avg",
    "count",
    "topk",
    "bottomk",
    "rate",
    "irate",
    "increase",
    "histogram_quantile",
    "by",
    "without",
    "and",
    "or",
    "unless",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "offset",
    "bool",
];

/// Every metric name each dashboard under `dir` queries: name → dashboard files.
pub fn metric_names(dir: &Path) -> Result<BTreeMap<String, BTreeSet<String>>> {
    let mut names: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let file = path.file_name().context("file name")?.to_string_lossy();
        let dashboard: Value = serde_json::from_str(&std::fs::read_to_string(&path)?)
            .with_context(|| path.display().to_string())?;
        let mut exprs = Vec::new();
        collect_exprs(&dashboard, &mut exprs);
        for expr in exprs {
            for name in names_in(&expr) {
                names.entry(name).or_default().insert(file.to_string());
            }
        }
    }
    Ok(names)
}

/// The `expr` of every panel target, and the metric of every `label_values(...)` variable.
fn collect_exprs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                match (key.as_str(), v) {
                    ("expr", Value::String(expr)) => out.push(expr.clone()),
                    ("definition", Value::String(query)) => {
                        if let Some(metric) = query
                            .strip_prefix("label_values(")
                            .and_then(|q| q.split([',', '{', ')']).next())
                        {
                            out.push(metric.trim().to_string());
                        }
                    }
                    _ => collect_exprs(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_exprs(v, out)),
        _ => {}
    }
}

/// The metric names of one PromQL expression: identifiers outside label matchers, ranges,
/// `by (...)` lists and strings, that are not PromQL's own words.
fn names_in(expr: &str) -> BTreeSet<String> {
    let mut plain = String::new();
    let mut depth_brace = 0;
    let mut depth_bracket = 0;
    let mut in_string = false;
    for c in expr.chars() {
        match c {
            '"' => in_string = !in_string,
            _ if in_string => {}
            '{' => depth_brace += 1,
            '}' => depth_brace -= 1,
            '[' => depth_bracket += 1,
            ']' => depth_bracket -= 1,
            _ if depth_brace > 0 || depth_bracket > 0 => {}
            _ => plain.push(c),
        }
    }
    // Drop the label lists of `by (...)` and `without (...)`.
    let mut words = Vec::new();
    let mut rest = plain.as_str();
    while let Some(start) = rest.find(|c: char| c.is_ascii_alphabetic() || c == '_') {
        rest = &rest[start..];
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
            .unwrap_or(rest.len());
        let word = &rest[..end];
        rest = &rest[end..];
        if word == "by" || word == "without" {
            if let Some(close) = rest.find(')') {
                rest = &rest[close + 1..];
            }
            continue;
        }
        words.push(word.to_string());
    }
    words
        .into_iter()
        .filter(|w| !PROMQL_WORDS.contains(&w.as_str()) && !w.starts_with("__"))
        .collect()
}

/// The sample names of a Prometheus text exposition (`x_bucket`, `x_sum`, `x_count` of a
/// histogram included, as a query sees them).
pub fn sample_names(exposition: &str) -> BTreeSet<String> {
    exposition
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| l.split(['{', ' ']).next())
        .map(str::to_string)
        .collect()
}

#[test]
fn names_are_found_outside_matchers_and_groupings() {
    let expr = r#"histogram_quantile(0.99, sum by (le, method) (rate(x_bucket{a="b{c}"}[5m]))) + sum(y_total{instance=~"$i"}) * 60"#;
    assert_eq!(
        names_in(expr),
        BTreeSet::from(["x_bucket".to_string(), "y_total".to_string()])
    );
}
