//! Product quantization: a vector is cut into sub-vectors of a few components, and each is
//! replaced by the one-byte number of the nearest of (up to) 256 centroids learnt for its
//! sub-space by k-means.
//!
//! Every supported distance is a sum over components, so a query is compared with a point
//! through a lookup table built once per query: `table[s][c]` is the query's partial order
//! key against centroid `c` of sub-space `s`, and a point's key is the sum of its entries.

use std::io::{self, Read, Write};

use crate::index::codec;
use crate::types::Distance;

/// Centroids per sub-space: the values of one byte.
const CENTROIDS: usize = 256;
/// Lloyd iterations of the k-means.
const ITERATIONS: usize = 10;

pub struct ProductCodes {
    dim: usize,
    distance: Distance,
    /// Components per sub-space (the last one may be shorter).
    width: usize,
    /// Centroids per sub-space: 256, or fewer when trained on fewer vectors.
    centroids: usize,
    /// Sub-space `s`'s centroid `c` starts at `(s * centroids + c) * width`.
    codebooks: Vec<f32>,
    /// One byte per sub-space per offset.
    codes: Vec<u8>,
}

pub struct ProductQuery {
    /// `centroids` partial keys per sub-space.
    table: Vec<f32>,
}

impl ProductCodes {
    /// Learns the codebooks of each sub-space of `width` components from the sample.
    pub fn train(dim: usize, distance: Distance, width: usize, sample: &[&[f32]]) -> Self {
        let width = width.clamp(1, dim.max(1));
        let centroids = sample.len().clamp(1, CENTROIDS);
        let mut codes = ProductCodes {
            dim,
            distance,
            width,
            centroids,
            codebooks: vec![0.0; dim.div_ceil(width) * centroids * width],
            codes: Vec::new(),
        };
        if sample.is_empty() {
            // No vector to learn from (all absent): one zero centroid until a retraining.
            return codes;
        }
        for s in 0..codes.subspaces() {
            let range = codes.range(s);
            let points: Vec<&[f32]> = sample.iter().map(|v| &v[range.clone()]).collect();
            let learnt = kmeans(&points, centroids, range.len());
            for (c, centroid) in learnt.chunks_exact(range.len()).enumerate() {
                let start = (s * centroids + c) * width;
                codes.codebooks[start..start + range.len()].copy_from_slice(centroid);
            }
        }
        codes
    }

    pub fn len(&self) -> usize {
        self.codes.len() / self.subspaces()
    }

    pub fn push(&mut self, v: &[f32]) {
        for s in 0..self.subspaces() {
            let part = &v[self.range(s)];
            let nearest = (0..self.centroids)
                .min_by(|&a, &b| {
                    let da = squared_l2(part, self.centroid(s, a));
                    let db = squared_l2(part, self.centroid(s, b));
                    da.total_cmp(&db)
                })
                .unwrap_or(0);
            self.codes.push(nearest as u8);
        }
    }

    pub fn prepare(&self, query: &[f32]) -> ProductQuery {
        let mut table = Vec::with_capacity(self.subspaces() * self.centroids);
        for s in 0..self.subspaces() {
            let part = &query[self.range(s)];
            for c in 0..self.centroids {
                let centroid = self.centroid(s, c);
                table.push(match self.distance {
                    Distance::Cosine | Distance::Dot => {
                        -part.iter().zip(centroid).map(|(a, b)| a * b).sum::<f32>()
                    }
                    Distance::Euclid => squared_l2(part, centroid),
                    Distance::Manhattan => {
                        part.iter().zip(centroid).map(|(a, b)| (a - b).abs()).sum()
                    }
                });
            }
        }
        ProductQuery { table }
    }

    /// The approximate order key (lower is closer) of the point at `offset`.
    #[inline]
    pub fn key(&self, query: &ProductQuery, offset: u32) -> f32 {
        let m = self.subspaces();
        let codes = &self.codes[offset as usize * m..(offset as usize + 1) * m];
        codes
            .iter()
            .enumerate()
            .map(|(s, &c)| query.table[s * self.centroids + c as usize])
            .sum()
    }

    pub fn memory_bytes(&self) -> usize {
        self.codes.capacity() + self.codebooks.capacity() * std::mem::size_of::<f32>()
    }

    fn subspaces(&self) -> usize {
        self.dim.div_ceil(self.width)
    }

    fn range(&self, s: usize) -> std::ops::Range<usize> {
        s * self.width..((s + 1) * self.width).min(self.dim)
    }

    fn centroid(&self, s: usize, c: usize) -> &[f32] {
        let start = (s * self.centroids + c) * self.width;
        &self.codebooks[start..start + self.range(s).len()]
    }

    pub fn save(&self, w: &mut impl Write) -> io::Result<()> {
        codec::write_u64(w, self.width as u64)?;
        codec::write_u64(w, self.centroids as u64)?;
        codec::write_f32s(w, &self.codebooks)?;
        codec::write_u8s(w, &self.codes)
    }

    pub fn load(r: &mut impl Read, dim: usize, distance: Distance) -> io::Result<Self> {
        let width = codec::read_usize(r)?;
        let centroids = codec::read_usize(r)?;
        let codebooks = codec::read_f32s(r)?;
        let codes = codec::read_u8s(r)?;
        let valid = (1..=dim).contains(&width)
            && (1..=CENTROIDS).contains(&centroids)
            && codebooks.len() == dim.div_ceil(width) * centroids * width
            && codes.len() % dim.div_ceil(width) == 0
            && codes.iter().all(|&c| (c as usize) < centroids);
        if !valid {
            return Err(codec::invalid("inconsistent product quantization codes"));
        }
        Ok(ProductCodes {
            dim,
            distance,
            width,
            centroids,
            codebooks,
            codes,
        })
    }
}

/// Lloyd's k-means of points of `width` components; returns `k` centroids, flat. Seeded
/// with evenly spaced points, so the same sample always yields the same codebook.
fn kmeans(points: &[&[f32]], k: usize, width: usize) -> Vec<f32> {
    let mut centroids: Vec<f32> = (0..k)
        .flat_map(|c| points[c * points.len() / k].iter().copied())
        .collect();
    let mut assigned = vec![0usize; points.len()];
    for _ in 0..ITERATIONS {
        let mut changed = false;
        for (p, point) in points.iter().enumerate() {
            let nearest = (0..k)
                .min_by(|&a, &b| {
                    let da = squared_l2(point, &centroids[a * width..(a + 1) * width]);
                    let db = squared_l2(point, &centroids[b * width..(b + 1) * width]);
                    da.total_cmp(&db)
                })
                .unwrap_or(0);
            changed |= assigned[p] != nearest;
            assigned[p] = nearest;
        }
        let mut sums = vec![0.0f64; k * width];
        let mut counts = vec![0usize; k];
        for (point, &c) in points.iter().zip(&assigned) {
            counts[c] += 1;
            for (sum, &x) in sums[c * width..].iter_mut().zip(point.iter()) {
                *sum += f64::from(x);
            }
        }
        // An emptied cluster keeps its centroid.
        for c in (0..k).filter(|&c| counts[c] > 0) {
            for i in 0..width {
                centroids[c * width + i] = (sums[c * width + i] / counts[c] as f64) as f32;
            }
        }
        if !changed {
            break;
        }
    }
    centroids
}

/// Sub-vectors are a few components long: a plain loop beats dispatching to a kernel.
#[inline]
fn squared_l2(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::quantization::tests::gaussian_vectors;
    use crate::index::{key_to_score, score};

    fn trained(vectors: &[Vec<f32>], distance: Distance, width: usize) -> ProductCodes {
        let sample: Vec<&[f32]> = vectors.iter().map(Vec::as_slice).collect();
        let mut codes = ProductCodes::train(vectors[0].len(), distance, width, &sample);
        vectors.iter().for_each(|v| codes.push(v));
        codes
    }

    #[test]
    fn training_is_deterministic() {
        let vectors = gaussian_vectors(400, 12, 8);
        let a = trained(&vectors, Distance::Euclid, 4);
        let b = trained(&vectors, Distance::Euclid, 4);
        assert_eq!(a.codebooks, b.codebooks);
        assert_eq!(a.codes, b.codes);
    }

    #[test]
    fn a_ragged_last_subspace_is_coded_too() {
        let vectors = gaussian_vectors(300, 10, 9);
        let codes = trained(&vectors, Distance::Euclid, 4);
        assert_eq!((codes.subspaces(), codes.range(2)), (3, 8..10));
        assert_eq!(codes.len(), 300);
    }

    #[test]
    fn fewer_vectors_than_centroids_are_reproduced_exactly() {
        let vectors = gaussian_vectors(40, 8, 10);
        let codes = trained(&vectors, Distance::Euclid, 2);
        assert_eq!(codes.centroids, 40);
        let query = codes.prepare(&vectors[11]);
        assert!(
            codes.key(&query, 11).abs() < 1e-6,
            "each vector is its own centroid"
        );
    }

    #[test]
    fn lookup_scores_approximate_exact_ones() {
        let vectors = gaussian_vectors(2000, 16, 11);
        for distance in [Distance::Dot, Distance::Euclid, Distance::Manhattan] {
            let codes = trained(&vectors, distance, 2);
            let query = codes.prepare(&vectors[0]);
            let mut relative = 0.0;
            for (o, v) in vectors.iter().enumerate().take(200) {
                let exact = score(distance, &vectors[0], v);
                let approx = key_to_score(distance, codes.key(&query, o as u32));
                relative += (approx - exact).abs() / exact.abs().max(4.0) / 200.0;
            }
            assert!(
                relative < 0.15,
                "{distance:?}: mean relative error {relative}"
            );
        }
    }

    #[test]
    fn save_and_load_round_trip() {
        let vectors = gaussian_vectors(50, 8, 12);
        let codes = trained(&vectors, Distance::Dot, 4);
        let mut bytes = Vec::new();
        codes.save(&mut bytes).unwrap();
        let loaded = ProductCodes::load(&mut bytes.as_slice(), 8, Distance::Dot).unwrap();
        let query = codes.prepare(&vectors[2]);
        assert_eq!(loaded.key(&query, 9), codes.key(&query, 9));
        assert!(ProductCodes::load(&mut bytes.as_slice(), 9, Distance::Dot).is_err());
    }
}
