//! Helpers shared by the fuzz targets.

/// Cuts `data` into chunks whose sizes come from `seed`, so that one input
/// byte decides how a stream drips in: 0 delivers it whole, other values pick
/// a largest chunk size and a pseudo-random sequence of sizes up to it.
pub struct Chunks<'a> {
    data: &'a [u8],
    state: u32,
    largest: usize,
}

/// Largest chunk sizes a seed's low four bits choose from: single bytes to
/// catch every resumption point, sizes around common delimiters and prefixes,
/// and larger ones that hold several frames at once.
const LARGEST: [usize; 16] = [1, 1, 2, 2, 3, 3, 4, 5, 7, 8, 9, 16, 17, 64, 255, 4096];

impl<'a> Chunks<'a> {
    pub fn new(data: &'a [u8], seed: u8) -> Self {
        let largest = if seed == 0 {
            usize::MAX
        } else {
            LARGEST[(seed & 0x0f) as usize]
        };
        Chunks {
            data,
            // Never zero: xorshift stays at zero once there.
            state: u32::from(seed).wrapping_mul(0x9e37_79b9) | 1,
            largest,
        }
    }
}

impl<'a> Iterator for Chunks<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.data.is_empty() {
            return None;
        }
        let size = if self.largest == usize::MAX {
            self.data.len()
        } else {
            self.state ^= self.state << 13;
            self.state ^= self.state >> 17;
            self.state ^= self.state << 5;
            1 + self.state as usize % self.largest
        };
        let (chunk, rest) = self.data.split_at(size.min(self.data.len()));
        self.data = rest;
        Some(chunk)
    }
}
