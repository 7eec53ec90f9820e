//! Sparse vectors and their configuration, in Qdrant's JSON shapes.

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// A sparse vector: the non-zero dimensions and their values (`{"indices": [...], "values":
/// [...]}`). Stored sorted by index so two vectors are compared by a merge.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SparseVector {
    pub indices: Vec<u32>,
    pub values: Vec<f32>,
}

/// Why a sparse vector is refused.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum SparseError {
    #[error(
        "sparse vector has {indices} indices but {values} values: they must be the same length"
    )]
    LengthMismatch { indices: usize, values: usize },
    #[error("sparse vector indices must be unique, index {0} is repeated")]
    DuplicateIndex(u32),
    #[error("sparse vector contains NaN or infinite values")]
    NotFinite,
}

impl SparseVector {
    /// Checks the shape: as many values as indices, unique indices, finite values.
    pub fn validate(&self) -> Result<(), SparseError> {
        if self.indices.len() != self.values.len() {
            return Err(SparseError::LengthMismatch {
                indices: self.indices.len(),
                values: self.values.len(),
            });
        }
        let mut sorted = self.indices.clone();
        sorted.sort_unstable();
        if let Some(pair) = sorted.windows(2).find(|w| w[0] == w[1]) {
            return Err(SparseError::DuplicateIndex(pair[0]));
        }
        if self.values.iter().any(|v| !v.is_finite()) {
            return Err(SparseError::NotFinite);
        }
        Ok(())
    }

    /// The same vector with its entries ordered by index (the vector must be valid).
    pub fn sorted(&self) -> SparseVector {
        let mut pairs: Vec<(u32, f32)> = self
            .indices
            .iter()
            .copied()
            .zip(self.values.iter().copied())
            .collect();
        pairs.sort_unstable_by_key(|&(i, _)| i);
        let (indices, values) = pairs.into_iter().unzip();
        SparseVector { indices, values }
    }

    /// Dot product with another vector; both must be sorted by index.
    pub fn dot(&self, other: &SparseVector) -> f32 {
        let (mut i, mut j, mut sum) = (0, 0, 0.0);
        while i < self.indices.len() && j < other.indices.len() {
            match self.indices[i].cmp(&other.indices[j]) {
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
                std::cmp::Ordering::Equal => {
                    sum += self.values[i] * other.values[j];
                    i += 1;
                    j += 1;
                }
            }
        }
        sum
    }

    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }
}

/// How stored values are weighted at query time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Modifier {
    #[default]
    None,
    /// Query values are multiplied by each dimension's inverse document frequency.
    Idf,
}

/// Parameters of a sparse vector's inverted index. Grape keeps it in memory; `on_disk` and
/// `datatype` are kept and reported for compatibility.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SparseIndexParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full_scan_threshold: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_disk: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datatype: Option<String>,
}

/// One named sparse vector of a collection (`sparse_vectors: {name: ...}`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SparseVectorParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<SparseIndexParams>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modifier: Option<Modifier>,
}

impl SparseVectorParams {
    pub fn uses_idf(&self) -> bool {
        self.modifier == Some(Modifier::Idf)
    }
}

/// BM25's inverse document frequency of a dimension held by `n` of `total` vectors:
/// `ln((N - n + 0.5) / (n + 0.5) + 1)`, as Qdrant computes it.
pub fn idf(n: u64, total: u64) -> f32 {
    let (n, total) = (n as f64, total.max(n) as f64);
    ((total - n + 0.5) / (n + 0.5) + 1.0).ln() as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sparse(indices: &[u32], values: &[f32]) -> SparseVector {
        SparseVector {
            indices: indices.to_vec(),
            values: values.to_vec(),
        }
    }

    #[test]
    fn validation_names_the_problem() {
        assert_eq!(sparse(&[1, 5], &[0.5, 1.0]).validate(), Ok(()));
        assert_eq!(
            sparse(&[1, 2], &[0.5]).validate(),
            Err(SparseError::LengthMismatch {
                indices: 2,
                values: 1
            })
        );
        assert_eq!(
            sparse(&[3, 1, 3], &[1.0, 1.0, 1.0]).validate(),
            Err(SparseError::DuplicateIndex(3))
        );
        assert_eq!(
            sparse(&[1], &[f32::NAN]).validate(),
            Err(SparseError::NotFinite)
        );
    }

    #[test]
    fn dot_product_merges_sorted_entries() {
        let a = sparse(&[9, 1, 4], &[2.0, 1.0, 3.0]).sorted();
        assert_eq!(a.indices, vec![1, 4, 9]);
        assert_eq!(a.values, vec![1.0, 3.0, 2.0]);
        let b = sparse(&[4, 9, 20], &[0.5, -1.0, 7.0]).sorted();
        assert_eq!(a.dot(&b), 3.0 * 0.5 - 2.0);
        assert_eq!(a.dot(&SparseVector::default()), 0.0);
    }

    #[test]
    fn idf_follows_bm25() {
        // A dimension in every one of 10 vectors: ln(0.5/10.5 + 1).
        assert!((idf(10, 10) - (0.5f64 / 10.5 + 1.0).ln() as f32).abs() < 1e-6);
        // Rarer dimensions weigh more.
        assert!(idf(1, 1000) > idf(10, 1000));
        assert!((idf(1, 1000) - (999.5f64 / 1.5 + 1.0).ln() as f32).abs() < 1e-5);
        // Never negative, even for a dimension in every vector.
        assert!(idf(1000, 1000) > 0.0);
    }
}
