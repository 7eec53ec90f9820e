//! Int8 scalar quantization: every component is mapped linearly onto 0..=255 over one range
//! learnt from the data (clipped to a central quantile, so rare outliers do not waste the
//! code range), i.e. `x ≈ low + step·q`.
//!
//! Scores are computed on the codes. For the dot product the affine map leaves terms that
//! depend on one vector only; they are folded into a per-vector correction, so comparing a
//! query with a point costs one integer dot product and two additions:
//! `a·b ≈ step²·(qa·qb) + c(a) + c(b)` with `c(x) = low·step·Σqx + dim·low²/2`.

use std::io::{self, Read, Write};

use crate::index::codec;
use crate::types::Distance;

use super::aligned::AlignedBytes;
use super::kernels::{dot_u8, l1_u8, l2_u8};

pub struct ScalarCodes {
    dim: usize,
    distance: Distance,
    low: f32,
    step: f32,
    /// `dim` codes per offset.
    codes: AlignedBytes,
    /// The dot-product correction of each offset (unused by Euclid and Manhattan).
    corrections: Vec<f32>,
}

/// A query encoded like the stored vectors.
pub struct ScalarQuery {
    codes: Vec<u8>,
    correction: f32,
}

impl ScalarCodes {
    /// Learns the code range from the sample's components, keeping the central `quantile`
    /// of them (all when `None`).
    pub fn train(dim: usize, distance: Distance, sample: &[&[f32]], quantile: Option<f64>) -> Self {
        let mut values: Vec<f32> = sample.iter().flat_map(|v| v.iter().copied()).collect();
        let (low, high) = range(&mut values, quantile.unwrap_or(1.0));
        let step = if high > low {
            (high - low) / 255.0
        } else {
            1.0
        };
        ScalarCodes {
            dim,
            distance,
            low,
            step,
            codes: AlignedBytes::default(),
            corrections: Vec::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.corrections.len()
    }

    /// Appends the codes of one (preprocessed) vector.
    pub fn push(&mut self, v: &[f32]) {
        let codes: Vec<u8> = v.iter().map(|&x| self.encode(x)).collect();
        self.corrections.push(self.correction(&codes));
        self.codes.extend_from_slice(&codes);
    }

    pub fn prepare(&self, query: &[f32]) -> ScalarQuery {
        let codes: Vec<u8> = query.iter().map(|&x| self.encode(x)).collect();
        let correction = self.correction(&codes);
        ScalarQuery { codes, correction }
    }

    /// The approximate order key (lower is closer) of the point at `offset`.
    #[inline]
    pub fn key(&self, query: &ScalarQuery, offset: u32) -> f32 {
        let codes = self.code(offset);
        match self.distance {
            Distance::Cosine | Distance::Dot => {
                let dot = dot_u8(&query.codes, codes) as f32;
                -(self.step * self.step * dot
                    + query.correction
                    + self.corrections[offset as usize])
            }
            Distance::Euclid => self.step * self.step * l2_u8(&query.codes, codes) as f32,
            Distance::Manhattan => self.step * l1_u8(&query.codes, codes) as f32,
        }
    }

    #[inline]
    pub fn prefetch(&self, offset: u32) {
        crate::index::prefetch::prefetch(self.code(offset));
    }

    /// The codes of the point at `offset`.
    #[inline]
    fn code(&self, offset: u32) -> &[u8] {
        let o = offset as usize;
        &self.codes.as_slice()[o * self.dim..(o + 1) * self.dim]
    }

    pub fn memory_bytes(&self) -> usize {
        self.codes.capacity() + self.corrections.capacity() * std::mem::size_of::<f32>()
    }

    #[inline]
    fn encode(&self, x: f32) -> u8 {
        ((x - self.low) / self.step).round().clamp(0.0, 255.0) as u8
    }

    fn correction(&self, codes: &[u8]) -> f32 {
        let sum: u32 = codes.iter().map(|&c| u32::from(c)).sum();
        self.low * self.step * sum as f32 + self.dim as f32 * self.low * self.low / 2.0
    }

    pub fn save(&self, w: &mut impl Write) -> io::Result<()> {
        codec::write_f32s(w, &[self.low, self.step])?;
        codec::write_u8s(w, self.codes.as_slice())?;
        codec::write_f32s(w, &self.corrections)
    }

    pub fn load(r: &mut impl Read, dim: usize, distance: Distance) -> io::Result<Self> {
        let [low, step] = codec::read_f32s(r)?[..] else {
            return Err(codec::invalid("bad scalar quantization range"));
        };
        let codes = codec::read_u8s(r)?;
        let corrections = codec::read_f32s(r)?;
        if codes.len() != corrections.len() * dim || step <= 0.0 {
            return Err(codec::invalid(
                "scalar codes do not match their corrections",
            ));
        }
        Ok(ScalarCodes {
            dim,
            distance,
            low,
            step,
            codes: AlignedBytes::from(&codes[..]),
            corrections,
        })
    }

    /// The vector the codes at `offset` stand for.
    #[cfg(test)]
    fn decode(&self, offset: u32) -> Vec<f32> {
        self.code(offset)
            .iter()
            .map(|&c| self.low + self.step * f32::from(c))
            .collect()
    }
}

/// The bounds of the central `quantile` of the values: `(1 - quantile) / 2` of them fall
/// below `low`, as many above `high`.
fn range(values: &mut [f32], quantile: f64) -> (f32, f32) {
    if values.is_empty() {
        return (0.0, 0.0);
    }
    let last = values.len() - 1;
    let cut = ((1.0 - quantile) / 2.0 * last as f64).round() as usize;
    let (_, &mut low, _) = values.select_nth_unstable_by(cut, f32::total_cmp);
    let (_, &mut high, _) = values.select_nth_unstable_by(last - cut, f32::total_cmp);
    (low, high)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::quantization::tests::gaussian_vectors;
    use crate::index::score;

    fn trained(vectors: &[Vec<f32>], distance: Distance, quantile: Option<f64>) -> ScalarCodes {
        let sample: Vec<&[f32]> = vectors.iter().map(Vec::as_slice).collect();
        let mut codes = ScalarCodes::train(vectors[0].len(), distance, &sample, quantile);
        vectors.iter().for_each(|v| codes.push(v));
        codes
    }

    #[test]
    fn decoding_is_within_half_a_step_inside_the_range() {
        let vectors = gaussian_vectors(200, 16, 1);
        let codes = trained(&vectors, Distance::Euclid, None);
        for (i, v) in vectors.iter().enumerate() {
            for (x, y) in v.iter().zip(codes.decode(i as u32)) {
                assert!((x - y).abs() <= codes.step / 2.0 + 1e-6, "{x} vs {y}");
            }
        }
    }

    #[test]
    fn a_quantile_clips_outliers_and_narrows_the_step() {
        let mut vectors = gaussian_vectors(500, 8, 2);
        vectors[0][0] = 100.0;
        let full = trained(&vectors, Distance::Euclid, None);
        let clipped = trained(&vectors, Distance::Euclid, Some(0.99));
        assert!(
            clipped.step < full.step / 10.0,
            "{} vs {}",
            clipped.step,
            full.step
        );
        assert_eq!(
            clipped.codes.as_slice()[0],
            255,
            "the outlier is clipped to the top code"
        );
    }

    #[test]
    fn approximate_scores_are_close_to_exact_ones() {
        let vectors = gaussian_vectors(300, 64, 3);
        // The whole range: only rounding, no clipping, so the bound is tight.
        for distance in [Distance::Dot, Distance::Euclid, Distance::Manhattan] {
            let codes = trained(&vectors, distance, None);
            let query = codes.prepare(&vectors[7]);
            for (i, v) in vectors.iter().enumerate().take(50) {
                let exact = score(distance, &vectors[7], v);
                let key = codes.key(&query, i as u32);
                let approx = crate::index::key_to_score(distance, key);
                let tolerance = 0.05 * exact.abs().max(8.0);
                assert!(
                    (approx - exact).abs() < tolerance,
                    "{distance:?}: {approx} vs {exact}"
                );
            }
        }
    }

    #[test]
    fn save_and_load_round_trip() {
        let vectors = gaussian_vectors(20, 8, 4);
        let codes = trained(&vectors, Distance::Dot, Some(0.95));
        let mut bytes = Vec::new();
        codes.save(&mut bytes).unwrap();
        let loaded = ScalarCodes::load(&mut bytes.as_slice(), 8, Distance::Dot).unwrap();
        let query = codes.prepare(&vectors[3]);
        assert_eq!(loaded.len(), 20);
        assert_eq!(loaded.key(&query, 5), codes.key(&query, 5));
        assert!(ScalarCodes::load(&mut &bytes[..bytes.len() - 2], 8, Distance::Dot).is_err());
    }
}
