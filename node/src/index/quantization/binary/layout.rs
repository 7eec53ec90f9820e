//! How a binary encoding turns a vector into bit planes, and the integer level each
//! component reads from them:
//!
//! - `one_bit`: a sign plane `S`; level `2S − 1` (±1).
//! - `two_bits`: planes `P` (above `+0.6σ`) and `N` (below `−0.6σ`); level `P − N` (−1, 0, 1),
//!   the ternary code that keeps the most of a Gaussian's direction (cosine ≈ 0.90 against
//!   0.80 for signs).
//! - `one_and_half_bits`: a sign plane `S` plus one magnitude bit `M` per pair of
//!   components, set when the pair's `|x|/σ` sum to more than 1.6; level `±(1 + M)` (±1 or
//!   ±2), which keeps cosine ≈ 0.87 on 1.5 bits.
//!
//! Every level is a fixed integer combination of (at most three) planes read word by word,
//! `level = Σ cⱼ·planeⱼ + c₀`, so dot products of levels, or of levels with an integer
//! query, are sums of popcounts of ANDed words.

use crate::types::BinaryEncoding;

/// `two_bits`: components beyond ±this many σ are ±1, the rest 0.
const TERNARY_THRESHOLD: f32 = 0.6;
/// `one_and_half_bits`: pairs whose `|x|/σ` sum past this get the larger magnitude.
const PAIR_THRESHOLD: f32 = 1.6;

#[derive(Debug, Clone, Copy)]
pub struct Layout {
    pub encoding: BinaryEncoding,
    pub dim: usize,
    /// 64-bit words per plane of `dim` bits.
    pub words: usize,
}

/// The planes of one code at one word, for its level's coefficients.
pub type Planes = [u64; 3];

impl Layout {
    pub fn new(encoding: BinaryEncoding, dim: usize) -> Self {
        Layout {
            encoding,
            dim,
            words: dim.div_ceil(64),
        }
    }

    /// Whether the encoding needs per-component scales learnt from the data.
    pub fn learns(&self) -> bool {
        self.encoding != BinaryEncoding::OneBit
    }

    /// 64-bit words of one code.
    pub fn code_words(&self) -> usize {
        match self.encoding {
            BinaryEncoding::OneBit => self.words,
            BinaryEncoding::TwoBits => 2 * self.words,
            BinaryEncoding::OneAndHalfBits => self.words + self.dim.div_ceil(2).div_ceil(64),
        }
    }

    /// The coefficients `c₁..c₃` and `c₀` of a level in terms of [`Layout::planes`].
    #[inline(always)]
    pub fn coefficients(&self) -> ([i32; 3], i32) {
        match self.encoding {
            BinaryEncoding::OneBit => ([2, 0, 0], -1),
            BinaryEncoding::TwoBits => ([1, -1, 0], 0),
            // (2S − 1)(1 + M) = 2S + 2·(S∧M) − M − 1
            BinaryEncoding::OneAndHalfBits => ([2, 2, -1], -1),
        }
    }

    /// Encodes `v`; `scales` are the per-component RMS (unused by `one_bit`).
    pub fn encode(&self, v: &[f32], scales: &[f32]) -> Vec<u64> {
        let mut code = vec![0u64; self.code_words()];
        let mut set = |plane_start: usize, i: usize| code[plane_start + i / 64] |= 1 << (i % 64);
        match self.encoding {
            BinaryEncoding::OneBit => {
                for (i, _) in v.iter().enumerate().filter(|(_, &x)| x > 0.0) {
                    set(0, i);
                }
            }
            BinaryEncoding::TwoBits => {
                for (i, (&x, &s)) in v.iter().zip(scales).enumerate() {
                    if x > TERNARY_THRESHOLD * s {
                        set(0, i);
                    } else if x < -TERNARY_THRESHOLD * s {
                        set(self.words, i);
                    }
                }
            }
            BinaryEncoding::OneAndHalfBits => {
                for (i, _) in v.iter().enumerate().filter(|(_, &x)| x > 0.0) {
                    set(0, i);
                }
                let magnitudes: Vec<f32> = v.iter().zip(scales).map(|(x, s)| x.abs() / s).collect();
                for (pair, m) in magnitudes.chunks(2).enumerate() {
                    // A lone last component counts twice, as if its pair matched it.
                    let sum = if m.len() == 2 {
                        m[0] + m[1]
                    } else {
                        2.0 * m[0]
                    };
                    if sum > PAIR_THRESHOLD {
                        set(self.words, pair);
                    }
                }
            }
        }
        code
    }

    /// The planes of `code` at word `w`, in the order of [`Layout::coefficients`].
    #[inline(always)]
    pub fn planes(&self, code: &[u64], w: usize) -> Planes {
        match self.encoding {
            BinaryEncoding::OneBit => [code[w], 0, 0],
            BinaryEncoding::TwoBits => [code[w], code[self.words + w], 0],
            BinaryEncoding::OneAndHalfBits => {
                let pairs = code[self.words + w / 2] >> (32 * (w % 2));
                let magnitude = duplicate_bits(pairs as u32) & self.valid_bits(w);
                [code[w], code[w] & magnitude, magnitude]
            }
        }
    }

    /// The level of component `i` (a reference for tests and for the alignment of a code).
    pub fn level(&self, code: &[u64], i: usize) -> i32 {
        let planes = self.planes(code, i / 64);
        let (c, c0) = self.coefficients();
        (0..3)
            .map(|j| c[j] * (planes[j] >> (i % 64) & 1) as i32)
            .sum::<i32>()
            + c0
    }

    /// The bits of word `w` that hold components (all but the tail of the last word).
    #[inline(always)]
    fn valid_bits(&self, w: usize) -> u64 {
        match self.dim - 64 * w {
            n if n >= 64 => u64::MAX,
            n => (1 << n) - 1,
        }
    }
}

/// Bit `j` of `x` at bits `2j` and `2j + 1`: a pair's magnitude bit under both components.
#[inline(always)]
fn duplicate_bits(x: u32) -> u64 {
    let mut x = u64::from(x);
    x = (x | x << 16) & 0x0000_FFFF_0000_FFFF;
    x = (x | x << 8) & 0x00FF_00FF_00FF_00FF;
    x = (x | x << 4) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | x << 2) & 0x3333_3333_3333_3333;
    x = (x | x << 1) & 0x5555_5555_5555_5555;
    x | x << 1
}

/// `Σ levels(a)·levels(b)` over the components of two codes.
#[inline]
pub fn level_dot(layout: &Layout, a: &[u64], b: &[u64]) -> i32 {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("popcnt") {
        // SAFETY: the CPU supports POPCNT.
        return unsafe { level_dot_popcnt(layout, a, b) };
    }
    level_dot_inline(layout, a, b)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "popcnt")]
unsafe fn level_dot_popcnt(layout: &Layout, a: &[u64], b: &[u64]) -> i32 {
    level_dot_inline(layout, a, b)
}

#[inline(always)]
fn level_dot_inline(layout: &Layout, a: &[u64], b: &[u64]) -> i32 {
    let (c, c0) = layout.coefficients();
    let (mut cross, mut singles) = (0, 0);
    for w in 0..layout.words {
        let (pa, pb) = (layout.planes(a, w), layout.planes(b, w));
        for j in (0..3).filter(|&j| c[j] != 0) {
            singles += c[j] * (pa[j].count_ones() + pb[j].count_ones()) as i32;
            for k in (0..3).filter(|&k| c[k] != 0) {
                cross += c[j] * c[k] * (pa[j] & pb[k]).count_ones() as i32;
            }
        }
    }
    cross + c0 * singles + c0 * c0 * layout.dim as i32
}

/// A query quantized to unsigned `bits`-bit integers `u`, kept as `bits` planes of `words`
/// words (plane `k` holds bit `k` of every `uᵢ`).
pub struct IntegerPlanes {
    pub bits: usize,
    pub planes: Vec<u64>,
    /// `Σ uᵢ`.
    pub sum: i32,
}

impl IntegerPlanes {
    pub fn new(values: &[u32], bits: usize, words: usize) -> Self {
        let mut planes = vec![0u64; bits * words];
        for (i, &u) in values.iter().enumerate() {
            for k in (0..bits).filter(|&k| u >> k & 1 == 1) {
                planes[k * words + i / 64] |= 1 << (i % 64);
            }
        }
        IntegerPlanes {
            bits,
            planes,
            sum: values.iter().sum::<u32>() as i32,
        }
    }
}

/// `(Σ uᵢ·levelᵢ, Σ levelᵢ)` of an integer query against a code.
#[inline]
pub fn integer_dot(layout: &Layout, query: &IntegerPlanes, code: &[u64]) -> (i32, i32) {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("popcnt") {
        // SAFETY: the CPU supports POPCNT.
        return unsafe { integer_dot_popcnt(layout, query, code) };
    }
    integer_dot_inline(layout, query, code)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "popcnt")]
unsafe fn integer_dot_popcnt(layout: &Layout, query: &IntegerPlanes, code: &[u64]) -> (i32, i32) {
    integer_dot_inline(layout, query, code)
}

#[inline(always)]
fn integer_dot_inline(layout: &Layout, query: &IntegerPlanes, code: &[u64]) -> (i32, i32) {
    let (c, c0) = layout.coefficients();
    let (mut weighted, mut levels) = (0, 0);
    for w in 0..layout.words {
        let planes = layout.planes(code, w);
        for j in (0..3).filter(|&j| c[j] != 0) {
            levels += c[j] * planes[j].count_ones() as i32;
            for k in 0..query.bits {
                let bits = query.planes[k * layout.words + w] & planes[j];
                weighted += (c[j] << k) * bits.count_ones() as i32;
            }
        }
    }
    (weighted + c0 * query.sum, levels + c0 * layout.dim as i32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::quantization::tests::gaussian_vectors;

    const ENCODINGS: [BinaryEncoding; 3] = [
        BinaryEncoding::OneBit,
        BinaryEncoding::TwoBits,
        BinaryEncoding::OneAndHalfBits,
    ];

    fn levels(layout: &Layout, code: &[u64]) -> Vec<i32> {
        (0..layout.dim).map(|i| layout.level(code, i)).collect()
    }

    #[test]
    fn levels_follow_each_encodings_rule() {
        let v = [2.0, -0.1, 0.3, -3.0, 0.05];
        let scales = [1.0; 5];
        let expect = [
            (BinaryEncoding::OneBit, vec![1, -1, 1, -1, 1]),
            (BinaryEncoding::TwoBits, vec![1, 0, 0, -1, 0]),
            // Pairs (2.0, 0.1) and (0.3, 3.0) are large; the lone 0.05 is not.
            (BinaryEncoding::OneAndHalfBits, vec![2, -2, 2, -2, 1]),
        ];
        for (encoding, want) in expect {
            let layout = Layout::new(encoding, 5);
            assert_eq!(
                levels(&layout, &layout.encode(&v, &scales)),
                want,
                "{encoding:?}"
            );
        }
    }

    #[test]
    fn scales_set_the_thresholds() {
        let layout = Layout::new(BinaryEncoding::TwoBits, 2);
        let code = layout.encode(&[1.0, 1.0], &[1.0, 10.0]);
        assert_eq!(levels(&layout, &code), [1, 0]);
    }

    #[test]
    fn popcount_dots_equal_the_dots_of_the_levels() {
        for dim in [5, 64, 129, 200] {
            let vectors = gaussian_vectors(6, dim, dim as u64);
            let scales = vec![1.0; dim];
            for encoding in ENCODINGS {
                let layout = Layout::new(encoding, dim);
                let codes: Vec<Vec<u64>> =
                    vectors.iter().map(|v| layout.encode(v, &scales)).collect();
                let (a, b) = (levels(&layout, &codes[0]), levels(&layout, &codes[1]));
                let want: i32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
                assert_eq!(
                    level_dot(&layout, &codes[0], &codes[1]),
                    want,
                    "{encoding:?} {dim}"
                );

                let query: Vec<u32> = (0..dim as u32).map(|i| (i * 37 + 11) % 256).collect();
                let planes = IntegerPlanes::new(&query, 8, layout.words);
                let weighted: i32 = query.iter().zip(&b).map(|(&u, l)| u as i32 * l).sum();
                let sum: i32 = b.iter().sum();
                assert_eq!(
                    integer_dot(&layout, &planes, &codes[1]),
                    (weighted, sum),
                    "{encoding:?} {dim}"
                );
            }
        }
    }

    #[test]
    fn duplicated_bits_sit_under_both_components_of_a_pair() {
        assert_eq!(duplicate_bits(0b101), 0b11_00_11);
        assert_eq!(duplicate_bits(u32::MAX), u64::MAX);
        assert_eq!(duplicate_bits(1 << 31), 0b11 << 62);
    }
}
