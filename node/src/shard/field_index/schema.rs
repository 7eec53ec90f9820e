//! Qdrant's `field_schema` of a payload index (`"keyword"`, or `{"type": "text",
//! "tokenizer": "prefix", ...}`), decoded into what the index needs and checked, so a bad
//! schema is refused when the index is created.
//!
//! Options without effect here are accepted and ignored, as serde ignores unknown keys:
//! storage hints (`on_disk`, `is_tenant`, `is_principal`; every index lives in memory) and
//! `phrase_matching` (phrases are always matched).

use std::collections::HashSet;

use serde::Deserialize;
use serde_json::Value;

use crate::filter::{Tokenizer, TokenizerKind};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct SchemaError(pub String);

/// A payload index type with the options that change its behaviour.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldSchema {
    Keyword {
        graph: bool,
    },
    Integer {
        lookup: bool,
        range: bool,
        graph: bool,
    },
    Float,
    Bool,
    Datetime,
    Uuid,
    Geo,
    Text(Tokenizer),
}

impl FieldSchema {
    pub fn parse(schema: &Value) -> Result<FieldSchema, SchemaError> {
        let params: Params = match schema {
            Value::String(name) => serde_json::from_value(serde_json::json!({ "type": name })),
            other => serde_json::from_value(other.clone()),
        }
        .map_err(|e| SchemaError(format!("invalid field_schema: {e}")))?;
        params.into_schema()
    }

    /// Qdrant's name of the index type.
    pub fn type_name(&self) -> &'static str {
        match self {
            FieldSchema::Keyword { .. } => "keyword",
            FieldSchema::Integer { .. } => "integer",
            FieldSchema::Float => "float",
            FieldSchema::Bool => "bool",
            FieldSchema::Datetime => "datetime",
            FieldSchema::Uuid => "uuid",
            FieldSchema::Geo => "geo",
            FieldSchema::Text(_) => "text",
        }
    }

    /// Can this index answer range conditions (and so serve `order_by`)?
    pub fn has_range(&self) -> bool {
        matches!(
            self,
            FieldSchema::Integer { range: true, .. } | FieldSchema::Float | FieldSchema::Datetime
        )
    }

    /// Can this index count its values (facets)?
    pub fn has_values(&self) -> bool {
        matches!(
            self,
            FieldSchema::Keyword { .. }
                | FieldSchema::Integer { lookup: true, .. }
                | FieldSchema::Bool
                | FieldSchema::Uuid
        )
    }

    /// Should restrictive filters on this index's values get their own graphs?
    pub fn wants_value_graphs(&self) -> bool {
        matches!(
            self,
            FieldSchema::Keyword { graph: true }
                | FieldSchema::Integer {
                    lookup: true,
                    graph: true,
                    ..
                }
        )
    }
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Params {
    Keyword(GraphOption),
    Integer(IntegerParams),
    Float(Ignored),
    Geo(Ignored),
    Text(TextParams),
    Bool(Ignored),
    Datetime(Ignored),
    Uuid(Ignored),
}

/// `enable_hnsw` (default true): whether the index adds graph links for its values.
#[derive(Deserialize)]
struct GraphOption {
    #[serde(default)]
    enable_hnsw: Option<bool>,
}

/// A type whose options change nothing here.
#[derive(Deserialize)]
struct Ignored {}

#[derive(Deserialize)]
struct IntegerParams {
    #[serde(default)]
    lookup: Option<bool>,
    #[serde(default)]
    range: Option<bool>,
    #[serde(flatten)]
    common: GraphOption,
}

#[derive(Deserialize)]
struct TextParams {
    #[serde(default)]
    tokenizer: Option<TokenizerKind>,
    #[serde(default)]
    min_token_len: Option<usize>,
    #[serde(default)]
    max_token_len: Option<usize>,
    #[serde(default)]
    lowercase: Option<bool>,
    #[serde(default)]
    ascii_folding: Option<bool>,
    #[serde(default)]
    stopwords: Option<Value>,
    #[serde(default)]
    stemmer: Option<Value>,
}

impl Params {
    fn into_schema(self) -> Result<FieldSchema, SchemaError> {
        Ok(match self {
            Params::Keyword(o) => FieldSchema::Keyword { graph: o.graph() },
            Params::Integer(p) => {
                let lookup = p.lookup.unwrap_or(true);
                let range = p.range.unwrap_or(true);
                if !lookup && !range {
                    return Err(SchemaError(
                        "invalid field_schema: the integer index needs `lookup` or `range` \
                         enabled"
                            .into(),
                    ));
                }
                FieldSchema::Integer {
                    lookup,
                    range,
                    graph: p.common.graph(),
                }
            }
            Params::Float(_) => FieldSchema::Float,
            Params::Geo(_) => FieldSchema::Geo,
            Params::Bool(_) => FieldSchema::Bool,
            Params::Datetime(_) => FieldSchema::Datetime,
            Params::Uuid(_) => FieldSchema::Uuid,
            Params::Text(p) => FieldSchema::Text(p.into_tokenizer()?),
        })
    }
}

impl GraphOption {
    fn graph(&self) -> bool {
        self.enable_hnsw.unwrap_or(true)
    }
}

impl TextParams {
    fn into_tokenizer(self) -> Result<Tokenizer, SchemaError> {
        if self.stemmer.as_ref().is_some_and(|s| !s.is_null()) {
            return Err(SchemaError(
                "invalid field_schema: stemming is not supported by Grape yet".into(),
            ));
        }
        Ok(Tokenizer {
            kind: self.tokenizer.unwrap_or_default(),
            lowercase: self.lowercase.unwrap_or(true),
            ascii_folding: self.ascii_folding.unwrap_or(false),
            min_len: self.min_token_len.unwrap_or(0),
            max_len: self.max_token_len,
            stopwords: stopwords(self.stopwords.as_ref())?,
        })
    }
}

/// Custom stopwords (`{"custom": [...]}`); the built-in language lists are not available.
fn stopwords(value: Option<&Value>) -> Result<HashSet<String>, SchemaError> {
    let unsupported = || {
        SchemaError(
            "invalid field_schema: Grape supports custom stopwords only \
             (`{\"custom\": [...]}`), not built-in language lists"
                .into(),
        )
    };
    let Some(value) = value.filter(|v| !v.is_null()) else {
        return Ok(HashSet::new());
    };
    let object = value.as_object().ok_or_else(unsupported)?;
    if object
        .get("languages")
        .and_then(Value::as_array)
        .is_some_and(|l| !l.is_empty())
    {
        return Err(unsupported());
    }
    let custom = object.get("custom").map_or(Ok(Vec::new()), |c| {
        serde_json::from_value::<Vec<String>>(c.clone())
            .map_err(|e| SchemaError(format!("invalid field_schema: stopwords: {e}")))
    })?;
    Ok(custom.into_iter().map(|w| w.to_lowercase()).collect())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn names_and_objects_decode_with_qdrant_defaults() {
        assert_eq!(
            FieldSchema::parse(&json!("integer")),
            Ok(FieldSchema::Integer {
                lookup: true,
                range: true,
                graph: true
            })
        );
        assert_eq!(
            FieldSchema::parse(&json!({"type": "integer", "lookup": false, "on_disk": true})),
            Ok(FieldSchema::Integer {
                lookup: false,
                range: true,
                graph: true
            })
        );
        assert_eq!(
            FieldSchema::parse(&json!({"type": "keyword", "enable_hnsw": false})),
            Ok(FieldSchema::Keyword { graph: false })
        );
        let Ok(FieldSchema::Text(t)) = FieldSchema::parse(&json!({
            "type": "text", "tokenizer": "prefix", "min_token_len": 2, "lowercase": false,
            "stopwords": {"custom": ["The"]}
        })) else {
            panic!("a text schema");
        };
        assert_eq!(t.kind, TokenizerKind::Prefix);
        assert_eq!((t.min_len, t.max_len, t.lowercase), (2, None, false));
        assert!(t.stopwords.contains("the"));
    }

    #[test]
    fn bad_schemas_are_refused_with_a_reason() {
        let error = |v: Value| FieldSchema::parse(&v).expect_err("refused").0;
        assert!(error(json!("vector")).contains("unknown variant `vector`"));
        assert!(error(json!({"type": "text", "tokenizer": "camel"})).contains("`camel`"));
        assert!(
            error(json!({"type": "integer", "lookup": false, "range": false})).contains("lookup")
        );
        assert!(error(json!({"type": "integer", "range": "yes"})).contains("invalid type"));
        assert!(error(json!({"type": "text", "stopwords": "english"})).contains("custom"));
        assert!(
            error(json!({"type": "text", "stemmer": {"type": "snowball"}})).contains("stemming")
        );
        assert!(error(json!(42)).contains("invalid field_schema"));
    }
}
