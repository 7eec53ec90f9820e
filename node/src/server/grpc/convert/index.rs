//! Payload field indexes: gRPC field type + params ↔ Qdrant's REST `field_schema` JSON
//! (`"keyword"` or `{"type": "keyword", "is_tenant": true, ...}`).

use qdrant_client::qdrant as grpc;
use qdrant_client::qdrant::payload_index_params::IndexParams;
use serde_json::{json, Map, Value as Json};

use super::put;
use crate::server::grpc::error::ConvertError;
use crate::types::PayloadIndexInfo;

/// The REST `field_schema` of a create-index request.
pub fn field_schema_json(
    field_type: Option<i32>,
    params: Option<grpc::PayloadIndexParams>,
) -> Result<Json, ConvertError> {
    if let Some(params) = params.and_then(|p| p.index_params) {
        return Ok(index_params_json(params));
    }
    let field_type = field_type.ok_or_else(|| ConvertError::invalid("field_type is required"))?;
    let field_type = grpc::FieldType::try_from(field_type)
        .map_err(|_| ConvertError::invalid(format!("unknown field_type {field_type}")))?;
    Ok(Json::String(type_name(field_type).to_string()))
}

fn type_name(field_type: grpc::FieldType) -> &'static str {
    match field_type {
        grpc::FieldType::Keyword => "keyword",
        grpc::FieldType::Integer => "integer",
        grpc::FieldType::Float => "float",
        grpc::FieldType::Geo => "geo",
        grpc::FieldType::Text => "text",
        grpc::FieldType::Bool => "bool",
        grpc::FieldType::Datetime => "datetime",
        grpc::FieldType::Uuid => "uuid",
    }
}

#[allow(deprecated)]
fn index_params_json(params: IndexParams) -> Json {
    let mut obj = Map::new();
    let kind = match params {
        IndexParams::KeywordIndexParams(p) => {
            put(&mut obj, "is_tenant", p.is_tenant);
            put(&mut obj, "on_disk", p.on_disk);
            "keyword"
        }
        IndexParams::IntegerIndexParams(p) => {
            put(&mut obj, "lookup", p.lookup);
            put(&mut obj, "range", p.range);
            put(&mut obj, "is_principal", p.is_principal);
            put(&mut obj, "on_disk", p.on_disk);
            "integer"
        }
        IndexParams::FloatIndexParams(p) => {
            put(&mut obj, "is_principal", p.is_principal);
            put(&mut obj, "on_disk", p.on_disk);
            "float"
        }
        IndexParams::GeoIndexParams(p) => {
            put(&mut obj, "on_disk", p.on_disk);
            "geo"
        }
        IndexParams::TextIndexParams(p) => {
            text_params_json(&mut obj, p);
            "text"
        }
        IndexParams::BoolIndexParams(p) => {
            put(&mut obj, "on_disk", p.on_disk);
            "bool"
        }
        IndexParams::DatetimeIndexParams(p) => {
            put(&mut obj, "is_principal", p.is_principal);
            put(&mut obj, "on_disk", p.on_disk);
            "datetime"
        }
        IndexParams::UuidIndexParams(p) => {
            put(&mut obj, "is_tenant", p.is_tenant);
            put(&mut obj, "on_disk", p.on_disk);
            "uuid"
        }
    };
    obj.insert("type".into(), kind.into());
    Json::Object(obj)
}

#[allow(deprecated)]
fn text_params_json(obj: &mut Map<String, Json>, p: grpc::TextIndexParams) {
    let tokenizer = grpc::TokenizerType::try_from(p.tokenizer)
        .ok()
        .and_then(tokenizer_name);
    put(obj, "tokenizer", tokenizer);
    put(obj, "lowercase", p.lowercase);
    put(obj, "min_token_len", p.min_token_len);
    put(obj, "max_token_len", p.max_token_len);
    put(obj, "on_disk", p.on_disk);
    put(obj, "phrase_matching", p.phrase_matching);
    put(obj, "ascii_folding", p.ascii_folding);
    if let Some(stopwords) = p.stopwords {
        obj.insert(
            "stopwords".into(),
            json!({"languages": stopwords.languages, "custom": stopwords.custom}),
        );
    }
    use grpc::stemming_algorithm::StemmingParams;
    if let Some(StemmingParams::Snowball(s)) = p.stemmer.and_then(|s| s.stemming_params) {
        obj.insert(
            "stemmer".into(),
            json!({"type": "snowball", "language": s.language}),
        );
    }
}

fn tokenizer_name(tokenizer: grpc::TokenizerType) -> Option<&'static str> {
    match tokenizer {
        grpc::TokenizerType::Unknown => None,
        grpc::TokenizerType::Prefix => Some("prefix"),
        grpc::TokenizerType::Whitespace => Some("whitespace"),
        grpc::TokenizerType::Word => Some("word"),
        grpc::TokenizerType::Multilingual => Some("multilingual"),
        grpc::TokenizerType::Code => Some("code"),
    }
}

pub fn payload_schema_info_to_grpc(info: PayloadIndexInfo) -> grpc::PayloadSchemaInfo {
    let data_type = schema_type_from_name(&info.data_type);
    grpc::PayloadSchemaInfo {
        data_type: data_type as i32,
        params: info
            .params
            .as_ref()
            .and_then(|p| index_params_to_grpc(data_type, p)),
        points: Some(info.points as u64),
    }
}

fn schema_type_from_name(name: &str) -> grpc::PayloadSchemaType {
    match name {
        "keyword" => grpc::PayloadSchemaType::Keyword,
        "integer" => grpc::PayloadSchemaType::Integer,
        "float" => grpc::PayloadSchemaType::Float,
        "geo" => grpc::PayloadSchemaType::Geo,
        "text" => grpc::PayloadSchemaType::Text,
        "bool" => grpc::PayloadSchemaType::Bool,
        "datetime" => grpc::PayloadSchemaType::Datetime,
        "uuid" => grpc::PayloadSchemaType::Uuid,
        _ => grpc::PayloadSchemaType::UnknownType,
    }
}

/// The index parameters reported in collection info, read back from the REST JSON.
#[allow(deprecated)]
fn index_params_to_grpc(
    data_type: grpc::PayloadSchemaType,
    params: &Json,
) -> Option<grpc::PayloadIndexParams> {
    use grpc::PayloadSchemaType as T;
    let flag = |key: &str| params.get(key).and_then(Json::as_bool);
    let number = |key: &str| params.get(key).and_then(Json::as_u64);
    let index_params = match data_type {
        T::Keyword => IndexParams::KeywordIndexParams(grpc::KeywordIndexParams {
            is_tenant: flag("is_tenant"),
            on_disk: flag("on_disk"),
            ..Default::default()
        }),
        T::Integer => IndexParams::IntegerIndexParams(grpc::IntegerIndexParams {
            lookup: flag("lookup"),
            range: flag("range"),
            is_principal: flag("is_principal"),
            on_disk: flag("on_disk"),
            ..Default::default()
        }),
        T::Float => IndexParams::FloatIndexParams(grpc::FloatIndexParams {
            is_principal: flag("is_principal"),
            on_disk: flag("on_disk"),
            ..Default::default()
        }),
        T::Geo => IndexParams::GeoIndexParams(grpc::GeoIndexParams {
            on_disk: flag("on_disk"),
            ..Default::default()
        }),
        T::Text => IndexParams::TextIndexParams(grpc::TextIndexParams {
            tokenizer: tokenizer_from_name(params.get("tokenizer").and_then(Json::as_str)) as i32,
            lowercase: flag("lowercase"),
            min_token_len: number("min_token_len"),
            max_token_len: number("max_token_len"),
            on_disk: flag("on_disk"),
            phrase_matching: flag("phrase_matching"),
            ascii_folding: flag("ascii_folding"),
            ..Default::default()
        }),
        T::Bool => IndexParams::BoolIndexParams(grpc::BoolIndexParams {
            on_disk: flag("on_disk"),
            ..Default::default()
        }),
        T::Datetime => IndexParams::DatetimeIndexParams(grpc::DatetimeIndexParams {
            is_principal: flag("is_principal"),
            on_disk: flag("on_disk"),
            ..Default::default()
        }),
        T::Uuid => IndexParams::UuidIndexParams(grpc::UuidIndexParams {
            is_tenant: flag("is_tenant"),
            on_disk: flag("on_disk"),
            ..Default::default()
        }),
        T::UnknownType => return None,
    };
    Some(grpc::PayloadIndexParams {
        index_params: Some(index_params),
    })
}

fn tokenizer_from_name(name: Option<&str>) -> grpc::TokenizerType {
    match name {
        Some("prefix") => grpc::TokenizerType::Prefix,
        Some("whitespace") => grpc::TokenizerType::Whitespace,
        Some("word") => grpc::TokenizerType::Word,
        Some("multilingual") => grpc::TokenizerType::Multilingual,
        Some("code") => grpc::TokenizerType::Code,
        _ => grpc::TokenizerType::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_type_becomes_its_name() {
        let schema = field_schema_json(Some(grpc::FieldType::Integer as i32), None).unwrap();
        assert_eq!(schema, json!("integer"));
        assert!(field_schema_json(None, None).is_err());
    }

    #[test]
    fn params_round_trip_through_rest_json() {
        let params = grpc::PayloadIndexParams {
            index_params: Some(IndexParams::KeywordIndexParams(grpc::KeywordIndexParams {
                is_tenant: Some(true),
                ..Default::default()
            })),
        };
        let schema =
            field_schema_json(Some(grpc::FieldType::Keyword as i32), Some(params.clone())).unwrap();
        assert_eq!(schema, json!({"type": "keyword", "is_tenant": true}));
        let info = payload_schema_info_to_grpc(PayloadIndexInfo {
            data_type: "keyword".into(),
            params: Some(schema),
            points: 3,
        });
        assert_eq!(info.data_type, grpc::PayloadSchemaType::Keyword as i32);
        assert_eq!(info.params, Some(params));
        assert_eq!(info.points, Some(3));
    }
}
