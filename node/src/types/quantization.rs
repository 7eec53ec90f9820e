//! Quantization settings in Qdrant's JSON shapes: how a vector space keeps compressed codes
//! of its vectors (`quantization_config`), and how a search uses them (`params.quantization`).

use serde::{Deserialize, Serialize};

/// `quantization_config` of a collection or of one vector: exactly one method.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum QuantizationConfig {
    Scalar(ScalarQuantization),
    Product(ProductQuantization),
    Binary(BinaryQuantization),
}

/// Int8 scalar quantization: each component mapped linearly onto 0..=255.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScalarQuantization {
    pub r#type: ScalarType,
    /// The share of component values the code range covers (the rest is clipped); absent:
    /// the whole range. (f64 so the value reported back is the one sent.)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantile: Option<f64>,
    /// Accepted and reported; codes are always kept in memory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub always_ram: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScalarType {
    Int8,
}

/// Product quantization: sub-vectors replaced by the nearest of 256 learnt centroids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProductQuantization {
    pub compression: CompressionRatio,
    /// Accepted and reported; codes are always kept in memory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub always_ram: Option<bool>,
}

/// How many times smaller than the float32 vector a product-quantized code is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CompressionRatio {
    X4,
    X8,
    X16,
    X32,
    X64,
}

impl CompressionRatio {
    /// Vector components per one-byte code: 4 bytes of float each, `ratio` times smaller.
    pub fn components_per_code(self) -> usize {
        match self {
            CompressionRatio::X4 => 1,
            CompressionRatio::X8 => 2,
            CompressionRatio::X16 => 4,
            CompressionRatio::X32 => 8,
            CompressionRatio::X64 => 16,
        }
    }
}

/// Binary quantization: one, one and a half or two bits per component.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BinaryQuantization {
    /// Accepted and reported; codes are always kept in memory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub always_ram: Option<bool>,
    /// Bits per component; absent: `one_bit`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<BinaryEncoding>,
    /// How a query is coded: like the vectors (`default`, `binary`), or as 4- or 8-bit
    /// integers (`scalar4bits`, `scalar8bits`), more accurate and slower.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_encoding: Option<BinaryQueryEncoding>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BinaryEncoding {
    OneBit,
    TwoBits,
    OneAndHalfBits,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BinaryQueryEncoding {
    Default,
    Binary,
    #[serde(rename = "scalar4bits")]
    Scalar4Bits,
    #[serde(rename = "scalar8bits")]
    Scalar8Bits,
}

/// Why a quantization config is refused; the message names the offending field.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum QuantizationConfigError {
    #[error("scalar.quantile: value {0} invalid, must be from 0.5 to 1.0")]
    Quantile(f64),
}

impl QuantizationConfig {
    /// Checks the values serde cannot: ranges.
    pub fn validate(&self) -> Result<(), QuantizationConfigError> {
        match self {
            QuantizationConfig::Scalar(s) => match s.quantile {
                Some(q) if !(0.5..=1.0).contains(&q) => Err(QuantizationConfigError::Quantile(q)),
                _ => Ok(()),
            },
            QuantizationConfig::Product(_) | QuantizationConfig::Binary(_) => Ok(()),
        }
    }
}

/// A change of `quantization_config` (`PATCH /collections/{name}`): a new method, or
/// `"Disabled"` to remove it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(untagged)]
pub enum QuantizationConfigDiff {
    Disabled(Disabled),
    Config(QuantizationConfig),
}

impl QuantizationConfigDiff {
    /// The config after the change: `None` when disabled.
    pub fn config(&self) -> Option<QuantizationConfig> {
        match self {
            QuantizationConfigDiff::Disabled(_) => None,
            QuantizationConfigDiff::Config(c) => Some(*c),
        }
    }
}

/// Parsed by hand rather than `untagged`, so a bad config keeps serde's precise message.
impl<'de> Deserialize<'de> for QuantizationConfigDiff {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        match serde_json::Value::deserialize(d)? {
            serde_json::Value::String(s) if s == "Disabled" => {
                Ok(QuantizationConfigDiff::Disabled(Disabled::Disabled))
            }
            serde_json::Value::String(s) => Err(D::Error::custom(format!(
                "unknown quantization setting `{s}`, expected `Disabled` or a config"
            ))),
            config => serde_json::from_value(config)
                .map(QuantizationConfigDiff::Config)
                .map_err(D::Error::custom),
        }
    }
}

/// The string `"Disabled"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Disabled {
    Disabled,
}

/// `params.quantization` of a search.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuantizationSearchParams {
    /// Score with the original vectors only.
    #[serde(default)]
    pub ignore: bool,
    /// Re-score the candidates found with the codes using the original vectors (default
    /// true, as Qdrant does when the originals are in memory).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rescore: Option<bool>,
    /// Gather `oversampling × limit` candidates with the codes before re-scoring (≥ 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oversampling: Option<f64>,
}

impl QuantizationSearchParams {
    /// Refuses an oversampling factor below 1 (or not a number).
    pub fn validate(&self) -> Result<(), String> {
        match self.oversampling {
            Some(o) if o.is_nan() || o < 1.0 => Err(format!(
                "quantization.oversampling: value {o} invalid, must be 1.0 or more"
            )),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: serde_json::Value) -> Result<QuantizationConfig, String> {
        let config: QuantizationConfig = serde_json::from_value(v).map_err(|e| e.to_string())?;
        config.validate().map_err(|e| e.to_string())?;
        Ok(config)
    }

    #[test]
    fn qdrant_shapes_parse_and_round_trip() {
        let shapes = [
            json!({"scalar": {"type": "int8", "quantile": 0.99, "always_ram": true}}),
            json!({"product": {"compression": "x16"}}),
            json!({"binary": {"always_ram": false, "encoding": "one_bit"}}),
            json!({"binary": {"encoding": "two_bits", "query_encoding": "scalar8bits"}}),
            json!({"binary": {"encoding": "one_and_half_bits", "query_encoding": "scalar4bits"}}),
        ];
        for shape in shapes {
            let config = parse(shape.clone()).unwrap();
            assert_eq!(serde_json::to_value(config).unwrap(), shape);
        }
        let config = parse(json!({"product": {"compression": "x32"}})).unwrap();
        let QuantizationConfig::Product(p) = config else {
            panic!("product expected, got {config:?}")
        };
        assert_eq!(p.compression.components_per_code(), 8);
    }

    #[test]
    fn invalid_configs_are_refused_with_the_field_named() {
        let quantile = parse(json!({"scalar": {"type": "int8", "quantile": 0.3}})).unwrap_err();
        assert!(quantile.contains("scalar.quantile"), "{quantile}");
        assert!(parse(json!({"scalar": {"type": "int8", "quantile": 1.01}})).is_err());
        assert!(parse(json!({"scalar": {"type": "int8", "quantile": 0.5}})).is_ok());
        assert!(parse(json!({"scalar": {"type": "int4"}})).is_err());
        assert!(parse(json!({"product": {"compression": "x3"}})).is_err());
        assert!(parse(json!({"binary": {"encoding": "three_bits"}})).is_err());
        assert!(parse(json!({"binary": {"query_encoding": "scalar2bits"}})).is_err());
        assert!(parse(json!({"scalar": {"type": "int8"}, "binary": {}})).is_err());
        assert!(parse(json!({"scalar": {"type": "int8", "bits": 8}})).is_err());
    }

    #[test]
    fn a_diff_is_a_config_or_disabled() {
        let off: QuantizationConfigDiff = serde_json::from_value(json!("Disabled")).unwrap();
        assert_eq!(off.config(), None);
        let on: QuantizationConfigDiff = serde_json::from_value(json!({"binary": {}})).unwrap();
        assert!(matches!(on.config(), Some(QuantizationConfig::Binary(_))));
        assert!(serde_json::from_value::<QuantizationConfigDiff>(json!("Off")).is_err());
    }

    #[test]
    fn search_params_default_and_validate() {
        let p: QuantizationSearchParams = serde_json::from_value(json!({})).unwrap();
        assert_eq!(p, QuantizationSearchParams::default());
        let p: QuantizationSearchParams =
            serde_json::from_value(json!({"rescore": false, "oversampling": 2.5})).unwrap();
        assert!(p.validate().is_ok());
        let low: QuantizationSearchParams =
            serde_json::from_value(json!({"oversampling": 0.5})).unwrap();
        assert!(low.validate().is_err());
    }
}
