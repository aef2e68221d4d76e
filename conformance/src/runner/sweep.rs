//! Split sweeps and shrinking: replaying a case with one cut at a time where
//! bugs live, and cutting a failing random split down to the cuts that
//! matter, so a failure comes with a command that replays just it.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::split::{Cut, Cuts};
use super::{run_case, run_case_recording, CaseReport, Outcome, RunConfig, Split};
use crate::transcript::{CheckedCase, Suite};

/// The pause between the pieces of a cut write (`sweep`, `at:`): long enough
/// that a peer reading at once sees each piece in a read of its own.
pub const CUT_PAUSE: Duration = Duration::from_millis(20);

/// Replays per case a sweep makes (after the whole run), and replays a
/// shrinking random failure makes, unless `--max-splits` says.
pub const DEFAULT_MAX_SPLITS: usize = 32;

/// What a case wrote: each write's bytes, and the cuts made in them.
#[derive(Debug, Clone, Default)]
pub struct Recording {
    /// Given before the run: cut exactly here, whatever the split mode says
    /// (a plan of any size, where `at:` holds a few).
    pub plan: Option<Vec<Cut>>,
    pub writes: Vec<Bytes>,
    pub cuts: Vec<Cut>,
}

impl Recording {
    /// The offsets to cut the next write at, when a plan or `at:` says.
    pub fn cuts_for_next(&self, split: Split) -> Option<Vec<usize>> {
        let write = self.writes.len();
        let offsets = |cuts: &[Cut]| {
            cuts.iter()
                .filter(|c| c.write == write)
                .map(|c| c.offset)
                .collect()
        };
        match (&self.plan, split) {
            (Some(plan), _) => Some(offsets(plan)),
            (None, Split::At(cuts)) => Some(offsets(&cuts.to_vec())),
            _ => None,
        }
    }

    /// Notes a write of `bytes` that went out in pieces of `sizes`.
    pub fn note(&mut self, bytes: &Bytes, sizes: &[usize]) {
        let write = self.writes.len();
        let mut offset = 0;
        for n in &sizes[..sizes.len().saturating_sub(1)] {
            offset += n;
            self.cuts.push(Cut { write, offset });
        }
        self.writes.push(bytes.clone());
    }
}

/// How far to search, and how to print the command that reproduces a failure.
#[derive(Debug, Clone)]
pub struct Search {
    /// Replays per case: cut points a sweep tries, or shrinking steps.
    pub max_splits: usize,
    /// Appended to `conformance run PATH --case NAME --split SPLIT` in the
    /// reproduction command (e.g. ` --target 127.0.0.1:11211`).
    pub command_tail: String,
}

impl Default for Search {
    fn default() -> Self {
        Search {
            max_splits: DEFAULT_MAX_SPLITS,
            command_tail: String::new(),
        }
    }
}

/// Runs one case as `cfg.split` says; under `sweep` replays it once per cut
/// point, under `random:SEED` shrinks a failure to its fewest cuts. A failure
/// found so carries the command that reproduces it ([`super::Failure::reproduce`]).
pub async fn run_case_searching(
    suite: &Suite,
    case: &CheckedCase,
    cfg: &RunConfig,
    search: &Search,
) -> CaseReport {
    match cfg.split {
        Split::Sweep => sweep(suite, case, cfg, search).await,
        Split::Random(_) => {
            let mut rec = Recording::default();
            let report = run_case_recording(suite, case, cfg, &mut rec).await;
            if report.passed() {
                return report;
            }
            shrink(suite, case, cfg, search, report, rec.cuts).await
        }
        _ => run_case(suite, case, cfg).await,
    }
}

/// The config of the `n`th replay: its own keys, so replays never collide.
fn replay(cfg: &RunConfig, split: Split, n: usize) -> RunConfig {
    RunConfig {
        split,
        prefix: format!("{}{n}-", cfg.prefix),
        ..cfg.clone()
    }
}

async fn sweep(suite: &Suite, case: &CheckedCase, cfg: &RunConfig, search: &Search) -> CaseReport {
    let started = Instant::now();
    let mut rec = Recording::default();
    let whole = replay(cfg, Split::Whole, 0);
    let mut first = run_case_recording(suite, case, &whole, &mut rec).await;
    if !first.passed() {
        return reproducible(first, suite, case, Split::Whole, search);
    }
    for (n, cut) in sweep_points(&rec.writes, search.max_splits)
        .into_iter()
        .enumerate()
    {
        let split = Split::At(Cuts::one(cut));
        let report = run_case(suite, case, &replay(cfg, split, n + 1)).await;
        if !report.passed() {
            // One cut: nothing smaller to shrink to.
            return reproducible(report, suite, case, split, search);
        }
    }
    first.duration = started.elapsed();
    first
}

/// Drops the cuts of a failing run one at a time while it still fails.
async fn shrink(
    suite: &Suite,
    case: &CheckedCase,
    cfg: &RunConfig,
    search: &Search,
    failed: CaseReport,
    cuts: Vec<Cut>,
) -> CaseReport {
    if matches!(failed.outcome, Outcome::Unreachable { .. }) {
        return failed;
    }
    let mut report = failed;
    let mut kept = cuts;
    let mut replays = 0;
    let mut try_cuts = |trial: Vec<Cut>| {
        replays += 1;
        let n = replays;
        async move {
            let mut rec = Recording {
                plan: Some(trial),
                ..Recording::default()
            };
            let cfg = replay(cfg, Split::Whole, n);
            let r = run_case_recording(suite, case, &cfg, &mut rec).await;
            (!r.passed() && !matches!(r.outcome, Outcome::Unreachable { .. })).then_some(r)
        }
    };
    // Whole first: a failure without cuts is no splitting bug.
    if search.max_splits > 0 {
        if let Some(r) = try_cuts(Vec::new()).await {
            return reproducible(r, suite, case, Split::Whole, search);
        }
    }
    let mut i = 0;
    let mut budget = search.max_splits.saturating_sub(1);
    while i < kept.len() && budget > 0 {
        budget -= 1;
        let mut trial = kept.clone();
        trial.remove(i);
        match try_cuts(trial.clone()).await {
            Some(r) => {
                report = r;
                kept = trial;
            }
            None => i += 1,
        }
    }
    let split = match Cuts::new(&kept) {
        Some(c) if !kept.is_empty() => Split::At(c),
        // Too many cuts for `at:`: the seed replays the same ones.
        _ => cfg.split,
    };
    reproducible(report, suite, case, split, search)
}

fn reproducible(
    mut report: CaseReport,
    suite: &Suite,
    case: &CheckedCase,
    split: Split,
    search: &Search,
) -> CaseReport {
    if let Outcome::Failed(f) = &mut report.outcome {
        f.reproduce = Some(command(suite, case, split, &search.command_tail));
    }
    report
}

/// `conformance run PATH --case NAME --split SPLIT` and the tail.
pub fn command(suite: &Suite, case: &CheckedCase, split: Split, tail: &str) -> String {
    format!(
        "conformance run {} --case {} --split {split}{tail}",
        quote(&suite.path.display().to_string()),
        quote(&case.name)
    )
}

/// Quotes a word for a POSIX shell: double quotes where they suffice.
pub fn quote(word: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./:=@,+".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        word.to_string()
    } else if !word.contains(['"', '$', '`', '\\', '!']) {
        format!("\"{word}\"")
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// Where one kind of cut point falls in a write.
type Points = fn(&[u8]) -> Vec<usize>;

/// The cut points a sweep tries, at most `max`, most telling first: the
/// first and last byte of each write, then line ends (between `\r` and `\n`
/// too), then either side of spaces and other delimiters, then where the
/// kind of byte changes (a field boundary), then the middle. Writes take
/// turns within each kind, so a long write does not use up the budget.
pub fn sweep_points(writes: &[Bytes], max: usize) -> Vec<Cut> {
    let tiers: [Points; 5] = [
        |b| vec![1, b.len().saturating_sub(1)],
        |b| {
            let mut v = Vec::new();
            for (p, &c) in b.iter().enumerate() {
                if c == b'\r' || c == b'\n' {
                    v.extend([p, p + 1]);
                }
            }
            v
        },
        |b| {
            let mut v = Vec::new();
            for (p, &c) in b.iter().enumerate() {
                if matches!(c, b' ' | b'\t' | b':' | b',' | b';' | b'=' | b'\0') {
                    v.extend([p, p + 1]);
                }
            }
            v
        },
        |b| {
            let class = |c: u8| match c {
                b'0'..=b'9' => 0,
                b'a'..=b'z' | b'A'..=b'Z' | b'_' => 1,
                0x80.. => 2,
                c if c.is_ascii_graphic() => 3,
                _ => 4,
            };
            (1..b.len()).filter(|&p| class(b[p - 1]) != class(b[p])).collect()
        },
        |b| vec![b.len() / 2],
    ];
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for tier in tiers {
        let per_write: Vec<Vec<usize>> = writes.iter().map(|w| tier(w)).collect();
        let longest = per_write.iter().map(Vec::len).max().unwrap_or(0);
        for k in 0..longest {
            for (write, points) in per_write.iter().enumerate() {
                let Some(&offset) = points.get(k) else { continue };
                if (1..writes[write].len()).contains(&offset) && seen.insert((write, offset)) {
                    out.push(Cut { write, offset });
                }
            }
        }
    }
    out.truncate(max);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweep_points_favour_edges_and_delimiters_within_the_budget() {
        let writes = [
            Bytes::from_static(b"get k1 k2\r\n"),
            Bytes::from_static(b"Bo\r\n"),
        ];
        let all = sweep_points(&writes, 100);
        let at = |write, offset| Cut { write, offset };
        assert_eq!(&all[..4], &[at(0, 1), at(1, 1), at(0, 10), at(1, 3)]);
        assert!(all.contains(&at(0, 9)) && all.contains(&at(1, 2)));
        assert!(all.contains(&at(0, 3)) && all.contains(&at(0, 4)));
        assert!(all
            .iter()
            .all(|c| c.offset >= 1 && c.offset < writes[c.write].len()));
        let unique: HashSet<_> = all.iter().collect();
        assert_eq!(unique.len(), all.len());
        assert_eq!(sweep_points(&writes, 3).len(), 3);
        assert!(sweep_points(&[Bytes::from_static(b"x")], 10).is_empty());
    }

    #[test]
    fn quoting() {
        assert_eq!(quote("a/b.transcript"), "a/b.transcript");
        assert_eq!(quote("an empty name"), "\"an empty name\"");
        assert_eq!(quote("it's \"x\""), r#"'it'\''s "x"'"#);
    }

    #[test]
    fn recording_notes_cuts() {
        let mut rec = Recording::default();
        rec.note(&Bytes::from_static(b"abcde"), &[5]);
        rec.note(&Bytes::from_static(b"abcde"), &[2, 1, 2]);
        assert_eq!(
            rec.cuts,
            vec![Cut { write: 1, offset: 2 }, Cut { write: 1, offset: 3 }]
        );
    }
}
