//! Cache prefetch hints. A graph walk reads the vectors (or codes) of a node's neighbours
//! at random places in memory; asking for all of them before scoring the first lets their
//! cache misses overlap instead of paying for each in turn (as hnswlib does).

/// Bytes per cache line on the CPUs we run on.
const CACHE_LINE: usize = 64;

/// Hints the CPU to bring `data` into the cache; it has no other effect.
#[inline]
pub fn prefetch<T>(data: &[T]) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let start = data.as_ptr().cast::<i8>();
        for line in (0..std::mem::size_of_val(data)).step_by(CACHE_LINE) {
            // SAFETY: SSE is part of x86-64, and a prefetch never faults or changes memory;
            // the address is inside `data` anyway.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(start.add(line)) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = data;
}
