//! Quantized codes of a vector space: compressed copies of its vectors that searches score
//! instead of the originals (cheaper per comparison and far less memory to stream), before
//! re-scoring the best candidates with the originals.
//!
//! A [`Quantizer`] holds the codes of every offset of a [`DenseVectors`], in the method its
//! [`QuantizationConfig`] names: int8 [`scalar`], 1-, 1.5- or 2-bit [`binary`] or
//! [`product`] codes.
//! Methods that learn from the data are trained on an evenly spread sample of the present
//! vectors; while that sample is small, the codes are retrained each time the space doubles,
//! so a space filled by small batches ends up as well coded as one loaded at once.

mod aligned;
mod binary;
mod kernels;
mod product;
mod scalar;

use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::Path;

use crate::types::QuantizationConfig;

use super::codec::{self, invalid};
use super::vectors::DenseVectors;
use binary::{BinaryCodes, BinaryQuery};
use product::{ProductCodes, ProductQuery};
use scalar::{ScalarCodes, ScalarQuery};

const MAGIC: &[u8; 8] = b"GRAPEQNT";
/// Vectors a trained method learns from; past that, more data changes little.
const TRAINING_SAMPLE: usize = 8192;

pub struct Quantizer {
    config: QuantizationConfig,
    /// Offsets the space had when the codes were trained.
    trained_at: usize,
    codes: Codes,
}

enum Codes {
    Scalar(ScalarCodes),
    Binary(BinaryCodes),
    Product(ProductCodes),
}

/// A query prepared for scoring against the codes.
pub struct QuantizedQuery<'a> {
    codes: &'a Codes,
    prepared: Prepared,
}

enum Prepared {
    Scalar(ScalarQuery),
    Binary(BinaryQuery),
    Product(ProductQuery),
}

impl Quantizer {
    /// Trains codes on the present vectors and encodes every offset.
    pub fn build(config: QuantizationConfig, vectors: &DenseVectors, present: &[bool]) -> Self {
        let sample = sample(vectors, present);
        let (dim, distance) = (vectors.dim(), vectors.distance());
        let codes = match config {
            QuantizationConfig::Scalar(s) => {
                Codes::Scalar(ScalarCodes::train(dim, distance, &sample, s.quantile))
            }
            QuantizationConfig::Binary(b) => {
                Codes::Binary(BinaryCodes::train(dim, distance, &b, &sample))
            }
            QuantizationConfig::Product(p) => Codes::Product(ProductCodes::train(
                dim,
                distance,
                p.compression.components_per_code(),
                &sample,
            )),
        };
        let mut quantizer = Quantizer {
            config,
            trained_at: vectors.len(),
            codes,
        };
        quantizer.encode_new(vectors);
        tracing::debug!(?config, vectors = vectors.len(), "quantized codes built");
        quantizer
    }

    pub fn config(&self) -> &QuantizationConfig {
        &self.config
    }

    /// Encodes the offsets stored since the last call, first retraining when the codes were
    /// learnt from a small sample and the space has since doubled.
    pub fn update(&mut self, vectors: &DenseVectors, present: &[bool]) {
        let learns = match &self.codes {
            Codes::Binary(c) => c.learns(),
            Codes::Scalar(_) | Codes::Product(_) => true,
        };
        if learns && self.trained_at < TRAINING_SAMPLE && vectors.len() >= 2 * self.trained_at {
            *self = Quantizer::build(self.config, vectors, present);
        } else {
            self.encode_new(vectors);
        }
    }

    /// Prepares a (preprocessed) query.
    pub fn query(&self, query: &[f32]) -> QuantizedQuery<'_> {
        let prepared = match &self.codes {
            Codes::Scalar(c) => Prepared::Scalar(c.prepare(query)),
            Codes::Binary(c) => Prepared::Binary(c.prepare(query)),
            Codes::Product(c) => Prepared::Product(c.prepare(query)),
        };
        QuantizedQuery {
            codes: &self.codes,
            prepared,
        }
    }

    /// Bytes held by the codes and what decodes them.
    pub fn memory_bytes(&self) -> usize {
        match &self.codes {
            Codes::Scalar(c) => c.memory_bytes(),
            Codes::Binary(c) => c.memory_bytes(),
            Codes::Product(c) => c.memory_bytes(),
        }
    }

    fn len(&self) -> usize {
        match &self.codes {
            Codes::Scalar(c) => c.len(),
            Codes::Binary(c) => c.len(),
            Codes::Product(c) => c.len(),
        }
    }

    fn encode_new(&mut self, vectors: &DenseVectors) {
        for offset in self.len()..vectors.len() {
            let v = vectors.get(offset as u32);
            match &mut self.codes {
                Codes::Scalar(c) => c.push(v),
                Codes::Binary(c) => c.push(v),
                Codes::Product(c) => c.push(v),
            }
        }
    }

    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let mut w = BufWriter::new(File::create(path)?);
        codec::write_magic(&mut w, MAGIC)?;
        let config = serde_json::to_vec(&self.config).map_err(|e| invalid(e.to_string()))?;
        codec::write_u8s(&mut w, &config)?;
        codec::write_u64(&mut w, self.trained_at as u64)?;
        match &self.codes {
            Codes::Scalar(c) => c.save(&mut w)?,
            Codes::Binary(c) => c.save(&mut w)?,
            Codes::Product(c) => c.save(&mut w)?,
        }
        w.into_inner().map_err(|e| e.into_error())?.sync_all()
    }

    /// Loads codes saved for `vectors`; an error when the file is damaged or does not
    /// cover exactly those vectors.
    pub fn load(path: &Path, vectors: &DenseVectors) -> std::io::Result<Self> {
        let mut r = BufReader::new(File::open(path)?);
        codec::read_magic(&mut r, MAGIC)?;
        let config: QuantizationConfig = serde_json::from_slice(&codec::read_u8s(&mut r)?)
            .map_err(|e| invalid(e.to_string()))?;
        let trained_at = codec::read_usize(&mut r)?;
        let (dim, distance) = (vectors.dim(), vectors.distance());
        let codes = match config {
            QuantizationConfig::Scalar(_) => {
                Codes::Scalar(ScalarCodes::load(&mut r, dim, distance)?)
            }
            QuantizationConfig::Binary(b) => {
                Codes::Binary(BinaryCodes::load(&mut r, dim, distance, &b)?)
            }
            QuantizationConfig::Product(_) => {
                Codes::Product(ProductCodes::load(&mut r, dim, distance)?)
            }
        };
        let quantizer = Quantizer {
            config,
            trained_at,
            codes,
        };
        if quantizer.len() != vectors.len() {
            return Err(invalid(format!(
                "{} codes for {} vectors",
                quantizer.len(),
                vectors.len()
            )));
        }
        Ok(quantizer)
    }
}

impl QuantizedQuery<'_> {
    /// The approximate order key of the point at `offset` (lower is closer), in the units
    /// of the exact order key.
    #[inline]
    pub fn key(&self, offset: u32) -> f32 {
        match (self.codes, &self.prepared) {
            (Codes::Scalar(c), Prepared::Scalar(q)) => c.key(q, offset),
            (Codes::Binary(c), Prepared::Binary(q)) => c.key(q, offset),
            (Codes::Product(c), Prepared::Product(q)) => c.key(q, offset),
            _ => unreachable!("a query is prepared by the codes it scores"),
        }
    }

    /// Hints the CPU to fetch the codes of `offset`. Int8 and binary codes are fetched
    /// ahead; product codes are not yet.
    #[inline]
    pub fn prefetch(&self, offset: u32) {
        match self.codes {
            Codes::Scalar(c) => c.prefetch(offset),
            Codes::Binary(c) => c.prefetch(offset),
            Codes::Product(_) => {}
        }
    }
}

/// Up to [`TRAINING_SAMPLE`] present vectors, evenly spread over the offsets.
fn sample<'a>(vectors: &'a DenseVectors, present: &[bool]) -> Vec<&'a [f32]> {
    let offsets: Vec<u32> = (0..vectors.len() as u32)
        .filter(|&o| present.get(o as usize).copied().unwrap_or(false))
        .collect();
    let step = offsets.len().div_ceil(TRAINING_SAMPLE).max(1);
    offsets
        .iter()
        .step_by(step)
        .map(|&o| vectors.get(o))
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::types::{Distance, ScalarQuantization, ScalarType};

    /// Deterministic vectors of standard normal components (Box–Muller over xorshift).
    pub fn gaussian_vectors(n: usize, dim: usize, seed: u64) -> Vec<Vec<f32>> {
        let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut uniform = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            ((state >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        };
        (0..n)
            .map(|_| {
                (0..dim)
                    .map(|_| {
                        let (u, v) = (uniform(), uniform());
                        ((-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()) as f32
                    })
                    .collect()
            })
            .collect()
    }

    fn scalar() -> QuantizationConfig {
        QuantizationConfig::Scalar(ScalarQuantization {
            r#type: ScalarType::Int8,
            quantile: Some(0.99),
            always_ram: None,
        })
    }

    fn space(vectors: &[Vec<f32>]) -> DenseVectors {
        let mut space = DenseVectors::new(vectors[0].len(), Distance::Dot);
        vectors.iter().for_each(|v| {
            space.push(v);
        });
        space
    }

    #[test]
    fn codes_follow_the_vectors_and_retrain_while_the_sample_is_small() {
        let vectors = gaussian_vectors(100, 8, 13);
        let mut stored = space(&vectors[..10]);
        let mut present = vec![true; 10];
        let mut quantizer = Quantizer::build(scalar(), &stored, &present);
        assert_eq!((quantizer.len(), quantizer.trained_at), (10, 10));
        for v in &vectors[10..15] {
            stored.push(v);
            present.push(true);
        }
        quantizer.update(&stored, &present);
        assert_eq!((quantizer.len(), quantizer.trained_at), (15, 10));
        for v in &vectors[15..] {
            stored.push(v);
            present.push(true);
        }
        quantizer.update(&stored, &present);
        assert_eq!((quantizer.len(), quantizer.trained_at), (100, 100));
    }

    #[test]
    fn the_training_sample_skips_absent_vectors() {
        let vectors = gaussian_vectors(20, 4, 14);
        let stored = space(&vectors);
        let present: Vec<bool> = (0..20).map(|i| i % 2 == 0).collect();
        assert_eq!(sample(&stored, &present).len(), 10);
        assert_eq!(sample(&stored, &present)[1], stored.get(2));
    }

    #[test]
    fn save_and_load_round_trip_and_refuse_other_vectors() {
        let dir = tempfile::tempdir().unwrap();
        let vectors = gaussian_vectors(30, 8, 15);
        let stored = space(&vectors);
        let quantizer = Quantizer::build(scalar(), &stored, &[true; 30]);
        let path = dir.path().join("q.bin");
        quantizer.save(&path).unwrap();
        let loaded = Quantizer::load(&path, &stored).unwrap();
        assert_eq!(loaded.config(), quantizer.config());
        let (a, b) = (quantizer.query(&vectors[0]), loaded.query(&vectors[0]));
        assert_eq!(a.key(4), b.key(4));
        assert!(Quantizer::load(&path, &space(&vectors[..20])).is_err());
    }
}
