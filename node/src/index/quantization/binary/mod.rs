//! Binary quantization: each component kept as one, one and a half or two bits (see
//! [`layout`]), scored with popcounts.
//!
//! One-bit codes compared with one-bit queries use the Hamming distance: two sign patterns
//! that differ in `h` of `dim` bits are, for vectors spread evenly in direction, about
//! `θ = π·h/dim` apart (the random-hyperplane argument), so `cos θ` estimates their cosine.
//!
//! The other pairs read each code as a vector of integer levels `l`. For a vector `x`,
//! `l ≈ α·x̂ + noise` with `α = x̂·l` (`x̂` the unit vector), the code's *alignment*, kept
//! beside it; so a query `q` has `cos(q, x) ≈ q̂·l / α`. A query coded like the vectors
//! (multi-bit, default query encoding) gives `cos ≈ l_q·l / (α_q·α)`; a query quantized to
//! 4 or 8 bits (`scalar4bits`, `scalar8bits`) gives the `q̂·l` from its integers.
//!
//! With each vector's norm kept beside its code, the cosine estimate becomes a dot product
//! or a distance. It is crude, so binary codes are meant to pick candidates that the
//! original vectors then re-score.

mod layout;

use std::f32::consts::PI;
use std::io::{self, Read, Write};

use crate::index::codec;
use crate::types::{BinaryEncoding, BinaryQuantization, BinaryQueryEncoding, Distance};

use super::kernels::hamming;
use layout::{integer_dot, level_dot, IntegerPlanes, Layout};

pub struct BinaryCodes {
    distance: Distance,
    layout: Layout,
    /// Bits of the integers a query is quantized to; `None`: coded like the vectors.
    query_bits: Option<usize>,
    /// Per-component RMS of the training sample: the multi-bit thresholds' unit.
    scales: Vec<f32>,
    codes: Vec<u64>,
    norms: Vec<f32>,
    /// Per offset: the unit vector's dot product with its levels (`α`).
    alignments: Vec<f32>,
}

pub struct BinaryQuery {
    norm: f32,
    form: QueryForm,
}

enum QueryForm {
    /// One-bit against one-bit. `cosines[h]`: the cosine estimate for `h` differing bits.
    Hamming { bits: Vec<u64>, cosines: Vec<f32> },
    /// Coded like the vectors, with its alignment.
    Levels { code: Vec<u64>, alignment: f32 },
    /// Quantized to integers `u`, `qᵢ ≈ low + step·uᵢ`.
    Integers {
        planes: IntegerPlanes,
        low: f32,
        step: f32,
    },
}

impl BinaryCodes {
    /// Codes for `config`; multi-bit encodings learn their scales from `sample`.
    pub fn train(
        dim: usize,
        distance: Distance,
        config: &BinaryQuantization,
        sample: &[&[f32]],
    ) -> Self {
        let layout = Layout::new(config.encoding.unwrap_or(BinaryEncoding::OneBit), dim);
        let scales = if layout.learns() {
            rms_per_component(dim, sample)
        } else {
            Vec::new()
        };
        BinaryCodes {
            distance,
            layout,
            query_bits: query_bits(config.query_encoding),
            scales,
            codes: Vec::new(),
            norms: Vec::new(),
            alignments: Vec::new(),
        }
    }

    /// Whether the codes depend on the data they were trained on.
    pub fn learns(&self) -> bool {
        self.layout.learns()
    }

    pub fn len(&self) -> usize {
        self.norms.len()
    }

    pub fn push(&mut self, v: &[f32]) {
        let code = self.layout.encode(v, &self.scales);
        self.alignments.push(self.alignment(v, &code));
        self.norms.push(norm(v));
        self.codes.extend(code);
    }

    pub fn prepare(&self, query: &[f32]) -> BinaryQuery {
        let form = match (self.query_bits, self.layout.encoding) {
            (Some(bits), _) => integers(query, bits, self.layout.words),
            (None, BinaryEncoding::OneBit) => {
                let dim = self.layout.dim;
                QueryForm::Hamming {
                    bits: self.layout.encode(query, &self.scales),
                    cosines: (0..=dim)
                        .map(|h| (PI * h as f32 / dim as f32).cos())
                        .collect(),
                }
            }
            (None, _) => {
                let code = self.layout.encode(query, &self.scales);
                QueryForm::Levels {
                    alignment: self.alignment(query, &code),
                    code,
                }
            }
        };
        BinaryQuery {
            norm: norm(query),
            form,
        }
    }

    /// The approximate order key (lower is closer) of the point at `offset`.
    #[inline]
    pub fn key(&self, query: &BinaryQuery, offset: u32) -> f32 {
        let o = offset as usize;
        let code = self.code(o);
        let cosine = match &query.form {
            QueryForm::Hamming { bits, cosines } => cosines[hamming(bits, code) as usize],
            QueryForm::Levels { code: q, alignment } => {
                let dot = level_dot(&self.layout, q, code) as f32;
                ratio(dot, alignment * self.alignments[o])
            }
            QueryForm::Integers { planes, low, step } => {
                let (weighted, levels) = integer_dot(&self.layout, planes, code);
                let dot = low * levels as f32 + step * weighted as f32;
                ratio(dot, query.norm * self.alignments[o])
            }
        };
        let (a, b) = (query.norm, self.norms[o]);
        match self.distance {
            // Stored and query vectors are normalized: the cosine is the dot product.
            Distance::Cosine => -cosine,
            Distance::Dot => -a * b * cosine,
            Distance::Euclid => squared_distance(a, b, cosine),
            // For components spread like a Gaussian, L1 ≈ L2·√(2·dim/π).
            Distance::Manhattan => {
                let dim = self.layout.dim as f32;
                squared_distance(a, b, cosine).sqrt() * (2.0 * dim / PI).sqrt()
            }
        }
    }

    /// Hints the CPU to fetch the code of `offset`.
    #[inline]
    pub fn prefetch(&self, offset: u32) {
        crate::index::prefetch::prefetch(self.code(offset as usize));
    }

    pub fn memory_bytes(&self) -> usize {
        self.codes.capacity() * std::mem::size_of::<u64>()
            + (self.norms.capacity() + self.alignments.capacity() + self.scales.capacity())
                * std::mem::size_of::<f32>()
    }

    pub fn save(&self, w: &mut impl Write) -> io::Result<()> {
        let halves: Vec<u32> = self
            .codes
            .iter()
            .flat_map(|&w| [w as u32, (w >> 32) as u32])
            .collect();
        codec::write_u32s(w, &halves)?;
        codec::write_f32s(w, &self.norms)?;
        codec::write_f32s(w, &self.alignments)?;
        codec::write_f32s(w, &self.scales)
    }

    pub fn load(
        r: &mut impl Read,
        dim: usize,
        distance: Distance,
        config: &BinaryQuantization,
    ) -> io::Result<Self> {
        let halves = codec::read_u32s(r)?;
        let norms = codec::read_f32s(r)?;
        let alignments = codec::read_f32s(r)?;
        let scales = codec::read_f32s(r)?;
        let mut codes = BinaryCodes::train(dim, distance, config, &[]);
        let words = codes.layout.code_words();
        let wanted_scales = if codes.learns() { dim } else { 0 };
        if halves.len() != 2 * words * norms.len()
            || alignments.len() != norms.len()
            || scales.len() != wanted_scales
        {
            return Err(codec::invalid("binary codes do not match their norms"));
        }
        codes.codes = halves
            .chunks_exact(2)
            .map(|h| u64::from(h[0]) | u64::from(h[1]) << 32)
            .collect();
        codes.norms = norms;
        codes.alignments = alignments;
        codes.scales = scales;
        Ok(codes)
    }

    #[inline]
    fn code(&self, offset: usize) -> &[u64] {
        let words = self.layout.code_words();
        &self.codes[offset * words..(offset + 1) * words]
    }

    /// `α = v̂·levels(code)`.
    fn alignment(&self, v: &[f32], code: &[u64]) -> f32 {
        let dot: f32 = v
            .iter()
            .enumerate()
            .map(|(i, x)| x * self.layout.level(code, i) as f32)
            .sum();
        match norm(v) {
            n if n > 0.0 => dot / n,
            _ => 0.0,
        }
    }
}

/// The query integer bits a query encoding asks for.
fn query_bits(encoding: Option<BinaryQueryEncoding>) -> Option<usize> {
    match encoding {
        Some(BinaryQueryEncoding::Scalar4Bits) => Some(4),
        Some(BinaryQueryEncoding::Scalar8Bits) => Some(8),
        Some(BinaryQueryEncoding::Default | BinaryQueryEncoding::Binary) | None => None,
    }
}

/// A query quantized linearly onto `0..2^bits` between its smallest and largest component.
fn integers(query: &[f32], bits: usize, words: usize) -> QueryForm {
    let low = query.iter().copied().fold(f32::INFINITY, f32::min);
    let high = query.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let top = ((1u32 << bits) - 1) as f32;
    let step = if high > low { (high - low) / top } else { 1.0 };
    let values: Vec<u32> = query
        .iter()
        .map(|x| ((x - low) / step).round().clamp(0.0, top) as u32)
        .collect();
    QueryForm::Integers {
        planes: IntegerPlanes::new(&values, bits, words),
        low,
        step,
    }
}

/// Per-component root mean square of the sample; 1 where the sample has nothing.
fn rms_per_component(dim: usize, sample: &[&[f32]]) -> Vec<f32> {
    let mut sums = vec![0f64; dim];
    for v in sample {
        for (s, &x) in sums.iter_mut().zip(v.iter()) {
            *s += f64::from(x) * f64::from(x);
        }
    }
    sums.iter()
        .map(|&s| match (s / sample.len().max(1) as f64).sqrt() as f32 {
            rms if rms > 0.0 => rms,
            _ => 1.0,
        })
        .collect()
}

/// `dot / by`, clamped to a cosine; 0 for a zero vector.
fn ratio(dot: f32, by: f32) -> f32 {
    if by > 0.0 {
        (dot / by).clamp(-1.0, 1.0)
    } else {
        0.0
    }
}

fn norm(v: &[f32]) -> f32 {
    v.iter().map(|x| x * x).sum::<f32>().sqrt()
}

/// `|a - b|²` from the norms and the cosine of the angle between the vectors.
fn squared_distance(a: f32, b: f32, cosine: f32) -> f32 {
    (a * a + b * b - 2.0 * a * b * cosine).max(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::quantization::tests::gaussian_vectors;

    fn config(encoding: BinaryEncoding, query: BinaryQueryEncoding) -> BinaryQuantization {
        BinaryQuantization {
            always_ram: None,
            encoding: Some(encoding),
            query_encoding: Some(query),
        }
    }

    /// Every encoding with every query encoding.
    fn configs() -> Vec<BinaryQuantization> {
        use BinaryQueryEncoding::*;
        let encodings = [
            BinaryEncoding::OneBit,
            BinaryEncoding::OneAndHalfBits,
            BinaryEncoding::TwoBits,
        ];
        encodings
            .iter()
            .flat_map(|&e| [Default, Scalar4Bits, Scalar8Bits].map(|q| config(e, q)))
            .collect()
    }

    fn encoded(
        vectors: &[Vec<f32>],
        distance: Distance,
        config: &BinaryQuantization,
    ) -> BinaryCodes {
        let sample: Vec<&[f32]> = vectors.iter().map(Vec::as_slice).collect();
        let mut codes = BinaryCodes::train(vectors[0].len(), distance, config, &sample);
        vectors.iter().for_each(|v| codes.push(v));
        codes
    }

    /// The mean error of the cosine estimates of `vectors[0]` against all of them.
    fn mean_cosine_error(vectors: &[Vec<f32>], config: &BinaryQuantization) -> f32 {
        let codes = encoded(vectors, Distance::Dot, config);
        let query = codes.prepare(&vectors[0]);
        let mut error = 0.0;
        for (o, v) in vectors.iter().enumerate() {
            let norms = norm(&vectors[0]) * norm(v);
            let true_cosine = crate::index::score(Distance::Dot, &vectors[0], v) / norms;
            let estimate = -codes.key(&query, o as u32) / norms;
            error += (estimate - true_cosine).abs() / vectors.len() as f32;
        }
        error
    }

    #[test]
    fn one_bit_codes_leave_the_bits_past_the_dimension_clear() {
        let codes = encoded(
            &[vec![1.0; 70]],
            Distance::Dot,
            &BinaryQuantization::default(),
        );
        assert_eq!(codes.code(0), [u64::MAX, (1 << 6) - 1]);
    }

    #[test]
    fn a_vector_is_closest_to_itself_and_farthest_from_its_opposite() {
        let vectors = gaussian_vectors(10, 128, 5);
        let mut with_opposite = vectors.clone();
        with_opposite.push(vectors[0].iter().map(|x| -x).collect());
        for config in configs() {
            for distance in [Distance::Dot, Distance::Euclid, Distance::Manhattan] {
                let codes = encoded(&with_opposite, distance, &config);
                let query = codes.prepare(&vectors[0]);
                let keys: Vec<f32> = (0..11).map(|o| codes.key(&query, o)).collect();
                let min = keys.iter().copied().fold(f32::INFINITY, f32::min);
                let max = keys.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                assert_eq!(keys[0], min, "{config:?} {distance:?}: {keys:?}");
                assert_eq!(keys[10], max, "{config:?} {distance:?}: {keys:?}");
            }
        }
    }

    #[test]
    fn the_cosine_estimate_tracks_the_true_cosine_and_sharpens_with_more_bits() {
        use BinaryQueryEncoding::{Default, Scalar8Bits};
        let vectors = gaussian_vectors(300, 256, 6);
        let error = |e, q| mean_cosine_error(&vectors, &config(e, q));
        let one = error(BinaryEncoding::OneBit, Default);
        let one_and_half = error(BinaryEncoding::OneAndHalfBits, Default);
        let two = error(BinaryEncoding::TwoBits, Default);
        assert!(one < 0.12, "one bit: mean cosine error {one}");
        assert!(
            two < one_and_half && one_and_half < one,
            "errors {one} > {one_and_half} > {two}"
        );
        for encoding in [BinaryEncoding::OneBit, BinaryEncoding::TwoBits] {
            let symmetric = error(encoding, Default);
            let asymmetric = error(encoding, Scalar8Bits);
            assert!(
                asymmetric < symmetric,
                "{encoding:?}: 8-bit query {asymmetric}, binary query {symmetric}"
            );
        }
    }

    #[test]
    fn save_and_load_round_trip() {
        let vectors = gaussian_vectors(5, 100, 7);
        for config in configs() {
            let codes = encoded(&vectors, Distance::Euclid, &config);
            let mut bytes = Vec::new();
            codes.save(&mut bytes).unwrap();
            let loaded =
                BinaryCodes::load(&mut bytes.as_slice(), 100, Distance::Euclid, &config).unwrap();
            let query = codes.prepare(&vectors[1]);
            assert_eq!(loaded.len(), 5);
            assert_eq!(
                loaded.key(&loaded.prepare(&vectors[1]), 3),
                codes.key(&query, 3)
            );
            let wider = BinaryCodes::load(&mut bytes.as_slice(), 200, Distance::Euclid, &config);
            assert!(wider.is_err(), "{config:?}");
        }
    }
}
