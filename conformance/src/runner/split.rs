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
    /// The case once whole, then once per chosen cut point of each write
    /// (one cut per replay); see [`crate::runner::sweep`].
    Sweep,
    /// Writes whole except at these cuts (`at:WRITE:OFFSET[,WRITE:OFFSET...]`):
    /// what a sweep or a shrunk random failure reproduces with.
    At(Cuts),
}

/// One cut: the runner's `write`-th write of a case (from 0) goes out as two
/// writes, the first `offset` bytes and the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Cut {
    pub write: usize,
    pub offset: usize,
}

impl fmt::Display for Cut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.write, self.offset)
    }
}

/// Cuts an `at:` split holds at most.
pub const MAX_CUTS: usize = 8;

/// A few cuts, sorted, without duplicates (kept small and `Copy` so
/// [`Split`] is).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cuts {
    len: u8,
    points: [(u32, u32); MAX_CUTS],
}

impl Cuts {
    pub fn one(cut: Cut) -> Self {
        Cuts::new(&[cut]).expect("one cut fits")
    }
    /// `None` when there are more than [`MAX_CUTS`] distinct cuts, or one is
    /// beyond 2^32.
    pub fn new(cuts: &[Cut]) -> Option<Self> {
        let mut sorted = cuts.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        if sorted.len() > MAX_CUTS {
            return None;
        }
        let mut points = [(0, 0); MAX_CUTS];
        for (p, c) in points.iter_mut().zip(&sorted) {
            *p = (c.write.try_into().ok()?, c.offset.try_into().ok()?);
        }
        Some(Cuts {
            len: sorted.len() as u8,
            points,
        })
    }
    pub fn to_vec(&self) -> Vec<Cut> {
        self.points[..usize::from(self.len)]
            .iter()
            .map(|&(w, o)| Cut {
                write: w as usize,
                offset: o as usize,
            })
            .collect()
    }
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
            "sweep" => Ok(Split::Sweep),
            _ if s.starts_with("at:") => parse_cuts(&s[3..]),
            _ => match s.strip_prefix("random:") {
                Some(seed) => seed
                    .parse()
                    .map(Split::Random)
                    .map_err(|_| format!("`{seed}` is not a seed: write `random:42`")),
                None if s == "random" => Err("`random` needs a seed: `random:42`".into()),
                None => Err(format!(
                    "unknown split mode `{s}`: use whole, bytes, random:SEED, coalesce, sweep \
                     or at:WRITE:OFFSET"
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
            Split::Sweep => f.write_str("sweep"),
            Split::At(cuts) => {
                f.write_str("at:")?;
                for (i, c) in cuts.to_vec().iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{c}")?;
                }
                Ok(())
            }
        }
    }
}

fn parse_cuts(list: &str) -> Result<Split, String> {
    let usage = "write `at:WRITE:OFFSET` (e.g. `at:0:3`), or several as `at:0:3,1:5`";
    let mut cuts = Vec::new();
    for item in list.split(',') {
        let (w, o) = item
            .split_once(':')
            .ok_or_else(|| format!("`{item}` is not a cut: {usage}"))?;
        let (Ok(write), Ok(offset)) = (w.parse(), o.parse()) else {
            return Err(format!("`{item}` is not a cut: {usage}"));
        };
        if offset == 0 {
            return Err(format!("`{item}`: a cut's offset is at least 1"));
        }
        cuts.push(Cut { write, offset });
    }
    Cuts::new(&cuts)
        .map(Split::At)
        .ok_or_else(|| format!("at most {MAX_CUTS} cuts, each below 2^32, in one `at:` split"))
}

/// The lengths of the writes for `len` bytes cut at `offsets` (offsets
/// outside `1..len` are ignored).
pub fn cut_at(offsets: impl IntoIterator<Item = usize>, len: usize) -> Vec<usize> {
    if len == 0 {
        return Vec::new();
    }
    let mut points: Vec<usize> = offsets.into_iter().filter(|o| (1..len).contains(o)).collect();
    points.sort_unstable();
    points.dedup();
    let mut out = Vec::new();
    let mut at = 0;
    for p in points {
        out.push(p - at);
        at = p;
    }
    out.push(len - at);
    out
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
        // A sweep's replays and `at:` cuts are per write: the player cuts them.
        Split::Whole | Split::Coalesce | Split::Sweep | Split::At(_) => vec![len],
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
            let points: Vec<usize> = (0..cuts).map(|_| 1 + rng.below(len.max(2) - 1)).collect();
            cut_at(points, len)
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
    fn at_and_sweep_parse_and_print_back() {
        for text in [
            "sweep",
            "at:0:3",
            "at:0:3,2:17",
            "whole",
            "bytes",
            "random:5",
            "coalesce",
        ] {
            let split: Split = text.parse().unwrap();
            assert_eq!(split.to_string(), text);
        }
        assert_eq!("at:1:2,0:3".parse::<Split>().unwrap().to_string(), "at:0:3,1:2");
        for bad in [
            "at:",
            "at:1",
            "at:x:2",
            "at:0:0",
            "at:0:1,0:2,0:3,0:4,0:5,0:6,0:7,0:8,0:9",
        ] {
            assert!(bad.parse::<Split>().is_err(), "{bad}");
        }
        assert_eq!(cut_at([3], 5), vec![3, 2]);
        assert_eq!(cut_at([0, 5, 9], 5), vec![5]);
    }

    #[test]
    fn same_seed_same_cuts() {
        assert_eq!(
            chunks(Split::Random(9), 50, &mut Rng::new(9)),
            chunks(Split::Random(9), 50, &mut Rng::new(9))
        );
    }
}
