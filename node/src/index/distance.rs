//! Distance kernels. Every kernel is written once as plain chunked Rust (which LLVM
//! vectorizes) and compiled twice: for the baseline target and, picked at run time when the
//! CPU has them, with AVX2 + FMA enabled.

use crate::types::Distance;

/// Prepares a vector for storage or as a query: Cosine vectors are normalized to unit
/// length (as Qdrant does), so cosine similarity becomes a dot product.
pub fn preprocess(distance: Distance, v: &mut [f32]) {
    if distance == Distance::Cosine {
        let norm = dot(v, v).sqrt();
        if norm > 0.0 {
            v.iter_mut().for_each(|x| *x /= norm);
        }
    }
}

/// The score Qdrant reports: similarity for Cosine/Dot, distance for Euclid/Manhattan.
pub fn score(distance: Distance, a: &[f32], b: &[f32]) -> f32 {
    match distance {
        Distance::Cosine | Distance::Dot => dot(a, b),
        Distance::Euclid => squared_l2(a, b).sqrt(),
        Distance::Manhattan => l1(a, b),
    }
}

/// A cheaper ordering key for graph search: lower is closer. Monotonic in the score, so
/// comparisons agree with [`score`]; [`key_to_score`] converts back.
#[inline]
pub fn order_key(distance: Distance, a: &[f32], b: &[f32]) -> f32 {
    match distance {
        Distance::Cosine | Distance::Dot => -dot(a, b),
        Distance::Euclid => squared_l2(a, b),
        Distance::Manhattan => l1(a, b),
    }
}

/// Turns an [`order_key`] into the score Qdrant reports.
pub fn key_to_score(distance: Distance, key: f32) -> f32 {
    match distance {
        Distance::Cosine | Distance::Dot => -key,
        Distance::Euclid => key.max(0.0).sqrt(),
        Distance::Manhattan => key,
    }
}

const LANES: usize = 8;

/// Defines a kernel `$name` from a per-lane accumulation `$step` and dispatches between the
/// AVX2+FMA build and the baseline build of the same body.
macro_rules! kernel {
    ($name:ident, $generic:ident, $avx:ident, |$x:ident, $y:ident| $step:expr) => {
        #[inline(always)]
        fn $generic(a: &[f32], b: &[f32]) -> f32 {
            debug_assert_eq!(a.len(), b.len());
            let mut acc = [0.0f32; LANES];
            let chunks_a = a.chunks_exact(LANES);
            let chunks_b = b.chunks_exact(LANES);
            let (tail_a, tail_b) = (chunks_a.remainder(), chunks_b.remainder());
            for (ca, cb) in chunks_a.zip(chunks_b) {
                for i in 0..LANES {
                    let ($x, $y) = (ca[i], cb[i]);
                    acc[i] += $step;
                }
            }
            let mut sum: f32 = acc.iter().sum();
            for (&$x, &$y) in tail_a.iter().zip(tail_b) {
                sum += $step;
            }
            sum
        }

        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx2,fma")]
        unsafe fn $avx(a: &[f32], b: &[f32]) -> f32 {
            $generic(a, b)
        }

        #[inline]
        pub fn $name(a: &[f32], b: &[f32]) -> f32 {
            #[cfg(target_arch = "x86_64")]
            if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                // SAFETY: the CPU supports the features the function was compiled for.
                return unsafe { $avx(a, b) };
            }
            $generic(a, b)
        }
    };
}

kernel!(dot, dot_generic, dot_avx2, |x, y| x * y);
kernel!(squared_l2, squared_l2_generic, squared_l2_avx2, |x, y| (x
    - y)
    * (x - y));
kernel!(l1, l1_generic, l1_avx2, |x, y| (x - y).abs());

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(distance: Distance, a: &[f32], b: &[f32]) -> f32 {
        let pairs = a.iter().zip(b);
        match distance {
            Distance::Cosine | Distance::Dot => pairs.map(|(x, y)| x * y).sum(),
            Distance::Euclid => pairs.map(|(x, y)| (x - y) * (x - y)).sum::<f32>().sqrt(),
            Distance::Manhattan => pairs.map(|(x, y)| (x - y).abs()).sum(),
        }
    }

    #[test]
    fn kernels_agree_with_naive_formulas_for_every_length() {
        let all = [
            Distance::Cosine,
            Distance::Dot,
            Distance::Euclid,
            Distance::Manhattan,
        ];
        for len in 0..40 {
            let a: Vec<f32> = (0..len).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..len).map(|i| (i as f32 * 0.11).cos()).collect();
            for d in all {
                let (got, want) = (score(d, &a, &b), naive(d, &a, &b));
                assert!(
                    (got - want).abs() < 1e-4,
                    "{d:?} len {len}: {got} vs {want}"
                );
                let key = order_key(d, &a, &b);
                assert!((key_to_score(d, key) - want).abs() < 1e-4);
            }
        }
    }

    #[test]
    fn cosine_vectors_are_normalized_and_zero_vectors_left_alone() {
        let mut v = vec![3.0, 4.0];
        preprocess(Distance::Cosine, &mut v);
        assert_eq!(v, vec![0.6, 0.8]);
        let mut zero = vec![0.0, 0.0];
        preprocess(Distance::Cosine, &mut zero);
        assert_eq!(zero, vec![0.0, 0.0]);
        let mut dot = vec![3.0, 4.0];
        preprocess(Distance::Dot, &mut dot);
        assert_eq!(dot, vec![3.0, 4.0]);
    }
}
