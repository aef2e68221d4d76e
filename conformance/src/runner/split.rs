//! How the runner cuts its writes, to catch peers that assume one read is
//! one message.

use std::fmt;
use std::str::FromStr;

/// A write-splitting mode (`--split`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    /// Each step's bytes in one write.
    Whole,
    /// One byte per write (the first [`BYTES_SPLIT_LIMIT`] bytes of a step;
    /// the rest of a large write goes whole).
    Bytes,
    /// Cut at points drawn from a seeded generator: the same seed, the same cuts.
    Random(u64),
    /// Every write a case can make before it must wait for an answer, in one
    /// write (pipelined where the spec allows it).
    Coalesce,
}

/// Bytes of one write that `--split bytes` sends one at a time.
pub const BYTES_SPLIT_LIMIT: usize = 512;

impl FromStr for Split {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "whole" => Ok(Split::Whole),
            "bytes" => Ok(Split::Bytes),
            "coalesce" => Ok(Split::Coalesce),
            _ => match s.strip_prefix("random:") {
                Some(seed) => seed
                    .parse()
                    .map(Split::Random)
                    .map_err(|_| format!("`{seed}` is not a seed: write `random:42`")),
                None if s == "random" => Err("`random` needs a seed: `random:42`".into()),
                None => Err(format!(
                    "unknown split mode `{s}`: use whole, bytes, random:SEED or coalesce"
                )),
            },
        }
    }
}

impl fmt::Display for Split {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Split::Whole => f.write_str("whole"),
            Split::Bytes => f.write_str("bytes"),
            Split::Random(s) => write!(f, "random:{s}"),
            Split::Coalesce => f.write_str("coalesce"),
        }
    }
}

/// A small deterministic generator (xorshift64*), so split points are
/// reproducible from a seed with no dependency.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// The lengths of the writes for `len` bytes under `split`.
pub fn chunks(split: Split, len: usize, rng: &mut Rng) -> Vec<usize> {
    if len == 0 {
        return Vec::new();
    }
    match split {
        Split::Whole | Split::Coalesce => vec![len],
        Split::Bytes => {
            let ones = len.min(BYTES_SPLIT_LIMIT);
            let mut v = vec![1; ones];
            if len > ones {
                v.push(len - ones);
            }
            v
        }
        Split::Random(_) => {
            let cuts = rng.below(len.min(8)) + usize::from(len > 1);
            let mut points: Vec<usize> = (0..cuts).map(|_| 1 + rng.below(len.max(2) - 1)).collect();
            points.sort_unstable();
            points.dedup();
            let mut out = Vec::new();
            let mut at = 0;
            for p in points.into_iter().filter(|p| *p < len) {
                out.push(p - at);
                at = p;
            }
            out.push(len - at);
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_the_bytes_exactly() {
        let mut rng = Rng::new(7);
        for len in 1..200 {
            for split in [Split::Whole, Split::Bytes, Split::Random(7), Split::Coalesce] {
                let c = chunks(split, len, &mut rng);
                assert_eq!(c.iter().sum::<usize>(), len, "{split} {len}");
                assert!(c.iter().all(|n| *n > 0));
            }
        }
        assert_eq!(chunks(Split::Bytes, 3, &mut rng), vec![1, 1, 1]);
        assert!(chunks(Split::Random(1), 100, &mut Rng::new(1)).len() > 1);
    }

    #[test]
    fn same_seed_same_cuts() {
        assert_eq!(
            chunks(Split::Random(9), 50, &mut Rng::new(9)),
            chunks(Split::Random(9), 50, &mut Rng::new(9))
        );
    }
}
