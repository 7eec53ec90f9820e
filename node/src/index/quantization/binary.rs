//! Binary quantization: one bit per component, set when the component is positive.
//!
//! Two sign patterns that differ in `h` of `dim` bits are, for vectors spread evenly in
//! direction, about `θ = π·h/dim` apart (the random-hyperplane argument), so the Hamming
//! distance gives a cosine estimate `cos θ`. With each vector's norm kept beside its bits
//! that estimate becomes a dot product or a distance. It is crude, so binary codes are
//! meant to pick candidates that the original vectors then re-score.

use std::f32::consts::PI;
use std::io::{self, Read, Write};

use crate::index::codec;
use crate::types::Distance;

use super::kernels::hamming;

pub struct BinaryCodes {
    dim: usize,
    distance: Distance,
    /// 64-bit words per offset.
    words: usize,
    bits: Vec<u64>,
    norms: Vec<f32>,
}

pub struct BinaryQuery {
    bits: Vec<u64>,
    norm: f32,
    /// `cosines[h]`: the cosine estimate for `h` differing bits.
    cosines: Vec<f32>,
}

impl BinaryCodes {
    pub fn new(dim: usize, distance: Distance) -> Self {
        BinaryCodes {
            dim,
            distance,
            words: dim.div_ceil(64),
            bits: Vec::new(),
            norms: Vec::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.norms.len()
    }

    pub fn push(&mut self, v: &[f32]) {
        self.bits.extend(signs(v, self.words));
        self.norms.push(norm(v));
    }

    pub fn prepare(&self, query: &[f32]) -> BinaryQuery {
        let cosines = (0..=self.dim)
            .map(|h| (PI * h as f32 / self.dim as f32).cos())
            .collect();
        BinaryQuery {
            bits: signs(query, self.words),
            norm: norm(query),
            cosines,
        }
    }

    /// The approximate order key (lower is closer) of the point at `offset`.
    #[inline]
    pub fn key(&self, query: &BinaryQuery, offset: u32) -> f32 {
        let o = offset as usize;
        let h = hamming(
            &query.bits,
            &self.bits[o * self.words..(o + 1) * self.words],
        );
        let cosine = query.cosines[h as usize];
        let (a, b) = (query.norm, self.norms[o]);
        match self.distance {
            // Stored and query vectors are normalized: the cosine is the dot product.
            Distance::Cosine => -cosine,
            Distance::Dot => -a * b * cosine,
            Distance::Euclid => squared_distance(a, b, cosine),
            // For components spread like a Gaussian, L1 ≈ L2·√(2·dim/π).
            Distance::Manhattan => {
                squared_distance(a, b, cosine).sqrt() * (2.0 * self.dim as f32 / PI).sqrt()
            }
        }
    }

    pub fn memory_bytes(&self) -> usize {
        self.bits.capacity() * std::mem::size_of::<u64>()
            + self.norms.capacity() * std::mem::size_of::<f32>()
    }

    pub fn save(&self, w: &mut impl Write) -> io::Result<()> {
        let halves: Vec<u32> = self
            .bits
            .iter()
            .flat_map(|&w| [w as u32, (w >> 32) as u32])
            .collect();
        codec::write_u32s(w, &halves)?;
        codec::write_f32s(w, &self.norms)
    }

    pub fn load(r: &mut impl Read, dim: usize, distance: Distance) -> io::Result<Self> {
        let halves = codec::read_u32s(r)?;
        let norms = codec::read_f32s(r)?;
        let mut codes = BinaryCodes::new(dim, distance);
        if halves.len() != 2 * codes.words * norms.len() {
            return Err(codec::invalid("binary codes do not match their norms"));
        }
        codes.bits = halves
            .chunks_exact(2)
            .map(|h| u64::from(h[0]) | u64::from(h[1]) << 32)
            .collect();
        codes.norms = norms;
        Ok(codes)
    }
}

/// The sign bits of a vector, component `i` at bit `i % 64` of word `i / 64`.
fn signs(v: &[f32], words: usize) -> Vec<u64> {
    let mut bits = vec![0u64; words];
    for (i, &x) in v.iter().enumerate() {
        if x > 0.0 {
            bits[i / 64] |= 1 << (i % 64);
        }
    }
    bits
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

    fn encoded(vectors: &[Vec<f32>], distance: Distance) -> BinaryCodes {
        let mut codes = BinaryCodes::new(vectors[0].len(), distance);
        vectors.iter().for_each(|v| codes.push(v));
        codes
    }

    #[test]
    fn bits_are_the_signs_of_the_components() {
        let v: Vec<f32> = (0..70)
            .map(|i| if i % 3 == 0 { 1.0 } else { -0.5 })
            .collect();
        let bits = signs(&v, 2);
        for (i, x) in v.iter().enumerate() {
            assert_eq!(bits[i / 64] >> (i % 64) & 1 == 1, *x > 0.0, "component {i}");
        }
        assert_eq!(bits[1] >> 6, 0, "bits past the dimension stay clear");
    }

    #[test]
    fn a_vector_is_closest_to_itself_and_farthest_from_its_opposite() {
        let vectors = gaussian_vectors(10, 128, 5);
        let mut with_opposite = vectors.clone();
        with_opposite.push(vectors[0].iter().map(|x| -x).collect());
        for distance in [Distance::Dot, Distance::Euclid, Distance::Manhattan] {
            let codes = encoded(&with_opposite, distance);
            let query = codes.prepare(&vectors[0]);
            let keys: Vec<f32> = (0..11).map(|o| codes.key(&query, o)).collect();
            let min = keys.iter().copied().fold(f32::INFINITY, f32::min);
            let max = keys.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            assert_eq!(keys[0], min, "{distance:?}: {keys:?}");
            assert_eq!(keys[10], max, "{distance:?}: {keys:?}");
        }
    }

    #[test]
    fn the_cosine_estimate_tracks_the_true_cosine() {
        let vectors = gaussian_vectors(200, 256, 6);
        let codes = encoded(&vectors, Distance::Dot);
        let query = codes.prepare(&vectors[0]);
        let mut error = 0.0;
        for (o, v) in vectors.iter().enumerate() {
            let true_cosine =
                crate::index::score(Distance::Dot, &vectors[0], v) / (norm(&vectors[0]) * norm(v));
            let estimate = -codes.key(&query, o as u32) / (norm(&vectors[0]) * norm(v));
            error += (estimate - true_cosine).abs() / vectors.len() as f32;
        }
        assert!(error < 0.12, "mean cosine error {error}");
    }

    #[test]
    fn save_and_load_round_trip() {
        let vectors = gaussian_vectors(5, 100, 7);
        let codes = encoded(&vectors, Distance::Euclid);
        let mut bytes = Vec::new();
        codes.save(&mut bytes).unwrap();
        let loaded = BinaryCodes::load(&mut bytes.as_slice(), 100, Distance::Euclid).unwrap();
        let query = codes.prepare(&vectors[1]);
        assert_eq!(loaded.len(), 5);
        assert_eq!(loaded.key(&query, 3), codes.key(&query, 3));
        assert!(BinaryCodes::load(&mut bytes.as_slice(), 200, Distance::Euclid).is_err());
    }
}
