//! Distance kernels over quantized codes: dot product, squared L2 and L1 of byte codes, and
//! the Hamming distance of bit codes. Each has a portable version (the reference the tests
//! compare against) and x86-64 ones (AVX-VNNI, AVX512-VNNI or AVX2 for bytes, POPCNT for bits)
//! picked at run time.

/// Σ a·b over byte codes.
#[inline]
pub fn dot_u8(a: &[u8], b: &[u8]) -> u64 {
    debug_assert_eq!(a.len(), b.len());
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avxvnni") {
        // SAFETY: the CPU supports AVX-VNNI (and so AVX2), the features it is compiled for.
        return unsafe { vnni::dot_u8(a, b) };
    }
    #[cfg(target_arch = "x86_64")]
    if vnni::has_evex() {
        // SAFETY: the CPU supports AVX512-VNNI and AVX512-VL (and so AVX2).
        return unsafe { vnni::dot_u8_evex(a, b) };
    }
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2, the feature the function is compiled for.
        return unsafe { avx2::dot_u8(a, b) };
    }
    dot_u8_portable(a, b)
}

/// Σ (a - b)² over byte codes.
#[inline]
pub fn l2_u8(a: &[u8], b: &[u8]) -> u64 {
    debug_assert_eq!(a.len(), b.len());
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        // SAFETY: as in `dot_u8`.
        return unsafe { avx2::l2_u8(a, b) };
    }
    l2_u8_portable(a, b)
}

/// Σ |a - b| over byte codes.
#[inline]
pub fn l1_u8(a: &[u8], b: &[u8]) -> u64 {
    debug_assert_eq!(a.len(), b.len());
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        // SAFETY: as in `dot_u8`.
        return unsafe { avx2::l1_u8(a, b) };
    }
    l1_u8_portable(a, b)
}

/// Number of differing bits of two bit codes.
#[inline]
pub fn hamming(a: &[u64], b: &[u64]) -> u32 {
    debug_assert_eq!(a.len(), b.len());
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("popcnt") {
        // SAFETY: the CPU supports POPCNT.
        return unsafe { hamming_popcnt(a, b) };
    }
    hamming_portable(a, b)
}

pub fn dot_u8_portable(a: &[u8], b: &[u8]) -> u64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| u64::from(x) * u64::from(y))
        .sum()
}

pub fn l2_u8_portable(a: &[u8], b: &[u8]) -> u64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| u64::from(x.abs_diff(y)).pow(2))
        .sum()
}

pub fn l1_u8_portable(a: &[u8], b: &[u8]) -> u64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| u64::from(x.abs_diff(y)))
        .sum()
}

/// Bit by bit, without `count_ones`, so it checks the POPCNT build independently.
pub fn hamming_portable(a: &[u64], b: &[u64]) -> u32 {
    let mut differing = 0;
    for (&x, &y) in a.iter().zip(b) {
        let mut word = x ^ y;
        while word != 0 {
            word &= word - 1;
            differing += 1;
        }
    }
    differing
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "popcnt")]
unsafe fn hamming_popcnt(a: &[u64], b: &[u64]) -> u32 {
    // With POPCNT enabled, `count_ones` compiles to the instruction.
    a.iter().zip(b).map(|(&x, &y)| (x ^ y).count_ones()).sum()
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    /// Bytes per step: 32 codes, widened to two registers of sixteen 16-bit lanes.
    const STEP: usize = 32;

    /// Sums the eight 32-bit lanes (each non-negative).
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn sum_i32(v: __m256i) -> u64 {
        let mut lanes = [0i32; 8];
        _mm256_storeu_si256(lanes.as_mut_ptr().cast(), v);
        lanes.iter().map(|&l| l as u32 as u64).sum()
    }

    /// Loads 32 codes at `i` as two vectors of 16-bit lanes.
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn widen(codes: &[u8], i: usize) -> (__m256i, __m256i) {
        let ptr = codes.as_ptr().add(i);
        let low = _mm_loadu_si128(ptr.cast());
        let high = _mm_loadu_si128(ptr.add(16).cast());
        (_mm256_cvtepu8_epi16(low), _mm256_cvtepu8_epi16(high))
    }

    // Lane bounds: a 32-bit lane gains at most 4·255² per step (two `madd`s of two
    // products each) over at most 65,536 / 32 steps (the largest vector): < 2^30.

    #[target_feature(enable = "avx2")]
    pub unsafe fn dot_u8(a: &[u8], b: &[u8]) -> u64 {
        let whole = a.len() - a.len() % STEP;
        let mut acc = _mm256_setzero_si256();
        for i in (0..whole).step_by(STEP) {
            let (a0, a1) = widen(a, i);
            let (b0, b1) = widen(b, i);
            acc = _mm256_add_epi32(acc, _mm256_madd_epi16(a0, b0));
            acc = _mm256_add_epi32(acc, _mm256_madd_epi16(a1, b1));
        }
        sum_i32(acc) + super::dot_u8_portable(&a[whole..], &b[whole..])
    }

    #[target_feature(enable = "avx2")]
    pub unsafe fn l2_u8(a: &[u8], b: &[u8]) -> u64 {
        let whole = a.len() - a.len() % STEP;
        let mut acc = _mm256_setzero_si256();
        for i in (0..whole).step_by(STEP) {
            let (a0, a1) = widen(a, i);
            let (b0, b1) = widen(b, i);
            let d0 = _mm256_sub_epi16(a0, b0);
            let d1 = _mm256_sub_epi16(a1, b1);
            acc = _mm256_add_epi32(acc, _mm256_madd_epi16(d0, d0));
            acc = _mm256_add_epi32(acc, _mm256_madd_epi16(d1, d1));
        }
        sum_i32(acc) + super::l2_u8_portable(&a[whole..], &b[whole..])
    }

    #[target_feature(enable = "avx2")]
    pub unsafe fn l1_u8(a: &[u8], b: &[u8]) -> u64 {
        let whole = a.len() - a.len() % STEP;
        // `sad` sums |a - b| of each 8 bytes into a 64-bit lane.
        let mut acc = _mm256_setzero_si256();
        for i in (0..whole).step_by(STEP) {
            let va = _mm256_loadu_si256(a.as_ptr().add(i).cast());
            let vb = _mm256_loadu_si256(b.as_ptr().add(i).cast());
            acc = _mm256_add_epi64(acc, _mm256_sad_epu8(va, vb));
        }
        let mut lanes = [0u64; 4];
        _mm256_storeu_si256(lanes.as_mut_ptr().cast(), acc);
        lanes.iter().sum::<u64>() + super::l1_u8_portable(&a[whole..], &b[whole..])
    }
}

/// The dot product with VNNI: `vpdpbusd` multiplies 32 unsigned bytes by 32 signed ones
/// and adds each four products into a 32-bit lane, in one instruction (AVX2 needs six for
/// the same 32 codes). `b` is made signed by subtracting 128 (flipping its top bit), and
/// `128 · Σa` is added back. Two builds of one body: AVX-VNNI (VEX, recent Intel cores) and
/// AVX512-VNNI on 256-bit registers (EVEX, AMD Zen 4 and Intel server cores).
#[cfg(target_arch = "x86_64")]
mod vnni {
    use std::arch::x86_64::*;

    const STEP: usize = 32;

    // Lane bounds: a 32-bit lane gains at most 4·255·128 per step in magnitude over at most
    // 65,536 / 32 steps (the largest vector): < 2^31.

    macro_rules! dot_u8 {
        ($name:ident, $features:literal, $dpbusd:ident) => {
            #[target_feature(enable = $features)]
            pub unsafe fn $name(a: &[u8], b: &[u8]) -> u64 {
                let whole = a.len() - a.len() % STEP;
                let flip = _mm256_set1_epi8(i8::MIN);
                let zero = _mm256_setzero_si256();
                let (mut products, mut sum_a) = (zero, zero);
                for i in (0..whole).step_by(STEP) {
                    let va = _mm256_loadu_si256(a.as_ptr().add(i).cast());
                    let vb = _mm256_loadu_si256(b.as_ptr().add(i).cast());
                    let signed_b = _mm256_xor_si256(vb, flip);
                    products = $dpbusd(products, va, signed_b);
                    sum_a = _mm256_add_epi64(sum_a, _mm256_sad_epu8(va, zero));
                }
                let mut lanes = [0i32; 8];
                _mm256_storeu_si256(lanes.as_mut_ptr().cast(), products);
                let mut sums = [0u64; 4];
                _mm256_storeu_si256(sums.as_mut_ptr().cast(), sum_a);
                let shifted: i64 = lanes.iter().map(|&l| i64::from(l)).sum();
                let added_back = 128 * sums.iter().sum::<u64>() as i64;
                (shifted + added_back) as u64 + super::dot_u8_portable(&a[whole..], &b[whole..])
            }
        };
    }

    dot_u8!(dot_u8, "avx2,avxvnni", _mm256_dpbusd_avx_epi32);
    dot_u8!(dot_u8_evex, "avx2,avx512vnni,avx512vl", _mm256_dpbusd_epi32);

    /// Whether the CPU runs `dot_u8_evex`.
    pub fn has_evex() -> bool {
        std::is_x86_feature_detected!("avx512vnni") && std::is_x86_feature_detected!("avx512vl")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic pseudo-random bytes.
    fn bytes(len: usize, seed: u64) -> Vec<u8> {
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect()
    }

    #[test]
    fn byte_kernels_match_the_portable_versions_for_every_length() {
        for len in (0..100).chain([255, 256, 1000, 4096]) {
            let (a, b) = (bytes(len, 1), bytes(len, 2));
            assert_eq!(dot_u8(&a, &b), dot_u8_portable(&a, &b), "dot, len {len}");
            assert_eq!(l2_u8(&a, &b), l2_u8_portable(&a, &b), "l2, len {len}");
            assert_eq!(l1_u8(&a, &b), l1_u8_portable(&a, &b), "l1, len {len}");
        }
    }

    /// Each x86-64 build of the dot product the CPU can run, not only the one picked.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn every_dot_product_build_matches_the_portable_one() {
        let cases = (0..100)
            .chain([255, 256, 1000, 4096])
            .map(|len| (bytes(len, 5), bytes(len, 6)));
        let extremes = [
            (vec![255u8; 65_536], vec![255u8; 65_536]),
            (vec![255u8; 65_536], vec![0u8; 65_536]),
        ];
        for (a, b) in cases.chain(extremes) {
            let expected = dot_u8_portable(&a, &b);
            if std::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU has the features.
                assert_eq!(
                    unsafe { avx2::dot_u8(&a, &b) },
                    expected,
                    "avx2, len {}",
                    a.len()
                );
            }
            if std::is_x86_feature_detected!("avxvnni") {
                // SAFETY: the CPU has the features.
                assert_eq!(
                    unsafe { vnni::dot_u8(&a, &b) },
                    expected,
                    "vnni, len {}",
                    a.len()
                );
            }
            if vnni::has_evex() {
                // SAFETY: the CPU has the features.
                assert_eq!(
                    unsafe { vnni::dot_u8_evex(&a, &b) },
                    expected,
                    "avx512 vnni, len {}",
                    a.len()
                );
            }
        }
    }

    #[test]
    fn byte_kernels_do_not_overflow_on_the_largest_vectors() {
        let len = 65_536;
        let (max, zero) = (vec![255u8; len], vec![0u8; len]);
        assert_eq!(dot_u8(&max, &max), 255 * 255 * len as u64);
        assert_eq!(l2_u8(&max, &zero), 255 * 255 * len as u64);
        assert_eq!(l1_u8(&zero, &max), 255 * len as u64);
    }

    #[test]
    fn hamming_matches_the_portable_count() {
        for words in 0..20 {
            let to_words = |v: Vec<u8>| -> Vec<u64> {
                v.chunks_exact(8)
                    .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
                    .collect()
            };
            let a = to_words(bytes(words * 8, 3));
            let b = to_words(bytes(words * 8, 4));
            assert_eq!(hamming(&a, &b), hamming_portable(&a, &b));
        }
        assert_eq!(hamming(&[u64::MAX, 0], &[0, 0]), 64);
        assert_eq!(hamming_portable(&[0b1011], &[0b0001]), 2);
    }
}
