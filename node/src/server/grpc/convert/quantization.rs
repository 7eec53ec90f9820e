//! Quantization: collection and vector settings (rewritten into Qdrant's REST JSON, so the
//! REST types validate them), their report in collection info, and search parameters.

use qdrant_client::qdrant as grpc;
use qdrant_client::qdrant::{
    binary_quantization_query_encoding, quantization_config, quantization_config_diff,
};
use serde_json::{json, Map, Value as Json};

use super::put;
use crate::server::grpc::error::ConvertError;
use crate::types::{
    BinaryEncoding, BinaryQueryEncoding, CompressionRatio, QuantizationConfig,
    QuantizationSearchParams,
};

/// A `quantization_config` as REST JSON.
pub fn quantization_json(config: grpc::QuantizationConfig) -> Result<Json, ConvertError> {
    use quantization_config::Quantization;
    match config.quantization {
        Some(Quantization::Scalar(s)) => scalar_json(s),
        Some(Quantization::Product(p)) => product_json(p),
        Some(Quantization::Binary(b)) => binary_json(b),
        Some(Quantization::Turboquant(_)) => Err(ConvertError::unsupported("turbo quantization")),
        None => Err(ConvertError::invalid("quantization_config names no method")),
    }
}

/// A `quantization_config` change as REST JSON: a config, or `"Disabled"`.
pub fn quantization_diff_json(diff: grpc::QuantizationConfigDiff) -> Result<Json, ConvertError> {
    use quantization_config_diff::Quantization;
    match diff.quantization {
        Some(Quantization::Scalar(s)) => scalar_json(s),
        Some(Quantization::Product(p)) => product_json(p),
        Some(Quantization::Binary(b)) => binary_json(b),
        Some(Quantization::Disabled(_)) => Ok(json!("Disabled")),
        Some(Quantization::Turboquant(_)) => Err(ConvertError::unsupported("turbo quantization")),
        None => Err(ConvertError::invalid("quantization_config names no method")),
    }
}

#[allow(deprecated)]
fn scalar_json(s: grpc::ScalarQuantization) -> Result<Json, ConvertError> {
    if !matches!(
        grpc::QuantizationType::try_from(s.r#type),
        Ok(grpc::QuantizationType::Int8)
    ) {
        return Err(ConvertError::invalid(format!(
            "scalar.type: unknown quantization type {}, expected Int8",
            s.r#type
        )));
    }
    let mut obj = Map::new();
    obj.insert("type".into(), "int8".into());
    put(&mut obj, "quantile", s.quantile.map(decimal));
    put(&mut obj, "always_ram", s.always_ram);
    Ok(json!({ "scalar": obj }))
}

#[allow(deprecated)]
fn product_json(p: grpc::ProductQuantization) -> Result<Json, ConvertError> {
    let compression = grpc::CompressionRatio::try_from(p.compression).map_err(|_| {
        ConvertError::invalid(format!(
            "product.compression: unknown compression ratio {}",
            p.compression
        ))
    })?;
    let mut obj = Map::new();
    obj.insert("compression".into(), compression.as_str_name().into());
    put(&mut obj, "always_ram", p.always_ram);
    Ok(json!({ "product": obj }))
}

#[allow(deprecated)]
fn binary_json(b: grpc::BinaryQuantization) -> Result<Json, ConvertError> {
    let mut obj = Map::new();
    put(&mut obj, "always_ram", b.always_ram);
    if let Some(encoding) = b.encoding {
        let name = match grpc::BinaryQuantizationEncoding::try_from(encoding) {
            Ok(grpc::BinaryQuantizationEncoding::OneBit) => "one_bit",
            Ok(grpc::BinaryQuantizationEncoding::TwoBits) => "two_bits",
            Ok(grpc::BinaryQuantizationEncoding::OneAndHalfBits) => "one_and_half_bits",
            Err(_) => {
                return Err(ConvertError::invalid(format!(
                    "binary.encoding: unknown encoding {encoding}"
                )))
            }
        };
        obj.insert("encoding".into(), name.into());
    }
    if let Some(binary_quantization_query_encoding::Variant::Setting(setting)) =
        b.query_encoding.and_then(|q| q.variant)
    {
        use binary_quantization_query_encoding::Setting;
        let name = match Setting::try_from(setting) {
            Ok(Setting::Default) => "default",
            Ok(Setting::Binary) => "binary",
            Ok(Setting::Scalar4Bits) => "scalar4bits",
            Ok(Setting::Scalar8Bits) => "scalar8bits",
            Err(_) => {
                return Err(ConvertError::invalid(format!(
                    "binary.query_encoding: unknown encoding {setting}"
                )))
            }
        };
        obj.insert("query_encoding".into(), name.into());
    }
    Ok(json!({ "binary": obj }))
}

/// The f64 of a float's shortest decimal form: 0.99f32 becomes 0.99, not 0.9900000095…,
/// so the setting reads back over REST as the client wrote it.
fn decimal(x: f32) -> f64 {
    x.to_string().parse().unwrap_or(f64::from(x))
}

/// A stored quantization setting as reported in collection info.
#[allow(deprecated)]
pub fn quantization_to_grpc(config: QuantizationConfig) -> grpc::QuantizationConfig {
    use quantization_config::Quantization;
    let quantization = match config {
        QuantizationConfig::Scalar(s) => Quantization::Scalar(grpc::ScalarQuantization {
            r#type: grpc::QuantizationType::Int8 as i32,
            quantile: s.quantile.map(|q| q as f32),
            always_ram: s.always_ram,
            memory: None,
        }),
        QuantizationConfig::Product(p) => Quantization::Product(grpc::ProductQuantization {
            compression: compression_to_grpc(p.compression) as i32,
            always_ram: p.always_ram,
            memory: None,
        }),
        QuantizationConfig::Binary(b) => Quantization::Binary(grpc::BinaryQuantization {
            always_ram: b.always_ram,
            encoding: b.encoding.map(|e| encoding_to_grpc(e) as i32),
            query_encoding: b.query_encoding.map(query_encoding_to_grpc),
            memory: None,
        }),
    };
    grpc::QuantizationConfig {
        quantization: Some(quantization),
    }
}

fn compression_to_grpc(ratio: CompressionRatio) -> grpc::CompressionRatio {
    match ratio {
        CompressionRatio::X4 => grpc::CompressionRatio::X4,
        CompressionRatio::X8 => grpc::CompressionRatio::X8,
        CompressionRatio::X16 => grpc::CompressionRatio::X16,
        CompressionRatio::X32 => grpc::CompressionRatio::X32,
        CompressionRatio::X64 => grpc::CompressionRatio::X64,
    }
}

fn encoding_to_grpc(encoding: BinaryEncoding) -> grpc::BinaryQuantizationEncoding {
    match encoding {
        BinaryEncoding::OneBit => grpc::BinaryQuantizationEncoding::OneBit,
        BinaryEncoding::TwoBits => grpc::BinaryQuantizationEncoding::TwoBits,
        BinaryEncoding::OneAndHalfBits => grpc::BinaryQuantizationEncoding::OneAndHalfBits,
    }
}

fn query_encoding_to_grpc(encoding: BinaryQueryEncoding) -> grpc::BinaryQuantizationQueryEncoding {
    use binary_quantization_query_encoding::Setting;
    let setting = match encoding {
        BinaryQueryEncoding::Default => Setting::Default,
        BinaryQueryEncoding::Binary => Setting::Binary,
        BinaryQueryEncoding::Scalar4Bits => Setting::Scalar4Bits,
        BinaryQueryEncoding::Scalar8Bits => Setting::Scalar8Bits,
    };
    grpc::BinaryQuantizationQueryEncoding {
        variant: Some(binary_quantization_query_encoding::Variant::Setting(
            setting as i32,
        )),
    }
}

/// `params.quantization` of a search.
pub fn search_params_from_grpc(params: grpc::QuantizationSearchParams) -> QuantizationSearchParams {
    QuantizationSearchParams {
        ignore: params.ignore.unwrap_or(false),
        rescore: params.rescore,
        oversampling: params.oversampling,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from_json(v: Json) -> QuantizationConfig {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    #[allow(deprecated)]
    fn every_method_converts_both_ways() {
        let configs = [
            json!({"scalar": {"type": "int8", "quantile": 0.99, "always_ram": true}}),
            json!({"product": {"compression": "x32"}}),
            json!({"binary": {"encoding": "one_bit", "query_encoding": "binary"}}),
        ];
        for rest in configs {
            let grpc = quantization_to_grpc(from_json(rest.clone()));
            assert_eq!(quantization_json(grpc).unwrap(), rest);
        }
    }

    #[test]
    fn unknown_enum_values_and_empty_configs_are_invalid() {
        let scalar = grpc::QuantizationConfig {
            quantization: Some(quantization_config::Quantization::Scalar(
                grpc::ScalarQuantization::default(),
            )),
        };
        assert!(matches!(
            quantization_json(scalar),
            Err(ConvertError::Invalid(_))
        ));
        let product = grpc::QuantizationConfig {
            quantization: Some(quantization_config::Quantization::Product(
                grpc::ProductQuantization {
                    compression: 99,
                    ..Default::default()
                },
            )),
        };
        assert!(matches!(
            quantization_json(product),
            Err(ConvertError::Invalid(_))
        ));
        let empty = grpc::QuantizationConfigDiff { quantization: None };
        assert!(quantization_diff_json(empty).is_err());
        let disabled = grpc::QuantizationConfigDiff {
            quantization: Some(quantization_config_diff::Quantization::Disabled(
                grpc::Disabled {},
            )),
        };
        assert_eq!(quantization_diff_json(disabled).unwrap(), json!("Disabled"));
    }
}
