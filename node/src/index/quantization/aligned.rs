//! A growable byte buffer that starts on a cache line. Codes of 64·k bytes kept in it each
//! fill exactly k lines; in a plain `Vec<u8>` the allocator's 16-byte alignment can make
//! every one of them straddle a line more, and which one a run gets varies with the heap.

const LINE: usize = 64;

#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Line([u8; LINE]);

#[derive(Default)]
pub struct AlignedBytes {
    lines: Vec<Line>,
    len: usize,
}

impl AlignedBytes {
    pub fn extend_from_slice(&mut self, bytes: &[u8]) {
        let (start, end) = (self.len, self.len + bytes.len());
        self.lines.resize(end.div_ceil(LINE), Line([0; LINE]));
        self.whole_lines_mut()[start..end].copy_from_slice(bytes);
        self.len = end;
    }

    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: `Line` is 64 bytes with no padding, so the lines are `64 · len` valid,
        // initialized bytes; `len` never exceeds them.
        let whole = unsafe {
            std::slice::from_raw_parts(self.lines.as_ptr().cast::<u8>(), self.lines.len() * LINE)
        };
        &whole[..self.len]
    }

    /// Bytes allocated.
    pub fn capacity(&self) -> usize {
        self.lines.capacity() * LINE
    }

    fn whole_lines_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `as_slice`, and the borrow of `self` is exclusive.
        unsafe {
            std::slice::from_raw_parts_mut(
                self.lines.as_mut_ptr().cast::<u8>(),
                self.lines.len() * LINE,
            )
        }
    }
}

impl From<&[u8]> for AlignedBytes {
    fn from(bytes: &[u8]) -> Self {
        let mut aligned = AlignedBytes::default();
        aligned.extend_from_slice(bytes);
        aligned
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_read_back_in_order_from_a_line_aligned_start() {
        let mut buffer = AlignedBytes::default();
        let bytes: Vec<u8> = (0..=255).cycle().take(1000).collect();
        for chunk in bytes.chunks(77) {
            buffer.extend_from_slice(chunk);
        }
        assert_eq!(buffer.as_slice(), &bytes[..]);
        assert_eq!(buffer.as_slice().as_ptr() as usize % LINE, 0);
        assert_eq!(AlignedBytes::from(&bytes[..10]).as_slice(), &bytes[..10]);
        assert!(AlignedBytes::default().as_slice().is_empty());
    }
}
